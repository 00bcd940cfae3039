// Files that would make a scan hang or leak, and a node whose tools hang, scanned for real: the
// CLI as a child process, the local transport and a real sshd. A FIFO is reported, never read; a
// DER private key named .crt is reported, never sent; a hung node is cut off at its deadline with
// everything it started, and `certs-bot scan` still exits with its report.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync, randomInt, type KeyObject } from "node:crypto";
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.js";
import type { CertificateReport, NodeReport, ScanReport } from "../../src/core/report/types.js";
import { defaultDependencies, scanClusters, selectClusters } from "../../src/adapters/nodes/scan.js";
import { freePort, labAddress } from "../lab/ports.js";
import { processesWith } from "../lab/processes.js";
import { recordOutputs } from "../lab/recording.js";
import { ensureLabUsers, startSshd, writeKnownHosts, type LabSshd, type LabUsers } from "../lab/sshd.js";
import { newClusterPki, writeLabNode, type ClusterPki, type LabNode } from "../lab/tree.js";
import { until } from "../lab/wait.js";

const isRoot = process.getuid?.() === 0;
const root = mkdtempSync(join(tmpdir(), "certs-bot-hostile-"));
chmodSync(root, 0o755); // the lab users must traverse it
let pki: ClusterPki;
let users: LabUsers | undefined;
const sshds: LabSshd[] = [];
after(async () => {
  await Promise.all(sshds.map((s) => s.stop()));
  rmSync(root, { recursive: true, force: true });
});

/** Real private keys, DER-encoded the ways a key file can be: none of it may leave the node. */
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
const der = (key: KeyObject, type: "pkcs8" | "pkcs1" | "sec1") => key.export({ format: "der", type });
/** Catalogue entry → the .crt that holds a key instead, and the key. */
const DER_KEYS: Record<string, { file: string; key: Buffer }> = {
  apiserver: { file: "pki/apiserver.crt", key: der(rsa, "pkcs8") },
  "apiserver-kubelet-client": { file: "pki/apiserver-kubelet-client.crt", key: der(rsa, "pkcs1") },
  "front-proxy-client": { file: "pki/front-proxy-client.crt", key: der(ec, "sec1") },
  "etcd-healthcheck-client": { file: "pki/etcd/healthcheck-client.crt", key: der(ec, "pkcs8") },
};

interface HostileNode {
  tree: LabNode;
  /** etcd/server.crt and the file kubelet.conf names: FIFOs nobody writes. */
  fifos: string[];
}

function owned(path: string): void {
  if (users) chownSync(path, users.plainUid, users.plainGid);
}

/** A lab tree whose .crt files are DER keys and FIFOs, and whose kubelet.conf names a FIFO. */
async function hostileNode(name: string, address: string): Promise<HostileNode> {
  const tree = await writeLabNode({
    root: join(root, name),
    nodeName: name,
    address,
    pki,
    der: ["etcd-peer"],
    ...(users ? { owner: { uid: users.plainUid, gid: users.plainGid } } : {}),
  });
  for (const { file, key } of Object.values(DER_KEYS)) writeFileSync(join(tree.kubernetesDir, file), key);
  const serverCrt = join(tree.kubernetesDir, "pki/etcd/server.crt");
  const referenced = join(tree.kubeletPkiDir, "kubelet-client-fifo.pem");
  rmSync(serverCrt);
  for (const fifo of [serverCrt, referenced]) {
    execFileSync("mkfifo", ["-m", "0644", fifo]);
    owned(fifo);
  }
  const kubeletConf = join(tree.kubernetesDir, "kubelet.conf");
  const text = readFileSync(kubeletConf, "utf8");
  writeFileSync(kubeletConf, text.replace(/client-certificate: .*/, `client-certificate: ${referenced}`));
  return { tree, fifos: [serverCrt, referenced] };
}

/** A lab tree whose kubeadm never answers; its sleep's command line is unique. */
async function hungNode(name: string, address: string): Promise<{ tree: LabNode; sleep: string }> {
  const tree = await writeLabNode({ root: join(root, name), nodeName: name, address, pki });
  const sleep = `sleep ${randomInt(10_000_000, 99_999_999)}`;
  writeFileSync(join(tree.binDir, "kubeadm"), `#!/bin/sh\n${sleep}\n`, { mode: 0o755 });
  return { tree, sleep };
}

/** True while some process has the FIFO open for reading or is blocked opening it. */
function hasReader(fifo: string): boolean {
  try {
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENXIO") return false;
    throw err;
  }
}

const nodeLines = (name: string, host: string, tree: LabNode, extra: string[]) => [
  `      - host: ${host}`,
  `        name: ${name}`,
  ...extra.map((line) => `        ${line}`),
  `        paths: { kubernetesDir: "${tree.kubernetesDir}", kubeletPkiDir: "${tree.kubeletPkiDir}" }`,
  "        apiserver: { probe: false }",
];

function writeConfig(file: string, clusters: Record<string, string[]>, ssh: string[] = []): string {
  const path = join(root, file);
  writeFileSync(
    path,
    [
      "timezone: UTC",
      ...ssh,
      "clusters:",
      ...Object.entries(clusters).flatMap(([name, nodes]) => [`  - name: ${name}`, "    nodes:", ...nodes]),
      "",
    ].join("\n"),
  );
  return path;
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The real CLI, as a child process; a scan that never exits fails the test instead of hanging it. */
async function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliRun> {
  const run = await new Promise<CliRun & { killed: boolean }>((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", ...args],
      { env, timeout: 60_000, killSignal: "SIGKILL" },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === "number" ? err.code : null) : 0,
          stdout,
          stderr,
          killed: err?.signal === "SIGKILL",
        }),
    );
  });
  assert.equal(run.killed, false, `certs-bot ${args.join(" ")} did not exit: ${run.stderr}`);
  return run;
}

const nodeOf = (report: ScanReport, name: string): NodeReport => {
  const node = report.clusters.flatMap((c) => c.nodes).find((n) => n.name === name);
  assert.ok(node, `a report for ${name}`);
  return node;
};
const certOf = (node: NodeReport, name: string): CertificateReport => {
  const cert = node.certificates.find((c) => c.name === name);
  assert.ok(cert, `${node.name} reports ${name}`);
  return cert;
};
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Every way a key's bytes could show in text: base64 from any of the three alignments, hex. */
function assertNoKeyBytes(sent: string): void {
  assert.match(sent, /@entry etcd-peer der/, "the capture saw the node's output");
  let checked = 0;
  for (const [entry, { key }] of Object.entries(DER_KEYS)) {
    for (const skip of [0, 1, 2]) {
      const base64 = key.subarray(skip).toString("base64");
      for (let at = 0; at + 24 <= base64.length; at += 24, checked++) {
        assert.ok(!sent.includes(base64.slice(at, at + 24)), `${entry}: base64 (+${skip}) at ${at} was sent`);
      }
    }
    assert.ok(!sent.includes(key.toString("hex").slice(0, 32)), `${entry}: hex was sent`);
  }
  assert.ok(checked > 100, `checked ${checked} windows`);
}

/** What a user should see for the hostile tree: the keys and FIFOs reported, the rest read. */
function assertHostileReport(node: NodeReport, hostile: HostileNode): void {
  assert.equal(node.reachable, true, node.error);
  for (const entry of Object.keys(DER_KEYS)) {
    const cert = certOf(node, entry);
    assert.deepEqual([cert.status, cert.error], ["unreadable", "not PEM and not a DER certificate"], entry);
  }
  assert.deepEqual(
    [certOf(node, "etcd-server").status, certOf(node, "etcd-server").error],
    ["unreadable", "not a regular file"],
  );
  const kubeletConf = certOf(node, "kubelet.conf");
  assert.deepEqual(
    [kubeletConf.status, kubeletConf.error, kubeletConf.path],
    ["unreadable", "not a regular file", hostile.fifos[1]],
  );
  const peer = certOf(node, "etcd-peer");
  assert.deepEqual([peer.status, peer.sha256], ["ok", sha256(hostile.tree.certs["etcd-peer"]!.der)], "DER");
  for (const name of ["ca", "etcd-ca", "admin.conf", "kubelet-client", "kubelet-serving"]) {
    assert.equal(certOf(node, name).status, "ok", name);
  }
}

/** Nothing the scans started is left: no reader on the FIFOs, no hung kubeadm's sleep. */
async function assertNothingLeft(fifos: string[], sleeps: string[]): Promise<void> {
  for (const fifo of fifos) assert.equal(hasReader(fifo), false, `a process still reads ${fifo}`);
  for (const sleep of sleeps) {
    await until(`no process left with "${sleep}"`, async () => processesWith(sleep).length === 0, 15_000);
  }
}

/** The hostile cluster scanned in-process, with everything its transport returned recorded. */
async function scansHostileNode(config: string, name: string, hostile: HostileNode): Promise<void> {
  const sent: string[] = [];
  const loaded = loadConfig(config);
  const deps = recordOutputs(defaultDependencies(), (_node, result) =>
    sent.push(result.stdout, result.stderr),
  );
  const report = await scanClusters(loaded, selectClusters(loaded, ["hostile"]), deps);
  assertHostileReport(nodeOf(report, name), hostile);
  assertNoKeyBytes(sent.join("\n"));
  await assertNothingLeft(hostile.fifos, []);
}

before(async () => {
  pki = await newClusterPki();
  if (isRoot) users = await ensureLabUsers(join(root, "users"));
});

describe("local transport", () => {
  let hostile: HostileNode;
  let hung: { tree: LabNode; sleep: string };
  let config: string;

  before(async () => {
    hostile = await hostileNode("hostile-local", "127.0.0.1");
    hung = await hungNode("hung-local", "127.0.0.1");
    config = writeConfig("local.yaml", {
      hostile: nodeLines("hostile-local", "127.0.0.1", hostile.tree, ["transport: local"]),
      hung: nodeLines("hung-local", "127.0.0.1", hung.tree, [
        "transport: local",
        "ssh: { commandTimeoutMs: 1000 }",
      ]),
    });
  });

  test("DER keys and FIFOs are reported unreadable; no key byte is sent", () =>
    scansHostileNode(config, "hostile-local", hostile));

  test("certs-bot scan exits with its report, through FIFOs and a hung kubeadm", async () => {
    const files = await cli(process.env, "scan", "--config", config, "--cluster", "hostile", "--json");
    assert.equal(files.code, 3, files.stderr); // unreadable
    assertHostileReport(nodeOf(JSON.parse(files.stdout) as ScanReport, "hostile-local"), hostile);

    const env = { ...process.env, PATH: `${hung.tree.binDir}:${process.env.PATH}` };
    const stuck = await cli(env, "scan", "--config", config, "--cluster", "hung", "--json");
    assert.equal(stuck.code, 3, stuck.stderr);
    const node = nodeOf(JSON.parse(stuck.stdout) as ScanReport, "hung-local");
    assert.equal(node.status, "unreachable");
    assert.match(node.error!, /did not finish within 1000 ms/);
    await assertNothingLeft(hostile.fifos, [hung.sleep]);
  });
});

describe("SSH transport", { skip: !isRoot && "needs root (lab users, sshd)" }, () => {
  let hostile: HostileNode;
  let hung: { tree: LabNode; sleep: string };
  let config: string;

  before(async () => {
    const hostileAddress = labAddress(43);
    const hungAddress = labAddress(44);
    hostile = await hostileNode("hostile-ssh", hostileAddress);
    hung = await hungNode("hung-ssh", hungAddress);
    const serve = async (name: string, address: string, tree: LabNode) => {
      const sshd = await startSshd({
        dir: join(root, "sshd", name),
        address,
        port: await freePort(address),
        users: users!,
        pathPrepend: tree.binDir,
      });
      sshds.push(sshd);
      return sshd;
    };
    const [a, b] = [
      await serve("hostile", hostileAddress, hostile.tree),
      await serve("hung", hungAddress, hung.tree),
    ];
    writeKnownHosts(join(root, "known_hosts"), [a.knownHostsLine(), b.knownHostsLine()]);
    const sshNode = (name: string, tree: LabNode, sshd: LabSshd) =>
      nodeLines(name, sshd.address, tree, [`port: ${sshd.port}`]);
    config = writeConfig(
      "ssh.yaml",
      { hostile: sshNode("hostile-ssh", hostile.tree, a), hung: sshNode("hung-ssh", hung.tree, b) },
      [
        "ssh:",
        `  user: ${users!.plain}`,
        `  privateKeyPath: ${users!.clientKeyPath}`,
        `  knownHostsPath: ${join(root, "known_hosts")}`,
        "  connectTimeoutMs: 3000",
        "  commandTimeoutMs: 1000",
      ],
    );
  });

  test("DER keys and FIFOs are reported unreadable; no key byte crosses the wire", () =>
    scansHostileNode(config, "hostile-ssh", hostile));

  test("certs-bot scan exits with its report; the hung node's processes die on the node", async () => {
    const run = await cli(process.env, "scan", "--config", config, "--json");
    assert.equal(run.code, 3, run.stderr);
    const report = JSON.parse(run.stdout) as ScanReport;
    assertHostileReport(nodeOf(report, "hostile-ssh"), hostile);
    const node = nodeOf(report, "hung-ssh");
    assert.equal(node.status, "unreachable");
    assert.match(node.error!, /did not finish within/);
    await assertNothingLeft(hostile.fifos, [hung.sleep]);
  });
});
