// The run's voice in Slack (SlackThreadReporter) against the fake Slack Web API and a real Redis:
// many quick state changes become few chat.update calls that end on the last state; step replies
// and the summary go to the card's thread once each, even when a rerun reports them again; and a
// Slack failure never fails the run.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import type { ProgressEvent } from "../../src/core/renew/progress.js";
import { applyEvent, endRun, startRunState, type RunState } from "../../src/core/renew/run-state.js";
import { SlackPoster, webClient } from "../../src/adapters/slack/poster.js";
import { SlackThreadReporter } from "../../src/adapters/slack/thread-reporter.js";
import { connectRedis } from "../../src/adapters/store/redis.js";
import { Store } from "../../src/adapters/store/store.js";
import { startFakeSlack, type FakeSlack } from "../lab/fake-slack.js";
import { planOf } from "../fixtures/prod-cluster.js";

const CHANNEL = "C0THREAD1";
let fake: FakeSlack;
const redis = connectRedis("redis://127.0.0.1:6379");
let runs = 0;
let cardTs = "";

/** A reporter for a card really posted in the fake (a thread needs its parent). */
async function reporter(requestId: string, spacingMs = 300) {
  const client = webClient({ token: "xoxb-test", apiUrl: fake.url });
  const poster = new SlackPoster(client, new Store(redis, `thread-test-${process.pid}-${++runs}`));
  const card = await client.chat.postMessage({ channel: CHANNEL, text: `Renewal of prod (${requestId})` });
  cardTs = card.ts!;
  return new SlackThreadReporter({
    poster,
    card: { channel: CHANNEL, ts: cardTs },
    requestId,
    timeZone: "Europe/Berlin",
    logger: pino({ level: "silent" }),
    spacingMs,
  });
}

const event = (
  node: string,
  step: ProgressEvent["step"],
  status: ProgressEvent["status"],
): ProgressEvent => ({
  node,
  step,
  status,
  durationMs: status === "running" ? 0 : 1200,
  excerpt: status === "running" ? "" : `${step} output`,
});

/** Every event of a clean run of the plan's nodes, in order. */
function events(state: RunState): ProgressEvent[] {
  return state.nodes.flatMap((n) =>
    n.steps.flatMap((s) => [event(n.node, s.step, "running"), event(n.node, s.step, "done")]),
  );
}

before(async () => {
  fake = await startFakeSlack();
});

after(async () => {
  await fake.close();
  await redis.quit();
});

describe("the renewal thread in Slack", () => {
  test("quick changes are coalesced into few updates that end on the last state", async () => {
    const plan = planOf(["m1", "m2", "m3"]);
    let state = startRunState("prod-20261128T090000Z-0123456789ab", plan, new Date());
    const thread = await reporter(state.requestId);
    for (const e of events(state)) {
      state = applyEvent(state, e, { node: e.node, backup: "/b", completed: [] });
      await thread.status(state);
    }
    state = endRun(state, "done", new Date());
    await thread.finished(state);

    const replies = fake.messages(CHANNEL).filter((m) => m.thread_ts === cardTs);
    assert.equal(replies.length, 2, "the status message and the summary");
    const status = replies[0]!;
    const updates = fake.calls.filter((c) => c.method === "chat.update" && c.args.ts === status.ts);
    const changes = events(state).length;
    assert.ok(updates.length >= 1 && updates.length <= 3, `${updates.length} updates for ${changes} changes`);
    const shown = JSON.stringify(status.blocks);
    assert.equal((shown.match(/✅/g) ?? []).length >= 3 * 5, true, "every step ended ✅");
    assert.doesNotMatch(
      shown,
      /⏳ (preflight|backup|renew|restart|verify)/,
      "the last state, not an earlier one",
    );
    assert.ok(
      fake.calls.every((c) => c.response.ok),
      JSON.stringify(fake.calls.find((c) => !c.response.ok)?.response),
    );
  });

  test("a rerun does not repeat replies already posted, and Slack failures never fail the run", async () => {
    const plan = planOf(["m1"]);
    let state = startRunState("prod-20261128T090000Z-abcdefabcdef", plan, new Date());
    fake.reset();
    const first = await reporter(state.requestId, 0);
    const done = event(state.nodes[0]!.node, "preflight", "done");
    state = applyEvent(state, done, { node: done.node, backup: "/b", completed: ["preflight"] });
    await first.status(state);
    await first.step(done, state);
    await first.step(done, state); // the same step reported twice: posted once
    assert.equal(fake.messages(CHANNEL).filter((m) => m.thread_ts === cardTs).length, 2);

    fake.failNext("chat.postMessage", 10, { error: "channel_not_found" });
    await first.step(event(done.node, "backup", "done"), state);
    await first.finished(endRun(state, "done", new Date()));
  });
});
