// SlackPoster.update against the fake Slack Web API: chat.update rides the same client as the posts,
// so a 429 is waited out (Retry-After) and a 5xx retried, and the message shows the new content.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { SlackPoster, webClient } from "../../src/adapters/slack/poster.js";
import { connectRedis } from "../../src/adapters/store/redis.js";
import { Store } from "../../src/adapters/store/store.js";
import { startFakeSlack, type FakeSlack } from "../lab/fake-slack.js";
import { dropKeys } from "../lab/redis.js";

const REDIS_URL = "redis://127.0.0.1:6379";
const PREFIX = `slack-poster-${process.pid}`;
const redis = connectRedis(REDIS_URL);
let fake: FakeSlack;

before(async () => {
  fake = await startFakeSlack({ retryAfterSeconds: 1 });
});

after(async () => {
  await fake.close();
  await dropKeys(REDIS_URL, PREFIX);
  await redis.quit();
});

test("update waits out a 429 and retries a 500, then the message shows the new content", async () => {
  const poster = new SlackPoster(
    webClient({ token: "xoxb-test", apiUrl: fake.url }),
    new Store(redis, PREFIX),
  );
  const message = { channel: "C0POSTER1", text: "before", blocks: [] };
  const ts = await poster.postOnce("poster-test:1", message);
  fake.failNext("chat.update", 1, { status: 429, retryAfter: 1 });
  fake.failNext("chat.update", 1, { status: 500 });
  const started = Date.now();
  await poster.update({ channel: "C0POSTER1", ts }, { text: "after", blocks: [] });
  assert.ok(Date.now() - started >= 1000, "Retry-After was waited out");
  assert.equal(fake.calls.filter((c) => c.method === "chat.update").length, 3);
  assert.deepEqual(
    fake.messages("C0POSTER1").map((m) => [m.ts, m.text]),
    [[ts, "after"]],
  );
});
