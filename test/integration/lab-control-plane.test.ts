// The lab control plane (test/lab/control-plane.ts) driven by the exact commands planRenewal emits:
// lab nodes at kubeadm 1.28, 1.19 and 1.11 (local sh, no ssh), each renewed with its version's
// commands, then restarted by each strategy while the lab apiserver's served certificate is
// watched; plus the failure switches, kubeadm's answers to another version's commands, and the
// runtime stubs' selection (names, namespaces, labels) with decoy pods beside the control plane.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "reflect-metadata"; // @peculiar/x509 needs it loaded first
import * as x509 from "@peculiar/x509";
import { parseConfig } from "../../src/config/load.js";
import { findEntry } from "../../src/core/kubeadm/catalogue.js";
import { filesOf } from "../../src/core/kubeadm/versions.js";
import {
  planRenewal,
  type NodePlan,
  type PlanStep,
  type RestartStrategy,
} from "../../src/core/renew/plan.js";
import {
  DECOY_WORKLOADS,
  fingerprintOf,
  startControlPlane,
  stopAllControlPlanes,
  type FailSwitch,
  type LabControlPlane,
} from "../lab/control-plane.js";
import { freePort, labAddress } from "../lab/ports.js";
import { newClusterPki, writeLabNode, type LabNode } from "../lab/tree.js";
import { clusterReport, node as reportNode } from "../fixtures/prod-cluster.js";

const DAY = 86_400_000;

interface Lab {
  name: string;
  version: string;
  tree: LabNode;
  cp: LabControlPlane;
}

let root: string;
const labs = new Map<string, Lab>();

async function labNode(name: string, version: string, host: number): Promise<Lab> {
  const minor = Number(/^v1\.(\d+)\./.exec(version)![1]);
  const address = labAddress(host);
  const port = await freePort(address);
  const tree = await writeLabNode({
    root: join(root, name),
    nodeName: name,
    address,
    pki: await newClusterPki(),
    kubeadmVersion: version,
    apiserverPort: port,
    superAdmin: minor >= 29,
    embeddedKubeletConf: minor < 17,
  });
  const cp = await startControlPlane({ tree, nodeName: name, address, port, version });
  const lab = { name, version, tree, cp };
  labs.set(name, lab);
  return lab;
}

/** This node's plan, exactly as planRenewal builds it (from a scan-like report of that version). */
function planFor(lab: Lab, restartStrategy: RestartStrategy, certs?: string[]): NodePlan {
  const config = parseConfig(
    [
      "timezone: UTC",
      `renewal: { backupDir: "${join(root, "backups")}", restartStrategy: ${restartStrategy} }`,
      "clusters:",
      "  - name: lab",
      "    nodes:",
      `      - host: ${lab.cp.address}`,
      `        name: ${lab.name}`,
      "        transport: local",
      `        paths: { kubernetesDir: "${lab.tree.kubernetesDir}", kubeletPkiDir: "${lab.tree.kubeletPkiDir}" }`,
      `        apiserver: { port: ${lab.cp.port} }`,
      "",
    ].join("\n"),
    "clusters.yaml",
  );
  const minor = Number(/^v1\.(\d+)\./.exec(lab.version)![1]);
  const result = planRenewal({
    cluster: config.clusters[0]!,
    report: clusterReport(reportNode(lab.name, { version: lab.version, embeddedKubeletConf: minor < 17 })),
    renewal: config.renewal,
    now: new Date(),
    ...(certs ? { certs } : {}),
  });
  assert.ok(result.ok, result.ok ? "" : result.reason);
  return result.plan.nodes[0]!;
}

const step = (plan: NodePlan, id: PlanStep["id"]) => plan.steps.find((s) => s.id === id)!;

/** Run a step's commands in order, honouring its bounded wait; every command must succeed. */
/** A step's commands as the executor runs them: one `set -e` script, split only by its wait. */
async function runStep(lab: Lab, s: PlanStep): Promise<string> {
  const at = s.wait?.before ?? s.commands.length;
  let out = "";
  for (const [i, part] of [s.commands.slice(0, at), s.commands.slice(at)].entries()) {
    if (i === 1 && s.wait) await lab.cp.waitStopped();
    if (part.length === 0) continue;
    const script = ["set -e", ...part.map((c) => c.line)].join("\n");
    const r = await lab.cp.sh(script);
    assert.equal(r.code, 0, `${script}\n${r.stdout}${r.stderr}`);
    out += r.stdout;
  }
  return out;
}

/** The certificate of a renewable entry as on disk now (a kubeconfig's embedded client certificate). */
function onDisk(lab: Lab, name: string): X509Certificate {
  const file = join(lab.tree.kubernetesDir, filesOf(name as never)[0]!);
  const text = readFileSync(file, "utf8");
  if (findEntry(name)!.kind !== "kubeconfig") return new X509Certificate(text);
  const data = /client-certificate-data: (\S+)/.exec(text)![1]!;
  return new X509Certificate(Buffer.from(data, "base64"));
}

const caOf = (lab: Lab, name: string) =>
  new X509Certificate(lab.tree.certs[findEntry(name)!.ca as "ca" | "etcd-ca" | "front-proxy-ca"]!.der);
const keyUsages = (cert: X509Certificate) =>
  new x509.X509Certificate(cert.raw).getExtension(x509.KeyUsagesExtension)?.usages;
const sanSet = (cert: X509Certificate) =>
  (cert.subjectAltName ?? "")
    .split(", ")
    .map((s) => s.replace(/^IP Address:0:0:0:0:0:0:0:1$/, "IP Address:::1"))
    .sort();

function snapshot(lab: Lab, names: readonly string[]): Map<string, X509Certificate> {
  return new Map(names.map((n) => [n, onDisk(lab, n)]));
}

/** Each renewed certificate: new fingerprint and serial, same identity, signed by the node's CA, ~365 d. */
function assertRenewed(
  lab: Lab,
  before: Map<string, X509Certificate>,
  opts: { subjects?: Record<string, string> } = {},
) {
  for (const [name, old] of before) {
    const now = onDisk(lab, name);
    assert.notEqual(now.fingerprint256, old.fingerprint256, `${lab.name} ${name}: new fingerprint`);
    assert.notEqual(now.serialNumber, old.serialNumber, `${name}: new serial`);
    assert.equal(now.subject, opts.subjects?.[name] ?? old.subject, `${name}: subject`);
    assert.deepEqual(sanSet(now), sanSet(old), `${name}: SANs`);
    assert.deepEqual(now.keyUsage, old.keyUsage, `${name}: extended key usage`);
    assert.equal(keyUsages(now), keyUsages(old), `${name}: key usage`);
    assert.ok(now.verify(caOf(lab, name).publicKey), `${name}: signed by the node's CA`);
    assert.ok(now.checkIssued(caOf(lab, name)), `${name}: issued by the node's CA`);
    const days = (Date.parse(now.validTo) - Date.now()) / DAY;
    assert.ok(days > 364 && days <= 365, `${name}: notAfter now+365 d, got ${days}`);
  }
}

const apiserverFingerprint = (lab: Lab) =>
  fingerprintOf(readFileSync(join(lab.tree.kubernetesDir, "pki/apiserver.crt")));

/** Renew (per the plan), see the old certificate still served, restart (per the plan), see the new one. */
async function renewAndRestart(lab: Lab, strategy: RestartStrategy): Promise<NodePlan> {
  const plan = planFor(lab, strategy);
  assert.equal(plan.restart, strategy);
  const served = apiserverFingerprint(lab);
  await lab.cp.waitServing(served);
  const pid = lab.cp.apiserverPid();
  const preflight = await runStep(lab, step(plan, "preflight"));
  assert.equal(preflight.trim().split("\n")[0], lab.version);
  await runStep(lab, step(plan, "backup"));
  assert.ok(existsSync(plan.backup));
  await runStep(lab, step(plan, "renew"));
  const renewed = apiserverFingerprint(lab);
  assert.notEqual(renewed, served);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await lab.cp.served())?.fingerprint256, served, "still serving the old certificate");
  assert.equal(lab.cp.apiserverPid(), pid);
  await runStep(lab, step(plan, "restart"));
  await lab.cp.waitServing(renewed);
  assert.notEqual(lab.cp.apiserverPid(), pid, "a new apiserver process");
  assert.ok(await lab.cp.healthy(new URL(plan.healthUrl).pathname));
  return plan;
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-cp-"));
  await Promise.all([
    labNode("new-1", "v1.28.4", 21),
    labNode("mid-1", "v1.19.16", 22),
    labNode("old-1", "v1.11.10", 23),
  ]);
});

after(async () => {
  await stopAllControlPlanes();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("lab control plane", () => {
  test("1.28: kubeadm certs renew per the plan; each restart strategy serves the new certificate", async () => {
    const lab = labs.get("new-1")!;
    for (const strategy of ["manifests", "crictl", "docker"] as const) {
      const plan = planFor(lab, strategy);
      const names = plan.renew.map((r) => r.name);
      assert.ok(step(plan, "renew").commands.every((c) => c.line.startsWith("kubeadm certs renew ")));
      const before = snapshot(lab, names);
      await renewAndRestart(lab, strategy);
      assertRenewed(lab, before);
    }
  });

  test("1.28: renew all re-issues the kubeconfigs' client certificates too", async () => {
    const lab = labs.get("new-1")!;
    const names = ["apiserver", "etcd-peer", "admin.conf", "controller-manager.conf", "scheduler.conf"];
    const before = snapshot(lab, names);
    const r = await lab.cp.sh("kubeadm certs renew all");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Done renewing certificates/);
    assertRenewed(lab, before);
  });

  test("1.19: kubeadm alpha certs renew per the plan, restart with crictl", async () => {
    const lab = labs.get("mid-1")!;
    const plan = planFor(lab, "crictl");
    assert.ok(step(plan, "renew").commands.every((c) => c.line.startsWith("kubeadm alpha certs renew ")));
    const before = snapshot(
      lab,
      plan.renew.map((r) => r.name),
    );
    await renewAndRestart(lab, "crictl");
    assertRenewed(lab, before);
  });

  test("1.11: old pairs moved aside, kubeadm alpha phase certs/kubeconfig with the exported config, docker restart", async () => {
    const lab = labs.get("old-1")!;
    const names = planFor(lab, "docker").renew.map((r) => r.name);
    assert.ok(names.includes("admin.conf") && names.includes("etcd-server"), names.join());
    const before = snapshot(lab, names);
    // The plan that ran: its backup's name has the second it was made, so a second plan may differ.
    const plan = await renewAndRestart(lab, "docker");
    // The standard profile of kubeadm before 1.29 (the lab tree writes 1.29+ subjects).
    assertRenewed(lab, before, {
      subjects: {
        "apiserver-kubelet-client": "O=system:masters\nCN=kube-apiserver-kubelet-client",
        "apiserver-etcd-client": "O=system:masters\nCN=kube-apiserver-etcd-client",
        "etcd-healthcheck-client": "O=system:masters\nCN=kube-etcd-healthcheck-client",
        "admin.conf": "O=system:masters\nCN=kubernetes-admin",
      },
    });
    const aside = plan.backup.replace(/\.tar\.gz$/, ".aside");
    for (const file of ["apiserver.crt", "apiserver.key", "etcd-server.crt", "admin.conf"])
      assert.ok(existsSync(join(aside, file)), file);
    const config = readFileSync(plan.backup.replace(/\.tar\.gz$/, ".kubeadm.yaml"), "utf8");
    assert.match(config, new RegExp(`certificatesDir: ${lab.tree.kubernetesDir}/pki`));
    // A phase leaves an existing pair alone.
    const again = await lab.cp.sh(
      `kubeadm alpha phase certs apiserver --config '${plan.backup.replace(/\.tar\.gz$/, ".kubeadm.yaml")}'`,
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Using the existing apiserver certificate and key/);
  });

  test("commands of another kubeadm version fail the way kubeadm does", async () => {
    const cases: [string, string, RegExp][] = [
      ["mid-1", "kubeadm certs renew apiserver", /unknown command "certs" for "kubeadm"/],
      ["new-1", "kubeadm alpha certs renew all", /unknown command "certs" for "kubeadm alpha"/],
      ["new-1", "kubeadm alpha phase certs apiserver", /unknown command "phase" for "kubeadm alpha"/],
      ["old-1", "kubeadm init phase certs apiserver", /unknown command "phase" for "kubeadm init"/],
      ["old-1", "kubeadm alpha certs renew apiserver", /unknown command "certs" for "kubeadm alpha"/],
      [
        "new-1",
        "kubeadm certs renew kubelet.conf",
        /unknown command "kubelet.conf" for "kubeadm certs renew"/,
      ],
      ["new-1", "kubeadm certs renew super-admin.conf", /unknown command "super-admin.conf"/],
      ["new-1", "kubeadm certs renew apiserver --bogus x", /unknown flag: --bogus/],
      [
        "old-1",
        "kubeadm alpha phase certs apiserver --config /x --cert-dir /y",
        /can not mix '--config' with arguments \[cert-dir\]/,
      ],
      // Before 1.13 the node name goes only without --config, and only to the kubelet's kubeconfig.
      [
        "old-1",
        "kubeadm alpha phase kubeconfig kubelet --config /x --node-name n",
        /can not mix '--config' with arguments \[node-name\]/,
      ],
      ["old-1", "kubeadm alpha phase kubeconfig admin --node-name n", /unknown flag: --node-name/],
    ];
    for (const [name, line, error] of cases) {
      const r = await labs.get(name)!.cp.sh(line);
      assert.notEqual(r.code, 0, line);
      assert.match(r.stderr, error, line);
    }
  });

  test("failure switch renew: kubeadm fails and changes nothing", async () => {
    const lab = labs.get("new-1")!;
    const line = step(planFor(lab, "crictl"), "renew").commands[0]!.line;
    const fp = apiserverFingerprint(lab);
    lab.cp.fail("renew");
    try {
      const r = await lab.cp.sh(line);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /injected renew failure/);
      assert.equal(apiserverFingerprint(lab), fp);
    } finally {
      lab.cp.fail("renew", false);
    }
  });

  test("failure switch no-restart: the apiserver does not come back until the switch is cleared", async () => {
    const lab = labs.get("mid-1")!;
    const fp = apiserverFingerprint(lab);
    await lab.cp.waitServing(fp);
    lab.cp.fail("no-restart");
    try {
      await runStep(lab, step(planFor(lab, "crictl"), "restart"));
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(lab.cp.apiserverPid(), null);
      assert.equal(await lab.cp.healthy(), false);
      assert.equal(await lab.cp.served(), null);
    } finally {
      lab.cp.fail("no-restart", false);
    }
    await lab.cp.waitServing(fp, 5_000);
  });

  test("failure switch hang: the step never finishes (a pattern limits it to matching arguments)", async () => {
    const lab = labs.get("new-1")!;
    lab.cp.fail("hang-kubeadm", true, "renew");
    lab.cp.fail("hang-crictl");
    try {
      const version = await lab.cp.sh("kubeadm version -o short");
      assert.equal(version.stdout.trim(), "v1.28.4");
      const started = Date.now();
      const renew = await lab.cp.sh(step(planFor(lab, "crictl"), "renew").commands[0]!.line, {
        timeoutMs: 800,
      });
      assert.ok(renew.timedOut && Date.now() - started < 5_000);
      const restart = await lab.cp.sh(step(planFor(lab, "crictl"), "restart").commands[0]!.line, {
        timeoutMs: 800,
      });
      assert.ok(restart.timedOut);
      assert.ok(lab.cp.apiserverPid(), "nothing was restarted");
    } finally {
      lab.cp.fail("hang-kubeadm", false);
      lab.cp.fail("hang-crictl", false);
    }
  });

  test("stopping or removing a pod or container that already stopped succeeds, as CRI and dockershim do", async () => {
    const lab = labs.get("mid-1")!;
    const fp = apiserverFingerprint(lab);
    await lab.cp.waitServing(fp);
    const pod = (await lab.cp.sh("crictl pods -q --name kube-scheduler")).stdout.trim();
    const container = (await lab.cp.sh("docker ps -q --filter name=kube-controller-manager")).stdout.trim();
    assert.match(pod, /^[0-9a-f]{13}$/);
    assert.match(container, /^[0-9a-f]{12}$/);
    for (const line of [`crictl rmp -f ${pod}`, `crictl rmp -f ${pod}`, `crictl stopp ${pod}`]) {
      assert.equal((await lab.cp.sh(line)).code, 0, line);
    }
    for (const line of [`docker stop ${container}`, `docker stop ${container}`]) {
      assert.equal((await lab.cp.sh(line)).code, 0, line);
    }
    const unknown = await lab.cp.sh("crictl rmp -f 0000000000000");
    assert.notEqual(unknown.code, 0, "an id the runtime never knew is still an error");
    assert.match(unknown.stderr, /not found/);
    await lab.cp.waitServing(fp);
  });

  test("moving a manifest out stops the apiserver within a bounded time; moving it back starts it", async () => {
    const lab = labs.get("new-1")!;
    const fp = apiserverFingerprint(lab);
    const m = join(lab.tree.kubernetesDir, "manifests/kube-apiserver.yaml");
    const parked = join(root, "parked.yaml");
    const started = Date.now();
    assert.equal((await lab.cp.sh(`mv '${m}' '${parked}'`)).code, 0);
    await lab.cp.waitStopped(["kube-apiserver"], 3_000);
    assert.ok(Date.now() - started < 3_000);
    assert.equal((await lab.cp.sh(`mv '${parked}' '${m}'`)).code, 0);
    await lab.cp.waitServing(fp, 5_000);
  });
  test("exact selection: crictl and docker filter by regular expression, namespace and label; decoys are hit only by loose names", async () => {
    const lab = labs.get("new-1")!;
    const [backup, extender] = DECOY_WORKLOADS as [(typeof DECOY_WORKLOADS)[0], (typeof DECOY_WORKLOADS)[0]];
    for (const w of DECOY_WORKLOADS) lab.cp.runWorkload(w);
    const backupId = lab.cp.workloadId(backup)!;
    const extenderId = lab.cp.workloadId(extender)!;
    assert.match(backupId, /^[0-9a-f]{64}$/);
    const pod = (id: string) => id.slice(0, 13);
    const container = (id: string) => id.slice(13, 25);
    const ids = async (line: string): Promise<string[]> => {
      const r = await lab.cp.sh(line);
      assert.equal(r.code, 0, `${line}\n${r.stderr}`);
      return r.stdout.split("\n").filter(Boolean).sort();
    };
    try {
      // Loose names hit the decoys.
      const looseScheduler = await ids("crictl pods -q --name kube-scheduler");
      assert.equal(looseScheduler.length, 2);
      assert.ok(looseScheduler.includes(pod(extenderId)));
      assert.ok((await ids("crictl ps -q --name '^etcd$'")).includes(container(backupId)));
      assert.ok((await ids("docker ps -q --filter name=k8s_etcd_")).includes(container(backupId)));
      assert.equal((await ids("docker ps -q --filter 'name=^/k8s_etcd_'")).length, 2, "matched with its /");

      // Exact selection does not.
      const scheduler = await ids("crictl pods -q --namespace kube-system --label component=kube-scheduler");
      assert.equal(scheduler.length, 1);
      assert.ok(!scheduler.includes(pod(extenderId)));
      assert.deepEqual(
        await ids("crictl pods -q --name '^kube-scheduler-new-1$'"),
        scheduler,
        "<component>-<node>",
      );
      const etcd = await ids(
        "crictl ps -q --label io.kubernetes.pod.namespace=kube-system --label io.kubernetes.container.name=etcd",
      );
      assert.equal(etcd.length, 1);
      assert.ok(!etcd.includes(container(backupId)));
      assert.deepEqual(await ids("crictl ps -q --namespace kube-system --name '^etcd$'"), etcd);
      assert.deepEqual(await ids("docker ps -q --filter 'name=^k8s_etcd_etcd-new-1_kube-system_'"), etcd);
      assert.deepEqual(
        await ids(
          "docker ps -q --filter label=io.kubernetes.pod.namespace=kube-system --filter label=io.kubernetes.container.name=etcd",
        ),
        etcd,
      );
      assert.deepEqual(await ids(`crictl ps -q --pod ${pod(extenderId)}`), [container(extenderId)]);
      assert.deepEqual(await ids("crictl pods -q --namespace backup"), [pod(backupId)]);
      assert.equal(
        (await ids("crictl pods -q --label tier=control-plane")).length,
        lab.cp.components.length + 1,
      );
      assert.equal(
        (
          await ids(
            "docker ps -q --filter 'name=^k8s_etcd_etcd-new-1_' --filter 'name=^k8s_etcd_etcd-backup_'",
          )
        ).length,
        2,
        "several name filters: any",
      );
      const table = await lab.cp.sh("crictl pods --namespace backup");
      assert.match(table.stdout, new RegExp(`^${pod(backupId)} .* etcd-backup +backup `, "m"));
      const names = await lab.cp.sh("docker ps --filter name=etcd-backup");
      assert.match(
        names.stdout,
        new RegExp(` k8s_etcd_etcd-backup_backup_${backupId.slice(25, 57)}_0$`, "m"),
      );

      // Health answers, and what the stubs refuse.
      const info = await lab.cp.sh("crictl info");
      assert.equal(info.code, 0);
      assert.equal(
        (JSON.parse(info.stdout) as { status: { conditions: unknown[] } }).status.conditions.length,
        2,
      );
      assert.equal((await lab.cp.sh("docker info")).code, 0);
      const active = await lab.cp.sh("systemctl is-active kubelet");
      assert.deepEqual([active.code, active.stdout], [0, "active\n"]);
      for (const [line, error] of [
        ["crictl pods --label component", /incorrectly specified label: component/],
        ["crictl ps -a", /only running containers/],
        ["docker ps --filter bogus=1", /Invalid filter 'bogus'/],
      ] as const) {
        const r = await lab.cp.sh(line);
        assert.notEqual(r.code, 0, line);
        assert.match(r.stderr, error, line);
      }

      // A decoy stopped exactly stays stopped: nothing brings it back.
      await ids("crictl pods -q --namespace '^backup$' --label app=etcd-backup | xargs -r crictl rmp -f");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(lab.cp.workloadId(backup), null);
      assert.equal(lab.cp.workloadId(extender), extenderId, "the other decoy runs on");
    } finally {
      await lab.cp.sh(`crictl rmp -f ${pod(backupId)} ${pod(extenderId)}`);
    }
    assert.equal(lab.cp.workloadId(extender), null);
  });

  test("failure switch exit: the tool fails as it does when what it talks to is down (a pattern limits it)", async () => {
    const lab = labs.get("new-1")!;
    const pid = lab.cp.apiserverPid();
    const cases: [FailSwitch, string, string, RegExp][] = [
      [
        "exit-crictl",
        "ps",
        "crictl ps -q",
        /^FATA\[0000\] validate service connection: .*connection refused/,
      ],
      ["exit-crictl", "", "crictl info", /containerd\.sock/],
      ["exit-docker", "", "docker ps -q", /^Cannot connect to the Docker daemon/],
      ["exit-docker", "", "docker info", /Is the docker daemon running\?/],
      ["exit-systemctl", "", "systemctl is-active kubelet", /^Failed to connect to bus/],
    ];
    for (const [which, pattern, line, error] of cases) {
      lab.cp.fail(which, true, pattern);
      try {
        const r = await lab.cp.sh(line);
        assert.equal(r.code, 1, line);
        assert.match(r.stderr, error, line);
        if (pattern) assert.equal((await lab.cp.sh("crictl pods -q")).code, 0, "other arguments work");
      } finally {
        lab.cp.fail(which, false);
      }
      assert.equal((await lab.cp.sh(line)).code, 0, `${line} works again`);
    }
    assert.equal(lab.cp.apiserverPid(), pid, "nothing was restarted");
  });

  test("removeTool: crictl and docker missing on the node (the lab PATH has no real one); installTool puts them back", async () => {
    const lab = labs.get("new-1")!;
    try {
      await lab.cp.removeTool("crictl");
      await lab.cp.removeTool("docker");
      const crictl = await lab.cp.sh("crictl pods -q");
      assert.equal(crictl.code, 127);
      assert.match(crictl.stderr, /crictl: not found/);
      assert.equal((await lab.cp.sh("docker ps -q")).code, 127);
    } finally {
      lab.cp.installTool("crictl");
      lab.cp.installTool("docker");
    }
    assert.equal((await lab.cp.sh("crictl pods -q")).code, 0);
    assert.equal((await lab.cp.sh("docker ps -q")).code, 0);
  });

  test("failure switch no-stop: removed manifests, rmp, stopp and docker stop all leave the containers running", async () => {
    const lab = labs.get("mid-1")!;
    const fp = apiserverFingerprint(lab);
    await lab.cp.waitServing(fp);
    const containers = async () => (await lab.cp.sh("crictl ps -q")).stdout;
    const before = await containers();
    const pid = lab.cp.apiserverPid();
    const manifests = join(lab.tree.kubernetesDir, "manifests");
    lab.cp.fail("no-stop");
    try {
      assert.equal(
        (await lab.cp.sh(`mv '${manifests}/kube-apiserver.yaml' '${root}/parked-apiserver.yaml'`)).code,
        0,
      );
      for (const line of [
        "crictl pods -q --name kube-scheduler | xargs -r crictl rmp -f",
        "crictl pods -q --name kube-controller-manager | xargs -r crictl stopp",
        "docker ps -q --filter name=k8s_etcd_ | xargs -r docker stop",
      ]) {
        const r = await lab.cp.sh(line);
        assert.equal(r.code, 0, `${line}: ${r.stderr}`);
        assert.notEqual(r.stdout, "", `${line} reports what it stopped`);
      }
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await containers(), before);
      assert.equal(lab.cp.apiserverPid(), pid);
      assert.equal((await lab.cp.served())?.fingerprint256, fp);
    } finally {
      await lab.cp.sh(`mv '${root}/parked-apiserver.yaml' '${manifests}/kube-apiserver.yaml'`);
      lab.cp.fail("no-stop", false);
    }
    await lab.cp.waitServing(fp);
    assert.equal(await containers(), before, "nothing was restarted");
  });

  test("failure switch renew-partial: kubeadm writes the first certificate of its command, then fails", async () => {
    const lab = labs.get("new-1")!;
    const names = ["apiserver", "apiserver-kubelet-client", "front-proxy-client"];
    const fingerprints = () => names.map((n) => onDisk(lab, n).fingerprint256);
    const [apiserver, client, proxy] = fingerprints();
    lab.cp.fail("renew-partial");
    try {
      const all = await lab.cp.sh("kubeadm certs renew all");
      assert.equal(all.code, 1);
      assert.match(all.stderr, /injected failure after writing apiserver \(lab\/fail\/renew-partial\)/);
      const [apiserverNow, clientNow, proxyNow] = fingerprints();
      assert.notEqual(apiserverNow, apiserver, "the first one was renewed");
      assert.deepEqual([clientNow, proxyNow], [client, proxy], "the others were not");
      const one = await lab.cp.sh("kubeadm certs renew front-proxy-client");
      assert.equal(one.code, 1);
      assert.notEqual(fingerprints()[2], proxy, "written, then failed");
    } finally {
      lab.cp.fail("renew-partial", false);
    }
  });
});
