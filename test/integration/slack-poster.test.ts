// SlackPoster.update against the fake Slack Web API: chat.update rides the same client as the posts,
// so a 429 is waited out (Retry-After) and a 5xx retried, and the message shows the new content.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startJobEdges, type JobEdges } from "../lab/job-edges.js";

let edges: JobEdges;

before(async () => {
  edges = await startJobEdges("slack-poster", { retryAfterSeconds: 1 });
});

after(() => edges.close());

test("update waits out a 429 and retries a 500, then the message shows the new content", async () => {
  const { fake } = edges;
  const { poster } = edges.slack();
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
