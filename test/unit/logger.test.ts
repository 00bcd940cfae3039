import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger, scrubTokens } from "../../src/adapters/log/logger.js";
import { slackLogger } from "../../src/adapters/slack/poster.js";

const TOKEN = "xoxb-1111-2222-abcdefSECRET";

function capture() {
  const raw: string[] = [];
  const logger = createLogger("debug", { write: (line: string) => void raw.push(line) });
  return { logger, text: () => raw.join("") };
}

test("secrets in logged objects are censored wherever they sit; URLs keep all but the password", () => {
  const { logger, text } = capture();
  logger.info({ slack: { token: TOKEN, apiUrl: "https://slack.com/api/" } }, "environment");
  logger.info({ surface: { mode: "http", signingSecret: "sign-SECRET", port: 3000 } }, "surface");
  logger.info({ ssh: { passphrase: "pass-SECRET" } }, "key");
  logger.info({ redisUrl: "rediss://certs-bot:redis-SECRET@redis.example:6380" }, "redis");
  logger.info({ target: { url: "redis://:redis-SECRET@127.0.0.1:6379/0" } }, "redis");
  const err = Object.assign(new Error("An HTTP protocol error occurred: statusCode = 500"), {
    original: {
      config: { headers: { Authorization: `Bearer ${TOKEN}` } },
      request: { _header: `POST /api/chat.postMessage HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\n` },
    },
  });
  logger.error({ err }, "unexpected failure");
  logger.warn({ headers: { authorization: `Bearer ${TOKEN}` } }, "request");
  const out = text();
  assert.ok(!out.includes("SECRET"), out);
  const lines = out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 7, "one JSON object a line");
  assert.deepEqual(lines[0]!.slack, { token: "[redacted]", apiUrl: "https://slack.com/api/" });
  assert.equal(lines[3]!.redisUrl, "rediss://certs-bot:***@redis.example:6380");
  assert.deepEqual(lines[4]!.target, { url: "redis://:***@127.0.0.1:6379/0" });
  assert.match(JSON.stringify(lines[5]!.err), /An HTTP protocol error occurred/, "the error itself stays");
});

test("Slack tokens in the free text of Slack's SDK logs are scrubbed", () => {
  assert.equal(scrubTokens(`token=${TOKEN}&x=1`), "token=xoxb-[redacted]&x=1");
  assert.equal(scrubTokens("app token xapp-1-A0-123-abc"), "app token xapp-[redacted]");
  const { logger, text } = capture();
  slackLogger(logger).debug("http request body:", `{"token":"${TOKEN}"}`);
  assert.ok(!text().includes("SECRET"), text());
  assert.match(text(), /xoxb-\[redacted\]/);
});
