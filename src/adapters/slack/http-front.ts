// The front door of Slack's HTTP mode: one HTTP server on PORT. A `/certs` slash command whose
// signature checks out is answered here, straight from the request; everything else (buttons, App
// Home events, URL verification, ssl_check, anything unsigned or malformed) goes to Bolt's
// HTTPReceiver as it came, and Bolt checks and answers it as always.
//
// Why: a command is what people wait on, and a large team sends many. Bolt's event pipeline
// (context, authorize, middleware, listener matching) costs about as much CPU as the rest of the
// answer; a bare Bolt app acking "ok" takes twice a bare HTTP server's time. The signature check is
// Slack's: HMAC-SHA256 of `v0:TIMESTAMP:BODY` with the signing secret, compared in constant time, at
// most five minutes off (Bolt's own check also computes two more HMACs to compare). Whatever is
// handed on goes with its body already read (rawBody), as Bolt's receivers accept it.
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from "node:http";
import { parse as parseForm } from "node:querystring";
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from "node:crypto";
import type { RespondArguments, RespondFn } from "@slack/bolt";
import type { Logger } from "pino";

/** The endpoint Slack posts to (commands, interactivity and events alike). */
export const SLACK_EVENTS_PATH = "/slack/events";
/** Bolt's own limit for a request body. */
const BODY_LIMIT = 4 * 1024 * 1024;
/** How far a request's timestamp may be from now: Slack's replay window. */
const MAX_SKEW_S = 5 * 60;
/**
 * How long an idle keep-alive connection stays open: longer than the 60 s idle timeout of the
 * proxies that usually stand in front (AWS ALB, nginx upstream keep-alive), so that a proxy never
 * sends a request on a connection the bot has just closed (Node's default is 5 s), and a burst of
 * commands after a quiet minute does not open a connection each.
 */
const KEEP_ALIVE_MS = 65_000;
/** How long a reply through a command's response_url may take. */
const RESPOND_TIMEOUT_MS = 10_000;

/** A slash command as the handler sees it, with Bolt's shapes for the answers. */
export interface SlashCommandCall {
  command: { command: string; text: string; user_id: string; channel_id: string; response_url: string };
  /** The answer to the command (at most once); in HTTP mode written before it returns. */
  ack: (message: RespondArguments) => void | Promise<void>;
  /** A later message through the command's response_url. */
  respond: RespondFn;
}

export interface HttpFrontOptions {
  signingSecret: string;
  /** The slash command answered here; other commands go to Bolt. */
  command: string;
  /** Answers with ack() before it returns when it can (no promise in between), or by its promise. */
  onCommand: (call: SlashCommandCall) => void | Promise<void>;
  /** Bolt's HTTPReceiver.requestListener: everything that is not our signed command. */
  bolt: RequestListener;
  logger: Logger;
}

type BufferedRequest = IncomingMessage & { rawBody?: Buffer };

/**
 * Reads the request's body and calls `done` with it, or with null past BODY_LIMIT (the rest is then
 * read and dropped); a request that breaks off mid-body calls nothing: there is nobody to answer.
 * Plain listeners, no promise: the answer is written in the turn the body's end arrives.
 */
function readBody(req: IncomingMessage, done: (body: Buffer | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size <= BODY_LIMIT) chunks.push(chunk);
  });
  req.on("error", () => undefined);
  req.on("end", () =>
    done(size > BODY_LIMIT ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)),
  );
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Did Slack sign `body` at `timestamp` (seconds) with this secret, within the replay window? */
export function signedBySlack(
  secret: string | KeyObject,
  body: string,
  timestamp: string | undefined,
  signature: string | undefined,
  nowMs = Date.now(),
): boolean {
  if (!timestamp || !signature || !/^[0-9]{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_SKEW_S) return false;
  const expected = Buffer.from(
    `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`,
  );
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The form fields of a signed slash command (POSTed, as handle() checked), or null for Bolt. */
function signedCommand(
  req: IncomingMessage,
  body: Buffer,
  command: string,
  key: KeyObject,
): SlashCommandCall["command"] | null {
  if (header(req, "content-type") !== "application/x-www-form-urlencoded") return null;
  const text = body.toString("utf8");
  const form = parseForm(text);
  if (form.command !== command || form.ssl_check !== undefined) return null;
  const signed = signedBySlack(
    key,
    text,
    header(req, "x-slack-request-timestamp"),
    header(req, "x-slack-signature"),
  );
  const field = (name: string) => (typeof form[name] === "string" ? (form[name] as string) : "");
  return signed
    ? {
        command: field("command"),
        text: field("text"),
        user_id: field("user_id"),
        channel_id: field("channel_id"),
        response_url: field("response_url"),
      }
    : null;
}

/** A reply through a response_url, as Bolt's respond() sends it (and, unlike it, given up on in time). */
async function respondTo(url: string, message: string | RespondArguments): Promise<Response> {
  const payload = typeof message === "string" ? { text: message } : message;
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
    signal: AbortSignal.timeout(RESPOND_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`Failed to respond to the response_url: ${res.status} ${res.statusText}`);
  return res;
}

export class HttpFront {
  private readonly server: Server;
  /** The signing secret as a key, made once (createHmac would make one from the string per request). */
  private readonly signingKey: KeyObject;
  /** Shared answers (frozen: help is one), serialized: each is encoded once. */
  private readonly serialized = new WeakMap<RespondArguments, Buffer>();

  constructor(private readonly options: HttpFrontOptions) {
    this.signingKey = createSecretKey(Buffer.from(options.signingSecret, "utf8"));
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = KEEP_ALIVE_MS;
    // Headers of a request on a kept connection may take as long as the connection may idle.
    this.server.headersTimeout = KEEP_ALIVE_MS + 1000;
  }

  listen(port: number, host?: string): Promise<void> {
    // fetch (replies through a response_url, here and in Bolt) loads undici on its first use: tens of
    // milliseconds of blocked event loop, hundreds under load. Loaded now, not amid the first rush.
    void globalThis.Response;
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  /** Stops taking connections; answers under way finish (the service bounds how long it waits). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  private handle(req: BufferedRequest, res: ServerResponse): void {
    const url = req.url ?? "";
    const ours = url === SLACK_EVENTS_PATH || url.startsWith(`${SLACK_EVENTS_PATH}?`);
    if (req.method !== "POST" || !ours) return void this.options.bolt(req, res);
    readBody(req, (body) => {
      if (body === null) return void res.writeHead(413, { connection: "close" }).end();
      const command = signedCommand(req, body, this.options.command, this.signingKey);
      if (command) return this.answer(command, res);
      req.rawBody = body;
      void this.options.bolt(req, res);
    });
  }

  /** The command's handler, with its answer going out as this response. */
  private answer(command: SlashCommandCall["command"], res: ServerResponse): void {
    const ack = (message: RespondArguments) => {
      if (res.headersSent) return;
      let json = this.serialized.get(message);
      if (json === undefined) {
        json = Buffer.from(JSON.stringify(message));
        if (Object.isFrozen(message)) this.serialized.set(message, json);
      }
      // With a Content-Length, headers and body go out together in one write, not chunked.
      res.writeHead(200, { "content-type": "application/json", "content-length": json.length }).end(json);
    };
    const respond: RespondFn = (message) => respondTo(command.response_url, message);
    // The handler always acks; should it not, Slack is still answered rather than left to time out.
    const unanswered = () => void (res.headersSent || res.writeHead(500).end());
    const failed = (err: unknown) => {
      this.options.logger.error({ err: (err as Error).message }, "slash command handler failed");
      unanswered();
    };
    try {
      const handled = this.options.onCommand({ command, ack, respond });
      if (handled instanceof Promise) handled.then(unanswered, failed);
      else unanswered();
    } catch (err) {
      failed(err);
    }
  }
}
