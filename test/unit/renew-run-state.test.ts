// Job data saved while step states were icons must still resume: `readRunState` reads it back as words,
// and the thread shows it exactly as it showed before.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyEvent, readRunState, type RunState } from "../../src/core/renew/run-state.js";
import { renderRunStatus } from "../../src/present/thread.js";

// A RunState as the job saved it when step states were icons (JSON.stringify of what that code built):
// node 1 done, node 2 resumed (two steps skipped), failed at renew and rolling back, node 3 not reached.
const ICON_FORMAT =
  '{"requestId":"prod-20261128T090000Z-3f2a9c0d1e2f","cluster":"prod","startedAt":"2026-11-28T09:00:00.000Z","attempts":2,"nodes":[' +
  '{"node":"cp-1","host":"10.0.0.1","state":"done","steps":[{"step":"preflight","state":"✅","durationMs":12},{"step":"backup","state":"✅","durationMs":340},{"step":"renew","state":"✅","durationMs":1200},{"step":"restart","state":"✅","durationMs":30500},{"step":"verify","state":"✅","durationMs":4100}],"progress":{"node":"cp-1","backup":"/var/lib/certs-bot/backup-1","completed":["preflight","backup","renew","restart","verify"]},"leftIn":"renewed","renewed":[]},' +
  '{"node":"cp-2","host":"10.0.0.2","state":"running","steps":[{"step":"preflight","state":"⏭","durationMs":9},{"step":"backup","state":"⏭","durationMs":3},{"step":"renew","state":"❌","durationMs":800,"error":"kubeadm failed (exit status 1)"},{"step":"restart","state":"·"},{"step":"verify","state":"·"},{"step":"rollback","state":"⏳"}],"progress":{"node":"cp-2","backup":"/var/lib/certs-bot/backup-2","completed":["preflight","backup"]}},' +
  '{"node":"cp-3","host":"10.0.0.3","state":"waiting","steps":[{"step":"preflight","state":"·"},{"step":"backup","state":"·"},{"step":"renew","state":"·"},{"step":"restart","state":"·"},{"step":"verify","state":"·"}]}]}';

const saved = (): RunState => JSON.parse(ICON_FORMAT) as RunState;
const stepStates = (state: RunState): string[][] => state.nodes.map((n) => n.steps.map((s) => s.state));

test("a run state saved with icons reads back as words, everything else as it was", () => {
  const read = readRunState(saved());
  assert.deepEqual(stepStates(read), [
    ["done", "done", "done", "done", "done"],
    ["skipped", "skipped", "failed", "pending", "pending", "running"],
    ["pending", "pending", "pending", "pending", "pending"],
  ]);
  const withoutStates = (state: RunState): unknown =>
    JSON.parse(JSON.stringify(state, (key, value: unknown) => (key === "state" ? undefined : value)));
  assert.deepEqual(withoutStates(read), withoutStates(saved()));
  assert.deepEqual(read.nodes[1]!.progress, saved().nodes[1]!.progress, "resumes from the same progress");
});

test("a run state read back from icons shows the checklist it showed before", () => {
  const now = new Date("2026-11-28T09:10:00Z");
  const text = JSON.stringify(renderRunStatus(readRunState(saved()), { timeZone: "UTC", now }).blocks);
  // The checklist as the icon-saving code rendered this state.
  const before =
    "✅ *cp-1* (10.0.0.1) — done in 36.1s\n      ✅ preflight 0.0s\n      ✅ backup 0.3s\n      ✅ renew 1.2s\n" +
    "      ✅ restart 30.5s\n      ✅ verify 4.1s\n⏳ *cp-2* (10.0.0.2) — running\n      ⏭ preflight (postcondition held)\n" +
    "      ⏭ backup (postcondition held)\n      ❌ renew 0.8s — kubeadm failed (exit status 1)\n      · restart\n" +
    "      · verify\n      ⏳ rollback\n· *cp-3* (10.0.0.3) — waiting";
  assert.ok(text.includes(JSON.stringify(before)), text);
});

test("the resumed run goes on in words", () => {
  const progress = saved().nodes[1]!.progress!;
  const event = { node: "cp-2", step: "rollback", status: "done", durationMs: 5000, excerpt: "" } as const;
  const next = applyEvent(readRunState(saved()), event, progress);
  assert.deepEqual(next.nodes[1]!.steps.at(-1), { step: "rollback", state: "done", durationMs: 5000 });
  assert.ok(
    stepStates(next)
      .flat()
      .every((s) => /^[a-z]+$/.test(s)),
    String(stepStates(next)),
  );
});

test("a run state saved in words reads back unchanged", () => {
  const words = readRunState(saved());
  assert.deepEqual(readRunState(words), words);
});

test("a step in an unknown state is a clear error, not a guess", () => {
  for (const bad of ["🚀", "Done", "", "constructor", "toString"]) {
    const state = saved();
    (state.nodes[2]!.steps[0] as { state: string }).state = bad;
    assert.throws(
      () => readRunState(state),
      new Error(`the saved run state has a step in an unknown state: ${JSON.stringify(bad)}`),
      bad,
    );
  }
});
