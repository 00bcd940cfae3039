// Slack's HTTP mode front door over real HTTP: a `/certs` command signed with the secret is answered
// by certs-bot's handler; anything else (a forged or stale signature, another command, ssl_check, a
// button's JSON payload, another path) goes to the listener behind it (Bolt's HTTPReceiver in
// production; here a recorder standing in for it) with its body intact, and the handler never sees it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, createSecretKey } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect } from "node:net";
import { once } from "node:events";
import { pino } from "pino";
import { HttpFront, signedBySlack, type SlashCommandCall } from "../../src/adapters/slack/http-front.js";
import { freePort } from "../lab/ports.js";
import { until } from "../lab/wait.js";

const SECRET = "http-front-secret-0123456789abcdef";
const handled: SlashCommandCall["command"][] = [];
const handedOn: { url: string; rawBody: string }[] = [];
const replies: unknown[] = [];
let front: HttpFront;
let port: number;
let responder: Server;
let responseUrl: string;

before(async () => {
  responder = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      replies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      res.writeHead(200).end("ok");
    });
  });
  const responderPort = await freePort("127.0.0.1");
  await new Promise<void>((r) => responder.listen(responderPort, "127.0.0.1", r));
  responseUrl = `http://127.0.0.1:${responderPort}/hook`;
  front = new HttpFront({
    signingSecret: SECRET,
    command: "/certs",
    onCommand: ({ command, ack, respond }) => {
      handled.push(command);
      if (command.text === "throws") throw new Error("a handler that breaks before its ack");
      if (command.text === "rejects") return Promise.reject(new Error("a handler that breaks later"));
      if (command.text === "silent") return;
      // Acked in the turn it arrived (what certs-bot does with what it has at hand).
      void ack({ response_type: "ephemeral", text: `answered ${command.text}` });
      if (command.text === "later") return respond({ text: "and later" }).then(() => undefined);
    },
    bolt: (req, res) => {
      const { rawBody } = req as IncomingMessage & { rawBody?: Buffer };
      handedOn.push({ url: req.url ?? "", rawBody: rawBody?.toString("utf8") ?? "" });
      res.writeHead(401).end();
    },
    logger: pino({ level: "silent" }),
  });
  port = await freePort("127.0.0.1");
  await front.listen(port, "127.0.0.1");
});

after(async () => {
  await front?.close();
  await new Promise((r) => responder?.close(r));
});

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const command = (text: string, name = "/certs") =>
  form({ command: name, text, user_id: "U0ALICE01", channel_id: "C0LABAAAA", response_url: responseUrl });

function signature(body: string, timestamp: string, secret = SECRET): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
}

async function send(
  body: string,
  options: { timestamp?: string; sign?: string | null; type?: string; path?: string } = {},
) {
  const timestamp = options.timestamp ?? String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    "content-type": options.type ?? "application/x-www-form-urlencoded",
    "x-slack-request-timestamp": timestamp,
  };
  const sign = options.sign === undefined ? signature(body, timestamp) : options.sign;
  if (sign !== null) headers["x-slack-signature"] = sign;
  const res = await fetch(`http://127.0.0.1:${port}${options.path ?? "/slack/events"}`, {
    method: "POST",
    headers,
    body,
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

test("a signed /certs is answered by the handler, and a later reply goes to its response_url", async () => {
  const answer = await send(command("help"));
  assert.equal(answer.status, 200);
  assert.deepEqual(JSON.parse(answer.text), { response_type: "ephemeral", text: "answered help" });
  // A plain answer with its length, as Slack's examples show it, not chunked.
  assert.equal(answer.headers.get("content-length"), String(Buffer.byteLength(answer.text)));
  assert.equal(answer.headers.get("transfer-encoding"), null);
  assert.equal(answer.headers.get("content-type"), "application/json");
  assert.deepEqual(handled.at(-1), {
    command: "/certs",
    text: "help",
    user_id: "U0ALICE01",
    channel_id: "C0LABAAAA",
    response_url: responseUrl,
  });
  const before = replies.length;
  await send(command("later"));
  for (let i = 0; i < 100 && replies.length === before; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(replies.at(-1), { text: "and later" });
});

test("a handler that throws, rejects or never acks: Slack still gets an answer (500), and the front goes on", async () => {
  for (const text of ["throws", "rejects", "silent"]) {
    const answer = await send(command(text));
    assert.equal(answer.status, 500, text);
    assert.equal(handled.at(-1)!.text, text);
  }
  assert.equal((await send(command("help"))).status, 200, "the front still answers");
});

test("forged, stale, unsigned or not ours: handed on untouched, never to the handler", async () => {
  const count = handled.length;
  const old = String(Math.floor(Date.now() / 1000) - 301);
  const cases: [string, Parameters<typeof send>[1], string][] = [
    [
      "wrong secret",
      { sign: signature(command("scan lab-a"), String(Math.floor(Date.now() / 1000)), "other") },
      command("scan lab-a"),
    ],
    ["stale", { timestamp: old, sign: signature(command("scan lab-a"), old) }, command("scan lab-a")],
    ["unsigned", { sign: null }, command("scan lab-a")],
    ["another command", {}, command("scan lab-a", "/other")],
    ["ssl_check", {}, `${command("scan lab-a")}&ssl_check=1`],
    ["a button's payload", {}, form({ payload: JSON.stringify({ type: "block_actions" }) })],
    ["JSON", { type: "application/json" }, JSON.stringify({ type: "url_verification", challenge: "c" })],
  ];
  for (const [what, options, body] of cases) {
    const answer = await send(body, options);
    assert.equal(answer.status, 401, what);
    assert.deepEqual(handedOn.at(-1), { url: "/slack/events", rawBody: body }, what);
  }
  const elsewhere = await send(command("help"), { path: "/other" });
  assert.equal(elsewhere.status, 401);
  assert.equal(handedOn.at(-1)!.url, "/other");
  assert.equal(handled.length, count, "the handler saw none of them");
});

test("a body over 4 MiB is refused with 413, seen by neither the handler nor Bolt", async () => {
  const [handledBefore, handedBefore] = [handled.length, handedOn.length];
  const answer = await send(command("x".repeat(4 * 1024 * 1024 + 1)));
  assert.equal(answer.status, 413);
  assert.deepEqual([handled.length, handedOn.length], [handledBefore, handedBefore]);
  assert.equal((await send(command("help"))).status, 200, "the front still answers");
});

/** One request written by hand (header names as given), on a connection of its own; the answer's text. */
async function sendRaw(body: string, headerLines: string[]): Promise<string> {
  const socket = connect({ host: "127.0.0.1", port });
  await once(socket, "connect");
  let received = "";
  socket.setEncoding("utf8").on("data", (chunk: string) => (received += chunk));
  const ended = once(socket, "end");
  socket.write(
    `POST /slack/events HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n${headerLines.map((h) => `${h}\r\n`).join("")}\r\n${body}`,
  );
  await ended;
  socket.destroy();
  return received;
}

test("headers are found whatever their case; a signature or timestamp sent twice is not ours", async () => {
  const body = command("raw");
  const timestamp = String(Math.floor(Date.now() / 1000));
  const sign = signature(body, timestamp);
  const answer = await sendRaw(body, [
    "Content-Type: application/x-www-form-urlencoded",
    `X-Slack-Request-Timestamp: ${timestamp}`,
    `X-Slack-Signature: ${sign}`,
  ]);
  assert.match(answer, /^HTTP\/1\.1 200/);
  assert.match(answer, /answered raw/);
  const count = handled.length;
  for (const twice of [
    [`x-slack-signature: ${sign}`, `x-slack-signature: ${sign}`, `x-slack-request-timestamp: ${timestamp}`],
    [
      `x-slack-signature: ${sign}`,
      `x-slack-request-timestamp: ${timestamp}`,
      `X-Slack-Request-Timestamp: ${timestamp}`,
    ],
  ]) {
    const refused = await sendRaw(body, ["content-type: application/x-www-form-urlencoded", ...twice]);
    assert.match(refused, /^HTTP\/1\.1 401/, "handed on to Bolt");
    assert.deepEqual(handedOn.at(-1), { url: "/slack/events", rawBody: body });
  }
  assert.equal(handled.length, count, "the handler saw neither");
});

test("a connection a proxy keeps is still open after a quiet spell longer than Node's 5 s default", async () => {
  const socket = connect({ host: "127.0.0.1", port });
  await once(socket, "connect");
  let received = "";
  socket.setEncoding("utf8").on("data", (chunk: string) => (received += chunk));
  const ask = async (text: string) => {
    const body = command(text);
    const timestamp = String(Math.floor(Date.now() / 1000));
    socket.write(
      `POST /slack/events HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\n` +
        `content-type: application/x-www-form-urlencoded\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `x-slack-request-timestamp: ${timestamp}\r\nx-slack-signature: ${signature(body, timestamp)}\r\n\r\n${body}`,
    );
    await until(
      `the answer to ${text} on the kept connection`,
      async () => {
        assert.equal(socket.closed, false, `the connection closed before the answer to ${text}`);
        return received.includes(`answered ${text}`);
      },
      5000,
    );
  };
  try {
    await ask("before");
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal(socket.closed, false, "the front has not closed the idle connection");
    await ask("after");
  } finally {
    socket.destroy();
  }
});

test("signedBySlack: Slack's v0 scheme, five minutes either way, constant-length compare", () => {
  const now = 1_800_000_000_000;
  const ts = String(now / 1000);
  const body = command("status lab-a");
  assert.equal(signedBySlack(SECRET, body, ts, signature(body, ts), now), true);
  const key = createSecretKey(Buffer.from(SECRET, "utf8"));
  assert.equal(
    signedBySlack(key, body, ts, signature(body, ts), now),
    true,
    "the secret as a key, as the front keeps it",
  );
  assert.equal(
    signedBySlack(key, `${body}x`, ts, signature(body, ts), now),
    false,
    "body changed, checked with the key",
  );
  assert.equal(signedBySlack(SECRET, `${body}x`, ts, signature(body, ts), now), false, "body changed");
  assert.equal(signedBySlack(SECRET, body, ts, signature(body, ts).slice(0, -1), now), false, "short");
  assert.equal(signedBySlack(SECRET, body, ts, signature(body, ts), now + 300_000), true);
  assert.equal(signedBySlack(SECRET, body, ts, signature(body, ts), now + 301_000), false, "too old");
  assert.equal(signedBySlack(SECRET, body, ts, signature(body, ts), now - 301_000), false, "from the future");
  assert.equal(signedBySlack(SECRET, body, undefined, signature(body, ts), now), false);
  assert.equal(signedBySlack(SECRET, body, "12e3", signature(body, "12e3"), 12_000_000), false, "not digits");
});
