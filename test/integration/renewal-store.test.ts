// Renewal requests and the audit log against a real, private redis-server (never the shared :6379).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import type { Redis } from "ioredis";
import { parseConfig, type ClusterConfig } from "../../src/config/load.js";
import { connectRedis } from "../../src/adapters/store/redis.js";
import { RenewalStore } from "../../src/adapters/store/renewals.js";
import { AuditLog, AUDIT_MAXLEN } from "../../src/adapters/store/audit.js";
import { newRequest, runJobId, type RenewalRequest } from "../../src/core/renew/approval.js";
import { renderClusterHeld } from "../../src/present/thread.js";
import { startRedis, type LabRedis } from "../lab/redis.js";
import { formatDate } from "../../src/present/time.js";

const inUtc = (date: Date): string => formatDate(date, "UTC");

const NOW = new Date("2026-11-28T09:00:00Z");
const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);
const APPROVERS = Array.from({ length: 20 }, (_, i) => `U0APPR${String(i).padStart(2, "0")}`);

const CONFIG = parseConfig(
  `
clusters:
  - name: cluster-a
    operators: [U0ALICE]
    approvers: [${APPROVERS.join(", ")}]
    nodes: [{ host: 10.0.0.1 }]
  - name: cluster-b
    operators: [U0ALICE]
    approvers: [U0BOB]
    nodes: [{ host: 10.0.0.2 }]
`,
  "clusters.yaml",
);
const A = CONFIG.clusters[0] as ClusterConfig;
const B = CONFIG.clusters[1] as ClusterConfig;
/** The approval rules of today's config (CONFIG's defaults), and the same asking for two. */
const ONE = CONFIG.renewal;
const TWO = { ...ONE, requiredApprovals: 2 };

let lab: LabRedis;
const clients: Redis[] = [];
let prefixCount = 0;

before(async () => {
  lab = await startRedis();
  for (let i = 0; i < 4; i++) clients.push(connectRedis(lab.url));
});

after(async () => {
  for (const c of clients) c.disconnect();
  await lab.stop();
});

/** Stores on a fresh prefix, one per connection (concurrent clicks also come from several processes). */
function stores() {
  const prefix = `t${++prefixCount}`;
  return {
    prefix,
    renewals: clients.map((c) => new RenewalStore(c, prefix)),
    audit: new AuditLog(clients[0]!, prefix),
  };
}

const request = (cluster: string, minutes = 0, by = "U0ALICE"): RenewalRequest =>
  newRequest({ cluster, requestedBy: by, now: at(minutes), settings: { approvalTtlMinutes: 240 } });

test("create refuses while pending, approved or running; frees the cluster when the run ends", async () => {
  const { renewals, prefix } = stores();
  const s = renewals[0]!;
  const first = request("cluster-a");
  assert.equal((await s.create(first)).ok, true);
  assert.deepEqual(await s.get(first.id), first, "dates come back as Dates");
  assert.equal((await s.active("cluster-a"))?.id, first.id);
  assert.equal(await clients[0]!.get(`${prefix}:renewal-lock:cluster-a`), first.id);
  const ttl = await clients[0]!.ttl(`${prefix}:renewal:${first.id}`);
  assert.ok(ttl > 89 * 86_400 && ttl <= 90 * 86_400, `request TTL ${ttl}`);

  const second = await s.create(request("cluster-a", 5, "U0CAROL"));
  assert.equal(second.ok, false);
  assert.ok(!second.ok && second.active);
  assert.deepEqual(second.active, first, "the holder, as data, for the desk to word");
  assert.equal(
    renderClusterHeld(second.active, "Europe/Berlin"),
    `a renewal of cluster-a is already pending (request ${first.id}, requested by <@U0ALICE> at ` +
      "2026-11-28 10:00 CET; it expires at 2026-11-28 14:00 CET unless approved).",
    "worded as the console's records' refusal (test/unit/renew-admission.test.ts)",
  );
  const replay = await s.create(first);
  assert.equal(replay.ok, false, "a replayed request is refused");
  assert.equal(replay.ok ? undefined : replay.active, undefined, "a taken id names no holder");
  assert.equal((await s.create(request("cluster-b"))).ok, true, "another cluster is independent");

  const click = await s.applyClick(
    first.id,
    { user: APPROVERS[0]!, userGroups: [], action: "approve" },
    { cluster: A, rules: ONE, now: at(1), formatTime: inUtc },
  );
  assert.equal(click.ok && click.startRun, true);
  assert.equal(holderState(await s.create(request("cluster-a", 2))), "approved");
  assert.equal((await s.markRunning(first.id, at(3)))?.state, "running");
  assert.equal(holderState(await s.create(request("cluster-a", 4))), "running");
  assert.equal((await s.finish(first.id, true, at(30)))?.state, "done");
  assert.equal(await clients[0]!.exists(`${prefix}:renewal-lock:cluster-a`), 0, "lock released on done");
  assert.equal(await s.active("cluster-a"), null);
  assert.equal((await s.create(request("cluster-a", 31))).ok, true);
});

function holderState(result: Awaited<ReturnType<RenewalStore["create"]>>): string | undefined {
  assert.equal(result.ok, false);
  return result.ok ? undefined : result.active?.state;
}

test("20 concurrent approve clicks, requiredApprovals 2: one transition, one startRun", async () => {
  const { renewals } = stores();
  const r = request("cluster-a");
  assert.equal((await renewals[0]!.create(r)).ok, true);
  const results = await Promise.all(
    APPROVERS.map((user, i) =>
      renewals[i % renewals.length]!.applyClick(
        r.id,
        { user, userGroups: [], action: "approve" },
        { cluster: A, rules: TWO, now: at(1), formatTime: inUtc },
      ),
    ),
  );
  const accepted = results.filter((x) => x.ok);
  const starts = results.filter((x) => x.ok && x.startRun);
  assert.equal(accepted.length, 2, "exactly two approvals count");
  assert.equal(starts.length, 1, "exactly one click starts the run");
  const transitions = accepted.filter((x) => x.ok && x.request.state === "approved");
  assert.equal(transitions.length, 1, "exactly one transition to approved");
  for (const x of results.filter((x) => !x.ok)) {
    assert.match(
      x.ok ? "" : x.reason,
      /already approved by <@U0APPR\d\d> and <@U0APPR\d\d>; .*already running/,
    );
  }
  const saved = (await renewals[0]!.get(r.id))!;
  assert.equal(saved.state, "approved");
  assert.equal(saved.approvals.length, 2);
  assert.notEqual(saved.approvals[0]!.user, saved.approvals[1]!.user);
  assert.deepEqual(
    new Set(saved.approvals.map((a) => a.user)),
    new Set(accepted.map((x) => (x.ok ? x.request.approvals.at(-1)!.user : ""))),
  );
  assert.ok(!runJobId(saved).includes(":"));

  // Replays of an approver's click after approval: refused, nothing saved.
  const replay = await renewals[1]!.applyClick(
    r.id,
    { user: saved.approvals[0]!.user, userGroups: [], action: "approve" },
    { cluster: A, rules: TWO, now: at(2), formatTime: inUtc },
  );
  assert.match(
    replay.ok ? "" : replay.reason,
    /you already approved this request; the renewal is already running/,
  );
  assert.deepEqual(await renewals[0]!.get(r.id), saved);
});

test("a request saved with the rules of its time (before they were today's) is judged by today's", async () => {
  const { renewals } = stores();
  const s = renewals[0]!;
  const requester = APPROVERS[5]!;
  const legacy = { ...request("cluster-a", 0, requester), requiredApprovals: 1, allowSelfApproval: true };
  assert.equal((await s.create(legacy)).ok, true);
  const click = (user: string, minutes: number) =>
    s.applyClick(
      legacy.id,
      { user, userGroups: [], action: "approve" },
      { cluster: A, rules: TWO, now: at(minutes), formatTime: inUtc },
    );
  assert.match(refusalOf(await click(requester, 1)), /you requested this renewal/);
  const first = await click(APPROVERS[0]!, 2);
  assert.equal(first.ok && first.request.state, "pending", "one approval of the two today's config asks for");
  const second = await click(APPROVERS[1]!, 3);
  assert.equal(second.ok && second.startRun, true);
  assert.equal((await s.get(legacy.id))?.state, "approved");
});

const refusalOf = (result: Awaited<ReturnType<RenewalStore["applyClick"]>>): string => {
  assert.equal(result.ok, false);
  return result.ok ? "" : result.reason;
};

test("reject releases the cluster lock", async () => {
  const { renewals, prefix } = stores();
  const s = renewals[0]!;
  const r = request("cluster-b");
  assert.equal((await s.create(r)).ok, true);
  const refused = await s.applyClick(
    r.id,
    { user: "U0MALLORY", userGroups: [], action: "reject" },
    { cluster: B, rules: ONE, now: at(1), formatTime: inUtc },
  );
  assert.equal(refused.ok, false, "a non-approver cannot reject");
  assert.equal(await clients[0]!.get(`${prefix}:renewal-lock:cluster-b`), r.id);
  const rejected = await s.applyClick(
    r.id,
    { user: "U0BOB", userGroups: [], action: "reject", reason: "not now" },
    { cluster: B, rules: ONE, now: at(2), formatTime: inUtc },
  );
  assert.equal(rejected.ok && rejected.request.state, "rejected");
  assert.equal(await clients[0]!.exists(`${prefix}:renewal-lock:cluster-b`), 0);
  assert.equal((await s.get(r.id))?.rejection?.reason, "not now");
  assert.equal((await s.create(request("cluster-b", 3))).ok, true);
});

test("Cancel and the run's first node start race over separate connections: exactly one wins, every time", async () => {
  const { renewals, prefix } = stores();
  for (let round = 0; round < 20; round++) {
    const r = request("cluster-b", round);
    assert.equal((await renewals[0]!.create(r)).ok, true, `round ${round}`);
    const ctx = { cluster: B, rules: ONE, now: at(round), formatTime: inUtc };
    assert.ok(
      (await renewals[0]!.applyClick(r.id, { user: "U0BOB", userGroups: [], action: "approve" }, ctx)).ok,
    );
    await renewals[0]!.markRunning(r.id, at(round)); // its first attempt, waiting for the window
    const [cancel, begun] = await Promise.all([
      renewals[1]!.applyClick(r.id, { user: "U0ALICE", userGroups: [], action: "cancel" }, ctx),
      renewals[2]!.beginNode(r.id, at(round)),
    ]);
    assert.notEqual(cancel.ok, begun !== null, `round ${round}: one of the two`);
    const saved = (await renewals[3]!.get(r.id))!;
    if (cancel.ok) {
      assert.equal(saved.state, "cancelled");
      assert.equal(saved.nodeStartedAt, undefined);
      assert.equal(await clients[0]!.exists(`${prefix}:renewal-lock:cluster-b`), 0, "the cluster is free");
    } else {
      assert.match(cancel.reason, /a run that has started cannot be cancelled/);
      assert.equal(saved.state, "running");
      await renewals[0]!.finish(r.id, true, at(round));
    }
  }
});

test("expiry releases the cluster lock: by expire(), by a late click, and on the next create", async () => {
  const { renewals, prefix } = stores();
  const s = renewals[0]!;
  const lock = `${prefix}:renewal-lock:cluster-b`;

  const r1 = request("cluster-b");
  assert.equal((await s.create(r1)).ok, true);
  assert.equal((await s.expire(r1.id, at(239)))?.state, "pending", "not yet due");
  assert.equal(await clients[0]!.get(lock), r1.id);
  assert.equal((await s.expire(r1.id, at(240)))?.state, "expired");
  assert.equal(await clients[0]!.exists(lock), 0);

  const r2 = request("cluster-b", 300);
  assert.equal((await s.create(r2)).ok, true);
  const late = await s.applyClick(
    r2.id,
    { user: "U0BOB", userGroups: [], action: "approve" },
    { cluster: B, rules: ONE, now: at(600), formatTime: inUtc },
  );
  assert.match(late.ok ? "" : late.reason, /expired at/);
  assert.equal((await s.get(r2.id))?.state, "expired", "the late click saved the expiry");
  assert.equal(await clients[0]!.exists(lock), 0);

  const r3 = request("cluster-b", 700);
  assert.equal((await s.create(r3)).ok, true);
  const r4 = request("cluster-b", 1000);
  const created = await s.create(r4);
  assert.equal(created.ok, true, "a pending request past its expiry does not block the cluster");
  assert.deepEqual(
    created.expired.map((x) => [x.id, x.state]),
    [[r3.id, "expired"]],
  );
  assert.equal(await clients[0]!.get(lock), r4.id);
});

test("a stale lock (its request gone) is taken over", async () => {
  const { renewals, prefix } = stores();
  await clients[0]!.set(`${prefix}:renewal-lock:cluster-a`, "cluster-a-gone");
  const r = request("cluster-a");
  assert.equal((await renewals[0]!.create(r)).ok, true);
  assert.equal(await clients[0]!.get(`${prefix}:renewal-lock:cluster-a`), r.id);
  const missing = await renewals[0]!.applyClick(
    "cluster-a-gone",
    { user: APPROVERS[0]!, userGroups: [], action: "approve" },
    { cluster: A, rules: ONE, now: at(1), formatTime: inUtc },
  );
  assert.match(missing.ok ? "" : missing.reason, /no longer exists/);
});

test("audit: appended entries read newest first, capped, secrets masked", async () => {
  const { audit, prefix } = stores();
  const r = request("cluster-a");
  await audit.append(
    "cluster-a",
    { kind: "requested", actor: "U0ALICE", requestId: r.id, detail: "all certs" },
    at(0),
  );
  await audit.append(
    "cluster-a",
    { kind: "approved", actor: "U0BOB", requestId: r.id, detail: "1/1" },
    at(1),
  );
  await audit.append("cluster-a", { kind: "step", requestId: r.id, detail: "m1 backup ✅" }, at(2));
  await audit.append("cluster-a", {
    kind: "result",
    requestId: r.id,
    detail: "ok -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- token xoxb-123-abc",
  });
  await audit.append("cluster-b", { kind: "requested", actor: "U0ALICE", detail: "other cluster" });

  const latest = await audit.latest("cluster-a", 3);
  assert.deepEqual(
    latest.map((e) => e.kind),
    ["result", "step", "approved"],
  );
  assert.equal(latest[0]!.detail, "ok [private key removed] token [token removed]");
  assert.equal(latest[1]!.detail, "m1 backup ✅");
  assert.equal(latest[1]!.actor, undefined);
  assert.deepEqual(latest[2], {
    id: latest[2]!.id,
    at: at(1),
    kind: "approved",
    actor: "U0BOB",
    requestId: r.id,
    detail: "1/1",
  });
  assert.equal((await audit.latest("cluster-a", 10)).length, 4);
  assert.deepEqual(await audit.latest("cluster-c", 10), []);
  assert.equal((await audit.latest("cluster-b", 10)).length, 1);
  const ttl = await clients[0]!.ttl(`${prefix}:audit:cluster-a`);
  assert.ok(ttl > 364 * 86_400, `audit TTL ${ttl}`);

  for (let i = 0; i < AUDIT_MAXLEN + 300; i++) {
    await audit.append("cluster-b", { kind: "step", detail: `n${i}` });
  }
  const len = await clients[0]!.xlen(`${prefix}:audit:cluster-b`);
  assert.ok(len >= AUDIT_MAXLEN && len < AUDIT_MAXLEN + 300, `stream length ${len}`);
  assert.equal((await audit.latest("cluster-b", 1))[0]!.detail, `n${AUDIT_MAXLEN + 299}`);
});

test("audit: every entry also goes to the logs, masked like the stream", async () => {
  const lines: string[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
  const { prefix } = stores();
  const audit = new AuditLog(clients[0]!, prefix, logger);
  await audit.append("cluster-a", {
    kind: "approved",
    actor: "U0BOB",
    requestId: "cluster-a-20261128T090000Z-0123456789ab",
    detail: "1/1 with xoxb-123-abc",
  });
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(entry.msg, "audit");
  assert.equal(entry.audit, "approved");
  assert.equal(entry.cluster, "cluster-a");
  assert.equal(entry.actor, "U0BOB");
  assert.equal(entry.detail, "1/1 with [token removed]");
});
