// The approved plan is the plan that runs, and one attempt runs it: on a two-node lab cluster with the
// real stores on Redis, (a) a plan changed in Redis between approval and run is refused, audited and
// shown, and nothing on any node changes; (b) an attempt whose lease is taken over mid-run stops
// before its next change, and the attempt holding the lease finishes the run without renewing twice.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { RenewalPlan } from "../../src/core/renew/plan.js";
import { runRenewal } from "../../src/app/renew/run.js";
import type { RunState } from "../../src/core/renew/run-state.js";
import { stepsFor } from "../../src/core/renew/steps/index.js";
import {
  approvedRequest,
  pkiFingerprint,
  planLabRenewal,
  RecordingReporter,
  startLabCluster,
  type LabCluster,
} from "../lab/renewal-cluster.js";
import { assertSameAsBefore, snapshotNode, type NodeSnapshot } from "../lab/node-state.js";
import { auditOf as auditOfRequest, labRunDependencies, renewalFixture } from "../lab/renewal-fixture.js";

const fixture = renewalFixture("renew-integrity");
const { root, redis, renewals, lease, labs, prefix } = fixture;

async function labCluster(name: string, first: number): Promise<LabCluster> {
  const lab = await startLabCluster({
    root: join(root, name),
    name,
    nodes: [
      { name: `${name}-1`, host: first, version: "v1.28.4" },
      { name: `${name}-2`, host: first + 1, version: "v1.28.4" },
    ],
    expired: ["apiserver-kubelet-client"],
  });
  labs.push(lab);
  return lab;
}

const deps = (lab: LabCluster, reporter: RecordingReporter, saved: RunState[]) =>
  labRunDependencies(fixture, lab, reporter, { saved });
const auditOf = (requestId: string, cluster: string) => auditOfRequest(fixture, requestId, cluster);

const servedNow = async (lab: LabCluster, node: string) =>
  (await lab.node(node).cp.served())?.fingerprint256 ?? null;

/** Rewrites the plan stored with a request, as someone with write access to Redis could. */
async function tamperStoredPlan(requestId: string, change: (plan: RenewalPlan) => void): Promise<void> {
  const key = `${prefix}:renewal:${requestId}`;
  const text = await redis.hget(key, "plan");
  assert.ok(text, `no plan stored under ${key}`);
  const plan = JSON.parse(text) as RenewalPlan;
  change(plan);
  await redis.hset(key, "plan", JSON.stringify(plan));
}

describe("the approved plan is the plan that runs", () => {
  test("a plan changed in Redis after approval is refused: audited, on the card, nothing on any node changes", async () => {
    const lab = await labCluster("tamper", 101);
    const marker = join(root, "tampered-command-ran");
    const cases: [string, (plan: RenewalPlan) => void][] = [
      [
        "a command line of the renew step",
        (plan) => {
          const renew = plan.nodes[0]!.steps.find((s) => s.id === "renew")!;
          renew.commands = [{ words: ["touch"], line: `touch '${marker}'` }, ...renew.commands];
        },
      ],
      [
        "the spec's kubernetesDir, with the shown steps forged to match it",
        (plan) => {
          const node = plan.nodes[1]!;
          node.spec = { ...node.spec, kubernetesDir: root };
          node.steps = stepsFor(node.spec).map((s) => s.shown);
        },
      ],
    ];
    for (const [what, change] of cases) {
      const snapshots = new Map<string, NodeSnapshot>(lab.nodes.map((n) => [n.name, snapshotNode(n)]));
      const served = new Map(
        await Promise.all(lab.nodes.map(async (n) => [n.name, await servedNow(lab, n.name)] as const)),
      );
      const request = await approvedRequest(renewals, await planLabRenewal(lab));
      await tamperStoredPlan(request.id, change);

      const reporter = new RecordingReporter();
      const saved: RunState[] = [];
      const plan = (await renewals.loadPlan(request.id))!;
      const result = await runRenewal({ request, plan }, deps(lab, reporter, saved));

      assert.ok(result.ran, what);
      assert.equal(result.state.outcome, "failed", what);
      assert.match(
        result.state.refused ?? "",
        /^refused: the stored plan is not the plan its data derives/,
        what,
      );
      assert.equal(reporter.steps.length, 0, `${what}: no step ran`);
      assert.equal(reporter.summaries.length, 1, `${what}: the refusal is shown in the thread`);
      const ended = await renewals.get(request.id);
      assert.equal(ended?.state, "failed", what);
      assert.match(ended?.outcome ?? "", /^refused: /, `${what}: the card says why`);
      const entries = await auditOf(request.id, lab.name);
      assert.ok(
        entries.some((e) => /^refused refused: the stored plan/.test(e)),
        `${what}: audited: ${entries.join(" | ")}`,
      );
      assert.equal(await lease.holder(lab.name), null, `${what}: no lease taken`);
      assert.equal(existsSync(marker), false, `${what}: the tampered command never ran`);
      for (const node of lab.nodes) {
        assertSameAsBefore(node, snapshots.get(node.name)!);
        assert.equal(
          await servedNow(lab, node.name),
          served.get(node.name),
          `${what}: ${node.name} serves as before`,
        );
        assert.equal(
          existsSync(join(root, "tamper", "backups", lab.name, node.name)),
          false,
          `${what}: no backup taken`,
        );
      }
    }
  });
});

describe("one runner per cluster", () => {
  test("an attempt whose lease is taken over stops before its next change; the holder finishes without renewing twice", async () => {
    const lab = await labCluster("takeover", 105);
    const [first, second] = lab.nodes.map((n) => n.name) as [string, string];
    const plan = await planLabRenewal(lab);
    const request = await approvedRequest(renewals, plan);
    const apiserverBefore = pkiFingerprint(lab.node(first), "apiserver.crt");
    const snapshotBefore = snapshotNode(lab.node(first));
    let renewedClient = "";

    // When the first node's renew has ended, another attempt of the same request takes the lease (as
    // after a stall: the queue handed the job to another worker, whose attempt holds a new token).
    const reporter = new RecordingReporter(async (event) => {
      if (event.node !== first || event.step !== "renew" || event.status !== "done") return;
      renewedClient = pkiFingerprint(lab.node(first), "apiserver-kubelet-client.crt");
      await redis.set(lease.key(lab.name), `${request.id} other-attempt-token`, "PX", 60_000);
    });
    const saved: RunState[] = [];
    const result = await runRenewal({ request, plan }, deps(lab, reporter, saved));

    assert.equal(result.ran, false);
    assert.ok(!result.ran && result.leaseLost, "stopped for the lease");
    assert.ok(
      !result.ran && /lost the cluster's run lease to another attempt of request/.test(result.reason),
    );
    assert.deepEqual(
      reporter.steps.map((e) => `${e.node} ${e.step} ${e.status}`),
      [`${first} preflight done`, `${first} backup done`, `${first} renew done`],
      "nothing after the renew: no restart began, no rollback either (the holder decides)",
    );
    assertSameAsBefore(lab.node(first), snapshotBefore, "manifests/"); // no manifest was parked
    assert.equal(
      await servedNow(lab, first),
      apiserverBefore,
      "not restarted: the old certificate still serves",
    );
    assert.equal(
      await redis.get(lease.key(lab.name)),
      `${request.id} other-attempt-token`,
      "the holder's lease was left alone",
    );
    assert.equal((await renewals.get(request.id))?.state, "running", "the request is the holder's to end");
    assert.ok(
      (await auditOf(request.id, lab.name)).some((e) =>
        /^refused this attempt lost the cluster's run lease/.test(e),
      ),
    );

    // The holder's attempt (here: the same request resumed from the saved state, once the intruding
    // token is gone as its owner would release it) finishes the run.
    await redis.del(lease.key(lab.name));
    const resumed = await runRenewal(
      { request, plan, saved: saved.at(-1)! },
      deps(lab, new RecordingReporter(), saved),
    );
    assert.ok(resumed.ran);
    assert.equal(resumed.state.outcome, "done");
    assert.equal(
      pkiFingerprint(lab.node(first), "apiserver-kubelet-client.crt"),
      renewedClient,
      "the renew that took effect was not run again",
    );
    for (const node of [first, second]) {
      const onDisk = pkiFingerprint(lab.node(node), "apiserver.crt");
      assert.equal(await servedNow(lab, node), onDisk, `${node}: serves what is on disk`);
    }
    assert.notEqual(pkiFingerprint(lab.node(first), "apiserver.crt"), apiserverBefore, "renewed");
    assert.equal((await renewals.get(request.id))?.state, "done");
    assert.equal(await lease.holder(lab.name), null, "released");
  });
});
