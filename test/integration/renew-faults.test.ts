// The fault matrix of a renewal run. For each fault a runtime, kubeadm, the disk or the connection
// can throw at a node, a two-node HA 1.28 lab cluster (apiserver-kubelet-client expired) is renewed
// through the real runRenewal with the Redis stores, the fault injected on the FIRST node, and the
// test judges the state the run left behind rather than its messages:
// - node 1 is either renewed and verified (the new apiserver.crt served, every planned certificate
//   new) or exactly as before the run (pki/, kubeconfigs and manifests/ byte for byte and mode,
//   the old certificate served); its manifests/ are as before either way (never left parked);
// - nothing stays in a `<backup>.aside` directory;
// - node 2 is untouched and reported not run (or, when the run succeeds, renewed and verified);
// - the run lease is released, the request ended, the audit's result says what happened, and
//   runSummary says in one line what state the failed node was left in;
// - decoy pods beside node 1's control plane (lab DECOY_WORKLOADS) still run with the same ids.
// One table of cases drives one body; every deviation of a case is reported at once.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { RenewalRequest } from "../../src/core/renew/approval.js";
import type { NodePlan, RenewalPlan, RestartStrategy, StepId } from "../../src/core/renew/plan.js";
import { runRenewal, runSummary } from "../../src/app/renew/run.js";
import type { RunState } from "../../src/core/renew/run-state.js";
import { sanitize } from "../../src/adapters/store/audit.js";
import { DECOY_WORKLOADS } from "../lab/control-plane.js";
import { assertSameAsBefore, filesAside, snapshotNode, type NodeSnapshot } from "../lab/node-state.js";
import {
  approvedRequest,
  pkiFingerprint,
  planLabRenewal,
  RecordingReporter,
  startLabCluster,
  type LabCluster,
  type LabClusterNode,
} from "../lab/renewal-cluster.js";
import { labRunDependencies, renewalFixture } from "../lab/renewal-fixture.js";

const DAY = 86_400_000;
const WAITS = { containersGoneMs: 5_000, readyMs: 10_000, pollMs: 200 };
const isRoot = process.getuid?.() === 0;

/**
 * Node 1 at the end: preflight refused and nothing was touched (no backup either); failed and
 * exactly as before; renewed and verified (the run done); or either of the last two.
 */
type Expected = "refused" | "restored" | "renewed" | "restored or renewed";

/** Acts on node 1; work that must not hold the run up goes to `later` (awaited after the run). */
type Act = (node: LabClusterNode, later: Promise<unknown>[]) => void | Promise<void>;

interface FaultCase {
  name: string;
  restart: RestartStrategy;
  ssh?: boolean;
  /** DECOY_WORKLOADS run beside node 1's control plane. */
  decoys?: boolean;
  /** The fault, set before the run. */
  arrange?: Act;
  /** Faults switched when a step of node 1 starts (its state "running" in the run state). */
  when?: Partial<Record<StepId | "rollback", Act>>;
  expect: Expected;
}

/** Once the restart has parked node 1's manifests, its sshd dies with its sessions; back 2 s later. */
const dropSshWhileParked: Act = (node, later) => {
  const manifest = join(node.tree.kubernetesDir, "manifests/kube-apiserver.yaml");
  const drop = (async () => {
    const deadline = Date.now() + 15_000;
    while (existsSync(manifest)) {
      if (Date.now() > deadline) throw new Error(`${node.name}: the restart never parked the manifests`);
      await sleep(10);
    }
    await node.sshd!.drop();
    await sleep(2_000);
    await node.sshd!.start();
  })();
  drop.catch(() => undefined); // reported when awaited after the run
  later.push(drop);
};

const CASES: FaultCase[] = [
  {
    name: "crictl exits non-zero during the restart wait [manifests]",
    restart: "manifests",
    when: { restart: (n) => n.cp.fail("exit-crictl", true, "ps") },
    expect: "restored",
  },
  {
    name: "crictl rmp exits non-zero during the restart [crictl]",
    restart: "crictl",
    decoys: true,
    when: { restart: (n) => n.cp.fail("exit-crictl", true, "rmp") },
    expect: "restored",
  },
  {
    name: "docker exits non-zero during the restart [docker]",
    restart: "docker",
    decoys: true,
    when: { restart: (n) => n.cp.fail("exit-docker") },
    expect: "restored",
  },
  {
    name: "crictl is missing: preflight refuses [crictl]",
    restart: "crictl",
    decoys: true,
    arrange: (n) => n.cp.removeTool("crictl"),
    expect: "refused",
  },
  {
    name: "containers never stop [manifests]",
    restart: "manifests",
    arrange: (n) => n.cp.fail("no-stop"),
    expect: "restored",
  },
  {
    name: "the apiserver does not come back until the rollback starts [manifests]",
    restart: "manifests",
    arrange: (n) => n.cp.fail("no-restart"),
    when: { rollback: (n) => n.cp.fail("no-restart", false) },
    expect: "restored",
  },
  {
    name: "kubeadm fails after renewing some certificates [manifests]",
    restart: "manifests",
    arrange: (n) => n.cp.fail("renew-partial"),
    expect: "restored",
  },
  {
    name: "no space for the backup: preflight refuses [manifests]",
    restart: "manifests",
    arrange: (n) => n.cp.fail("no-space"),
    expect: "refused",
  },
  {
    name: "the SSH connection drops mid-restart, sshd back 2 s later [manifests, ssh]",
    restart: "manifests",
    ssh: true,
    when: { restart: dropSshWhileParked },
    expect: "restored or renewed",
  },
  {
    name: "decoys beside the control plane stay running [crictl]",
    restart: "crictl",
    decoys: true,
    expect: "renewed",
  },
  {
    name: "decoys beside the control plane stay running [docker]",
    restart: "docker",
    decoys: true,
    expect: "renewed",
  },
  {
    name: "decoys beside the control plane stay running [manifests]",
    restart: "manifests",
    decoys: true,
    expect: "renewed",
  },
];

const fixture = renewalFixture("renew-faults");
const { root, redis, renewals, audit, lease, labs } = fixture;
chmodSync(root, 0o755); // the lab users of the SSH case must traverse it

/** Calls each act once, when node 1's step first shows "running" in the run state. */
function onStepStart(node: LabClusterNode, acts: FaultCase["when"], later: Promise<unknown>[]) {
  const fired = new Set<string>();
  return async (state: RunState): Promise<void> => {
    const steps = state.nodes.find((n) => n.node === node.name)?.steps ?? [];
    for (const [step, act] of Object.entries(acts ?? {})) {
      if (fired.has(step) || steps.find((s) => s.step === step)?.state !== "running") continue;
      fired.add(step);
      await act(node, later);
    }
  };
}

/** The certificate in a pki file, or a kubeconfig's embedded client certificate. */
function certificateIn(bytes: Buffer, path: string): X509Certificate {
  if (!path.endsWith(".conf")) return new X509Certificate(bytes);
  const data = /client-certificate-data: *(\S+)/.exec(bytes.toString("utf8"))?.[1];
  assert.ok(data, `${path}: no embedded client certificate`);
  return new X509Certificate(Buffer.from(data, "base64"));
}

const served = async (node: LabClusterNode) => (await node.cp.served())?.fingerprint256 ?? null;

interface Before {
  snapshot: NodeSnapshot;
  /** apiserver.crt's fingerprint, served before the run. */
  served: string;
}

/** Renewed and verified: the new apiserver.crt is served and every planned certificate is new. */
async function assertRenewed(node: LabClusterNode, before: Before, plan: NodePlan): Promise<void> {
  const onDisk = pkiFingerprint(node, "apiserver.crt");
  assert.notEqual(onDisk, before.served, `${node.name}: apiserver.crt was not renewed`);
  assert.equal(await served(node), onDisk, `${node.name}: the renewed apiserver.crt is not served`);
  const dir = node.tree.kubernetesDir;
  for (const { name, path } of plan.renew) {
    assert.ok(path.startsWith(`${dir}/`), `${name}: ${path} is not under ${dir}`);
    const old = before.snapshot.entries.get(path.slice(dir.length + 1));
    assert.ok(old, `${name}: ${path} was not there before the run`);
    const now = certificateIn(readFileSync(path), path);
    assert.notEqual(
      now.fingerprint256,
      certificateIn(old.content, path).fingerprint256,
      `${name}: not renewed`,
    );
    const days = (Date.parse(now.validTo) - Date.now()) / DAY;
    assert.ok(days > 364 && days <= 365, `${name}: valid for ${days.toFixed(1)} d, not a year`);
  }
}

/** Exactly as before the run, and the old apiserver.crt served. */
async function assertAsBefore(node: LabClusterNode, before: Before): Promise<void> {
  assertSameAsBefore(node, before.snapshot);
  assert.equal(await served(node), before.served, `${node.name}: the old apiserver.crt is not served`);
}

/** Every deviation of a case, so one run shows the whole end state. */
class Findings {
  readonly problems: string[] = [];

  async check(what: string, assertion: () => unknown): Promise<void> {
    try {
      await assertion();
    } catch (err) {
      this.problems.push(`${what}: ${(err as Error).message.split("\n").slice(0, 4).join(" ")}`);
    }
  }
}

/** A case's cluster (decoys on node 1 if asked), its plan, and what each node was before the run. */
interface Prepared {
  id: string;
  lab: LabCluster;
  first: LabClusterNode;
  second: LabClusterNode;
  plan: RenewalPlan;
  before: Map<string, Before>;
  /** Each decoy's id before the run (null: not running). */
  decoys: Map<string, string | null>;
}

async function prepare(c: FaultCase, i: number): Promise<Prepared> {
  const id = `f${i + 1}`;
  const lab = await startLabCluster({
    root: join(root, id),
    name: `faults-${id}`,
    nodes: [
      { name: `${id}-1`, host: 101 + 2 * i, version: "v1.28.4" },
      { name: `${id}-2`, host: 102 + 2 * i, version: "v1.28.4" },
    ],
    expired: ["apiserver-kubelet-client"],
    restartStrategy: c.restart,
    ...(c.ssh ? { ssh: true } : {}),
  });
  labs.push(lab);
  const [first, second] = lab.nodes as [LabClusterNode, LabClusterNode];
  if (c.decoys) for (const w of DECOY_WORKLOADS) first.cp.runWorkload(w);
  const plan = await planLabRenewal(lab);
  assert.deepEqual(
    plan.nodes.map((n) => n.node),
    [first.name, second.name],
  );
  const before = new Map<string, Before>();
  for (const node of lab.nodes) {
    const fingerprint = pkiFingerprint(node, "apiserver.crt");
    assert.equal(await served(node), fingerprint, `${node.name} serves its apiserver.crt`);
    before.set(node.name, { snapshot: snapshotNode(node), served: fingerprint });
  }
  const decoys = new Map(DECOY_WORKLOADS.map((w) => [w.pod, first.cp.workloadId(w)]));
  return { id, lab, first, second, plan, before, decoys };
}

interface Ran {
  state: RunState;
  reporter: RecordingReporter;
  request: RenewalRequest;
}

/** The real run with the Redis stores; the case's fault set before it and switched as node 1's steps start. */
async function runWithFault(c: FaultCase, p: Prepared): Promise<Ran> {
  const later: Promise<unknown>[] = [];
  await c.arrange?.(p.first, later);
  const request = await approvedRequest(renewals, p.plan);
  const reporter = new RecordingReporter(undefined, onStepStart(p.first, c.when, later));
  const result = await runRenewal(
    { request, plan: p.plan },
    labRunDependencies(fixture, p.lab, reporter, { waits: WAITS }),
  );
  await Promise.all(later);
  assert.ok(result.ran, result.ran ? "" : result.reason);
  return { state: result.state, reporter, request };
}

const backupsOf = (p: Prepared, node: LabClusterNode): string[] => {
  const dir = join(root, p.id, "backups", p.lab.name, node.name);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".tar.gz")) : [];
};
const planOf = (p: Prepared, node: LabClusterNode): NodePlan =>
  p.plan.nodes.find((n) => n.node === node.name)!;

/** Whether node 1's apiserver.crt changed on disk. */
const changedOnDisk = (p: Prepared): boolean =>
  pkiFingerprint(p.first, "apiserver.crt") !== p.before.get(p.first.name)!.served;

/** Node 1 must be (or, changed on disk, may only be) renewed and verified. */
const renewedAsAllowed = (c: FaultCase, p: Prepared): boolean =>
  c.expect === "renewed" || (c.expect === "restored or renewed" && changedOnDisk(p));

/** Node 1 as the case allows, nothing left aside, the decoys untouched. */
async function judgeNode1(c: FaultCase, p: Prepared, { state }: Ran, f: Findings): Promise<void> {
  const { first } = p;
  const before = p.before.get(first.name)!;
  if (renewedAsAllowed(c, p))
    await f.check("node 1 renewed and verified", () => assertRenewed(first, before, planOf(p, first)));
  else await f.check("node 1 as before", () => assertAsBefore(first, before));
  await f.check("node 1 manifests never left parked", () =>
    assertSameAsBefore(first, before.snapshot, "manifests/"),
  );
  if (c.expect === "refused") {
    const step = state.nodes[0]!.failure?.step;
    await f.check("refused at preflight", () => assert.equal(step, "preflight", `failed at ${step}`));
    const backups = backupsOf(p, first);
    await f.check("nothing touched", () => assert.deepEqual(backups, [], `backups: ${backups.join(", ")}`));
  }
  const aside = filesAside(join(root, p.id, "backups"));
  await f.check("nothing left aside", () => assert.deepEqual(aside, [], aside.join(", ")));
  if (c.decoys)
    for (const w of DECOY_WORKLOADS) {
      const now = first.cp.workloadId(w);
      await f.check(`decoy ${w.namespace}/${w.pod}`, () =>
        assert.equal(now, p.decoys.get(w.pod), now ? "new ids: restarted" : "stopped"),
      );
    }
}

/** The run's outcome, node 2, the request, the lease and the audit. */
async function judgeRun(
  c: FaultCase,
  p: Prepared,
  { state, reporter, request }: Ran,
  f: Findings,
): Promise<void> {
  const { first, second, lab } = p;
  const summary = runSummary(state);
  if (c.expect === "renewed") await f.check("the run", () => assert.equal(state.outcome, "done", "failed"));
  else if (!renewedAsAllowed(c, p))
    await f.check("the run", () => assert.equal(state.outcome, "failed", "done"));
  const done = state.outcome === "done";
  if (done) {
    await f.check("node 2 renewed and verified", () =>
      assertRenewed(second, p.before.get(second.name)!, planOf(p, second)),
    );
  } else {
    const nodes = state.nodes.map((n) => n.state).join(", ");
    await f.check("node 1 failed, node 2 not run", () => assert.equal(nodes, "failed, skipped", nodes));
    await f.check("node 2 untouched", () => assertAsBefore(second, p.before.get(second.name)!));
    const touched = [
      ...backupsOf(p, second),
      ...reporter.steps.filter((e) => e.node === second.name).map((e) => `${e.step} ${e.status}`),
    ];
    await f.check("node 2 not run", () => assert.deepEqual(touched, [], touched.join(", ")));
    // Loose: the summary names the state node 1 was left in (renewed, or back as it was).
    const says = changedOnDisk(p)
      ? /renewed/i
      : new RegExp(
          `; ${first.name}: (rolled back: pki/, the kubeconfigs and manifests/ as before, the old certificate ` +
            "served|nothing was changed \\(it failed before pki/ was touched\\));",
        );
    await f.check("runSummary says how node 1 was left", () => {
      assert.ok(!summary.includes("\n"), "not one line");
      assert.match(summary, says, `${String(says)} does not match`);
    });
  }
  const ended = await renewals.get(request.id);
  await f.check("the request ended", () =>
    assert.equal(ended?.state, done ? "done" : "failed", `request ${ended?.state}`),
  );
  await f.check("the card's line says the same", () => assert.equal(ended?.outcome, summary));
  const holder = await redis.get(lease.key(lab.name));
  await f.check("the run lease released", () => assert.equal(holder, null, `held by ${holder}`));
  const results = (await audit.latest(lab.name, 200))
    .filter((e) => e.requestId === request.id && e.kind === "result")
    .map((e) => e.detail);
  await f.check("the audit's result", () => {
    assert.deepEqual(results, [sanitize(summary)], `results: ${results.join(" | ")}`);
    const what = done ? /^done: / : new RegExp(`^failed on ${first.name} at \\w+: `);
    assert.match(results[0]!, what, `${String(what)} does not match`);
  });
}

describe("a renewal run under faults on node 1 of a two-node HA cluster", () => {
  for (const [i, c] of CASES.entries()) {
    test(c.name, { skip: c.ssh && !isRoot && "needs root (lab users, sshd, sudo)" }, async () => {
      const prepared = await prepare(c, i);
      const ran = await runWithFault(c, prepared);
      const findings = new Findings();
      await judgeNode1(c, prepared, ran, findings);
      await judgeRun(c, prepared, ran, findings);
      assert.deepEqual(findings.problems, [], `${c.name}\n  ${runSummary(ran.state)}`);
    });
  }
});
