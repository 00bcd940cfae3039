// The scanner against real sshd processes on loopback, each hosting a kubeadm-like tree with real
// certificates at chosen dates. Nothing is mocked: ssh2 talks to OpenSSH, the script runs in a
// real /bin/sh (through real sudo where configured), the CLI runs as a child process.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config/load.js";
import { CATALOGUE } from "../../src/core/kubeadm/catalogue.js";
import type { NodeReport, ScanReport } from "../../src/core/report/types.js";
import { defaultDependencies, scanClusters, selectClusters } from "../../src/adapters/nodes/scan.js";
import type { CertificateExpirationInfo, KubeadmCertificate } from "../../src/present/kubeadm-json.js";
import { startApiserver, type LabApiserver } from "../lab/apiserver.js";
import { issueCert } from "../lab/pki.js";
import { parseExposition } from "../lab/exposition.js";
import { recordOutputs } from "../lab/recording.js";
import { freePort, labAddress } from "../lab/ports.js";
import { ensureLabUsers, startSshd, writeKnownHosts, type LabSshd, type LabUsers } from "../lab/sshd.js";
import { newClusterPki, writeLabNode, type LabNode, type LabNodeSpec } from "../lab/tree.js";

const isRoot = process.getuid?.() === 0;
const DAY = 86_400_000;
const now = new Date();
const days = (n: number) => new Date(now.getTime() + n * DAY);
const window = (from: number, to: number) => ({ notBefore: days(from), notAfter: days(to) });

interface LabNodeDef {
  cluster: string;
  name: string;
  address: number;
  spec?: Partial<LabNodeSpec>;
  /** Who owns the tree: the plain ssh user (default) or root. */
  ownedByRoot?: boolean;
  user?: "plain" | "sudo";
  /** Path segment under the lab root, e.g. with a space. */
  dir?: string;
  hashedKnownHost?: boolean;
  knownHost?: "ok" | "wrong" | "absent";
  noSshd?: boolean;
  slowKubeadm?: boolean;
  /** A stand-in apiserver serving the current or an older certificate, or a probed port nobody listens on. */
  apiserver?: "renewed-not-restarted" | "current" | "closed";
}

const NODES: LabNodeDef[] = [
  { cluster: "healthy", name: "healthy-1", address: 21, hashedKnownHost: true, apiserver: "current" },
  {
    cluster: "warn",
    name: "warn-1",
    address: 22,
    apiserver: "closed",
    spec: { dates: { "front-proxy-client": window(-345, 20) } },
  },
  {
    cluster: "statuses",
    name: "statuses-1",
    address: 23,
    apiserver: "renewed-not-restarted",
    spec: {
      dates: {
        "apiserver-kubelet-client": window(-366, -1),
        "admin.conf": window(-360, 3),
        "front-proxy-client": window(-345, 20),
        "etcd-peer": window(2, 367),
      },
    },
  },
  {
    cluster: "oddities",
    name: "oddities-1",
    address: 24,
    spec: {
      keyAlg: "rsa",
      kubeletServingCa: true,
      crlf: ["apiserver", "controller-manager.conf"],
      der: ["front-proxy-ca", "etcd-server"],
      bundle: ["apiserver-kubelet-client"],
      empty: ["etcd-healthcheck-client"],
      garbage: ["front-proxy-client"],
      unreadable: ["admin.conf"],
      missing: ["scheduler.conf"],
      foreignCa: ["apiserver-etcd-client"],
    },
  },
  {
    cluster: "legacy",
    name: "legacy-1",
    address: 25,
    spec: { kubeadmVersion: "v1.16.15", externalEtcd: true, superAdmin: false, embeddedKubeletConf: true },
  },
  { cluster: "sudo", name: "sudo-1", address: 26, ownedByRoot: true, user: "sudo" },
  { cluster: "sudo", name: "nosudo-1", address: 27, ownedByRoot: true },
  { cluster: "space", name: "space-1", address: 28, dir: "with space/node" },
  { cluster: "broken", name: "down-1", address: 29, noSshd: true },
  { cluster: "broken", name: "mitm-1", address: 30, knownHost: "wrong" },
  { cluster: "broken", name: "stranger-1", address: 31, knownHost: "absent" },
  { cluster: "broken", name: "slow-1", address: 32, slowKubeadm: true },
  // A control-plane node that joined: kubeadm init alone writes super-admin.conf.
  { cluster: "joined", name: "joined-1", address: 33, spec: { superAdmin: false } },
  // serverTLSBootstrap: the kubelet serves a rotated, cluster-signed certificate; kubelet.crt is stale.
  {
    cluster: "bootstrap",
    name: "tls-1",
    address: 34,
    spec: { serverTLSBootstrap: true, dates: { "kubelet-serving": window(-400, -35) } },
  },
];

interface Running {
  def: LabNodeDef;
  node: LabNode;
  sshd?: LabSshd;
  port: number;
  apiserverPort: number;
}

let root: string;
let users: LabUsers;
let configPath: string;
let config: Config;
const running = new Map<string, Running>();
const apiservers: LabApiserver[] = [];
let report: ScanReport;
/** Everything any node printed to certs-bot, for the private-key check. */
const sent: string[] = [];

function yamlConfig(): string {
  const clusters = [...new Set(NODES.map((n) => n.cluster))].map((cluster) => {
    const nodes = [...running.values()]
      .filter((r) => r.def.cluster === cluster)
      .map((r) => {
        const user = r.def.user === "sudo" ? users.sudo : users.plain;
        return [
          `      - host: ${labAddress(r.def.address)}`,
          `        name: ${r.def.name}`,
          `        port: ${r.port}`,
          `        ssh: { user: ${user}, become: ${r.def.user === "sudo" ? "sudo" : "none"}${r.def.slowKubeadm ? ", commandTimeoutMs: 1500" : ""} }`,
          `        paths: { kubernetesDir: "${r.node.kubernetesDir}", kubeletPkiDir: "${r.node.kubeletPkiDir}" }`,
          `        apiserver: { port: ${r.apiserverPort}, probe: ${r.def.apiserver !== undefined} }`,
        ].join("\n");
      });
    return [`  - name: ${cluster}`, "    nodes:", ...nodes].join("\n");
  });
  return [
    "timezone: Europe/Berlin",
    "thresholds: { warningDays: 30, criticalDays: 7 }",
    "ssh:",
    `  privateKeyPath: ${users.clientKeyPath}`,
    `  knownHostsPath: ${join(root, "known_hosts")}`,
    "  connectTimeoutMs: 3000",
    "clusters:",
    ...clusters,
    "",
  ].join("\n");
}

const nodeReport = (name: string): NodeReport => {
  for (const cluster of report.clusters) {
    const found = cluster.nodes.find((n) => n.name === name);
    if (found) return found;
  }
  assert.fail(`no report for node ${name}`);
};
const cert = (node: string, name: string) => {
  const found = nodeReport(node).certificates.find((c) => c.name === name);
  assert.ok(found, `${node} reports ${name}`);
  return found;
};
const sha256 = (der: Buffer) => createHash("sha256").update(der).digest("hex");

/** The real CLI as a child process; asynchronous, so the lab's in-process apiservers keep answering. */
function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return cliWithEnv(process.env, ...args);
}

function cliWithEnv(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { env }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

describe("scanning real nodes over SSH", { skip: !isRoot && "needs root (lab users, sshd, sudo)" }, () => {
  before(async () => {
    root = mkdtempSync(join(tmpdir(), "certs-bot-scan-"));
    chmodSync(root, 0o755); // the lab users must traverse it
    users = await ensureLabUsers(join(root, "users"));
    const pki = await newClusterPki({ now });
    const knownHosts: string[] = [];
    // allSettled: on a failure, every node still ends up in `running`, so after() can stop it.
    const settled = await Promise.allSettled(
      NODES.map(async (def) => {
        const address = labAddress(def.address);
        const nodeRoot = join(root, def.dir ?? def.name);
        mkdirSync(nodeRoot, { recursive: true });
        chmodSync(join(root, (def.dir ?? def.name).split("/")[0]!), 0o755);
        const apiserverPort = await freePort(address);
        const node = await writeLabNode({
          root: nodeRoot,
          nodeName: def.name,
          address,
          pki,
          now,
          apiserverPort,
          ...(def.ownedByRoot ? {} : { owner: { uid: users.plainUid, gid: users.plainGid } }),
          ...def.spec,
        });
        if (def.slowKubeadm) {
          writeFileSync(join(node.binDir, "kubeadm"), "#!/bin/sh\nsleep 30\n", { mode: 0o755 });
        }
        let sshd: LabSshd | undefined;
        const port = await freePort(address);
        if (def.noSshd) {
          // Known, but down: refused at TCP connect, before any key is exchanged.
          knownHosts.push(`[${address}]:${port} ssh-ed25519 ${Buffer.alloc(51).toString("base64")}`);
        } else {
          sshd = await startSshd({
            dir: join(root, "sshd", def.name),
            address,
            port,
            users,
            pathPrepend: node.binDir,
          });
          if (def.knownHost === "wrong") {
            // Another server's key under this node's name: what a man in the middle looks like.
            const impostor = await startSshd({
              dir: join(root, "sshd", `${def.name}-impostor`),
              address,
              port: await freePort(address),
              users,
            });
            knownHosts.push(`[${address}]:${port} ${impostor.hostPublicKey}`);
            await impostor.stop();
          } else if (def.knownHost !== "absent") {
            knownHosts.push(sshd.knownHostsLine(def.hashedKnownHost));
          }
        }
        if (def.apiserver && def.apiserver !== "closed") {
          const served =
            def.apiserver === "current"
              ? node.apiserver!
              : await issueCert({
                  subject: "CN=kube-apiserver",
                  key: node.apiserver!.key,
                  issuer: pki.ca,
                  ...window(-364, 1),
                  sans: { ip: [address] },
                  usage: "server",
                });
          apiservers.push(
            await startApiserver({
              address,
              port: apiserverPort,
              certPem: served.pem,
              keyPem: served.key.privateKeyPem,
            }),
          );
        }
        running.set(def.name, { def, node, port, apiserverPort, ...(sshd ? { sshd } : {}) });
      }),
    );
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
    writeKnownHosts(join(root, "known_hosts"), knownHosts);
    configPath = join(root, "clusters.yaml");
    writeFileSync(configPath, yamlConfig());
    config = loadConfig(configPath);

    const deps = recordOutputs(defaultDependencies(), (_node, result) =>
      sent.push(result.stdout, result.stderr),
    );
    report = await scanClusters(config, config.clusters, deps);
  });

  after(async () => {
    await Promise.all([...running.values()].map((r) => r.sshd?.stop()));
    await Promise.all(apiservers.map((a) => a.stop()));
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test("a healthy node: every catalogue entry read, byte for byte", () => {
    const healthy = nodeReport("healthy-1");
    assert.equal(healthy.status, "ok");
    assert.equal(healthy.reachable, true);
    assert.equal(healthy.kubeadmVersion, "v1.30.4");
    assert.deepEqual(healthy.findings, []);
    // kubelet.conf points at kubelet-client; kubelet-server exists only with serverTLSBootstrap.
    const expected = CATALOGUE.map((e) => e.name).filter(
      (n) => n !== "kubelet.conf" && n !== "kubelet-server",
    );
    assert.deepEqual(
      healthy.certificates.map((c) => c.name),
      expected,
    );
    const lab = running.get("healthy-1")!.node;
    for (const c of healthy.certificates) {
      assert.equal(c.status, "ok", c.name);
      const written = lab.certs[c.name as keyof typeof lab.certs];
      assert.ok(written, `the lab wrote ${c.name}`);
      assert.equal(c.sha256, sha256(written.der), `${c.name} is the certificate on disk`);
    }
    assert.equal(
      cert("healthy-1", "kubelet-client").path,
      join(lab.kubeletPkiDir, "kubelet-client-current.pem"),
    );
    assert.equal(
      healthy.apiserver?.sha256,
      sha256(lab.apiserver!.der),
      "the probe saw the served certificate",
    );
  });

  test("every status, and the worst one wins", () => {
    assert.equal(cert("statuses-1", "apiserver-kubelet-client").status, "expired");
    assert.equal(cert("statuses-1", "apiserver-kubelet-client").daysLeft, -1);
    assert.equal(cert("statuses-1", "admin.conf").status, "critical");
    assert.equal(cert("statuses-1", "front-proxy-client").status, "warning");
    assert.equal(cert("statuses-1", "etcd-peer").status, "not-yet-valid");
    assert.equal(cert("statuses-1", "apiserver").status, "ok");
    assert.equal(nodeReport("statuses-1").status, "expired");
    assert.equal(report.clusters.find((c) => c.name === "statuses")!.status, "expired");
    assert.equal(report.clusters.find((c) => c.name === "warn")!.status, "warning");
  });

  test("drift: a renewed apiserver.crt while the apiserver still serves the old one", () => {
    const node = nodeReport("statuses-1");
    const drift = node.findings.find((f) => f.code === "apiserver-drift");
    assert.ok(drift, JSON.stringify(node.findings));
    assert.equal(drift.severity, "critical");
    assert.equal(node.apiserver?.status, "critical");
    assert.notEqual(node.apiserver?.sha256, cert("statuses-1", "apiserver").sha256);
  });

  test("oddities: CRLF, DER, bundles, empty, garbage, unreadable, missing, foreign CA, RSA", () => {
    const lab = running.get("oddities-1")!.node;
    for (const name of ["apiserver", "controller-manager.conf", "front-proxy-ca", "etcd-server"] as const) {
      assert.equal(cert("oddities-1", name).status, "ok", name);
      assert.equal(cert("oddities-1", name).sha256, sha256(lab.certs[name]!.der), name);
    }
    assert.equal(cert("oddities-1", "apiserver").keyAlgorithm, "RSA-2048");
    const bundled = cert("oddities-1", "apiserver-kubelet-client");
    assert.equal(
      bundled.sha256,
      sha256(lab.certs["apiserver-kubelet-client"]!.der),
      "the leaf, not the CA after it",
    );
    assert.equal(bundled.isCA, false);
    assert.equal(
      cert("oddities-1", "kubelet-serving").status,
      "ok",
      "kubelet.crt followed by its throwaway CA",
    );
    assert.deepEqual(
      [
        cert("oddities-1", "etcd-healthcheck-client").status,
        cert("oddities-1", "etcd-healthcheck-client").error,
      ],
      ["unreadable", "empty file"],
    );
    assert.equal(cert("oddities-1", "front-proxy-client").status, "unreadable");
    assert.equal(cert("oddities-1", "front-proxy-client").error, "not PEM and not a DER certificate");
    assert.deepEqual(
      [cert("oddities-1", "admin.conf").status, cert("oddities-1", "admin.conf").error],
      ["unreadable", "Permission denied"],
    );
    assert.equal(cert("oddities-1", "scheduler.conf").status, "missing");
    const foreign = nodeReport("oddities-1").findings.filter((f) => f.code === "not-signed-by-ca");
    assert.deepEqual(
      foreign.map((f) => f.certificate),
      ["apiserver-etcd-client"],
    );
    assert.equal(nodeReport("oddities-1").status, "unreadable");
  });

  test("legacy layout: external etcd, no super-admin.conf, embedded kubelet.conf", () => {
    const node = nodeReport("legacy-1");
    assert.equal(node.kubeadmVersion, "v1.16.15");
    assert.equal(node.status, "ok", "nothing reported missing that should not be there");
    const names = node.certificates.map((c) => c.name);
    for (const absent of [
      "etcd-ca",
      "etcd-server",
      "apiserver-etcd-client",
      "super-admin.conf",
      "kubelet-client",
    ]) {
      assert.ok(!names.includes(absent), absent);
    }
    assert.equal(cert("legacy-1", "kubelet.conf").status, "ok");
    assert.deepEqual(
      node.findings.map((f) => f.code),
      ["kubelet-conf-embedded"],
    );
  });

  test("serverTLSBootstrap: kubelet-server-current.pem read through its symlink; the stale kubelet.crt superseded", () => {
    const node = nodeReport("tls-1");
    const server = cert("tls-1", "kubelet-server");
    assert.equal(server.status, "ok");
    assert.match(server.path, /kubelet-server-current\.pem$/);
    assert.equal(server.issuer, "CN=kubernetes", "signed by the cluster CA");
    assert.equal(server.subject, "O=system:nodes, CN=system:node:tls-1");
    const stale = cert("tls-1", "kubelet-serving");
    assert.equal(stale.status, "superseded", "expired 35 days ago, but no longer used");
    assert.equal(stale.daysLeft, -35);
    assert.equal(node.status, "ok", "nothing to warn about");
  });

  test("become: sudo reads root-only files as a non-root user; without it they are unreadable", () => {
    const sudo = nodeReport("sudo-1");
    assert.equal(sudo.status, "ok", JSON.stringify(sudo.certificates.filter((c) => c.status !== "ok")));
    assert.equal(cert("sudo-1", "admin.conf").status, "ok");
    const plain = nodeReport("nosudo-1");
    assert.equal(cert("nosudo-1", "admin.conf").status, "unreadable");
    assert.equal(cert("nosudo-1", "admin.conf").error, "Permission denied");
    assert.equal(cert("nosudo-1", "ca").status, "ok", "world-readable certificates are still read");
    assert.equal(plain.status, "unreadable");
  });

  test("a kubernetesDir with a space in it", () => {
    assert.equal(nodeReport("space-1").status, "ok");
    assert.match(cert("space-1", "apiserver").path, /with space\/node/);
  });

  test("unreachable, impostor, unknown and hung nodes fail alone and say why", () => {
    const down = nodeReport("down-1");
    assert.equal(down.status, "unreachable");
    assert.match(down.error!, /connection refused/);
    assert.match(nodeReport("mitm-1").error!, /HOST KEY MISMATCH .* presented SHA256:/);
    assert.match(
      nodeReport("stranger-1").error!,
      /no host key for \[127\.0\.0\.31\]:\d+ .*\(no trust on first use\)/,
    );
    assert.match(nodeReport("slow-1").error!, /did not finish within/);
    for (const name of ["mitm-1", "stranger-1", "slow-1"]) {
      assert.equal(nodeReport(name).reachable, false, name);
      assert.deepEqual(nodeReport(name).certificates, [], name);
    }
  });

  test("no private-key bytes ever leave a node", () => {
    const everything = sent.join("\n");
    assert.ok(everything.includes("BEGIN CERTIFICATE"), "the capture saw the certificates");
    let checked = 0;
    for (const { node } of running.values()) {
      for (const keyPem of node.privateKeysPem) {
        const body = keyPem.split("\n").filter((l) => l && !l.startsWith("-----"));
        for (const line of body.filter((l) => l.length >= 24)) {
          assert.ok(!everything.includes(line), `a private key line of ${node.root} was sent`);
          checked++;
        }
        const base64Whole = Buffer.from(keyPem).toString("base64").slice(0, 40);
        assert.ok(!everything.includes(base64Whole), "a kubeconfig-encoded key was sent");
      }
    }
    assert.ok(checked > 100, `checked ${checked} key lines`);
    assert.doesNotMatch(everything, /PRIVATE KEY/);
  });

  test("CLI: JSON contract and exit codes", async () => {
    const json = await cli("scan", "--config", configPath, "--cluster", "statuses", "--json");
    assert.equal(json.code, 2, json.stderr);
    const doc = JSON.parse(json.stdout);
    assert.deepEqual(Object.keys(doc), ["scannedAt", "clusters"]);
    assert.match(doc.scannedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const [cluster] = doc.clusters;
    assert.deepEqual(Object.keys(cluster), ["name", "status", "nodes"]);
    const [node] = cluster.nodes;
    for (const key of [
      "name",
      "host",
      "port",
      "status",
      "reachable",
      "kubeadmVersion",
      "certificates",
      "findings",
    ]) {
      assert.ok(key in node, key);
    }
    const c = node.certificates.find((x: { name: string }) => x.name === "apiserver-kubelet-client");
    for (const key of [
      "name",
      "path",
      "kind",
      "status",
      "subject",
      "issuer",
      "serialNumber",
      "notBefore",
      "notAfter",
      "daysLeft",
      "isCA",
      "sans",
      "keyAlgorithm",
      "sha256",
    ]) {
      assert.ok(key in c, key);
    }
    assert.equal(c.status, "expired");
    assert.match(c.notAfter, /Z$/);

    assert.equal((await cli("scan", "--config", configPath, "--cluster", "healthy", "--json")).code, 0);
    assert.equal((await cli("scan", "--config", configPath, "--cluster", "warn")).code, 1);
    const broken = await cli("scan", "--config", configPath, "--cluster", "broken", "space");
    assert.equal(broken.code, 3);
    assert.match(broken.stdout, /cluster broken — UNREACHABLE/);
    assert.match(broken.stdout, /cluster space — OK/);
    assert.equal(broken.stderr.includes("    at "), false, "no stack trace");
  });

  test("CLI: the table reads like kubeadm certs check-expiration", async () => {
    const table = await cli("scan", "--config", configPath, "--cluster", "statuses");
    assert.match(table.stdout, /node statuses-1 \(127\.0\.0\.23:\d+\) — EXPIRED · kubeadm v1\.30\.4/);
    assert.match(
      table.stdout,
      /apiserver-kubelet-client\s+\d{4}-\d\d-\d\d \d\d:\d\d CES?T\s+expired 1d ago\s+ca\s+EXPIRED/,
    );
    assert.match(table.stdout, /! CRITICAL apiserver: The apiserver serves a different certificate/);
  });

  test("CLI --output kubeadm-json: a joined 1.30 node reads as kubeadm's saved output, with the lab's dates", async () => {
    const saved = readFileSync("test/fixtures/kubeadm-check-expiration.json", "utf8");
    const started = Date.now();
    const run = await cli("scan", "--config", configPath, "--cluster", "joined", "--output", "kubeadm-json");
    const finished = Date.now();
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    const printed = JSON.parse(run.stdout) as CertificateExpirationInfo;
    const lab = running.get("joined-1")!.node;
    // The saved document with this lab's dates: each certificate's notAfter as written, and the
    // residual time from a scan made while the CLI ran.
    const expected = JSON.parse(saved) as CertificateExpirationInfo;
    const dated = (entry: KubeadmCertificate, shown: KubeadmCertificate | undefined) => {
      if (entry.expirationDate === null) return;
      const notAfter = lab.certs[entry.name as keyof typeof lab.certs]!.notAfter.getTime();
      entry.expirationDate = new Date(notAfter).toISOString().replace(".000Z", "Z");
      const residual = shown?.residualTime ?? NaN;
      const [least, most] = [finished, started].map((t) => Math.trunc((notAfter - t) / 1000));
      assert.ok(residual >= least! && residual <= most!, `${entry.name}: ${residual} in [${least}, ${most}]`);
      entry.residualTime = residual;
    };
    expected.certificates.forEach((entry, i) => dated(entry, printed.certificates[i]));
    expected.certificateAuthorities.forEach((entry, i) => dated(entry, printed.certificateAuthorities[i]));
    assert.deepEqual(printed, expected);
    assert.equal(run.stdout, `${JSON.stringify(expected, null, 4)}\n`, "field order and layout too");
  });

  test("CLI --output kubeadm-json of several nodes: a List by cluster and node, each as its kubeadm lists it", async () => {
    const clusters = ["joined", "legacy", "statuses", "broken"];
    const run = await cli(
      "scan",
      "--config",
      configPath,
      "--cluster",
      ...clusters,
      "--output",
      "kubeadm-json",
    );
    assert.equal(run.code, 2, "expired outranks unreachable, as with the table");
    const list = JSON.parse(run.stdout) as {
      kind: string;
      apiVersion: string;
      items: CertificateExpirationInfo[];
    };
    assert.deepEqual([list.kind, list.apiVersion], ["List", "v1"]);
    const item = (name: string) => {
      const found = list.items.find((i) => i.metadata?.annotations["certs-bot.io/node"] === name);
      assert.ok(found, name);
      return found;
    };
    // One item per node, in the order the config lists clusters and nodes.
    const expectedNodes = clusters.flatMap((name) =>
      config.clusters.find((c) => c.name === name)!.nodes.map((n) => ({ cluster: name, name: n.name })),
    );
    assert.deepEqual(
      list.items.map((i) => [
        i.metadata?.annotations["certs-bot.io/cluster"],
        i.metadata?.annotations["certs-bot.io/node"],
      ]),
      expectedNodes.map((n) => [n.cluster, n.name]),
    );
    const legacy = item("legacy-1");
    assert.deepEqual(
      legacy.certificates.map((c) => c.name),
      [
        "admin.conf",
        "apiserver",
        "apiserver-kubelet-client",
        "controller-manager.conf",
        "front-proxy-client",
        "scheduler.conf",
      ],
      "kubeadm 1.16 with an external etcd: no super-admin.conf, no etcd",
    );
    assert.deepEqual(
      legacy.certificateAuthorities.map((c) => c.name),
      ["ca", "front-proxy-ca"],
    );
    const expiredCert = item("statuses-1").certificates.find((c) => c.name === "apiserver-kubelet-client")!;
    assert.ok(
      expiredCert.residualTime < -86_000 && expiredCert.residualTime > -87_000,
      String(expiredCert.residualTime),
    );
    assert.equal(item("statuses-1").certificates.find((c) => c.name === "super-admin.conf")?.missing, false);
    const down = item("down-1");
    assert.deepEqual([down.certificates, down.certificateAuthorities], [[], []]);
    assert.match(down.metadata!.annotations["certs-bot.io/error"]!, /connection refused/);
    assert.match(run.stderr, /^certs-bot: broken\/down-1 was not scanned: .*connection refused/m);
    assert.equal(run.stderr.match(/was not scanned/g)?.length, 4, run.stderr);
  });

  test("CLI --output openmetrics --out FILE: written whole with mode 0644, promtool reads it, the lab's values", async () => {
    const dir = mkdtempSync(join(root, "textfile-"));
    const file = join(dir, "certs-bot.prom");
    writeFileSync(file, "stale\n", { mode: 0o600 });
    const run = await cli(
      "scan",
      "--config",
      configPath,
      "--cluster",
      "statuses",
      "--output",
      "openmetrics",
      "--out",
      file,
    );
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, "", "the output went to the file");
    assert.equal(statSync(file).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(dir), ["certs-bot.prom"], "no temporary file left beside it");
    const text = readFileSync(file, "utf8");
    const check = await new Promise<{ code: number; output: string }>((resolve) => {
      const child = execFile("promtool", ["check", "metrics"], (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, output: stdout + stderr }),
      );
      child.stdin!.end(text);
    });
    assert.equal(check.code, 0, check.output);
    const families = parseExposition(text);
    const lab = running.get("statuses-1")!.node;
    const series = (family: string, name: string) =>
      families.get(family)!.samples.find((s) => s.labels.node === "statuses-1" && s.labels.name === name);
    const expired = series("x509_cert_not_after", "apiserver-kubelet-client");
    assert.deepEqual(expired?.labels, {
      cluster: "statuses",
      node: "statuses-1",
      name: "apiserver-kubelet-client",
      status: "expired",
      filepath: join(lab.kubernetesDir, "pki/apiserver-kubelet-client.crt"),
      filename: "apiserver-kubelet-client.crt",
      subject_CN: "kube-apiserver-kubelet-client",
      issuer_CN: "kubernetes",
      serial_number: BigInt(`0x${cert("statuses-1", "apiserver-kubelet-client").serialNumber}`).toString(10),
    });
    assert.equal(expired?.value, lab.certs["apiserver-kubelet-client"]!.notAfter.getTime() / 1000);
    assert.equal(series("x509_cert_expired", "apiserver-kubelet-client")?.value, 1);
    assert.equal(series("x509_cert_expired", "admin.conf")?.value, 0);
    assert.equal(
      series("x509_cert_not_before", "admin.conf")?.value,
      lab.certs["admin.conf"]!.notBefore.getTime() / 1000,
    );
    assert.equal(series("x509_cert_not_after", "admin.conf")?.labels.embedded_key, "kubernetes-admin");
    assert.deepEqual(families.get("certs_bot_apiserver_drift")!.samples, [
      { labels: { cluster: "statuses", node: "statuses-1" }, value: 1 },
    ]);
    assert.deepEqual(families.get("certs_bot_node_up")!.samples, [
      { labels: { cluster: "statuses", node: "statuses-1" }, value: 1 },
    ]);
  });

  test("CLI: --json is --output json, and --out takes the table too, exit codes unchanged", async () => {
    const alias = await cli("scan", "--config", configPath, "--cluster", "legacy", "--json");
    const output = await cli("scan", "--config", configPath, "--cluster", "legacy", "--output", "json");
    assert.deepEqual([alias.code, output.code], [0, 0]);
    const withoutTime = (text: string) => ({ ...JSON.parse(text), scannedAt: undefined });
    assert.deepEqual(withoutTime(alias.stdout), withoutTime(output.stdout));
    const file = join(mkdtempSync(join(root, "table-")), "warn.txt");
    const table = await cli("scan", "--config", configPath, "--cluster", "warn", "--out", file);
    assert.equal(table.code, 1);
    assert.match(readFileSync(file, "utf8"), /^certs-bot scan at .*\n\ncluster warn — WARNING\n/);
  });

  test("a closed apiserver port is a finding, not an error", () => {
    const node = nodeReport("warn-1");
    assert.equal(node.status, "warning");
    assert.equal(node.apiserver?.reachable, false);
    assert.deepEqual(
      node.findings.map((f) => [f.code, f.severity]),
      [["apiserver-unreachable", "info"]],
    );
  });

  test("an encrypted key: privateKeyPassphraseEnv, unset variable, wrong passphrase", async () => {
    const encrypted = join(root, "id_encrypted");
    copyFileSync(users.clientKeyPath, encrypted);
    chmodSync(encrypted, 0o600);
    execFileSync("ssh-keygen", ["-q", "-p", "-f", encrypted, "-P", "", "-N", "s3cret pass"]);
    const file = join(root, "encrypted.yaml");
    writeFileSync(
      file,
      readFileSync(configPath, "utf8").replace(
        `privateKeyPath: ${users.clientKeyPath}`,
        `privateKeyPath: ${encrypted}\n  privateKeyPassphraseEnv: CB_TEST_PASSPHRASE`,
      ),
    );
    const args = ["scan", "--config", file, "--cluster", "healthy"];
    const ok = await cliWithEnv({ ...process.env, CB_TEST_PASSPHRASE: "s3cret pass" }, ...args);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const unset = await cliWithEnv({ ...process.env, CB_TEST_PASSPHRASE: undefined }, ...args);
    assert.equal(unset.code, 3);
    assert.match(unset.stdout, /environment variable CB_TEST_PASSPHRASE \(the key's passphrase\) is not set/);
    const wrong = await cliWithEnv({ ...process.env, CB_TEST_PASSPHRASE: "nope" }, ...args);
    assert.equal(wrong.code, 3);
    assert.match(wrong.stdout, /cannot use .*id_encrypted/);
    assert.doesNotMatch(wrong.stdout + wrong.stderr, /nope|s3cret/, "the passphrase is never echoed");
  });

  test("selectClusters suggests the closest names", () => {
    assert.throws(
      () => selectClusters(config, ["healty"]),
      /unknown cluster "healty"; did you mean healthy\?/,
    );
  });
});

describe("CLI errors", () => {
  test("a bad config exits 3 naming file, line and path, without a stack trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "certs-bot-cfg-"));
    const file = join(dir, "clusters.yaml");
    writeFileSync(file, "clusters:\n  - name: a\n    nodes:\n      - host: 10.0.0.1\n        prot: 22\n");
    const result = await cli("scan", "--config", file);
    rmSync(dir, { recursive: true });
    assert.equal(result.code, 3);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      new RegExp(`${file}:5:9: clusters\\[0\\]\\.nodes\\[0\\]\\.prot: unknown key "prot"`),
    );
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });

  test("a missing config file and an unknown flag exit 3", async () => {
    const missing = await cli("scan", "--config", "/nonexistent/clusters.yaml");
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /\/nonexistent\/clusters\.yaml: file not found/);
    const flag = await cli("scan", "--jsno");
    assert.equal(flag.code, 3);
    assert.match(flag.stderr, /unknown option '--jsno'/);
  });

  test("a bad --output exits 3 naming the allowed values; --json with another --output too", async () => {
    const bad = await cli("scan", "--config", "config/clusters.example.yaml", "--output", "yaml");
    assert.equal(bad.code, 3);
    assert.equal(bad.stdout, "");
    assert.match(
      bad.stderr,
      /argument 'yaml' is invalid\. Allowed choices are table, json, kubeadm-json, openmetrics\./,
    );
    const both = await cli("scan", "--config", "config/clusters.example.yaml", "--json", "--output", "table");
    assert.equal(both.code, 3);
    assert.equal(
      both.stderr,
      "certs-bot: --json means --output json; it cannot be combined with --output table\n",
    );
  });

  test("--out into a directory that does not exist exits 3 before the config is read, and writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "certs-bot-out-"));
    const file = join(dir, "no-such-dir", "certs.prom");
    // A config that does not exist: had certs-bot read it (let alone scanned), it would say so instead.
    const result = await cli(
      "scan",
      "--config",
      join(dir, "clusters.yaml"),
      "--output",
      "openmetrics",
      "--out",
      file,
    );
    const left = readdirSync(dir);
    rmSync(dir, { recursive: true });
    assert.equal(result.code, 3);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `certs-bot: cannot write ${file}: directory ${join(dir, "no-such-dir")} does not exist\n`,
    );
    assert.deepEqual(left, []);
    assert.equal(existsSync(file), false);
  });

  test("an unknown cluster exits 3 with the configured names", async () => {
    const result = await cli("scan", "--config", "config/clusters.example.yaml", "--cluster", "cluster-c");
    assert.equal(result.code, 3);
    assert.match(result.stderr, /unknown cluster "cluster-c"; did you mean cluster-a, cluster-b\?/);
  });
});
