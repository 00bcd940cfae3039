// People's side of `serve`'s Slack surface in HTTP mode: signed `/certs` commands and button clicks
// posted to its /slack/events as Slack sends them, and a recorder on loopback for what serve answers
// later through each request's response_url.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { PostedMessage } from "./fake-slack.js";
import { freePort } from "./ports.js";
import { clickBody, commandBody, signed } from "./slack-requests.js";
import { until } from "./wait.js";

const FORM = "application/x-www-form-urlencoded";

/** An answer as Slack reads it: an ack, or a message posted to a response_url. */
export interface SlackAnswer {
  response_type?: string;
  replace_original?: boolean;
  text: string;
  blocks?: unknown[];
}

export type CardButton = "Approve" | "Reject" | "Cancel" | "Run now";

export class SlackSurfaceClient {
  private readonly answers = new Map<string, SlackAnswer[]>();
  private sent = 0;

  private constructor(
    private readonly recorder: Server,
    private readonly responseBase: string,
    /** Where serve listens (PORT) and the app's signing secret. */
    private readonly target: { port: number; secret: string },
  ) {
    recorder.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const id = (req.url ?? "").split("/").pop() ?? "";
        const answer = JSON.parse(Buffer.concat(chunks).toString("utf8")) as SlackAnswer;
        this.answers.set(id, [...this.answered(id), answer]);
        res.writeHead(200).end("ok");
      });
    });
  }

  /** Starts the response_url recorder; requests go to serve on 127.0.0.1:`port`. */
  static async start(target: { port: number; secret: string }): Promise<SlackSurfaceClient> {
    const recorder = createServer();
    const port = await freePort("127.0.0.1");
    await new Promise<void>((r) => recorder.listen(port, "127.0.0.1", r));
    return new SlackSurfaceClient(recorder, `http://127.0.0.1:${port}/response`, target);
  }

  /** A fresh response_url, and the id its answers are kept under. */
  responseUrl(): { id: string; url: string } {
    const id = `r${++this.sent}`;
    return { id, url: `${this.responseBase}/${id}` };
  }

  /** Posts a form body to serve, signed now. */
  async post(body: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`http://127.0.0.1:${this.target.port}/slack/events`, {
      method: "POST",
      headers: { "content-type": FORM, ...signed(body, this.target.secret) },
      body,
    });
    return { status: res.status, text: await res.text() };
  }

  /** `/certs TEXT` as `user` in `channel`: the ack, and the id under which follow-ups arrive. */
  async certs(text: string, user: string, channel: string) {
    const { id, url } = this.responseUrl();
    const res = await this.post(commandBody(text, user, channel, url));
    assert.equal(res.status, 200, `${text}: HTTP ${res.status}`);
    const ack = JSON.parse(res.text) as SlackAnswer;
    return { id, ack, all: `${ack.text}\n${JSON.stringify(ack.blocks)}` };
  }

  /** A click on the approval card's button labelled `label`; the id its ephemeral answers arrive under. */
  async click(user: string, card: PostedMessage, label: CardButton): Promise<string> {
    const buttons = JSON.stringify(card.blocks).match(
      new RegExp(`"text":"${label}"[^}]*}[^}]*"action_id":"([a-z_]+)","value":"([^"]+)"`),
    );
    assert.ok(buttons, `the card has a ${label} button`);
    const { id, url } = this.responseUrl();
    const body = clickBody(
      user,
      { actionId: buttons[1]!, value: buttons[2]!, label },
      { type: "message", channel: card.channel, ts: card.ts, responseUrl: url },
    );
    assert.equal((await this.post(body)).status, 200);
    return id;
  }

  answered(id: string): SlackAnswer[] {
    return this.answers.get(id) ?? [];
  }

  /** How many answers came to any response_url so far. */
  answerCount(): number {
    return [...this.answers.values()].reduce((n, list) => n + list.length, 0);
  }

  /** The answers to `id` once there is one, as JSON. */
  async followUp(id: string, timeoutMs = 60_000): Promise<string> {
    await until(`an answer to ${id}`, async () => this.answered(id).length > 0, timeoutMs);
    return JSON.stringify(this.answered(id));
  }

  close(): Promise<void> {
    return new Promise((r) => this.recorder.close(() => r()));
  }
}
