import { test } from "node:test";
import assert from "node:assert/strict";
import { newRequest, type ApprovalRules, type RenewalRequest } from "../../src/core/renew/approval.js";
import type { NodeExecution, ProgressEvent } from "../../src/core/renew/progress.js";
import type { NodeProgress } from "../../src/core/renew/steps/step.js";
import type { RenewalPlan } from "../../src/core/renew/plan.js";
import {
  applyEvent,
  endRun,
  finishNode,
  startRunState,
  type RunState,
} from "../../src/core/renew/run-state.js";
import { APPROVE_ACTION, REJECT_ACTION } from "../../src/present/actions.js";
import { POLICY_REQUESTER } from "../../src/core/renew/policy.js";
import {
  renderApprovalCard,
  renderAudit,
  renderClickRefused,
  renderClusterHeld,
  renderRenewalRefused,
  renderRenewalRequested,
  renderRunStatus,
  renderRunSummary,
  renderStepReply,
} from "../../src/present/thread.js";
import type { AuditEntry } from "../../src/core/renew/ports.js";
import {
  blockTexts,
  checkBlockLimits,
  type ButtonElement,
  type ChatReply,
} from "../../src/present/slack-types.js";
import { NOW, planOf } from "../fixtures/prod-cluster.js";

const TZ = "Europe/Berlin";
const MIN = 60_000;
const DAY = 86_400_000;
const later = (minutes: number) => new Date(NOW.getTime() + minutes * MIN);

const plan = (nodes?: string[], version?: string): RenewalPlan => planOf(nodes, version);

function request(changes: Partial<RenewalRequest> = {}): RenewalRequest {
  const base = newRequest({
    cluster: "prod",
    requestedBy: "U0ALICE01",
    now: NOW,
    settings: { approvalTtlMinutes: 240 },
  });
  return { ...base, ...changes };
}

const ONE: ApprovalRules = { requiredApprovals: 1, allowSelfApproval: false };
const TWO_SELF: ApprovalRules = { requiredApprovals: 2, allowSelfApproval: true };

const FIFTY = Array.from({ length: 50 }, (_, i) => `kube-master${String(i + 1).padStart(3, "0")}`);
const textOf = (blocks: ChatReply["blocks"]): string => blockTexts(blocks).join("\n");
/** The text of `r`'s card as drawn at `now` under `rules`. */
const cardText = (r: RenewalRequest, now: Date, rules = ONE): string =>
  textOf(renderApprovalCard(plan(), r, { channel: "C0PROD0001", timeZone: TZ, now, rules }).blocks);
const limits = (reply: ChatReply) => checkBlockLimits({ channel: "C0PROD0001", ...reply });
const buttonsOf = (blocks: ChatReply["blocks"]): ButtonElement[] =>
  blocks.flatMap((b) => (b.type === "actions" ? b.elements : []));

// --- the approval card --------------------------------------------------------------------------

test("a pending card shows who asked, what it needs, when it expires (in the cluster's zone), and both buttons", () => {
  const r = request();
  const card = renderApprovalCard(plan(), r, {
    channel: "C0PROD0001",
    timeZone: TZ,
    now: later(30),
    rules: ONE,
  });
  assert.deepEqual(checkBlockLimits(card), []);
  assert.equal(card.channel, "C0PROD0001");
  assert.match(card.text, /^Renewal of prod: waiting for approval/);
  const text = textOf(card.blocks);
  assert.match(text, /Renewal plan: prod/, "the plan body is there");
  assert.match(text, /Waiting for approval\*: 0 of 1 so far/);
  assert.match(text, /Needs 1 approval of \*prod\* \(not the requester\)/);
  assert.match(text, /Requested by <@U0ALICE01> at 2026-11-28 10:00 CET/);
  assert.match(text, /Expires at 2026-11-28 14:00 CET \(in 3h 30m\)/);
  assert.ok(text.includes(r.id));
  const buttons = buttonsOf(card.blocks);
  assert.deepEqual(
    buttons.map((b) => [b.text.text, b.action_id, b.style, b.value]),
    [
      ["Approve", APPROVE_ACTION, "primary", r.id],
      ["Reject", REJECT_ACTION, "danger", r.id],
    ],
  );
  assert.equal(card.blocks[card.blocks.length - 1]!.type, "actions", "the buttons close the card");
});

// Saturday 28 Nov 10:00 CET; the window opens on Tuesdays at 02:00 for 3 hours.
const TUESDAYS = {
  windows: [{ days: ["tue" as const], startMinute: 120, durationMinutes: 180 }],
  windowMarginMinutes: 20,
};

test("a cluster with maintenance windows: the card names the window the run will use, and once approved when it starts", () => {
  const opts = { channel: "C0PROD0001", timeZone: TZ, rules: ONE, windows: TUESDAYS };
  const pending = textOf(renderApprovalCard(plan(), request(), { ...opts, now: later(30) }).blocks);
  assert.match(
    pending,
    /Runs in the maintenance window Tue 1 Dec 02:00–05:00 CET \(windows: tue 02:00 for 3h \(Europe\/Berlin\); a node is not started with less than 20 min of its window left\)/,
  );
  const approved = request({ state: "approved", approvals: [{ user: "U0BOB01", at: later(31) }] });
  const card = renderApprovalCard(plan(), approved, { ...opts, now: later(31) });
  assert.match(card.text, /^Renewal of prod: approved — scheduled for Tue 1 Dec 02:00 CET/);
  assert.match(
    textOf(card.blocks),
    /Approved\* by <@U0BOB01> \(2026-11-28 10:31 CET\) — scheduled for Tue 1 Dec 02:00 CET, in its maintenance window/,
  );
  // Inside the window with the margin left, an approved run starts at once.
  const tuesday = new Date("2026-12-01T01:30:00Z"); // 02:30 CET
  const open = renderApprovalCard(plan(), approved, { ...opts, now: tuesday });
  assert.match(open.text, /^Renewal of prod: approved, starting/);
  assert.match(textOf(open.blocks), /Runs in the maintenance window Tue 1 Dec 02:00–05:00 CET, open now/);
  // Without windows, nothing is said about them.
  assert.doesNotMatch(cardText(request(), later(30)), /maintenance window/);
});

test("a request a policy filed: the card names the policy's line; pre-approved, it is approved by the policy", () => {
  const filed = newRequest({
    cluster: "prod",
    requestedBy: POLICY_REQUESTER,
    now: NOW,
    settings: { approvalTtlMinutes: 240 },
    policy: { source: "config/certs-bot.yaml:42", preApproved: false },
  });
  assert.equal(filed.state, "pending");
  const pending = cardText(filed, later(1));
  assert.match(
    pending,
    /Filed by certs-bot's renewal policy \(`config\/certs-bot.yaml:42`\) at 2026-11-28 10:00 CET/,
  );
  assert.match(pending, /Waiting for approval/);
  const policyPlan = { ...plan(), requestedBy: POLICY_REQUESTER };
  const opts0 = { channel: "C0PROD0001", timeZone: TZ, rules: ONE, now: later(1) };
  const drawn = textOf(renderApprovalCard(policyPlan, filed, opts0).blocks);
  assert.match(drawn, /Requested by _certs-bot \(policy\)_\./, "named, not a broken mention");

  const preApproved = newRequest({
    cluster: "prod",
    requestedBy: POLICY_REQUESTER,
    now: NOW,
    settings: { approvalTtlMinutes: 240 },
    policy: { source: "config/certs-bot.yaml:43", preApproved: true },
  });
  assert.equal(preApproved.state, "approved", "saved approved: it needs no click");
  const opts = { channel: "C0PROD0001", timeZone: TZ, rules: ONE, windows: TUESDAYS, now: later(1) };
  const card = textOf(renderApprovalCard(plan(), preApproved, opts).blocks);
  assert.match(
    card,
    /Approved\* by policy \(`config\/certs-bot.yaml:43`\) — scheduled for Tue 1 Dec 02:00 CET, in its maintenance window/,
  );
  assert.match(card, /Pre-approved by the renewal policy \(`config\/certs-bot.yaml:43`\): it needs no click/);
  assert.doesNotMatch(card, /Needs 1 approver/);
});

test("a partly approved request lists its approvers and keeps its buttons", () => {
  const r = request({ approvals: [{ user: "U0BOB01", at: later(5) }] });
  const card = renderApprovalCard(plan(), r, {
    channel: "C0PROD0001",
    timeZone: TZ,
    now: later(6),
    rules: TWO_SELF,
  });
  const text = textOf(card.blocks);
  assert.match(text, /1 of 2 so far/);
  assert.match(
    text,
    /Needs 2 approvals from different approvers of \*prod\* \(the requester may approve too\)/,
  );
  assert.match(text, /Approved so far by <@U0BOB01> \(2026-11-28 10:05 CET\)/);
  assert.equal(buttonsOf(card.blocks).length, 2);
});

test("the card shows today's rules, not those the plan was made with", () => {
  assert.equal(plan().approval.requiredApprovals, 1);
  const mine = request({ approvals: [{ user: "U0ALICE01", at: later(2) }] });
  const drawn = (rules: ApprovalRules) => cardText(mine, later(3), rules);
  const raised = drawn({ requiredApprovals: 2, allowSelfApproval: false });
  assert.match(raised, /Needs 2 different approvers, not the requester;/, "the plan part");
  assert.match(raised, /Waiting for approval\*: 0 of 2 so far/);
  assert.match(raised, /Approved so far by <@U0ALICE01>/);
  assert.match(raised, /The requester's own approval does not count: self-approval is off now/);
  const allowed = drawn(TWO_SELF);
  assert.match(allowed, /Waiting for approval\*: 1 of 2 so far/);
  assert.doesNotMatch(allowed, /does not count/);
  const expired = request({ state: "expired", approvals: [{ user: "U0BOB01", at: later(2) }] });
  assert.match(
    cardText(expired, later(300), TWO_SELF),
    /Expired\* at 2026-11-28 14:00 CET with 1 of 2 approvals/,
  );
});

test("buttons show only while the request is pending and its window is open", () => {
  const approvals = [{ user: "U0BOB01", at: later(5) }];
  const cases: [RenewalRequest, RegExp, RegExp][] = [
    [
      request({ state: "approved", approvals }),
      /Approved\* by <@U0BOB01> \(2026-11-28 10:05 CET\); starting/,
      /approved, starting/,
    ],
    [
      request({ state: "running", approvals, startedAt: later(6) }),
      /Running\* since 2026-11-28 10:06 CET, approved by <@U0BOB01>/,
      /running/,
    ],
    [
      request({ state: "done", approvals, startedAt: later(6), endedAt: later(20) }),
      /Renewed\*: ran 2026-11-28 10:06 CET to 2026-11-28 10:20 CET, approved by <@U0BOB01>/,
      /renewed/,
    ],
    [
      request({ state: "failed", approvals, endedAt: later(20) }),
      /Failed\* at 2026-11-28 10:20 CET/,
      /failed/,
    ],
    [
      request({ state: "expired", endedAt: later(240) }),
      /Expired\* at 2026-11-28 14:00 CET with 0 of 1 approvals/,
      /expired/,
    ],
    [request(), /Expired\* at 2026-11-28 14:00 CET/, /expired/], // pending, but its window has closed
  ];
  for (const [r, shown, state] of cases) {
    const card = renderApprovalCard(plan(), r, {
      channel: "C0PROD0001",
      timeZone: TZ,
      now: later(300),
      rules: ONE,
    });
    assert.match(textOf(card.blocks), shown);
    assert.match(card.text, new RegExp(`^Renewal of prod: ${state.source}`));
    assert.deepEqual(buttonsOf(card.blocks), [], r.state);
    assert.deepEqual(checkBlockLimits(card), []);
  }
});

test("a rejection shows who, when and the reason, escaped", () => {
  const r = request({
    state: "rejected",
    rejection: { user: "U0BOB01", at: later(10), reason: "not now <!channel> & later" },
  });
  const text = cardText(r, later(11));
  assert.match(
    text,
    /Rejected\* by <@U0BOB01> at 2026-11-28 10:10 CET: not now &lt;!channel&gt; &amp; later/,
  );
  assert.ok(!text.includes("<!channel>"));
  const withdrawn = request({ state: "rejected", rejection: { user: "U0ALICE01", at: later(10) } });
  assert.match(cardText(withdrawn, later(11)), /Withdrawn\* by <@U0ALICE01>/);
});

test("the card of a large plan still fits with its state and buttons", () => {
  const nodes = FIFTY;
  for (const version of ["v1.11.10", "v1.30.4"]) {
    const r = request({ approvals: [{ user: "U0BOB01", at: later(1) }] });
    const card = renderApprovalCard(plan(nodes, version), r, {
      channel: "C0PROD0001",
      timeZone: TZ,
      now: NOW,
      rules: TWO_SELF,
    });
    assert.deepEqual(checkBlockLimits(card), [], version);
    const text = textOf(card.blocks);
    assert.match(text, /kube-master050/, "every node is named");
    assert.match(text, /Approved so far by <@U0BOB01>/);
    assert.equal(buttonsOf(card.blocks).length, 2);
  }
});

// --- the run ------------------------------------------------------------------------------------

const REQUEST_ID = "prod-20261128T090000Z-0123456789ab";
const progress = (node: string): NodeProgress => ({
  node,
  backup: `/var/backups/certs-bot/${node}/20261128T090000Z.tar.gz`,
  completed: [],
});

function event(
  state: RunState,
  e: Partial<ProgressEvent> & Pick<ProgressEvent, "node" | "step" | "status">,
): RunState {
  return applyEvent(state, { durationMs: 0, excerpt: "", ...e }, progress(e.node));
}

/** A node's execution: every planned certificate renewed (a year on), except `unchanged`. */
function execution(
  p: RenewalPlan,
  name: string,
  extra: Partial<NodeExecution> = {},
  unchanged: string[] = [],
): NodeExecution {
  const planned = p.nodes.find((n) => n.node === name)!;
  return {
    node: name,
    ok: true,
    steps: [],
    leftIn: "renewed and verified",
    renewed: planned.renew.map((c) => ({
      name: c.name,
      before: "old",
      after: unchanged.includes(c.name) ? "old" : "new",
      notAfter: unchanged.includes(c.name) ? c.notAfter : new Date(NOW.getTime() + 365 * DAY),
    })),
    progress: progress(name),
    ...extra,
  };
}

function doneNode(state: RunState, p: RenewalPlan, name: string, unchanged: string[] = []): RunState {
  let s = state;
  for (const step of ["preflight", "backup", "renew", "restart", "verify"] as const) {
    s = event(s, { node: name, step, status: "done", durationMs: 1200 });
  }
  return finishNode(s, p, execution(p, name, {}, unchanged));
}

function failedNode(state: RunState, p: RenewalPlan, name: string, rollbackOk: boolean): RunState {
  let s = event(state, { node: name, step: "preflight", status: "done", durationMs: 1200 });
  s = event(s, { node: name, step: "backup", status: "done", durationMs: 800, skipped: true });
  s = event(s, { node: name, step: "renew", status: "done", durationMs: 3400 });
  s = event(s, { node: name, step: "restart", status: "done", durationMs: 20_000 });
  s = event(s, {
    node: name,
    step: "verify",
    status: "failed",
    durationMs: 300_000,
    error: "readyz did not answer <!here>",
  });
  s = event(s, { node: name, step: "rollback", status: rollbackOk ? "done" : "failed", durationMs: 9000 });
  return finishNode(
    s,
    p,
    execution(p, name, {
      ok: false,
      failure: { step: "verify", error: "readyz did not answer <!here>" },
      rollback: rollbackOk
        ? { ok: true, excerpt: "" }
        : { ok: false, error: "tar: cannot open backup", excerpt: "" },
    }),
  );
}

/** m1…m3 of prod: `done` renewed, then `failing` failed at verify, ended 12 minutes after the start. */
function failedRun(done: string[], failing: string, rollbackOk: boolean): RunState {
  const p = plan();
  let s = startRunState(REQUEST_ID, p, NOW);
  for (const n of done) s = doneNode(s, p, n);
  s = failedNode(s, p, failing, rollbackOk);
  return endRun(s, "failed", later(12));
}

test("the checklist shows each node's state and each step's mark, time and error", () => {
  const p = plan();
  let s = startRunState(REQUEST_ID, p, NOW);
  s = doneNode(s, p, "m1");
  s = event(s, { node: "m2", step: "preflight", status: "done", durationMs: 1234 });
  s = event(s, { node: "m2", step: "backup", status: "done", durationMs: 500, skipped: true });
  s = event(s, { node: "m2", step: "renew", status: "running" });
  const reply = renderRunStatus(s, { timeZone: TZ, now: later(2) });
  assert.deepEqual(limits(reply), []);
  assert.equal(reply.text, "Renewal of prod: running · node 2 of 3");
  const text = textOf(reply.blocks);
  assert.match(text, /\*Renewal of prod\* — running · node 2 of 3/);
  assert.match(
    text,
    /request `prod-20261128T090000Z-0123456789ab` · started 2026-11-28 10:00 CET, 2m 0s so far$/m,
  );
  assert.match(text, /✅ \*m1\* \(10\.0\.0\.1\) — done in 6\.0s/);
  assert.match(
    text,
    /⏳ \*m2\* \(10\.0\.0\.2\) — running\n\s+✅ preflight 1\.2s\n\s+⏭ backup \(postcondition held\)\n\s+⏳ renew\n\s+· restart\n\s+· verify/,
  );
  assert.match(text, /· \*m3\* \(10\.0\.0\.3\) — waiting/);
});

test("the checklist of an ended run shows the outcome, the failing step's error and the rollback", () => {
  const s = failedRun(["m1"], "m2", true);
  const text = textOf(renderRunStatus(s, { timeZone: TZ, now: later(13) }).blocks);
  assert.match(text, /:x: \*Renewal of prod\* — failed on m2 and was rolled back/);
  assert.match(text, /took 12m 0s/);
  assert.match(text, /❌ verify 5m 0s — readyz did not answer &lt;!here&gt;/);
  assert.match(text, /✅ rollback 9\.0s/);
  assert.match(text, /❌ \*m2\* .* — failed at verify: .*; rolled back to its old certificates/);
  assert.match(text, /⏭ \*m3\* .* — not run: an earlier node failed/);
});

test("the checklist of 50 nodes folds but fits, and keeps the running node's steps", () => {
  const nodes = FIFTY;
  const p = plan(nodes);
  let s = startRunState(REQUEST_ID, p, NOW);
  for (const n of nodes.slice(0, 40)) {
    for (const step of ["preflight", "backup", "renew", "restart", "verify"] as const) {
      s = event(s, {
        node: n,
        step,
        status: "done",
        durationMs: 1000,
        error: step === "verify" ? "x".repeat(200) : "",
      });
    }
    s = finishNode(s, p, execution(p, n));
  }
  s = event(s, { node: "kube-master041", step: "preflight", status: "done", durationMs: 1000 });
  s = event(s, { node: "kube-master041", step: "backup", status: "running" });
  const reply = renderRunStatus(s, { timeZone: TZ, now: later(60) });
  assert.deepEqual(limits(reply), []);
  const text = textOf(reply.blocks);
  assert.match(text, /⏳ \*kube-master041\* \(10\.0\.0\.41\) — running\n\s+✅ preflight 1\.0s\n\s+⏳ backup/);
  assert.match(text, /kube-master050/, "the waiting nodes are still named");
  assert.ok(!text.includes("x".repeat(200)), "finished nodes lost their step lines");
});

// --- step replies -------------------------------------------------------------------------------

/** A step reply for prod; the event is m1's renew, 1 ms, no output, unless `e` says otherwise. */
const stepReply = (e: Partial<ProgressEvent>): ChatReply =>
  renderStepReply({ node: "m1", step: "renew", status: "done", durationMs: 1, excerpt: "", ...e }, "prod");

test("a step reply names node, step and time, with the excerpt in a code block", () => {
  const reply = stepReply({ node: "kube-master001", durationMs: 3400, excerpt: "certificate renewed\n" });
  assert.equal(reply.text, "prod: ✅ kube-master001 · renew · 3.4s");
  assert.deepEqual(blockTexts(reply.blocks), [
    "✅ *kube-master001* · renew · 3.4s · _prod_",
    "```\ncertificate renewed\n```",
  ]);
  assert.deepEqual(limits(reply), []);
});

test("a failed step shows its error; a skipped step says its postcondition held; no output, no code block", () => {
  const failed = stepReply({
    step: "verify",
    status: "failed",
    durationMs: 300_000,
    error: "readyz <timeout> & gone",
  });
  assert.deepEqual(blockTexts(failed.blocks), [
    "❌ *m1* · verify · 5m 0s · _prod_\nerror: readyz &lt;timeout&gt; &amp; gone",
  ]);
  const skipped = stepReply({ step: "backup", excerpt: "postcondition holds", skipped: true });
  assert.match(skipped.text, /^prod: ⏭ m1 · backup · skipped, its postcondition held$/);
});

test("a long excerpt keeps its tail, and ``` or markup inside cannot break out of the code block", () => {
  const excerpt = `FIRST-LINE\n${"noise & <noise>\n".repeat(600)}\`\`\`\n<!channel> *bold*\nLAST-LINE`;
  const reply = stepReply({ status: "failed", excerpt, error: "boom" });
  assert.deepEqual(limits(reply), []);
  const block = blockTexts(reply.blocks)[1]!;
  assert.ok(
    block.startsWith("```\n…") && block.endsWith("LAST-LINE\n```"),
    "the tail is kept, the cut marked",
  );
  assert.ok(!block.includes("FIRST-LINE"));
  assert.equal(block.split("```").length, 3, "only our own fences");
  assert.ok(block.includes("&lt;!channel&gt;") && !block.includes("<!channel>"));
  assert.ok(block.length <= 3000);
  assert.deepEqual(
    limits(stepReply({ excerpt: "&".repeat(3000) })),
    [],
    "escaping cannot push it over the limit",
  );
});

// --- the summary --------------------------------------------------------------------------------

test("the summary of a successful run shows each certificate's expiry before and after, and marks the unchanged", () => {
  const p = plan();
  let s = startRunState(REQUEST_ID, p, NOW);
  for (const n of ["m1", "m2"]) s = doneNode(s, p, n);
  s = doneNode(s, p, "m3", ["apiserver"]);
  s = endRun(s, "done", later(15));
  const reply = renderRunSummary(s, { timeZone: TZ });
  assert.deepEqual(limits(reply), []);
  assert.equal(reply.text, "Renewal of prod: renewed");
  const text = textOf(reply.blocks);
  const perNode = p.nodes[0]!.renew.length;
  assert.match(text, new RegExp(`\\*prod\\* renewed: ${3 * perNode - 1} certificates on 3 nodes`));
  assert.match(
    text,
    /✅ \*m1\* \(10\.0\.0\.1\) — done in 6\.0s\n\s+• `apiserver` 2027-09-24 11:00 CEST → 2027-11-28 10:00 CET\n/,
    "before → after, in Berlin time",
  );
  assert.match(text, /• `apiserver` 2027-09-24 11:00 CEST → 2027-09-24 11:00 CEST \*unchanged\*\n/);
  assert.match(text, /took 15m 0s/);
});

test("a failed, rolled-back run says so and what to do; the nodes after it were not run", () => {
  const s = failedRun(["m1"], "m2", true);
  const reply = renderRunSummary(s, { timeZone: TZ });
  assert.equal(reply.text, "Renewal of prod: failed on m2 and was rolled back");
  const text = textOf(reply.blocks);
  assert.match(
    text,
    /failed on \*m2\* at `verify`: readyz did not answer &lt;!here&gt;\. \*m2\* was rolled back/,
  );
  assert.match(text, /\*m1\* keeps its renewed certificates/);
  assert.match(text, /`\/certs renew prod`/);
  assert.match(
    text,
    /⏭ not run because an earlier node failed; still on their old certificates \(1\): \*m3\*/,
  );
  assert.ok(!/ROLLBACK FAILED/.test(text));
});

test("a failed rollback says loudly that a person must act, and how", () => {
  const s = failedRun([], "m1", false);
  const reply = renderRunSummary(s, { timeZone: TZ });
  assert.match(reply.text, /ROLLBACK FAILED — a person must act now$/);
  const text = textOf(reply.blocks);
  assert.match(text, /\*ROLLBACK FAILED\*: tar: cannot open backup/);
  assert.match(text, /\*A person must act now: \*m1\* may be down or half-renewed\.\*/);
  assert.match(text, /restore the backup `\/var\/backups\/certs-bot\/m1\/20261128T090000Z\.tar\.gz`/);
  assert.match(text, /Request no new renewal until \*m1\* is healthy/);
});

test("the summary of 50 nodes × 14 certificates folds but fits", () => {
  const nodes = FIFTY;
  const p = plan(nodes, "v1.30.4");
  let s = startRunState(REQUEST_ID, p, NOW);
  for (const n of nodes.slice(0, 45)) s = doneNode(s, p, n, n === "kube-master007" ? ["admin.conf"] : []);
  // The fixture's nodes hold 11 renewable certificates; pad each to the worst case, 14.
  const pad = (n: RunState["nodes"][number]) =>
    Array.from({ length: 14 - (n.renewed?.length ?? 14) }, (_, i) => ({
      ...n.renewed![0]!,
      name: `extra-${i}.conf`,
    }));
  s = { ...s, nodes: s.nodes.map((n) => (n.renewed ? { ...n, renewed: [...n.renewed, ...pad(n)] } : n)) };
  assert.equal(s.nodes[0]!.renewed!.length, 14);
  s = failedNode(s, p, "kube-master046", true);
  s = endRun(s, "failed", later(200));
  const reply = renderRunSummary(s, { timeZone: TZ });
  assert.deepEqual(limits(reply), []);
  const text = textOf(reply.blocks);
  assert.match(text, /kube-master007.*\*unchanged\*: `admin\.conf`/, "the odd node keeps its detail");
  assert.match(text, /❌ \*kube-master046\*/);
  assert.match(text, /kube-master050/);
});

// --- audit --------------------------------------------------------------------------------------

const entry = (i: number, detail: string, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  id: `${NOW.getTime() + i * MIN}-0`,
  at: later(i),
  kind: "step",
  detail,
  ...extra,
});

test("audit lists the newest first, in the cluster's time zone, with actor, short request id and escaped detail", () => {
  const reply = renderAudit(
    "prod",
    [
      entry(0, "all renewable certificates on m1", {
        kind: "requested",
        actor: "U0ALICE01",
        requestId: REQUEST_ID,
      }),
      entry(5, "rejected: go away <!channel> & <@U0BOB01>", {
        kind: "rejected",
        actor: "U0BOB01",
        requestId: REQUEST_ID,
      }),
    ],
    { timeZone: TZ, now: later(10) },
  );
  assert.deepEqual(limits(reply), []);
  assert.match(reply.text, /prod/);
  const text = textOf(reply.blocks);
  assert.match(
    text,
    /^Audit: prod\n2026-11-28 10:05 CET · \*rejected\* · <@U0BOB01> · `20261128T090000Z-012345` · rejected: go away &lt;!channel&gt; &amp; &lt;@U0BOB01&gt;\n2026-11-28 10:00 CET · \*requested\* · <@U0ALICE01>/,
  );
  assert.match(text, /2 entries, newest first · as of 2026-11-28 10:10 CET/);
});

test("an empty audit says so, naming the cluster", () => {
  const reply = renderAudit("prod", [], { timeZone: TZ, now: NOW });
  assert.equal(reply.text, "No renewals or snoozes recorded for prod yet.");
  assert.deepEqual(limits(reply), []);
});

test("1000 long audit entries: the newest that fit, and how many exist", () => {
  const entries = Array.from({ length: 1000 }, (_, i) =>
    entry(i, `${i}:${"d".repeat(994)}`, { actor: "U0ALICE01" }),
  );
  const reply = renderAudit("prod", entries, { timeZone: TZ, now: later(2000) });
  assert.deepEqual(limits(reply), []);
  const text = textOf(reply.blocks);
  const shown = Number(/showing the newest (\d+) of 1000 entries/.exec(text)?.[1]);
  assert.ok(shown > 0 && shown < 1000, `${shown}`);
  assert.ok(text.includes("· 999:d") && !text.includes("· 0:d"), "the newest are kept");
});

// --- short answers ------------------------------------------------------------------------------

test("the requester hears where the card is", () => {
  const reply = renderRenewalRequested("prod", REQUEST_ID, "C0PROD0001");
  assert.deepEqual(blockTexts(reply.blocks), [
    `:white_check_mark: Renewal plan for *prod* posted in <#C0PROD0001> for approval (request \`${REQUEST_ID}\`).`,
  ]);
  assert.match(reply.text, /prod/);
});

test("a refused request lists every reason, escaped but for our own mentions", () => {
  const reply = renderRenewalRefused(
    "prod",
    "node m1: error <!here>\na renewal is pending (asked by <@U0ALICE01>)",
  );
  assert.deepEqual(limits(reply), []);
  const text = textOf(reply.blocks);
  assert.match(
    text,
    /cannot renew \*prod\*:\n• node m1: error &lt;!here&gt;\n• a renewal is pending \(asked by <@U0ALICE01>\)/,
  );
  assert.match(reply.text, /^certs-bot cannot renew cluster prod:\n {2}- node m1/);
  const many = renderRenewalRefused(
    "prod",
    Array.from({ length: 200 }, (_, i) => `node n${i}: ${"e".repeat(300)}`).join("\n"),
  );
  assert.deepEqual(limits(many), []);
  assert.match(textOf(many.blocks), /more lines? not shown/);
});

test("a held cluster names its active request, requester, time and expiry, in the configured zone", () => {
  const pending = request();
  assert.equal(
    renderClusterHeld(pending, TZ),
    `a renewal of prod is already pending (request ${pending.id}, requested by <@U0ALICE01> at ` +
      "2026-11-28 10:00 CET; it expires at 2026-11-28 14:00 CET unless approved).",
  );
  const approved = request({ state: "approved" });
  assert.equal(
    renderClusterHeld(approved, TZ),
    `a renewal of prod is already approved (request ${approved.id}, requested by <@U0ALICE01> at ` +
      "2026-11-28 10:00 CET; it holds the cluster until its run ends).",
    "an approved or running request does not expire",
  );
  assert.match(
    renderClusterHeld(pending, "America/New_York"),
    /at 2026-11-28 04:00 EST; it expires at 2026-11-28 08:00 EST unless approved\)\.$/,
  );
});

test("a refused click tells the clicker why, naming the cluster", () => {
  const reply = renderClickRefused(
    "prod",
    "this request was already approved by <@U0BOB01>; the <renewal> is running.",
  );
  assert.deepEqual(blockTexts(reply.blocks), [
    ":lock: *prod*: this request was already approved by <@U0BOB01>; the &lt;renewal&gt; is running.",
  ]);
  assert.match(reply.text, /^prod: /);
});

test("a refused stored plan: the summary and the card say why and that nothing ran", () => {
  const p = plan(["m1", "m2"]);
  const refused =
    "refused: the stored plan is not the plan its data derives under today's config, so nothing was run " +
    "(node m1: the stored renew differ from what its spec derives). Make a new request.";
  const state: RunState = { ...endRun(startRunState(REQUEST_ID, p, NOW), "failed", NOW), refused };
  const summary = textOf(renderRunSummary(state, { timeZone: TZ }).blocks);
  assert.match(summary, /Renewal of \*prod\* refused: the stored plan is not the plan its data derives/);
  assert.match(summary, /node m1: the stored renew differ/);
  const card = textOf(
    renderApprovalCard(p, request({ state: "failed", endedAt: later(5), outcome: refused }), {
      channel: "C0PROD0001",
      timeZone: TZ,
      now: later(5),
      rules: ONE,
    }).blocks,
  );
  assert.match(card, /\*Failed\*/);
  assert.match(card, /refused: the stored plan is not the plan/, "the card says why in one line");
});
