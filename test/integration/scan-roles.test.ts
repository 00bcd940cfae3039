// Etcd-only and worker nodes scanned over real sshd: a kubespray etcd node's certificates in its
// /etc/ssl/etcd/ssl-like directory (with the other hosts' files beside them, as on the first etcd
// node), kubeadm workers' kubelet files, no apiserver probe on either, the warnings they get, and
// the renewal plan that leaves them out. Nothing is mocked: ssh2 talks to OpenSSH, the script runs
// in a real /bin/sh, the CLI runs as a child process.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config/load.js";
import type { NodeReport, ScanReport } from "../../src/core/report/types.js";
import { emptyAlertState } from "../../src/core/alerts/state.js";
import { defaultDependencies, scanClusters } from "../../src/adapters/nodes/scan.js";
import { planAlerts } from "../../src/present/warnings.js";
import { blockTexts } from "../../src/present/slack-types.js";
import { recordOutputs } from "../lab/recording.js";
import { freePort, labAddress } from "../lab/ports.js";
import { ensureLabUsers, startSshd, writeKnownHosts, type LabSshd, type LabUsers } from "../lab/sshd.js";
import { newClusterPki, writeLabNode, type LabNode, type LabNodeSpec } from "../lab/tree.js";

const isRoot = process.getuid?.() === 0;
const DAY = 86_400_000;
const now = new Date();
const window = (from: number, to: number) => ({
  notBefore: new Date(now.getTime() + from * DAY),
  notAfter: new Date(now.getTime() + to * DAY),
});
const PLAYBOOK = "`ansible-playbook -i INVENTORY -b cluster.yml --tags=etcd`";
const REBOOTSTRAP =
  "`kubeadm kubeconfig user --org system:nodes --client-name system:node:NODE > kubelet.conf`";

interface Def {
  cluster: string;
  name: string;
  address: number;
  role: "control-plane" | "etcd" | "worker";
  spec?: Partial<LabNodeSpec>;
}

const DEFS: Def[] = [
  // The first etcd node: it issued every host's files, so the others' are beside its own.
  {
    cluster: "mixed",
    name: "cp-1",
    address: 41,
    role: "control-plane",
    spec: { externalEtcd: true },
  },
  {
    cluster: "mixed",
    name: "etcd-1",
    address: 42,
    role: "etcd",
    spec: {
      layout: "kubespray-etcd",
      kubesprayPeers: ["etcd-2", "etcd-3", "cp-1"],
      dates: { "kubespray-etcd-member": window(-345, 20) },
    },
  },
  {
    cluster: "mixed",
    name: "w-old",
    address: 43,
    role: "worker",
    // Left a year: its kubelet client certificate expired before it could rotate.
    spec: { layout: "worker", dates: { "kubelet-client": window(-400, -35) } },
  },
  {
    cluster: "edge",
    name: "etcd-2",
    address: 44,
    role: "etcd",
    spec: {
      layout: "kubespray-etcd",
      kubesprayNodeCert: true,
      foreignCa: ["kubespray-etcd-admin"],
    },
  },
  {
    cluster: "edge",
    name: "w-tls",
    address: 45,
    role: "worker",
    spec: { layout: "worker", serverTLSBootstrap: true },
  },
];

let root: string;
let users: LabUsers;
let configPath: string;
let config: Config;
let report: ScanReport;
let apiserverPort: number;
const trees = new Map<string, LabNode>();
const sshds: LabSshd[] = [];
/** Listeners on the etcd and worker nodes' apiserver port: a probe would connect to them. */
const traps: Server[] = [];
let probes = 0;
const sent: string[] = [];

const nodeReport = (name: string): NodeReport => {
  const found = report.clusters.flatMap((c) => c.nodes).find((n) => n.name === name);
  assert.ok(found, `no report for ${name}`);
  return found;
};
const names = (name: string) => nodeReport(name).certificates.map((c) => c.name);
const sha256 = (der: Buffer) => createHash("sha256").update(der).digest("hex");

function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

describe("etcd-only and worker nodes over SSH", { skip: !isRoot && "needs root (lab users, sshd)" }, () => {
  before(async () => {
    root = mkdtempSync(join(tmpdir(), "certs-bot-roles-"));
    chmodSync(root, 0o755);
    users = await ensureLabUsers(join(root, "users"));
    const pki = await newClusterPki({ now });
    apiserverPort = await freePort(labAddress(42));
    const knownHosts: string[] = [];
    const clusters = new Map<string, string[]>();
    for (const def of DEFS) {
      const address = labAddress(def.address);
      const nodeRoot = join(root, def.name);
      mkdirSync(nodeRoot, { recursive: true });
      const tree = await writeLabNode({
        root: nodeRoot,
        nodeName: def.name,
        address,
        pki,
        now,
        owner: { uid: users.plainUid, gid: users.plainGid },
        ...def.spec,
      });
      trees.set(def.name, tree);
      const port = await freePort(address);
      const sshd = await startSshd({
        dir: join(root, "sshd", def.name),
        address,
        port,
        users,
        pathPrepend: tree.binDir,
      });
      sshds.push(sshd);
      knownHosts.push(sshd.knownHostsLine());
      if (def.role !== "control-plane") {
        const trap = createServer((socket) => {
          probes++;
          socket.destroy();
        });
        await new Promise<void>((resolve, reject) => {
          trap.once("error", reject);
          trap.listen(apiserverPort, address, resolve);
        });
        traps.push(trap);
      }
      const yaml = [
        `      - host: ${address}`,
        `        name: ${def.name}`,
        `        port: ${port}`,
        def.role === "control-plane" ? "        apiserver: { probe: false }" : `        role: ${def.role}`,
        `        paths: { kubernetesDir: "${tree.kubernetesDir}", kubeletPkiDir: "${tree.kubeletPkiDir}"` +
          (def.role === "etcd" ? `, etcdPkiDir: "${tree.etcdPkiDir}" }` : " }"),
      ];
      clusters.set(def.cluster, [...(clusters.get(def.cluster) ?? []), ...yaml]);
    }
    writeKnownHosts(join(root, "known_hosts"), knownHosts);
    configPath = join(root, "clusters.yaml");
    writeFileSync(
      configPath,
      [
        "timezone: UTC",
        // Probed by default, on a port something listens on at every etcd and worker node.
        `apiserver: { probe: true, port: ${apiserverPort} }`,
        `renewal: { backupDir: "${join(root, "backups")}" }`,
        "ssh:",
        `  user: ${users.plain}`,
        `  privateKeyPath: ${users.clientKeyPath}`,
        `  knownHostsPath: ${join(root, "known_hosts")}`,
        "  connectTimeoutMs: 3000",
        "clusters:",
        ...[...clusters].flatMap(([name, nodes]) => [`  - name: ${name}`, "    nodes:", ...nodes]),
        "",
      ].join("\n"),
    );
    config = loadConfig(configPath);
    const deps = recordOutputs(defaultDependencies(), (_node, result) =>
      sent.push(result.stdout, result.stderr),
    );
    report = await scanClusters(config, config.clusters, deps);
  });

  after(async () => {
    await Promise.all(sshds.map((s) => s.stop()));
    await Promise.all(traps.map((t) => new Promise((resolve) => t.close(resolve))));
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test("a kubespray etcd node reads exactly its own etcd certificates, judged against its CA", () => {
    const node = nodeReport("etcd-1");
    assert.equal(node.reachable, true, node.error);
    assert.equal(node.role, "etcd");
    const dir = trees.get("etcd-1")!.etcdPkiDir;
    assert.deepEqual(
      node.certificates.map((c) => [c.name, c.path, c.status]),
      [
        ["kubespray-etcd-ca", join(dir, "ca.pem"), "ok"],
        ["kubespray-etcd-member", join(dir, "member-etcd-1.pem"), "warning"],
        ["kubespray-etcd-admin", join(dir, "admin-etcd-1.pem"), "ok"],
      ],
      "not etcd-2's, etcd-3's or cp-1's files beside them, and no node-etcd-1.pem (not a Kubernetes node)",
    );
    const lab = trees.get("etcd-1")!;
    for (const c of node.certificates) {
      assert.equal(c.sha256, sha256(lab.certs[c.name as keyof typeof lab.certs]!.der), c.name);
    }
    assert.equal(node.certificates[1]!.subject, "CN=etcd-member-etcd-1");
    assert.equal(node.certificates[1]!.issuer, "CN=etcd-ca");
    assert.deepEqual(node.findings, [], "every leaf is signed by its CA");
    assert.equal(node.status, "warning");
    assert.equal(node.kubeadmVersion, undefined, "no kubeadm asked");
    assert.equal(node.apiserver, undefined);
  });

  test("an etcd node's node-<host>.pem is read when present, and a leaf from another CA is a finding", () => {
    const node = nodeReport("etcd-2");
    assert.deepEqual(names("etcd-2"), [
      "kubespray-etcd-ca",
      "kubespray-etcd-member",
      "kubespray-etcd-admin",
      "kubespray-etcd-node",
    ]);
    const [finding, ...rest] = node.findings;
    assert.deepEqual(rest, []);
    assert.deepEqual([finding?.code, finding?.certificate], ["not-signed-by-ca", "kubespray-etcd-admin"]);
    assert.ok(finding!.advice.includes(PLAYBOOK), finding!.advice);
  });

  test("a worker reads its kubelet certificates and kubelet.conf only, and is never probed", () => {
    const old = nodeReport("w-old");
    assert.equal(old.role, "worker");
    assert.equal(old.kubeadmVersion, "v1.30.4");
    assert.deepEqual(
      old.certificates.map((c) => [c.name, c.status]),
      [
        ["kubelet-client", "expired"],
        ["kubelet-serving", "ok"],
      ],
      "kubelet.conf points at kubelet-client-current.pem: reported once, as kubelet-client",
    );
    assert.equal(
      old.certificates[0]!.path,
      join(trees.get("w-old")!.kubeletPkiDir, "kubelet-client-current.pem"),
    );
    assert.equal(old.certificates[0]!.subject, "O=system:nodes, CN=system:node:w-old");
    assert.equal(old.status, "expired");
    assert.deepEqual(names("w-tls"), ["kubelet-client", "kubelet-serving", "kubelet-server"]);
    assert.equal(nodeReport("w-tls").certificates[1]!.status, "superseded");
    for (const name of ["etcd-1", "etcd-2", "w-old", "w-tls"])
      assert.equal(nodeReport(name).apiserver, undefined);
    assert.equal(probes, 0, "nothing connected to the apiserver port of an etcd or worker node");
  });

  test("an expired worker kubelet client certificate: the warning says to bootstrap the kubelet again", () => {
    const cluster = report.clusters.find((c) => c.name === "mixed")!;
    const { actions } = planAlerts({
      cluster: "mixed",
      channel: "C0MIXED",
      report: cluster,
      state: emptyAlertState(),
      scannedAt: report.scannedAt,
      timeZone: "UTC",
      maxSnoozeDays: 14,
    });
    const warn = actions.find((a) => a.kind === "warn");
    assert.ok(warn && "message" in warn, JSON.stringify(actions.map((a) => a.kind)));
    const text = blockTexts(warn.message.blocks).join("\n");
    assert.ok(text.includes("`w-old/kubelet-client`") || text.includes("`kubelet-client`"), text);
    assert.ok(
      text.includes(
        "The kubelet on `w-old` cannot rotate its expired client certificate any more: bootstrap it again",
      ),
      text,
    );
    assert.ok(text.includes(REBOOTSTRAP), text);
    assert.ok(text.includes(PLAYBOOK), "etcd-1's member certificate: kubespray's way");
    assert.doesNotMatch(
      JSON.stringify(warn.message.blocks),
      /Request renewal/,
      "nothing here a renewal could fix",
    );
  });

  test("no private-key bytes leave an etcd or worker node", () => {
    const everything = sent.join("\n");
    assert.ok(everything.includes("BEGIN CERTIFICATE"));
    let checked = 0;
    for (const name of ["etcd-1", "etcd-2", "w-old", "w-tls"]) {
      for (const keyPem of trees.get(name)!.privateKeysPem) {
        for (const line of keyPem.split("\n").filter((l) => l.length >= 24 && !l.startsWith("-----"))) {
          assert.ok(!everything.includes(line), `a private key line of ${name} was sent`);
          checked++;
        }
      }
    }
    assert.ok(checked > 20, `checked ${checked} key lines`);
    assert.doesNotMatch(everything, /PRIVATE KEY/);
  });

  test("CLI --json carries each node's role", async () => {
    const run = await cli("scan", "--config", configPath, "--cluster", "mixed", "--json");
    assert.equal(run.code, 2, run.stderr);
    const doc = JSON.parse(run.stdout) as { clusters: { nodes: { name: string; role: string }[] }[] };
    assert.deepEqual(
      doc.clusters[0]!.nodes.map((n) => [n.name, n.role]),
      [
        ["cp-1", "control-plane"],
        ["etcd-1", "etcd"],
        ["w-old", "worker"],
      ],
    );
    const table = await cli("scan", "--config", configPath, "--cluster", "mixed");
    assert.match(
      table.stdout,
      /node w-old \(127\.0\.0\.43:\d+\) — EXPIRED · worker node · kubeadm v1\.30\.4\n/,
    );
    assert.match(table.stdout, /node etcd-1 \(127\.0\.0\.42:\d+\) — WARNING · etcd node\n/);
  });

  test("renew --dry-run: the plan renews the control-plane node and leaves the others out with the repair", async () => {
    const run = await cli("renew", "--config", configPath, "--cluster", "mixed", "--dry-run");
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^renews: every certificate kubeadm manages, on 1 node, one at a time$/m);
    assert.match(run.stdout, /^node 1\/1: cp-1 \(127\.0\.0\.41\) — kubeadm v1\.30\.4/m);
    assert.doesNotMatch(run.stdout, /^node \d\/\d: (etcd-1|w-old)/m);
    assert.match(
      run.stdout,
      /^left out, 1 etcd node \(etcd-1 \(127\.0\.0\.42\)\): each is an etcd-only node of kubespray's external etcd: kubespray issues its certificates, not kubeadm\.$/m,
    );
    assert.match(
      run.stdout,
      /^left out, 1 worker node \(w-old \(127\.0\.0\.43\)\): each is a worker node: kubeadm renews certificates on control-plane nodes only, and a worker's kubelet rotates its own\.$/m,
    );
    assert.match(
      run.stdout,
      /^ {2}w-old: not renewed \(expired\): kubelet-client: the kubelet rotates its own client certificate; kubeadm does not renew it\.\n {4}→ If it has expired: on a working control-plane node run `kubeadm kubeconfig user --org system:nodes --client-name system:node:NODE > kubelet\.conf`/m,
    );
    assert.ok(run.stdout.includes(PLAYBOOK));
  });

  test("renew --dry-run on a cluster of etcd and worker nodes only: refused with the reason, exit 2", async () => {
    const run = await cli("renew", "--config", configPath, "--cluster", "edge", "--dry-run");
    assert.equal(run.code, 2, run.stdout + run.stderr);
    const lines = run.stdout.trimEnd().split("\n");
    assert.deepEqual(lines.slice(0, 2), [
      "certs-bot cannot renew cluster edge:",
      "  - cluster edge has no control-plane node: certs-bot renews kubeadm's certificates on control-plane nodes only.",
    ]);
    assert.match(
      lines[2]!,
      /^ {2}- node etcd-2 is an etcd-only node of kubespray's external etcd: .*--tags=etcd/,
    );
    assert.match(lines[3]!, /^ {2}- node w-tls is a worker node: .*system:node:NODE > kubelet\.conf/);
    assert.doesNotMatch(run.stdout, /\$ kubeadm/);
  });
});
