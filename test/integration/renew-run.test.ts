// The whole run of an approved renewal (runRenewal) on lab control-plane clusters, with the real
// stores on Redis (requests, audit, run lease) and a recording reporter standing in for the Slack
// thread: a three-node HA 1.28 cluster renewed one node at a time; 1.19 and 1.11 nodes; the first
// failed node stops the run; a failed verify rolled back; another request holding the cluster; and
// one run over the real SSH transport with a lab sshd.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { RenewalRequest } from "../../src/core/renew/approval.js";
import type { ProgressEvent } from "../../src/core/renew/progress.js";
import type { RenewalPlan, StepId } from "../../src/core/renew/plan.js";
import { runRenewal, runSummary } from "../../src/app/renew/run.js";
import type { RunState } from "../../src/core/renew/run-state.js";
import type { Weekday } from "../../src/config/load.js";
import {
  approvedRequest,
  pkiFingerprint,
  planLabRenewal,
  RecordingReporter,
  startLabCluster,
  type LabCluster,
  type LabNodeDef,
} from "../lab/renewal-cluster.js";
import { auditOf as auditOfRequest, labRunDependencies, renewalFixture } from "../lab/renewal-fixture.js";

const DAY = 86_400_000;
const STEPS: StepId[] = ["preflight", "backup", "renew", "restart", "verify"];
const isRoot = process.getuid?.() === 0;

const fixture = renewalFixture("renew-run");
const { root, redis, renewals, lease, labs } = fixture;

async function cluster(
  name: string,
  nodes: LabNodeDef[],
  extra: { restartStrategy?: "crictl" | "docker"; ssh?: boolean } = {},
) {
  const lab = await startLabCluster({
    root: join(root, name),
    name,
    nodes,
    expired: ["apiserver-kubelet-client"],
    ...extra,
  });
  labs.push(lab);
  return lab;
}

interface Run {
  state: RunState;
  reporter: RecordingReporter;
  saved: RunState[];
  request: RenewalRequest;
}

async function run(
  lab: LabCluster,
  plan: RenewalPlan,
  options: { onStep?: (event: ProgressEvent) => void | Promise<void>; readyMs?: number } = {},
): Promise<Run> {
  const request = await approvedRequest(renewals, plan);
  const reporter = new RecordingReporter(options.onStep);
  const saved: RunState[] = [];
  const deps = labRunDependencies(fixture, lab, reporter, {
    saved,
    waits: { containersGoneMs: 10_000, readyMs: options.readyMs ?? 10_000, pollMs: 100 },
  });
  const result = await runRenewal({ request, plan }, deps);
  assert.ok(result.ran, result.ran ? "" : result.reason);
  return { state: result.state, reporter, saved, request };
}

const toMinutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));

const auditOf = (requestId: string, cluster: string) => auditOfRequest(fixture, requestId, cluster);

const backupsOf = (lab: LabCluster, node: string): string[] => {
  const dir = join(root, lab.name, "backups", lab.name, node);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".tar.gz")) : [];
};

/** The apiserver.crt the node's apiserver serves now, or null. */
const served = async (lab: LabCluster, node: string) =>
  (await lab.node(node).cp.served())?.fingerprint256 ?? null;

async function assertRenewedAndServed(lab: LabCluster, node: string, before: string, state: RunState) {
  const now = pkiFingerprint(lab.node(node), "apiserver.crt");
  assert.notEqual(now, before, `${node}: a new apiserver.crt`);
  assert.equal(await served(lab, node), now, `${node}: the new apiserver.crt is served`);
  const client = state.nodes
    .find((n) => n.node === node)
    ?.renewed?.find((r) => r.name === "apiserver-kubelet-client");
  assert.ok(client?.changed, `${node}: apiserver-kubelet-client renewed`);
  const days = (Date.parse(client.notAfterAfter!) - Date.now()) / DAY;
  assert.ok(days > 364 && days <= 365, `${node}: valid for a year, got ${days} d`);
  assert.ok(Date.parse(client.notAfterBefore!) < Date.now(), "it had expired");
}

async function assertEnded(request: RenewalRequest, cluster: string, outcome: "done" | "failed") {
  assert.equal((await renewals.get(request.id))?.state, outcome);
  assert.equal(await renewals.active(cluster), null, "the cluster takes new requests again");
  assert.equal(await lease.holder(cluster), null, "the run lease is released");
}

describe("a renewal run on lab clusters", () => {
  test("three-node HA 1.28: one node at a time in plan order, each verified by its served certificate", async () => {
    const lab = await cluster("lab-ha", [
      { name: "ha-1", host: 51, version: "v1.28.4" },
      { name: "ha-2", host: 52, version: "v1.28.4" },
      { name: "ha-3", host: 53, version: "v1.28.4" },
    ]);
    const plan = await planLabRenewal(lab);
    const names = ["ha-1", "ha-2", "ha-3"];
    assert.deepEqual(
      plan.nodes.map((n) => n.node),
      names,
    );
    const before = new Map(names.map((n) => [n, pkiFingerprint(lab.node(n), "apiserver.crt")]));
    const { state, reporter, saved, request } = await run(lab, plan);

    assert.equal(state.outcome, "done", runSummary(state));
    assert.equal(state.attempts, 1);
    assert.deepEqual(
      state.nodes.map((n) => `${n.node} ${n.state} ${n.steps.map((s) => s.state).join(" ")}`),
      names.map((n) => `${n} done done done done done done`),
    );
    for (const n of names) await assertRenewedAndServed(lab, n, before.get(n)!, state);

    // The thread: one reply per finished step, node after node; never two nodes running at once.
    assert.deepEqual(
      reporter.steps.map((e) => `${e.node} ${e.step} ${e.status}`),
      names.flatMap((n) => STEPS.map((s) => `${n} ${s} done`)),
    );
    assert.ok(reporter.steps.every((e) => e.excerpt !== undefined && !/PRIVATE KEY/.test(e.excerpt)));
    assert.ok(
      reporter.statuses.every((s) => s.nodes.filter((n) => n.state === "running").length <= 1),
      "one node at a time",
    );
    const first = reporter.statuses[0]!;
    assert.deepEqual(
      first.nodes.map((n) => n.state),
      ["waiting", "waiting", "waiting"],
    );
    assert.ok(
      reporter.statuses.some((s) => s.nodes[0]!.steps[2]!.state === "running"),
      "renew shown as running while it ran",
    );
    assert.equal(reporter.summaries.length, 1);
    assert.equal(reporter.summaries[0]!.outcome, "done");
    // Saved after every event, before it was shown: the last save is the final state.
    assert.equal(saved.length, reporter.statuses.length);
    assert.deepEqual(saved.at(-1), state);

    const entries = await auditOf(request.id, "lab-ha");
    assert.match(entries[0]!, /^started started: 3 node\(s\), one at a time: ha-1, ha-2, ha-3$/);
    assert.deepEqual(
      entries.slice(1, -1).map((e) => e.replace(/ in \d+\.\ds$/, "")),
      names.flatMap((n) => STEPS.map((s) => `step ${n}: ${s} ✅`)),
    );
    assert.equal(entries.at(-1), "result done: renewed and verified on ha-1, ha-2, ha-3");
    await assertEnded(request, "lab-ha", "done");
    for (const n of names) assert.equal(backupsOf(lab, n).length, 1, `${n}: one backup`);
  });

  test("1.19 (crictl restart) and 1.11 (phases, docker restart) nodes run end to end", async () => {
    const [mid, old] = await Promise.all([
      cluster("lab-mid", [{ name: "mid-1", host: 54, version: "v1.19.16" }], { restartStrategy: "crictl" }),
      cluster("lab-old", [{ name: "old-1", host: 55, version: "v1.11.10" }], { restartStrategy: "docker" }),
    ]);
    for (const [lab, node, method] of [
      [mid, "mid-1", "renew"],
      [old, "old-1", "phase"],
    ] as const) {
      const plan = await planLabRenewal(lab);
      assert.equal(plan.nodes[0]!.method, method);
      const before = pkiFingerprint(lab.node(node), "apiserver.crt");
      const { state, reporter, request } = await run(lab, plan);
      assert.equal(state.outcome, "done", runSummary(state));
      await assertRenewedAndServed(lab, node, before, state);
      assert.deepEqual(
        reporter.steps.map((e) => `${e.step} ${e.status}`),
        STEPS.map((s) => `${s} done`),
      );
      await assertEnded(request, lab.name, "done");
    }
  });

  test("the first failed node stops the run: node 2 rolled back, node 3 untouched, request failed", async () => {
    const lab = await cluster("lab-stop", [
      { name: "stop-1", host: 56, version: "v1.28.4" },
      { name: "stop-2", host: 57, version: "v1.28.4" },
      { name: "stop-3", host: 58, version: "v1.28.4" },
    ]);
    const plan = await planLabRenewal(lab);
    const before = new Map(lab.nodes.map((n) => [n.name, pkiFingerprint(n, "apiserver.crt")]));
    lab.node("stop-2").cp.fail("renew");
    const { state, reporter, request } = await run(lab, plan);

    assert.equal(state.outcome, "failed");
    assert.deepEqual(
      state.nodes.map((n) => n.state),
      ["done", "failed", "skipped"],
    );
    await assertRenewedAndServed(lab, "stop-1", before.get("stop-1")!, state);
    const failed = state.nodes[1]!;
    assert.equal(failed.failure?.step, "renew");
    assert.match(failed.failure!.error, /injected renew failure/);
    assert.deepEqual(failed.rollback, { ok: true });
    for (const node of ["stop-2", "stop-3"]) {
      assert.equal(
        pkiFingerprint(lab.node(node), "apiserver.crt"),
        before.get(node),
        `${node}: old apiserver.crt`,
      );
      assert.equal(await served(lab, node), before.get(node), `${node}: the old certificate is served`);
    }
    assert.deepEqual(backupsOf(lab, "stop-3"), [], "node 3 was never touched");
    assert.ok(!reporter.steps.some((e) => e.node === "stop-3"));
    assert.deepEqual(
      reporter.steps.filter((e) => e.node === "stop-2").map((e) => `${e.step} ${e.status}`),
      ["preflight done", "backup done", "renew failed", "rollback done"],
    );
    assert.equal(reporter.summaries[0]?.outcome, "failed");

    const entries = await auditOf(request.id, "lab-stop");
    assert.ok(entries.some((e) => /^step stop-2: renew ❌ after \d+\.\ds: .*injected renew failure/.test(e)));
    assert.ok(entries.some((e) => /^rollback stop-2: rollback ✅/.test(e)));
    assert.match(
      entries.at(-1)!,
      /^result failed on stop-2 at renew: .*injected renew failure.*; stop-2: rolled back: pki\/, the kubeconfigs and manifests\/ as before, the old certificate served; renewed before it: stop-1; not run: stop-3$/,
    );
    await assertEnded(request, "lab-stop", "failed");
  });

  test("maintenance windows: nothing starts before the window; a node with too little left waits for the next one", async () => {
    const lab = await cluster("lab-win", [
      { name: "win-1", host: 81, version: "v1.28.4" },
      { name: "win-2", host: 82, version: "v1.28.4" },
    ]);
    const plan = await planLabRenewal(lab);
    const before = new Map(lab.nodes.map((n) => [n.name, pkiFingerprint(n, "apiserver.crt")]));
    // A daily one-hour window (UTC) opening two hours from now, to the minute; margin 20 minutes.
    // (Daily, not weekly: the lab's kubeadm signs on the wall clock, and a renewal's check allows
    // its clock two days off.)
    const opens = new Date(Math.ceil((Date.now() + 2 * 3_600_000) / 60_000) * 60_000);
    const days: Weekday[] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    const start = opens.toISOString().slice(11, 16);
    const windowed = {
      ...lab.cluster,
      renewal: {
        windows: [{ days, startMinute: toMinutes(start), durationMinutes: 60 }],
        windowMarginMinutes: 20,
        policy: null,
      },
    };
    let offset = 0; // the run's clock: the wall clock moved by the test
    const saved: RunState[] = [];
    const reporter = new RecordingReporter((event) => {
      // win-1 verified with 50 minutes of the window gone: 10 left, under the margin, for win-2.
      if (event.node === "win-1" && event.step === "verify")
        offset = opens.getTime() + 50 * 60_000 - Date.now();
    });
    const deps = {
      ...labRunDependencies(fixture, lab, reporter, { saved }),
      config: { cluster: windowed, renewal: lab.config.renewal, timeZone: "UTC" },
      now: () => new Date(Date.now() + offset),
    };
    const request = await approvedRequest(renewals, plan);

    // Approved two hours early: the run waits, holding the request (not the run lease), touching nothing.
    const early = await runRenewal({ request, plan }, deps);
    assert.ok(!early.ran && early.resumesAt, "waits");
    assert.equal(early.resumesAt.toISOString(), opens.toISOString());
    assert.equal(saved.at(-1)?.resumesAt, opens.toISOString());
    for (const n of lab.nodes) assert.equal(pkiFingerprint(n, "apiserver.crt"), before.get(n.name));
    assert.deepEqual(backupsOf(lab, "win-1"), [], "not even a backup");
    assert.equal((await renewals.get(request.id))?.state, "running", "the cluster stays taken");
    assert.equal(await lease.holder("lab-win"), null, "the run lease is not held while waiting");

    // In the window: win-1 runs; then too little is left, and win-2 waits for tomorrow's.
    offset = opens.getTime() + 60_000 - Date.now();
    const first = await runRenewal(
      { request: (await renewals.get(request.id))!, plan, saved: saved.at(-1)! },
      deps,
    );
    assert.ok(!first.ran && first.resumesAt);
    assert.equal(first.resumesAt.getTime(), opens.getTime() + DAY);
    assert.deepEqual(
      saved.at(-1)!.nodes.map((n) => n.state),
      ["done", "waiting"],
    );
    assert.equal(pkiFingerprint(lab.node("win-2"), "apiserver.crt"), before.get("win-2"), "win-2 untouched");
    assert.deepEqual(backupsOf(lab, "win-2"), []);

    // Tomorrow's window: win-2 runs, and the run ends done, as its first attempt.
    offset = opens.getTime() + DAY + 60_000 - Date.now();
    const last = await runRenewal(
      { request: (await renewals.get(request.id))!, plan, saved: saved.at(-1)! },
      deps,
    );
    assert.ok(last.ran);
    assert.equal(last.state.outcome, "done", runSummary(last.state));
    assert.equal(last.state.attempts, 1, "waiting for a window is not a new attempt");
    for (const n of ["win-1", "win-2"])
      assert.notEqual(pkiFingerprint(lab.node(n), "apiserver.crt"), before.get(n));
    const entries = await auditOf(request.id, "lab-win");
    assert.equal(
      entries.filter((e) => e.startsWith(`started waits for its maintenance window: goes on at`)).length,
      2,
      entries.join("\n"),
    );
    assert.equal(
      entries.filter((e) => e === "started went on in its maintenance window; already renewed: win-1").length,
      1,
    );
    await assertEnded(request, "lab-win", "done");
  });

  test("a failed verify (the apiserver does not come back) is rolled back to the old certificate", async () => {
    const lab = await cluster("lab-verify", [{ name: "verify-1", host: 59, version: "v1.28.4" }]);
    const plan = await planLabRenewal(lab);
    const node = lab.node("verify-1");
    const before = pkiFingerprint(node, "apiserver.crt");
    node.cp.fail("no-restart");
    // The apiserver may come back once verify has failed, so the rollback's restart can succeed.
    const { state, reporter, request } = await run(lab, plan, {
      readyMs: 3_000,
      onStep: (e) => {
        if (e.step === "verify" && e.status === "failed") node.cp.fail("no-restart", false);
      },
    });
    assert.equal(state.outcome, "failed");
    assert.equal(state.nodes[0]!.failure?.step, "verify");
    assert.match(state.nodes[0]!.failure!.error, /timed out/);
    assert.deepEqual(state.nodes[0]!.rollback, { ok: true });
    assert.equal(pkiFingerprint(node, "apiserver.crt"), before, "the backup was restored");
    assert.equal(await served(lab, "verify-1"), before, "the old certificate is served again");
    assert.deepEqual(
      reporter.steps.map((e) => `${e.step} ${e.status}`),
      ["preflight done", "backup done", "renew done", "restart done", "verify failed", "rollback done"],
    );
    const entries = await auditOf(request.id, "lab-verify");
    assert.ok(entries.some((e) => /^rollback verify-1: rollback ✅/.test(e)));
    await assertEnded(request, "lab-verify", "failed");
  });

  test("another request holds the cluster's run lease: preflight fails and nothing changes", async () => {
    const lab = await cluster("lab-lease", [{ name: "lease-1", host: 60, version: "v1.28.4" }]);
    const plan = await planLabRenewal(lab);
    const node = lab.node("lease-1");
    const before = pkiFingerprint(node, "apiserver.crt");
    const other = await lease.acquire("lab-lease", "lab-lease-other-request", 60_000);
    assert.ok(other.ok);
    try {
      const { state, reporter, request } = await run(lab, plan);
      assert.equal(state.outcome, "failed");
      assert.equal(state.nodes[0]!.failure?.step, "preflight");
      assert.match(
        state.nodes[0]!.failure!.error,
        /^another renewal of lab-lease is executing \(request lab-lease-other-request holds the cluster's run lease\); nothing was changed$/,
      );
      assert.equal(state.nodes[0]!.rollback, undefined);
      assert.deepEqual(
        reporter.steps.map((e) => `${e.step} ${e.status}`),
        ["preflight failed"],
      );
      assert.equal(pkiFingerprint(node, "apiserver.crt"), before);
      assert.equal(await served(lab, "lease-1"), before);
      assert.deepEqual(backupsOf(lab, "lease-1"), [], "no backup: the node was not touched");
      assert.equal(
        await lease.holder("lab-lease"),
        "lab-lease-other-request",
        "the other run keeps its lease",
      );
      assert.equal((await renewals.get(request.id))?.state, "failed");
      assert.match(
        (await auditOf(request.id, "lab-lease")).at(-1)!,
        /^result failed on lease-1 at preflight: another renewal/,
      );
    } finally {
      if (other.ok) await other.lease.release();
    }
    assert.equal(await lease.holder("lab-lease"), null);
  });

  test(
    "over SSH (a lab sshd, sudo): a 1.28 node renewed end to end",
    { skip: !isRoot && "needs root (lab users, sshd, sudo)" },
    async () => {
      chmodSync(root, 0o755); // the lab users must traverse it
      const lab = await cluster("lab-ssh", [{ name: "ssh-1", host: 61, version: "v1.28.4" }], { ssh: true });
      assert.equal(lab.cluster.nodes[0]!.transport, "ssh");
      const plan = await planLabRenewal(lab);
      const before = pkiFingerprint(lab.node("ssh-1"), "apiserver.crt");
      const { state, request } = await run(lab, plan);
      assert.equal(state.outcome, "done", runSummary(state));
      await assertRenewedAndServed(lab, "ssh-1", before, state);
      await assertEnded(request, "lab-ssh", "done");
    },
  );
});

describe("the run lease on Redis", () => {
  test("one attempt at a time: kept alive, refused to another request, to a second attempt of the same request while the first lives, taken over only once it lapsed", async () => {
    const ttlMs = 300;
    const cluster = "lab-lease-unit";
    const key = lease.key(cluster);
    const first = await lease.acquire(cluster, "req-a", ttlMs);
    assert.ok(first.ok);
    await new Promise((r) => setTimeout(r, 3 * ttlMs)); // it would have lapsed twice without renewals
    assert.equal(await lease.holder(cluster), "req-a");
    assert.match((await redis.get(key)) ?? "", /^req-a [0-9a-f-]{36}$/, "a random token per attempt");
    assert.ok((await redis.pttl(key)) > 0);
    assert.deepEqual(await lease.acquire(cluster, "req-b", ttlMs), { ok: false, holder: "req-a" });
    // A second attempt of the same request waits (at most ttl) for the first to lapse; it never does.
    assert.deepEqual(await lease.acquire(cluster, "req-a", ttlMs), { ok: false, holder: "req-a" });
    assert.equal(await first.lease.confirm(), null);
    assert.equal(await lease.release(cluster, "req-a"), false, "not released without the token");
    await first.lease.release();
    assert.equal(await lease.holder(cluster), null);

    // A dead attempt (no keep-alive, no release): the rerun takes over once it lapsed.
    await redis.set(key, "req-a dead-attempt", "PX", ttlMs);
    const rerun = await lease.acquire(cluster, "req-a", ttlMs);
    assert.ok(rerun.ok, "taken once the dead attempt's lease lapsed");
    assert.notEqual(await redis.get(key), "req-a dead-attempt");

    // Lost to another attempt of the same request, then to another request.
    await redis.set(key, "req-a other-token", "PX", 5_000);
    assert.equal(await rerun.lease.confirm(), "another attempt of request req-a");
    await redis.set(key, "req-b token", "PX", 5_000);
    assert.equal(await rerun.lease.confirm(), "request req-b", "the attempt learns who holds it now");
    await rerun.lease.release();
    assert.equal(await redis.get(key), "req-b token", "its release leaves the other's lease alone");
    await redis.del(key);
    // Lapsed with nobody in it (a Redis restart without persistence): confirming takes it again.
    const again = await lease.acquire(cluster, "req-c", ttlMs);
    assert.ok(again.ok);
    await redis.del(key);
    assert.equal(await again.lease.confirm(), null);
    assert.equal(await lease.holder(cluster), "req-c");
    await again.lease.release();
    await new Promise((r) => setTimeout(r, ttlMs)); // no renewal brings a released lease back
    assert.equal(await lease.holder(cluster), null);
  });
});
