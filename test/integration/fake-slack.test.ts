// The fake Slack Web API (test/lab/fake-slack.ts) against the real @slack/web-api WebClient over
// HTTP. Every later Slack test trusts this fake, so its checks are proven both ways (a limit refuses
// one past it and accepts one at it), and the WebClient reactions the product's client configuration
// relies on (retried 5xx, Retry-After, rate-limit errors) are pinned here too.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  LogLevel,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebClient,
  WebClientEvent,
  type Logger,
  type WebClientOptions,
} from "@slack/web-api";
import {
  FAKE_BOT,
  startFakeSlack,
  type Block,
  type FakeSlack,
  type RecordedCall,
} from "../lab/fake-slack.js";

// The WebClient prints Slack's [ERROR] messages and every rate-limit wait; the tests assert them instead.
const quiet: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

// The default policy backs off ~1-3 s per retry on top of Retry-After; these tests only need retries.
const fastRetries = { retries: 3, factor: 1, minTimeout: 10, maxTimeout: 50 };

function client(fake: FakeSlack, options: WebClientOptions = {}, token = "xoxb-test"): WebClient {
  return new WebClient(token, { slackApiUrl: fake.url, logger: quiet, retryConfig: fastRetries, ...options });
}

/** What Slack answered with {ok:false}, as WebClient hands it over (it never retries these). */
async function slackError(
  promise: Promise<unknown>,
): Promise<WebAPIPlatformError["data"] & { errors?: string[]; req_method?: string }> {
  const err = await promise.then(
    () => assert.fail("expected Slack to refuse the call"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WebAPIPlatformError, `not a platform error: ${String(err)}`);
  return err.data;
}

async function post(
  fake: FakeSlack,
  method: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(fake.url + method, { method: "POST", body, headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const section = (text: string, extra: Record<string, unknown> = {}): Block => ({
  type: "section",
  text: { type: "mrkdwn", text },
  ...extra,
});
const field = (text: string) => ({ type: "mrkdwn", text });
const button = (actionId: string, text = "Go", value = "v"): Block => ({
  type: "button",
  action_id: actionId,
  text: { type: "plain_text", text },
  value,
});
const divider: Block = { type: "divider" };
const dividers = (n: number): Block[] => Array.from({ length: n }, () => divider);
const pad = (prefix: string, length: number) => prefix.padEnd(length, "x");

describe("fake Slack: messages", () => {
  let fake: FakeSlack;
  let slack: WebClient;
  before(async () => {
    // Refused posts count against the rate limit too; these tests are about something else.
    fake = await startFakeSlack({ burst: 50 });
    slack = client(fake);
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test("auth.test says who the bot is", async () => {
    const res = await slack.auth.test();
    assert.equal(res.ok, true);
    assert.equal(res.user_id, FAKE_BOT.user_id);
    assert.equal(res.team_id, FAKE_BOT.team_id);
    assert.equal(res.bot_id, FAKE_BOT.bot_id);
    assert.equal(typeof res.url, "string");
  });

  test("postMessage, a thread reply and an update round trip; messages() shows the update", async () => {
    const blocks = [section("*3 certificates* expire within 14 days")];
    const parent = await slack.chat.postMessage({ channel: "C0CERTS", text: "3 expiring", blocks });
    assert.equal(parent.channel, "C0CERTS");
    assert.match(parent.ts ?? "", /^\d{10}\.\d{6}$/);
    assert.deepEqual(parent.message?.blocks, blocks);

    const reply = await slack.chat.postMessage({ channel: "C0CERTS", text: "details", thread_ts: parent.ts });
    assert.equal(reply.message?.thread_ts, parent.ts);
    assert.ok(Number(reply.ts) > Number(parent.ts), "ts strictly increasing");
    const replyToReply = await slack.chat.postMessage({
      channel: "C0CERTS",
      text: "more",
      thread_ts: reply.ts,
    });
    assert.equal(replyToReply.message?.thread_ts, parent.ts, "a reply to a reply stays in the thread");

    const updatedBlocks = [section("*2 certificates* expire within 14 days")];
    const updated = await slack.chat.update({
      channel: "C0CERTS",
      ts: parent.ts!,
      text: "2 expiring",
      blocks: updatedBlocks,
    });
    assert.equal(updated.ts, parent.ts);

    const [first, second, third, ...rest] = fake.messages("C0CERTS");
    assert.deepEqual(rest, []);
    assert.deepEqual(
      [first?.text, first?.ts, first?.thread_ts, first?.blocks],
      ["2 expiring", parent.ts, undefined, updatedBlocks],
    );
    assert.deepEqual([second?.text, second?.thread_ts], ["details", parent.ts]);
    assert.deepEqual([third?.text, third?.thread_ts], ["more", parent.ts]);
    assert.deepEqual(fake.messages("C0OTHER"), []);

    // How WebClient 8 sends: form-encoded, token in the Authorization header, objects as JSON strings.
    const call = fake.calls.find((c) => c.method === "chat.postMessage")!;
    assert.equal(call.contentType, "application/x-www-form-urlencoded");
    assert.equal(call.token, "xoxb-test");
    assert.deepEqual(call.args.blocks, blocks);
  });

  test("an update without blocks keeps them; an empty blocks array removes them", async () => {
    const blocks = [section("kept")];
    const { ts } = await slack.chat.postMessage({ channel: "C0CERTS", text: "v1", blocks });
    await slack.chat.update({ channel: "C0CERTS", ts: ts!, text: "v2" });
    assert.deepEqual(fake.messages()[0]?.blocks, blocks);
    await slack.chat.update({ channel: "C0CERTS", ts: ts!, text: "v3", blocks: [] });
    assert.deepEqual([fake.messages()[0]?.text, fake.messages()[0]?.blocks], ["v3", undefined]);
  });

  test("unknown thread, message, channel; missing and overlong text", async () => {
    const { ts } = await slack.chat.postMessage({ channel: "C0CERTS", text: "hello" });
    const unknownTs = "1600000000.000001";
    const refusals = [
      [
        () => slack.chat.postMessage({ channel: "C0CERTS", text: "x", thread_ts: unknownTs }),
        "thread_not_found",
      ],
      [() => slack.chat.postMessage({ channel: "C0OTHER", text: "x", thread_ts: ts }), "thread_not_found"],
      [() => slack.chat.update({ channel: "C0CERTS", ts: unknownTs, text: "x" }), "message_not_found"],
      [() => slack.chat.delete({ channel: "C0CERTS", ts: unknownTs }), "message_not_found"],
      [() => slack.chat.postMessage({ channel: "#certs", text: "x" }), "channel_not_found"],
      [() => slack.chat.postMessage({ channel: "C0CERTS", text: "" }), "no_text"],
      [() => slack.chat.postMessage({ channel: "C0CERTS", text: "x".repeat(40_001) }), "msg_too_long"],
    ] as const;
    for (const [call, error] of refusals) assert.equal((await slackError(call())).error, error);
    await slack.chat.postMessage({ channel: "C0CERTS", text: "x".repeat(40_000) });
    assert.equal(fake.messages().length, 2);
    assert.equal(fake.calls.length, 1 + refusals.length + 1, "refused calls are recorded too");
  });

  test("delete removes the message; ephemerals are kept apart", async () => {
    const { ts } = await slack.chat.postMessage({ channel: "C0CERTS", text: "oops" });
    assert.deepEqual(await slack.chat.delete({ channel: "C0CERTS", ts: ts! }), {
      ok: true,
      channel: "C0CERTS",
      ts,
      response_metadata: {},
    });
    const eph = await slack.chat.postEphemeral({ channel: "C0CERTS", user: "U0ALICE", text: "only you" });
    assert.match(eph.message_ts ?? "", /^\d{10}\.\d{6}$/);
    assert.deepEqual(fake.messages(), []);
    assert.deepEqual(fake.ephemerals("C0CERTS"), [
      { channel: "C0CERTS", user: "U0ALICE", message_ts: eph.message_ts, text: "only you" },
    ]);
  });

  test("reset() forgets everything; onCall sees each call before the client gets its answer", async () => {
    await slack.chat.postMessage({ channel: "C0CERTS", text: "a" });
    const calls = fake.calls;
    fake.reset();
    assert.deepEqual([calls.length, fake.messages().length], [0, 0], "cleared in place");
    const seen: RecordedCall[] = [];
    fake.onCall = (call) => seen.push(call);
    try {
      await slack.chat.postMessage({ channel: "C0CERTS", text: "b" });
      assert.deepEqual(
        seen.map((c) => [c.method, c.status, c.response.ok]),
        [["chat.postMessage", 200, true]],
      );
    } finally {
      delete fake.onCall;
    }
  });
});

describe("fake Slack: Block Kit limits", () => {
  let fake: FakeSlack;
  let slack: WebClient;
  before(async () => {
    // Each block at its own limit adds up past the total; that limit has its own test below.
    fake = await startFakeSlack({ maxBlocksText: 100_000 });
    slack = client(fake);
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  const tooBig: [string, Block[], string][] = [
    ["51 blocks", dividers(51), "no more than 50 items allowed [json-pointer:/blocks]"],
    [
      "a 3001-char section",
      [divider, divider, section("x".repeat(3001))],
      "must be less than 3001 characters [json-pointer:/blocks/2/text/text]",
    ],
    [
      "11 fields",
      [{ type: "section", fields: Array.from({ length: 11 }, () => field("f")) }],
      "no more than 10 items allowed [json-pointer:/blocks/0/fields]",
    ],
    [
      "a 2001-char field",
      [{ type: "section", fields: [field("a"), field("x".repeat(2001))] }],
      "must be less than 2001 characters [json-pointer:/blocks/0/fields/1/text]",
    ],
    [
      "a 151-char header",
      [divider, { type: "header", text: { type: "plain_text", text: "x".repeat(151) } }],
      "must be less than 151 characters [json-pointer:/blocks/1/text/text]",
    ],
    [
      "a mrkdwn header",
      [{ type: "header", text: { type: "mrkdwn", text: "*x*" } }],
      "unsupported type: mrkdwn [json-pointer:/blocks/0/text/type]",
    ],
    [
      "an empty section text",
      [section("")],
      "must be more than 0 characters [json-pointer:/blocks/0/text/text]",
    ],
    [
      "a block of unknown type",
      [divider, { type: "sectoin" }],
      "unsupported type: sectoin [json-pointer:/blocks/1/type]",
    ],
    [
      "11 context elements",
      [{ type: "context", elements: Array.from({ length: 11 }, () => field("c")) }],
      "no more than 10 items allowed [json-pointer:/blocks/0/elements]",
    ],
    [
      "26 actions elements",
      [{ type: "actions", elements: Array.from({ length: 26 }, (_, i) => button(`a${i}`)) }],
      "no more than 25 items allowed [json-pointer:/blocks/0/elements]",
    ],
    [
      "a 256-char block_id",
      [{ ...divider, block_id: "b".repeat(256) }],
      "must be less than 256 characters [json-pointer:/blocks/0/block_id]",
    ],
    [
      "a repeated block_id",
      [
        { ...divider, block_id: "same" },
        { ...divider, block_id: "same" },
      ],
      "duplicate block_id: same [json-pointer:/blocks/1/block_id]",
    ],
    [
      "a 76-char button text",
      [{ type: "actions", elements: [button("approve", "x".repeat(76))] }],
      "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
    ],
    [
      "a 2001-char button value",
      [section("renew?", { accessory: button("approve", "Renew", "v".repeat(2001)) })],
      "must be less than 2001 characters [json-pointer:/blocks/0/accessory/value]",
    ],
    [
      "a 256-char action_id",
      [{ type: "actions", elements: [button("a".repeat(256))] }],
      "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
    ],
    [
      "a repeated action_id",
      [{ type: "actions", elements: [button("same"), button("same")] }],
      "duplicate action_id: same [json-pointer:/blocks/0/elements/1/action_id]",
    ],
  ];

  for (const [name, blocks, reason] of tooBig) {
    test(`invalid_blocks: ${name}`, async () => {
      const data = await slackError(slack.chat.postMessage({ channel: "C0CERTS", text: "t", blocks }));
      assert.equal(data.error, "invalid_blocks");
      const errors = data.errors ?? [];
      assert.ok(errors.includes(reason), `${JSON.stringify(errors)} lacks ${reason}`);
      assert.deepEqual(
        data.response_metadata?.messages,
        errors.map((e) => `[ERROR] ${e}`),
      );
      assert.deepEqual(fake.messages(), [], "not posted");
      assert.deepEqual(
        fake.calls.map((c) => [c.method, c.status, c.response.error]),
        [["chat.postMessage", 200, "invalid_blocks"]],
        "but recorded, with HTTP 200 as Slack answers",
      );
    });
  }

  test("a 50-block message with every checked field at its limit is accepted", async () => {
    const blocks: Block[] = [
      { type: "header", block_id: pad("h", 255), text: { type: "plain_text", text: "x".repeat(150) } },
      section("x".repeat(3000)),
      { type: "section", fields: Array.from({ length: 10 }, () => field("x".repeat(2000))) },
      { type: "context", elements: Array.from({ length: 10 }, () => field("c")) },
      {
        type: "actions",
        elements: Array.from({ length: 25 }, (_, i) =>
          button(pad(`a${i}-`, 255), "x".repeat(75), "v".repeat(2000)),
        ),
      },
      ...dividers(45),
    ];
    assert.equal(blocks.length, 50);
    await slack.chat.postMessage({ channel: "C0CERTS", text: "x".repeat(40_000), blocks });
    assert.deepEqual(fake.messages()[0]?.blocks, blocks);
  });

  test("msg_blocks_too_long: all block text together past maxBlocksText, each block within its limit", async (t) => {
    const small = await startFakeSlack({ maxBlocksText: 12_000 });
    t.after(() => small.close());
    const slack = client(small);
    // 4 × 2999 + 3 header chars = 11999, then 1 and 2 more in a button label.
    const blocks = (label: string): Block[] => [
      { type: "header", text: { type: "plain_text", text: "abc" } },
      ...Array.from({ length: 4 }, () => section("x".repeat(2999))),
      { type: "actions", elements: [button("go", label)] },
    ];
    await slack.chat.postMessage({ channel: "C0CERTS", text: "t", blocks: blocks("y") });
    const data = await slackError(
      slack.chat.postMessage({ channel: "C0CERTS", text: "t", blocks: blocks("yy") }),
    );
    assert.deepEqual([data.error, data.errors], ["msg_blocks_too_long", undefined]);
    assert.equal(small.messages().length, 1);
  });

  test("chat.update and chat.postEphemeral are checked too, and a refused update changes nothing", async () => {
    const { ts } = await slack.chat.postMessage({ channel: "C0CERTS", text: "v1", blocks: [section("v1")] });
    const update = slack.chat.update({ channel: "C0CERTS", ts: ts!, text: "v2", blocks: dividers(51) });
    assert.equal((await slackError(update)).error, "invalid_blocks");
    assert.deepEqual([fake.messages()[0]?.text, fake.messages()[0]?.blocks], ["v1", [section("v1")]]);
    const eph = slack.chat.postEphemeral({
      channel: "C0CERTS",
      user: "U0ALICE",
      text: "t",
      blocks: dividers(51),
    });
    assert.equal((await slackError(eph)).error, "invalid_blocks");
    assert.deepEqual(fake.ephemerals(), []);
  });

  test("views.publish: a Home view takes 100 blocks, not 101, reported as Slack's invalid_arguments", async () => {
    const home = (n: number) => ({ type: "home" as const, blocks: dividers(n) });
    const refused = await slackError(slack.views.publish({ user_id: "U0ALICE", view: home(101) }));
    assert.equal(refused.error, "invalid_arguments");
    assert.deepEqual(refused.response_metadata?.messages, [
      "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]",
    ]);
    assert.equal(fake.homeView("U0ALICE"), undefined);

    const published = await slack.views.publish({ user_id: "U0ALICE", view: home(100) });
    assert.equal(published.view?.type, "home");
    assert.equal((fake.homeView("U0ALICE")?.blocks as Block[]).length, 100);
  });
});

describe("fake Slack: rate limits", () => {
  /** Which of `count` back-to-back posts to `channel` went through ("ok") or were refused (error name). */
  async function postAll(slack: WebClient, channel: string, count: number): Promise<string[]> {
    const outcomes: string[] = [];
    for (let i = 0; i < count; i++) {
      try {
        await slack.chat.postMessage({ channel, text: `m${i}` });
        outcomes.push("ok");
      } catch (err) {
        assert.ok(err instanceof WebAPIRateLimitedError, `not a rate-limit error: ${String(err)}`);
        assert.equal(err.retryAfter, 1, "Retry-After reaches the caller");
        outcomes.push("limited");
      }
    }
    return outcomes;
  }

  test("rejectRateLimitedCalls: limited after the burst, per channel", async (t) => {
    const fake = await startFakeSlack({ burst: 3, perChannelPerSecond: 1, retryAfterSeconds: 1 });
    t.after(() => fake.close());
    const slack = client(fake, { rejectRateLimitedCalls: true });

    assert.deepEqual(await postAll(slack, "C0BUSY", 10), [
      ...Array(3).fill("ok"),
      ...Array(7).fill("limited"),
    ]);
    assert.deepEqual(await postAll(slack, "C0QUIET", 1), ["ok"], "another channel has its own bucket");

    assert.equal(fake.messages("C0BUSY").length, 3);
    const limited = fake.calls.filter((c) => c.status === 429);
    assert.equal(limited.length, 7);
    assert.deepEqual(limited[0]?.response, { ok: false, error: "ratelimited" });
  });

  test("a client that honours Retry-After lands all 10, waiting at least Retry-After before each retry", async (t) => {
    // 3/s refill keeps the test near 3 s; the waits are what is checked.
    const fake = await startFakeSlack({ burst: 3, perChannelPerSecond: 3, retryAfterSeconds: 1 });
    t.after(() => fake.close());
    const slack = client(fake, { retryConfig: { ...fastRetries, retries: 5 } });
    let rateLimitedEvents = 0;
    slack.on(WebClientEvent.RATE_LIMITED, () => rateLimitedEvents++);

    assert.deepEqual(await postAll(slack, "C0BUSY", 10), Array(10).fill("ok"));

    assert.deepEqual(
      fake.messages("C0BUSY").map((m) => m.text),
      Array.from({ length: 10 }, (_, i) => `m${i}`),
      "each once, in order",
    );
    const calls = fake.calls.filter((c) => c.args.channel === "C0BUSY");
    const limited = calls.filter((c) => c.status === 429);
    assert.ok(limited.length >= 2, `expected 429s, got ${limited.length}`);
    assert.equal(rateLimitedEvents, limited.length, "WebClient emits rate_limited per 429");
    calls.forEach((call, i) => {
      const retry = calls[i + 1];
      if (call.status !== 429 || !retry) return;
      assert.equal(retry.args.text, call.args.text, "the next call is the retry");
      assert.ok(retry.at - call.at >= 1000, `retry after ${retry.at - call.at} ms < Retry-After`);
    });
  });
});

describe("fake Slack: injected failures", () => {
  let fake: FakeSlack;
  let slack: WebClient;
  before(async () => {
    fake = await startFakeSlack();
    slack = client(fake);
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test("a 500 is retried by WebClient and the retry succeeds", async () => {
    fake.failNext("chat.postMessage", 2, { status: 500 });
    await slack.chat.postMessage({ channel: "C0CERTS", text: "after 500s" });
    assert.deepEqual(
      fake.calls.map((c) => c.status),
      [500, 500, 200],
    );
    assert.equal(fake.messages().length, 1);
  });

  test("5xx past the retries surfaces as WebAPIHTTPError", async () => {
    fake.failNext("chat.postMessage", 4, { status: 503 });
    const err = await slack.chat.postMessage({ channel: "C0CERTS", text: "x" }).catch((e: unknown) => e);
    assert.ok(err instanceof WebAPIHTTPError, String(err));
    assert.equal(err.statusCode, 503);
    assert.equal(fake.calls.length, 4, "first try + 3 retries");
  });

  test("an injected Slack error is not retried; other methods are not affected", async () => {
    fake.failNext("chat.postMessage", 1, { error: "fatal_error" });
    await slack.auth.test();
    assert.equal(
      (await slackError(slack.chat.postMessage({ channel: "C0CERTS", text: "x" }))).error,
      "fatal_error",
    );
    await slack.chat.postMessage({ channel: "C0CERTS", text: "y" });
    assert.deepEqual(
      fake.calls.map((c) => [c.method, c.response.ok]),
      [
        ["auth.test", true],
        ["chat.postMessage", false],
        ["chat.postMessage", true],
      ],
    );
  });

  test("an injected 429 carries its Retry-After", async () => {
    fake.failNext("chat.update", 1, { status: 429, retryAfter: 30 });
    const rejecting = client(fake, { rejectRateLimitedCalls: true });
    const err = await rejecting.chat
      .update({ channel: "C0CERTS", ts: "1.0", text: "x" })
      .catch((e: unknown) => e);
    assert.ok(err instanceof WebAPIRateLimitedError, String(err));
    assert.equal(err.retryAfter, 30);
  });
});

describe("fake Slack: auth and transport", () => {
  let fake: FakeSlack;
  before(async () => {
    fake = await startFakeSlack({ token: "xoxb-right", socketModeUrl: "ws://127.0.0.1:1/socket" });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test("a wrong token is invalid_auth, none is not_authed (HTTP 200 both)", async () => {
    assert.equal((await slackError(client(fake, {}, "xoxb-wrong").auth.test())).error, "invalid_auth");
    assert.equal((await slackError(client(fake, {}, "").auth.test())).error, "not_authed");
    assert.deepEqual(
      fake.calls.map((c) => [c.status, c.token]),
      [
        [200, "xoxb-wrong"],
        [200, undefined],
      ],
    );
  });

  test("a token may come as a form field, but not inside a JSON body", async () => {
    const form = { "content-type": "application/x-www-form-urlencoded" };
    assert.equal((await post(fake, "auth.test", "token=xoxb-right", form)).body.ok, true);
    const json = { "content-type": "application/json; charset=utf-8" };
    const inBody = await post(fake, "auth.test", JSON.stringify({ token: "xoxb-right" }), json);
    assert.equal(inBody.body.error, "not_authed");
  });

  test("JSON bodies: arrays arrive as arrays; a missing charset earns Slack's warning", async () => {
    const blocks = [section("json")];
    const body = JSON.stringify({ channel: "C0CERTS", text: "json", blocks });
    const headers = { authorization: "Bearer xoxb-right" };
    const res = await post(fake, "chat.postMessage", body, {
      ...headers,
      "content-type": "application/json",
    });
    assert.equal(res.body.ok, true);
    assert.equal(res.body.warning, "missing_charset");
    assert.deepEqual(res.body.response_metadata, { warnings: ["missing_charset"] });
    assert.deepEqual(fake.messages()[0]?.blocks, blocks);
    const bad = await post(fake, "chat.postMessage", "{", {
      ...headers,
      "content-type": "application/json; charset=utf-8",
    });
    assert.deepEqual([bad.status, bad.body.error], [200, "invalid_json"]);
  });

  test("unknown methods are unknown_method", async () => {
    const data = await slackError(client(fake, {}, "xoxb-right").apiCall("certs.renew"));
    assert.deepEqual([data.error, data.req_method], ["unknown_method", "certs.renew"]);
  });

  test("apps.connections.open wants the app-level token, as Slack does", async () => {
    const app = client(fake, {}, "xapp-test");
    assert.deepEqual(await app.apps.connections.open(), {
      ok: true,
      url: "ws://127.0.0.1:1/socket",
      response_metadata: {},
    });
    const bot = client(fake, {}, "xoxb-right");
    assert.equal((await slackError(bot.apps.connections.open())).error, "not_allowed_token_type");
    assert.equal((await slackError(app.auth.test())).error, "not_allowed_token_type");

    const noSocket = await startFakeSlack();
    try {
      const data = await slackError(client(noSocket, {}, "xapp-test").apps.connections.open());
      assert.equal(data.error, "not_allowed");
    } finally {
      await noSocket.close();
    }
  });
});

describe("fake Slack: conversations, users, usergroups", () => {
  let fake: FakeSlack;
  let slack: WebClient;
  before(async () => {
    fake = await startFakeSlack({
      channels: {
        C0CERTS: { name: "certs" },
        C0ELSEWHERE: { name: "elsewhere", is_member: false },
        C0OLD: { name: "old", is_archived: true },
        G0SECRET: { name: "secret", is_private: true },
      },
      users: { U0ALICE: { name: "alice", real_name: "Alice A", tz: "Europe/Berlin" } },
      usergroups: { S0ONCALL: ["U0ALICE", "U0BOB"] },
      channelMembers: { C0CERTS: Array.from({ length: 250 }, (_, i) => `U0M${String(i).padStart(4, "0")}`) },
    });
    slack = client(fake);
  });
  after(() => fake.close());

  test("conversations.info and posting to configured channels", async () => {
    const info = await slack.conversations.info({ channel: "C0CERTS" });
    assert.deepEqual(
      [info.channel?.name, info.channel?.is_channel, info.channel?.is_private, info.channel?.is_member],
      ["certs", true, false, true],
    );
    const secret = await slack.conversations.info({ channel: "G0SECRET" });
    assert.deepEqual([secret.channel?.is_private, secret.channel?.is_channel], [true, false]);
    assert.equal(
      (await slackError(slack.conversations.info({ channel: "C0NONE" }))).error,
      "channel_not_found",
    );
    const post = (channel: string) => slack.chat.postMessage({ channel, text: "x" });
    assert.equal((await slackError(post("C0NONE"))).error, "channel_not_found");
    assert.equal((await slackError(post("C0ELSEWHERE"))).error, "not_in_channel");
    assert.equal((await slackError(post("C0OLD"))).error, "is_archived");
    assert.equal((await post("C0CERTS")).ok, true);
  });

  test("users.info and usergroups.users.list", async () => {
    const alice = await slack.users.info({ user: "U0ALICE" });
    assert.deepEqual(
      [alice.user?.name, alice.user?.real_name, alice.user?.tz],
      ["alice", "Alice A", "Europe/Berlin"],
    );
    assert.equal((await slack.users.info({ user: FAKE_BOT.user_id })).user?.is_bot, true);
    assert.equal((await slackError(slack.users.info({ user: "U0NOBODY" }))).error, "user_not_found");
    assert.deepEqual((await slack.usergroups.users.list({ usergroup: "S0ONCALL" })).users, [
      "U0ALICE",
      "U0BOB",
    ]);
    assert.equal(
      (await slackError(slack.usergroups.users.list({ usergroup: "S0NONE" }))).error,
      "no_such_subteam",
    );
  });

  test("conversations.members pages with limit and cursor, as Slack does", async () => {
    const first = await slack.conversations.members({ channel: "C0CERTS", limit: 100 });
    assert.equal(first.members?.length, 100);
    assert.ok(first.response_metadata?.next_cursor);
    const all: string[] = [];
    for await (const page of slack.paginate("conversations.members", { channel: "C0CERTS", limit: 100 })) {
      all.push(...((page as { members?: string[] }).members ?? []));
    }
    assert.equal(all.length, 250);
    assert.equal(new Set(all).size, 250);
    assert.deepEqual((await slack.conversations.members({ channel: "G0SECRET" })).members, []);
    const bad = slack.conversations.members({ channel: "C0CERTS", cursor: "garbage" });
    assert.equal((await slackError(bad)).error, "invalid_cursor");
    const none = slack.conversations.members({ channel: "C0NONE" });
    assert.equal((await slackError(none)).error, "channel_not_found");
  });
});
