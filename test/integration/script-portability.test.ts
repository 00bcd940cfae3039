// The scan script must read the same on every control plane: Debian/Ubuntu (dash + mawk), RHEL
// (bash + gawk) and minimal images (busybox sh + awk). Runs it under every shell and awk found
// here over one lab tree full of oddities and requires byte-identical output. The transports'
// wrapper (umask, deadline) must behave the same under every shell too.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { generateKeyPairSync, randomInt } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildScanScript, parseScanOutput, type NodeDirs } from "../../src/core/scan/script.js";
import { guardScript } from "../../src/core/transport/transport.js";
import { processesWith } from "../lab/processes.js";
import { newClusterPki, writeLabNode } from "../lab/tree.js";

const SHELLS = [
  ["dash", "/bin/dash"],
  ["bash", "/bin/bash"],
  ["busybox sh", "/bin/busybox"],
].filter(([, path]) => existsSync(path!)) as [string, string][];
const AWKS = ["/usr/bin/mawk", "/usr/bin/gawk", "/bin/busybox"].filter((p) => existsSync(p));

let root: string;
let dirs: NodeDirs;
const target = () => ({ role: "control-plane" as const, name: "portable-1", paths: dirs });

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-portable-"));
  const node = await writeLabNode({
    root: join(root, "node"),
    nodeName: "portable-1",
    address: "127.0.0.1",
    pki: await newClusterPki(),
    keyAlg: "rsa",
    crlf: ["apiserver", "admin.conf"],
    der: ["front-proxy-ca", "kubelet-serving"],
    bundle: ["apiserver-kubelet-client"],
    empty: ["etcd-healthcheck-client"],
    garbage: ["front-proxy-client"],
    missing: ["scheduler.conf"],
    kubeletServingCa: false,
  });
  dirs = {
    kubernetesDir: node.kubernetesDir,
    kubeletPkiDir: node.kubeletPkiDir,
    etcdPkiDir: node.etcdPkiDir,
  };
  // DER private keys named .crt, a FIFO .crt, and a kubeconfig naming a FIFO.
  const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  writeFileSync(
    join(dirs.kubernetesDir, "pki/apiserver-etcd-client.crt"),
    key.export({ format: "der", type: "pkcs8" }),
  );
  writeFileSync(join(dirs.kubernetesDir, "pki/etcd/peer.crt"), key.export({ format: "der", type: "pkcs1" }));
  rmSync(join(dirs.kubernetesDir, "pki/etcd/server.crt"));
  execFileSync("mkfifo", [join(dirs.kubernetesDir, "pki/etcd/server.crt")]);
  const fifo = join(dirs.kubeletPkiDir, "kubelet-client-fifo.pem");
  execFileSync("mkfifo", [fifo]);
  const kubeletConf = join(dirs.kubernetesDir, "kubelet.conf");
  writeFileSync(
    kubeletConf,
    readFileSync(kubeletConf, "utf8").replace(/client-certificate: .*/, `client-certificate: ${fifo}`),
  );
});

after(() => rmSync(root, { recursive: true, force: true }));

function run(shell: string, awk: string): string {
  const shim = join(root, `bin-${awk.replace(/\W/g, "_")}`);
  if (!existsSync(shim)) {
    mkdirSync(shim);
    symlinkSync(awk, join(shim, "awk"));
    // A minimal image: busybox's od, head and base64 read the DER files too.
    if (awk.endsWith("busybox"))
      for (const tool of ["od", "head", "base64"]) symlinkSync(awk, join(shim, tool));
  }
  const args = shell.endsWith("busybox") ? ["sh", "-s"] : ["-s"];
  const result = spawnSync(shell, args, {
    input: buildScanScript(target()),
    encoding: "utf8",
    env: { PATH: `${shim}:/usr/bin:/bin` },
    timeout: 30_000, // a reader blocked on a FIFO fails the test instead of hanging it
  });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, "", `${shell} with ${awk} wrote to stderr`);
  return result.stdout;
}

test(
  "identical output under every shell and awk available",
  { skip: AWKS.length < 2 && "needs two awks" },
  () => {
    const reference = run("/bin/sh", AWKS[0]!);
    const read = parseScanOutput(reference, target());
    assert.equal(read.entries.get("front-proxy-ca")?.state, "content");
    assert.equal(read.entries.get("etcd-healthcheck-client")?.state, "unreadable");
    assert.equal(read.entries.get("scheduler.conf")?.state, "missing");
    const reason = (name: string) => {
      const entry = read.entries.get(name);
      return entry?.state === "unreadable" ? entry.reason : entry?.state;
    };
    assert.equal(reason("apiserver-etcd-client"), "not PEM and not a DER certificate");
    assert.equal(reason("etcd-peer"), "not PEM and not a DER certificate");
    assert.equal(reason("etcd-server"), "not a regular file");
    assert.equal(reason("kubelet.conf"), "not a regular file");
    assert.equal(read.entries.get("kubelet-serving")?.state, "content", "a DER certificate");
    const combos: string[] = [];
    for (const [name, shell] of SHELLS) {
      for (const awk of AWKS) {
        assert.equal(run(shell, awk), reference, `${name} + ${awk}`);
        combos.push(`${name}+${awk}`);
      }
    }
    assert.ok(combos.length >= 2, combos.join(", "));
  },
);

/** The wrapped script under `shell`, in its own session as sshd and the local transport run it. */
function runGuarded(shell: string, script: string) {
  const args = shell.endsWith("busybox") ? ["sh", "-s"] : ["-s"];
  // The timeout only keeps a broken wrapper from hanging the suite.
  return spawnSync("setsid", [shell, ...args], {
    input: guardScript(script, 1000),
    encoding: "utf8",
    timeout: 30_000,
  });
}

test("the wrapper passes the script through and kills it at the deadline under every shell", () => {
  for (const [name, shell] of SHELLS) {
    const passed = runGuarded(shell, "umask\necho err >&2\nexit 7\n");
    assert.deepEqual([passed.status, passed.stdout, passed.stderr], [7, "0077\n", "err\n"], name);

    const sleeps = [randomInt(1e7, 1e8), randomInt(1e7, 1e8)].map((n) => `sleep ${n}`);
    const hung = runGuarded(shell, `echo started\n${sleeps[0]} &\n${sleeps[1]}\n`);
    assert.equal(hung.signal, "SIGTERM", `${name}: the wrapper ended its own group (TERM, then KILL)`);
    assert.deepEqual([hung.stdout, hung.stderr], ["started\n", "@certs-bot deadline\n"], name);
    for (const sleep of sleeps) assert.deepEqual(processesWith(sleep), [], `${name}: ${sleep} is left`);

    // TERM first: a script's own traps run at the deadline (a parking script puts manifests back).
    const trapped = runGuarded(shell, `trap 'echo put back >&2' EXIT\ntrap 'exit 3' TERM\n${sleeps[0]}\n`);
    assert.match(trapped.stderr, /put back/, `${name}: the script's EXIT trap ran`);
    assert.deepEqual(processesWith(sleeps[0]!), [], name);
  }
});
