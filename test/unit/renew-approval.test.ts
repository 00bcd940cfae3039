import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig, type ClusterConfig } from "../../src/config/load.js";
import {
  beginNode,
  countedApprovals,
  decide,
  expire,
  finish,
  markRunning,
  newRequest,
  requestId,
  runJobId,
  type ApprovalRules,
  type RenewalRequest,
  type ResolvedClick,
} from "../../src/core/renew/approval.js";
import { formatDate } from "../../src/present/time.js";

const NOW = new Date("2026-11-28T09:00:00Z");
const MIN = 60_000;
const at = (minutes: number) => new Date(NOW.getTime() + minutes * MIN);

const CONFIG = parseConfig(
  `
clusters:
  - name: cluster-a
    operators: [U0ALICE]
    approvers: [U0ALICE, U0BOB, U0CAROL, S0SRE]
    nodes: [{ host: 10.0.0.1 }]
  - name: cluster-b
    approvers: []
    nodes: [{ host: 10.0.0.2 }]
`,
  "clusters.yaml",
);
const A = CONFIG.clusters[0] as ClusterConfig;
const B = CONFIG.clusters[1] as ClusterConfig;

function request(): RenewalRequest {
  return newRequest({
    cluster: "cluster-a",
    requestedBy: "U0ALICE",
    now: NOW,
    settings: { approvalTtlMinutes: 240 },
  });
}

const approve = (user: string, userGroups: string[] = []): ResolvedClick => ({
  user,
  userGroups,
  action: "approve",
});
const reject = (user: string, reason?: string): ResolvedClick => ({
  user,
  userGroups: [],
  action: "reject",
  ...(reason ? { reason } : {}),
});
const ONE: ApprovalRules = { requiredApprovals: 1, allowSelfApproval: false };
const TWO: ApprovalRules = { requiredApprovals: 2, allowSelfApproval: false };
const SELF: ApprovalRules = { requiredApprovals: 1, allowSelfApproval: true };
/** The cluster and rules of today's config at `minutes` after the request. */
const inUtc = (date: Date): string => formatDate(date, "UTC");
const ctx = (minutes = 1, cluster = A, rules = ONE) => ({
  cluster,
  rules,
  now: at(minutes),
  formatTime: inUtc,
});

function ok(result: ReturnType<typeof decide>) {
  assert.equal(result.ok, true, result.ok ? "" : result.reason);
  return result as Extract<ReturnType<typeof decide>, { ok: true }>;
}
function refused(result: ReturnType<typeof decide>, pattern: RegExp) {
  assert.equal(result.ok, false, "expected a refusal");
  const r = result as Extract<ReturnType<typeof decide>, { ok: false }>;
  assert.match(r.reason, pattern);
  return r;
}

test("newRequest: fields, expiry from approvalTtlMinutes, deterministic URL-safe id", () => {
  const r = newRequest({
    cluster: "cluster-a",
    requestedBy: "U0ALICE",
    now: NOW,
    node: "m1",
    certs: ["apiserver"],
    settings: { approvalTtlMinutes: 30 },
  });
  assert.equal(r.state, "pending");
  assert.deepEqual(r.approvals, []);
  assert.equal(r.expiresAt.toISOString(), "2026-11-28T09:30:00.000Z");
  assert.ok(!("requiredApprovals" in r) && !("allowSelfApproval" in r), "the rules are today's, not saved");
  assert.equal(r.node, "m1");
  assert.deepEqual(r.certs, ["apiserver"]);
  assert.match(r.id, /^cluster-a-20261128T090000Z-[0-9a-f]{12}$/);
  assert.equal(r.id, encodeURIComponent(r.id));
  assert.equal(r.id, requestId("cluster-a", NOW, "U0ALICE"));
  assert.notEqual(r.id, requestId("cluster-a", NOW, "U0BOB"));
  assert.notEqual(r.id, requestId("cluster-a", new Date(NOW.getTime() + 1), "U0ALICE"));
  assert.notEqual(r.id, requestId("cluster-b", NOW, "U0ALICE"));
  assert.equal("node" in request(), false);
});

test("runJobId: derived from the request id, stable, no ':'", () => {
  const r = request();
  assert.equal(runJobId(r), `renew-${r.id}`);
  assert.equal(runJobId({ ...r }), runJobId(r));
  assert.ok(!runJobId(r).includes(":"));
  assert.ok(!runJobId({ id: "odd:id/x" }).includes(":"));
});

test("a non-approver is refused and told whom to ask", () => {
  const r = refused(decide(request(), approve("U0MALLORY"), ctx()), /only approvers of cluster-a/);
  assert.match(r.reason, /<@U0BOB>/);
  assert.equal(r.request, undefined);
  refused(decide(request(), reject("U0MALLORY"), ctx()), /may reject renewals/);
});

test("a cluster without approvers refuses everyone", () => {
  const r = newRequest({
    cluster: "cluster-b",
    requestedBy: "U0ALICE",
    now: NOW,
    settings: { approvalTtlMinutes: 240 },
  });
  refused(decide(r, approve("U0BOB"), ctx(1, B)), /has no approvers/);
});

test("a click checked against another cluster's config is refused", () => {
  refused(decide(request(), approve("U0BOB"), ctx(1, B)), /for cluster-a, not cluster-b/);
});

test("an approver through a user group may approve", () => {
  const result = ok(decide(request(), approve("U0DAVE", ["S0OTHER", "S0SRE"]), ctx()));
  assert.equal(result.request.state, "approved");
  assert.equal(result.startRun, true);
  assert.deepEqual(result.request.approvals, [{ user: "U0DAVE", at: at(1) }]);
  refused(decide(request(), approve("U0DAVE", ["S0OTHER"]), ctx()), /only approvers/);
});

test("self-approval is refused by default", () => {
  refused(decide(request(), approve("U0ALICE"), ctx()), /you requested this renewal/);
});

test("self-approval is allowed with allowSelfApproval", () => {
  const result = ok(decide(request(), approve("U0ALICE"), ctx(1, A, SELF)));
  assert.equal(result.request.state, "approved");
  assert.equal(result.startRun, true);
});

test("self-approval still needs the requester to be an approver", () => {
  const r = { ...request(), requestedBy: "U0OPERATOR" };
  refused(decide(r, approve("U0OPERATOR"), ctx(1, A, SELF)), /only approvers/);
});

test("one approval of 1 approves and starts the run; the input is not mutated", () => {
  const r = request();
  const result = ok(decide(r, approve("U0BOB"), ctx()));
  assert.equal(result.request.state, "approved");
  assert.equal(result.startRun, true);
  assert.equal(r.state, "pending");
  assert.deepEqual(r.approvals, []);
});

test("a double click after approval is refused: already approved by you / already running", () => {
  const approved = ok(decide(request(), approve("U0BOB"), ctx())).request;
  refused(decide(approved, approve("U0BOB"), ctx(2)), /you already approved.*already running/);
  refused(decide(approved, approve("U0CAROL"), ctx(2)), /already approved by <@U0BOB>.*already running/);
  refused(decide(approved, reject("U0CAROL"), ctx(2)), /already running/);
  const running = markRunning(approved, at(3))!;
  refused(decide(running, approve("U0BOB"), ctx(4)), /already running/);
  refused(decide(running, approve("U0CAROL"), ctx(4)), /already running/);
});

test("requiredApprovals 2: two different approvers; the same one twice does not count", () => {
  let r = request();
  const first = ok(decide(r, approve("U0BOB"), ctx(1, A, TWO)));
  assert.equal(first.request.state, "pending");
  assert.equal(first.startRun, false);
  r = first.request;
  refused(
    decide(r, approve("U0BOB"), ctx(2, A, TWO)),
    /you already approved.*1 more approval from a different approver/,
  );
  // The same person through a group is still the same person.
  refused(decide(r, approve("U0BOB", ["S0SRE"]), ctx(2, A, TWO)), /you already approved/);
  const second = ok(decide(r, approve("U0CAROL"), ctx(3, A, TWO)));
  assert.equal(second.request.state, "approved");
  assert.equal(second.startRun, true);
  assert.deepEqual(
    second.request.approvals.map((a) => a.user),
    ["U0BOB", "U0CAROL"],
  );
});

test("reaching the count starts exactly one run over any sequence of clicks and replays", () => {
  let r = request();
  const clicks = ["U0BOB", "U0BOB", "U0CAROL", "U0CAROL", "U0DAVE", "U0BOB", "U0ALICE"];
  let starts = 0;
  let transitions = 0;
  for (const [i, user] of clicks.entries()) {
    const result = decide(r, approve(user, ["S0SRE"]), ctx(i + 1, A, TWO));
    if (result.ok) {
      if (r.state !== "approved" && result.request.state === "approved") transitions++;
      if (result.startRun) starts++;
      r = result.request;
    }
  }
  assert.equal(starts, 1);
  assert.equal(transitions, 1);
  assert.equal(r.approvals.length, 2);
  // Replaying the same stale snapshot twice: each says startRun, which is why the store saves with
  // a compare-and-set and the job id comes from the request (same id → one job).
  const pending = ok(decide(request(), approve("U0BOB"), ctx(1, A, TWO))).request;
  const x = ok(decide(pending, approve("U0CAROL"), ctx(2, A, TWO)));
  const y = ok(decide(pending, approve("U0DAVE", ["S0SRE"]), ctx(2, A, TWO)));
  assert.equal(runJobId(x.request), runJobId(y.request));
});

test("an expired request refuses every click and reports the expiry to save", () => {
  const r = request();
  const exactly = refused(
    decide(r, approve("U0BOB"), { cluster: A, rules: ONE, now: r.expiresAt, formatTime: inUtc }),
    /expired at 2026-11-28 13:00 UTC/,
  );
  // The time reads as the caller's formatter writes it: the desk passes the configured zone.
  const inBerlin = (date: Date): string => formatDate(date, "Europe/Berlin");
  refused(
    decide(r, approve("U0BOB"), { cluster: A, rules: ONE, now: r.expiresAt, formatTime: inBerlin }),
    /expired at 2026-11-28 14:00 CET without enough approvals/,
  );
  assert.equal(exactly.request?.state, "expired");
  assert.deepEqual(exactly.request?.endedAt, r.expiresAt);
  refused(decide(r, reject("U0BOB"), ctx(241)), /expired/);
  const expired = expire(r, at(300))!;
  const again = refused(decide(expired, approve("U0BOB"), ctx(301)), /expired at/);
  assert.equal(again.request, undefined);
  // One minute before the end is still fine.
  ok(decide(r, approve("U0BOB"), ctx(239)));
});

test("expire: only a pending request past its window", () => {
  const r = request();
  assert.equal(expire(r, at(239)), null);
  assert.equal(expire(r, at(240))?.state, "expired");
  const approved = ok(decide(r, approve("U0BOB"), ctx())).request;
  assert.equal(expire(approved, at(1000)), null);
});

test("reject: by an approver ends the request; later clicks are refused", () => {
  const r = request();
  const half = ok(decide(r, approve("U0BOB"), ctx(1, A, TWO))).request;
  const rejected = ok(decide(half, reject("U0CAROL", "  wrong cluster  "), ctx(2)));
  assert.equal(rejected.startRun, false);
  assert.equal(rejected.request.state, "rejected");
  assert.deepEqual(rejected.request.rejection, { user: "U0CAROL", at: at(2), reason: "wrong cluster" });
  refused(
    decide(rejected.request, approve("U0DAVE", ["S0SRE"]), ctx(3)),
    /rejected by <@U0CAROL>.*wrong cluster/,
  );
  refused(decide(rejected.request, reject("U0BOB"), ctx(3)), /rejected/);
});

test("reject: the requester may withdraw their own request", () => {
  const r = { ...request(), requestedBy: "U0OPERATOR" };
  const result = ok(decide(r, reject("U0OPERATOR"), ctx()));
  assert.equal(result.request.state, "rejected");
});

test("a request that already ran refuses clicks", () => {
  const approved = ok(decide(request(), approve("U0BOB"), ctx())).request;
  const running = markRunning(approved, at(2))!;
  assert.equal(running.state, "running");
  assert.equal(markRunning(running, at(3)), running, "a rerun after a crash keeps it running");
  const done = finish(running, true, at(10))!;
  assert.equal(done.state, "done");
  refused(decide(done, approve("U0CAROL"), ctx(11)), /already ran \(it succeeded\)/);
  const failed = finish(running, false, at(10))!;
  refused(decide(failed, approve("U0CAROL"), ctx(11)), /already ran \(it failed\)/);
  assert.equal(finish(done, true, at(12)), null);
  assert.equal(markRunning(request(), at(1)), null);
});

// --- today's rules, not the request's ------------------------------------------------------------

test("requiredApprovals raised after the request: the click that would have completed it waits", () => {
  const first = ok(decide(request(), approve("U0BOB"), ctx(1, A, TWO)));
  assert.equal(first.request.state, "pending");
  assert.equal(first.startRun, false);
  const second = ok(decide(first.request, approve("U0CAROL"), ctx(2, A, TWO)));
  assert.equal(second.request.state, "approved");
  assert.equal(second.startRun, true);
});

test("requiredApprovals lowered after the request: the next click, even a repeat, completes it", () => {
  const three: ApprovalRules = { requiredApprovals: 3, allowSelfApproval: false };
  let r = ok(decide(request(), approve("U0BOB"), ctx(1, A, three))).request;
  r = ok(decide(r, approve("U0CAROL"), ctx(2, A, three))).request;
  assert.equal(r.state, "pending");
  refused(decide(r, approve("U0BOB"), ctx(3, A, three)), /already approved.*1 more approval/);
  const repeat = ok(decide(r, approve("U0BOB"), ctx(3, A, TWO)));
  assert.equal(repeat.request.state, "approved");
  assert.equal(repeat.startRun, true);
  assert.equal(repeat.request.approvals.length, 2, "a repeat adds no approval");
  const third = ok(decide(r, approve("U0DAVE", ["S0SRE"]), ctx(3, A, TWO)));
  assert.equal(third.request.state, "approved");
});

test("allowSelfApproval turned off after the request: the requester is refused, their approval stops counting", () => {
  refused(decide(request(), approve("U0ALICE"), ctx(1, A, ONE)), /you requested this renewal/);
  // Allowed at her click (of two needed), then turned off: Bob's approval alone is not enough.
  const selfTwo: ApprovalRules = { requiredApprovals: 2, allowSelfApproval: true };
  const hers = ok(decide(request(), approve("U0ALICE"), ctx(1, A, selfTwo))).request;
  refused(decide(hers, approve("U0ALICE"), ctx(2, A, TWO)), /you requested this renewal/);
  const bob = ok(decide(hers, approve("U0BOB"), ctx(2, A, TWO)));
  assert.equal(bob.request.state, "pending");
  assert.equal(bob.startRun, false);
  assert.equal(ok(decide(bob.request, approve("U0CAROL"), ctx(3, A, TWO))).startRun, true);
  // Still allowed: her approval and Bob's make two.
  assert.equal(ok(decide(hers, approve("U0BOB"), ctx(2, A, selfTwo))).startRun, true);
});

test("countedApprovals: the requester's own approval counts only while self-approval is allowed", () => {
  const r = {
    ...request(),
    approvals: [
      { user: "U0ALICE", at: at(1) },
      { user: "U0BOB", at: at(2) },
    ],
  };
  assert.deepEqual(
    countedApprovals(r, ONE).map((a) => a.user),
    ["U0BOB"],
  );
  assert.equal(countedApprovals(r, SELF).length, 2);
});

test("cancel: only an approved run that started no node; by the requester or an approver (a group counts)", () => {
  const cancel = (user: string, userGroups: string[] = []): ResolvedClick => ({
    user,
    userGroups,
    action: "cancel",
  });
  const pending = request();
  assert.match(JSON.stringify(decide(pending, cancel("U0ALICE"), ctx())), /not approved yet/);
  const approved = decide(pending, approve("U0BOB"), ctx());
  assert.ok(approved.ok);
  const running = markRunning(approved.request, at(2))!;
  const stranger = decide(running, cancel("U0MALLORY"), ctx(3));
  assert.ok(!stranger.ok);
  assert.match(stranger.reason, /only approvers of cluster-a may cancel renewals/);
  for (const [user, groups] of [
    ["U0ALICE", []],
    ["U0CAROL", []],
    ["U0DAVE", ["S0SRE"]],
  ] as const) {
    const done = decide(running, cancel(user, [...groups]), ctx(3));
    assert.ok(done.ok, user);
    assert.equal(done.request.state, "cancelled");
    assert.deepEqual(done.request.cancellation, { user, at: at(3) });
    assert.equal(beginNode(done.request, at(4)), null, "a cancelled run starts no node");
    assert.match(JSON.stringify(decide(done.request, approve("U0BOB"), ctx(5))), /was cancelled by <@/);
  }
  const started = beginNode(running, at(3))!;
  assert.deepEqual(started.nodeStartedAt, at(3));
  assert.equal(beginNode(started, at(9)), started, "recorded once");
  const late = decide(started, cancel("U0ALICE"), ctx(4));
  assert.ok(!late.ok);
  assert.match(late.reason, /a run that has started cannot be cancelled; it stops only at its end/);
  const ended = finish(started, true, at(9))!;
  assert.match(JSON.stringify(decide(ended, cancel("U0ALICE"), ctx(10))), /already ran/);
});

test("run now: one approval more than requiredApprovals, from approvers who neither requested nor approved", () => {
  const runNow = (user: string, userGroups: string[] = []): ResolvedClick => ({
    user,
    userGroups,
    action: "runNow",
  });
  const approved = decide(request(), approve("U0BOB"), ctx());
  assert.ok(approved.ok);
  let r = markRunning(approved.request, at(2))!; // its first attempt, waiting for the window
  for (const [user, why] of [
    ["U0MALLORY", /only approvers of cluster-a may run renewals now/],
    ["U0ALICE", /other than the requester and those who approved/],
    ["U0BOB", /other than the requester and those who approved/],
  ] as const) {
    const refused = decide(r, runNow(user), ctx(3));
    assert.ok(!refused.ok, user);
    assert.match(refused.reason, why);
  }
  const first = decide(r, runNow("U0CAROL"), ctx(3));
  assert.ok(first.ok);
  r = first.request;
  assert.equal(r.windowsWaived, undefined, "1 of 2");
  assert.match(JSON.stringify(decide(r, runNow("U0CAROL"), ctx(4))), /already approved running this now/);
  const second = decide(r, runNow("U0DAVE", ["S0SRE"]), ctx(4));
  assert.ok(second.ok);
  assert.equal(second.request.windowsWaived, true);
  assert.deepEqual(
    second.request.runNow?.map((a) => a.user),
    ["U0CAROL", "U0DAVE"],
  );
  assert.match(
    JSON.stringify(decide(second.request, runNow("U0DAN"), ctx(5))),
    /already approved to run now/,
  );
  // With two required approvals, three more are needed.
  const two = decide(r, runNow("U0DAVE", ["S0SRE"]), ctx(4, A, TWO));
  assert.ok(two.ok);
  assert.equal(two.request.windowsWaived, undefined);
});
