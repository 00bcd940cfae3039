// The renewal executor on 1.28 lab control-plane nodes over the LocalTransport: the plan is built
// from a real scan of the node, run step by step, verified by the served certificate; rollback on
// the failure switches; and resume after a crash right after the renew step.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateCache } from "../../src/core/certs/certificate.js";
import { parseConfig, type ClusterConfig, type Config } from "../../src/config/load.js";
import { executeNodePlan } from "../../src/app/renew/executor.js";
import type { ProgressEvent } from "../../src/core/renew/progress.js";
import type { NodeProgress } from "../../src/core/renew/steps/step.js";
import { planRenewal, type NodePlan } from "../../src/core/renew/plan.js";
import { scanNode } from "../../src/adapters/nodes/scan.js";
import { LocalTransport } from "../../src/adapters/nodes/local.js";
import { probeServedCertificate } from "../../src/adapters/nodes/tls-probe.js";
import type { Transport } from "../../src/core/transport/transport.js";
import {
  fingerprintOf,
  startControlPlane,
  stopAllControlPlanes,
  type LabControlPlane,
} from "../lab/control-plane.js";
import { freePort, labAddress } from "../lab/ports.js";
import { newClusterPki, writeLabNode, type LabNode } from "../lab/tree.js";
import { apiserverHealthy } from "../../src/adapters/nodes/health.js";

const DAY = 86_400_000;
let root: string;

interface Lab {
  name: string;
  tree: LabNode;
  cp: LabControlPlane;
  config: Config;
  cluster: ClusterConfig;
  transport: Transport;
}

async function labNode(name: string, host: number): Promise<Lab> {
  const address = labAddress(host);
  const port = await freePort(address);
  const now = Date.now();
  const tree = await writeLabNode({
    root: join(root, name),
    nodeName: name,
    address,
    pki: await newClusterPki(),
    kubeadmVersion: "v1.28.4",
    apiserverPort: port,
    superAdmin: false,
    dates: {
      "apiserver-kubelet-client": { notBefore: new Date(now - 366 * DAY), notAfter: new Date(now - DAY) },
    },
  });
  const cp = await startControlPlane({ tree, nodeName: name, address, port, version: "v1.28.4" });
  const config = parseConfig(
    [
      "timezone: UTC",
      `renewal: { backupDir: "${join(root, "backups")}", restartStrategy: manifests }`,
      "clusters:",
      "  - name: lab",
      "    nodes:",
      `      - host: ${address}`,
      `        name: ${name}`,
      "        transport: local",
      `        paths: { kubernetesDir: "${tree.kubernetesDir}", kubeletPkiDir: "${tree.kubeletPkiDir}" }`,
      `        apiserver: { port: ${port} }`,
      "",
    ].join("\n"),
    "clusters.yaml",
  );
  const local = new LocalTransport({ become: "none", commandTimeoutMs: 60_000 });
  // The lab tools first on PATH, as they would be on a node.
  const transport: Transport = {
    run: (script, options) => local.run(`PATH='${tree.binDir}':"$PATH"; export PATH\n${script}`, options),
  };
  return { name, tree, cp, config, cluster: config.clusters[0]!, transport };
}

const rescan = (lab: Lab) => () =>
  scanNode(lab.cluster.nodes[0]!, lab.cluster, {
    cache: new CertificateCache(),
    transportFor: () => lab.transport,
    probe: (node, timeoutMs) => probeServedCertificate(node.host, node.apiserver.port, timeoutMs),
    now: () => new Date(),
  });

async function planFor(lab: Lab): Promise<NodePlan> {
  const report = await rescan(lab)();
  assert.ok(report.reachable, report.error);
  const result = planRenewal({
    cluster: lab.cluster,
    report: { name: "lab", status: report.status, nodes: [report] },
    renewal: lab.config.renewal,
    now: new Date(),
  });
  assert.ok(result.ok, result.ok ? "" : result.reason);
  return result.plan.nodes[0]!;
}

/** The worker "dies" (onProgress throws, as a job that cannot save) right after this event. */
class Crash extends Error {}

function run(
  lab: Lab,
  plan: NodePlan,
  resumeFrom?: NodeProgress,
  crashAfter?: (e: ProgressEvent) => boolean,
) {
  const events: ProgressEvent[] = [];
  const saved: NodeProgress[] = [];
  const execution = executeNodePlan(plan, {
    transport: lab.transport,
    probe: probeServedCertificate,
    health: apiserverHealthy,
    rescan: rescan(lab),
    onProgress: (event, progress) => {
      events.push(event);
      saved.push(JSON.parse(JSON.stringify(progress)) as NodeProgress);
      if (crashAfter?.(event)) throw new Crash(`crashed after ${event.step} ${event.status}`);
    },
    now: () => new Date(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    waits: { containersGoneMs: 10_000, readyMs: 8_000, pollMs: 100 },
    ...(resumeFrom ? { resumeFrom } : {}),
  });
  return { execution, events, saved };
}

const diskFp = (lab: Lab, file: string) =>
  fingerprintOf(readFileSync(join(lab.tree.kubernetesDir, "pki", file)));

before(() => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-exec-"));
});

after(async () => {
  await stopAllControlPlanes();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("renewal executor on a 1.28 lab node", () => {
  test("happy path: the expired apiserver-kubelet-client is renewed and the new apiserver cert is served", async () => {
    const lab = await labNode("exec-ok", 41);
    const plan = await planFor(lab);
    assert.ok(plan.renew.some((r) => r.name === "apiserver-kubelet-client" && r.status === "expired"));
    const oldClient = diskFp(lab, "apiserver-kubelet-client.crt");
    const oldServed = (await lab.cp.served())!.fingerprint256;
    const { execution, events } = run(lab, plan);
    const result = await execution;
    assert.ok(result.ok, JSON.stringify(result.failure));
    assert.equal(result.rollback, undefined);
    assert.notEqual(diskFp(lab, "apiserver-kubelet-client.crt"), oldClient);
    const newApiserver = diskFp(lab, "apiserver.crt");
    assert.notEqual(newApiserver, oldServed);
    assert.equal((await lab.cp.served())!.fingerprint256, newApiserver, "the new certificate is served");
    const client = result.renewed.find((r) => r.name === "apiserver-kubelet-client")!;
    assert.ok(client.after && client.after !== client.before);
    const days = (client.notAfter!.getTime() - Date.now()) / DAY;
    assert.ok(days > 364 && days <= 365, String(days));
    assert.deepEqual(
      events.map((e) => `${e.step} ${e.status}`),
      ["preflight", "backup", "renew", "restart", "verify"].flatMap((s) => [`${s} running`, `${s} done`]),
    );
    assert.ok(events.every((e) => e.node === "exec-ok" && e.durationMs >= 0));
    assert.match(events[1]!.excerpt, /v1\.28\.4/);
    assert.ok(events.every((e) => !/PRIVATE KEY/.test(e.excerpt)));
  });

  test("the backup is root-only even under umask 022: tarball 0600, its directories 0700", async () => {
    const lab = await labNode("exec-modes", 45);
    const plan = await planFor(lab);
    const previous = process.umask(0o022);
    try {
      const result = await run(lab, plan).execution;
      assert.ok(result.ok, JSON.stringify(result.failure));
    } finally {
      process.umask(previous);
    }
    const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
    assert.equal(mode(plan.backup), "600", "the tarball holds CA keys");
    const nodeDir = plan.backup.slice(0, plan.backup.lastIndexOf("/"));
    assert.equal(mode(nodeDir), "700");
    assert.equal(mode(join(nodeDir, "..")), "700", "the cluster's directory too");
    assert.deepEqual(
      readdirSync(nodeDir).filter((f) => f.endsWith(".aside")),
      [],
      "nothing left aside after a restart",
    );
  });

  test("a backupDir open to others: preflight refuses, nothing is written or renewed", async () => {
    const lab = await labNode("exec-open-backups", 46);
    const plan = await planFor(lab);
    const backupRoot = plan.spec.backupRoot;
    mkdirSync(backupRoot, { recursive: true });
    chmodSync(backupRoot, 0o755);
    const client = diskFp(lab, "apiserver-kubelet-client.crt");
    try {
      const result = await run(lab, plan).execution;
      assert.equal(result.failure?.step, "preflight");
      assert.match(
        result.failure!.error,
        /the backup directory is open to others \(drwxr-xr-x.*\); backups hold CA keys/,
      );
      assert.equal(result.rollback, undefined);
      assert.match(result.leftIn, /^nothing was changed/);
      assert.equal(existsSync(plan.backup), false, "no backup written");
      assert.equal(diskFp(lab, "apiserver-kubelet-client.crt"), client, "nothing renewed");
    } finally {
      chmodSync(backupRoot, 0o700);
    }
  });

  test("renew failure: rollback restores the original files and the old certificate is served", async () => {
    const lab = await labNode("exec-renew-fails", 42);
    const plan = await planFor(lab);
    const before = new Map(
      ["apiserver.crt", "apiserver-kubelet-client.crt", "front-proxy-client.crt"].map((f) => [
        f,
        diskFp(lab, f),
      ]),
    );
    const oldServed = (await lab.cp.served())!.fingerprint256;
    lab.cp.fail("renew");
    try {
      const { execution, events } = run(lab, plan);
      const result = await execution;
      assert.equal(result.ok, false);
      assert.equal(result.failure?.step, "renew");
      assert.match(result.failure!.error, /injected renew failure/);
      assert.ok(result.rollback?.ok, result.rollback?.error);
      for (const [file, fp] of before) assert.equal(diskFp(lab, file), fp, file);
      assert.equal((await lab.cp.served())!.fingerprint256, oldServed);
      assert.deepEqual(events.map((e) => `${e.step} ${e.status}`).slice(-4), [
        "renew running",
        "renew failed",
        "rollback running",
        "rollback done",
      ]);
    } finally {
      lab.cp.fail("renew", false);
    }
  });

  test("no room for the backup: preflight fails with the sizes, nothing is written or renewed", async () => {
    const lab = await labNode("exec-no-space", 43);
    const plan = await planFor(lab);
    const client = diskFp(lab, "apiserver-kubelet-client.crt");
    lab.cp.fail("no-space");
    try {
      const { execution, events } = run(lab, plan);
      const result = await execution;
      assert.equal(result.failure?.step, "preflight");
      assert.match(
        result.failure!.error,
        /only 0 KiB free for the backup; the backup of \d+ KiB needs at least \d+ KiB/,
      );
      assert.equal(result.rollback, undefined, "nothing to roll back");
      assert.deepEqual(
        events.map((e) => `${e.step} ${e.status}`),
        ["preflight running", "preflight failed"],
      );
      assert.equal(existsSync(plan.backup), false, "no backup written");
      assert.equal(diskFp(lab, "apiserver-kubelet-client.crt"), client, "nothing renewed");
    } finally {
      lab.cp.fail("no-space", false);
    }
    const { execution } = run(lab, plan);
    assert.ok((await execution).ok, "with room again, the same plan runs");
  });

  test("apiserver does not come back: rollback is tried and both failures are reported", async () => {
    const lab = await labNode("exec-no-restart", 43);
    const plan = await planFor(lab);
    const oldApiserver = diskFp(lab, "apiserver.crt");
    lab.cp.fail("no-restart");
    try {
      const { execution, events } = run(lab, plan);
      const result = await execution;
      assert.equal(result.ok, false);
      assert.equal(result.failure?.step, "verify");
      assert.match(result.failure!.error, /timed out/);
      assert.equal(result.rollback?.ok, false);
      assert.match(result.rollback!.error!, /timed out/);
      assert.equal(diskFp(lab, "apiserver.crt"), oldApiserver, "the backup was restored");
      assert.deepEqual(
        events.filter((e) => e.status === "failed").map((e) => e.step),
        ["verify", "rollback"],
      );
    } finally {
      lab.cp.fail("no-restart", false);
    }
    await lab.cp.waitServing(oldApiserver, 10_000);
  });

  test("resume after a crash right after the renew step: no second renew", async () => {
    const lab = await labNode("exec-resume", 44);
    const plan = await planFor(lab);
    // The worker dies right after saving the renew step's progress.
    const first = run(lab, plan, undefined, (e) => e.step === "renew" && e.status === "done");
    await assert.rejects(first.execution, Crash);
    const saved = first.saved.at(-1)!;
    assert.deepEqual(saved.completed, ["preflight", "backup", "renew"]);
    const renewedApiserver = diskFp(lab, "apiserver.crt");
    const renewedClient = diskFp(lab, "apiserver-kubelet-client.crt");

    const second = run(lab, plan, saved);
    const result = await second.execution;
    assert.ok(result.ok, JSON.stringify(result.failure));
    const byStep = new Map(result.steps.map((s) => [s.step, s]));
    assert.equal(byStep.get("backup")?.skipped, true);
    assert.equal(byStep.get("renew")?.skipped, true);
    assert.equal(byStep.get("restart")?.skipped, false);
    assert.equal(diskFp(lab, "apiserver.crt"), renewedApiserver, "not renewed a second time");
    assert.equal(diskFp(lab, "apiserver-kubelet-client.crt"), renewedClient);
    assert.equal((await lab.cp.served())!.fingerprint256, renewedApiserver);
    assert.ok(second.events.some((e) => e.step === "renew" && e.skipped && e.status === "done"));
    assert.ok(!second.events.some((e) => e.step === "renew" && e.status === "running"));
  });
});
