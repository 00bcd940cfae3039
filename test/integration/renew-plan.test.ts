// `certs-bot renew --dry-run` end to end: the real CLI as a child process, a fresh scan of lab
// trees over the local transport (no sshd, no root), and the printed plan per kubeadm version.
// With the local transport every node of one run sees the same `kubeadm` (the child's PATH), so
// each kubeadm generation gets its own cluster and run; mixed versions in one cluster are covered
// by test/unit/renew-plan.test.ts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newClusterPki, writeLabNode, type LabNode, type LabNodeSpec } from "../lab/tree.js";

const DAY = 86_400_000;
const now = new Date();
const days = (n: number) => new Date(now.getTime() + n * DAY);

let root: string;
let configPath: string;
const trees = new Map<string, LabNode>();

async function labNode(
  name: string,
  spec: Partial<LabNodeSpec>,
  pki: Awaited<ReturnType<typeof newClusterPki>>,
) {
  const node = await writeLabNode({
    root: join(root, name),
    nodeName: name,
    address: "127.0.0.1",
    pki,
    now,
    ...spec,
  });
  trees.set(name, node);
  return node;
}

function cli(
  binOf: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
      env: { ...process.env, PATH: `${trees.get(binOf)!.binDir}:${process.env.PATH}`, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const renew = (cluster: string, binOf: string, ...args: string[]) =>
  cli(binOf, "renew", "--config", configPath, "--cluster", cluster, ...args);

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-renew-"));
  const modern = await newClusterPki({ now });
  const old = await newClusterPki({ now });
  const dying = await newClusterPki({ now, caNotAfter: days(100) });
  for (const name of ["ha-1", "ha-2", "ha-3"]) await labNode(name, { kubeadmVersion: "v1.28.4" }, modern);
  await labNode("mid-1", { kubeadmVersion: "v1.19.16" }, old);
  // The origin story: kubeadm 1.11, an expired apiserver-kubelet-client, an embedded kubelet.conf.
  await labNode(
    "old-1",
    {
      kubeadmVersion: "v1.11.10",
      superAdmin: false,
      embeddedKubeletConf: true,
      dates: { "apiserver-kubelet-client": { notBefore: days(-368), notAfter: days(-3) } },
    },
    old,
  );
  await labNode("ca-1", { kubeadmVersion: "v1.28.4" }, dying);
  const cluster = (name: string, ...nodes: string[]) => [
    `  - name: ${name}`,
    "    nodes:",
    ...nodes.flatMap((n) => [
      "      - host: 127.0.0.1",
      `        name: ${n}`,
      "        transport: local",
      `        paths: { kubernetesDir: "${trees.get(n)!.kubernetesDir}", kubeletPkiDir: "${trees.get(n)!.kubeletPkiDir}" }`,
      "        apiserver: { probe: false }",
    ]),
  ];
  configPath = join(root, "clusters.yaml");
  writeFileSync(
    configPath,
    [
      "timezone: UTC",
      `renewal: { backupDir: "${join(root, "backups")}", restartStrategy: manifests }`,
      "clusters:",
      ...cluster("lab-ha", "ha-1", "ha-2", "ha-3"),
      ...cluster("lab-mid", "mid-1"),
      // Daily at 03:00 for an hour (UTC), this cluster's own: the plan names the window it uses.
      '    renewal: { windows: [{ days: [mon, tue, wed, thu, fri, sat, sun], start: "03:00", duration: "1h" }] }',
      ...cluster("lab-old", "old-1"),
      ...cluster("lab-ca", "ca-1"),
      "",
    ].join("\n"),
  );
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const stamp = /\d{8}T\d{6}Z/.source;

describe("certs-bot renew --dry-run", () => {
  test("1.28, three nodes: one at a time in config order, kubeadm certs renew per certificate", async () => {
    const run = await renew("lab-ha", "ha-1", "--dry-run");
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const order = [
      ...run.stdout.matchAll(/^node (\d)\/3: (\S+) \(127\.0\.0\.1\) — kubeadm v1\.28\.4, row 1\.20\+/gm),
    ];
    assert.deepEqual(
      order.map((m) => m[2]),
      ["ha-1", "ha-2", "ha-3"],
    );
    for (const name of ["ha-1", "ha-2", "ha-3"]) {
      const pki = `${trees.get(name)!.kubernetesDir}/pki`;
      for (const cert of ["apiserver", "apiserver-kubelet-client", "front-proxy-client", "etcd-peer"]) {
        assert.ok(
          run.stdout.includes(`$ kubeadm certs renew ${cert} --cert-dir '${pki}'\n`),
          `${name} ${cert}`,
        );
      }
      assert.match(run.stdout, new RegExp(`backup: ${root}/backups/lab-ha/${name}/${stamp}\\.tar\\.gz`));
    }
    assert.match(
      run.stdout,
      /skips admin\.conf: kubeadm 1\.20\+ renews kubeconfigs only under \/etc\/kubernetes/,
    );
    assert.match(run.stdout, /\$ systemctl restart kubelet/);
    assert.doesNotMatch(run.stdout, /^window:/m, "a cluster without windows runs any time");
    assert.match(run.stdout, /The served certificate is not checked: apiserver\.probe is false/);
  });

  test("1.19: kubeadm alpha certs renew, only the named certificate", async () => {
    const run = await renew("lab-mid", "mid-1", "--dry-run", "--certs", "apiserver-kubelet-client");
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const pki = `${trees.get("mid-1")!.kubernetesDir}/pki`;
    assert.ok(
      run.stdout.includes(`$ kubeadm alpha certs renew apiserver-kubelet-client --cert-dir '${pki}'\n`),
    );
    assert.doesNotMatch(run.stdout, /\$ kubeadm alpha certs renew apiserver --/);
    assert.match(run.stdout, /renews: apiserver-kubelet-client, on 1 node/);
    assert.match(
      run.stdout,
      /^window: Runs in the maintenance window \w{3} \d{1,2} \w{3} 03:00–04:00 UTC(, open now)? \(windows: mon, tue, wed, thu, fri, sat, sun 03:00 for 1h \(UTC\); a node is not started with less than 20 min of its window left\)\.$/m,
    );
  });

  test("1.11, the origin story: the old pair moved aside, kubeadm alpha phase certs with the cluster's config", async () => {
    const run = await renew("lab-old", "old-1", "--dry-run", "--node", "old-1");
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const k = trees.get("old-1")!.kubernetesDir;
    const base = new RegExp(`${root}/backups/lab-old/old-1/(${stamp})`).exec(run.stdout)?.[0];
    assert.ok(base, run.stdout);
    for (const line of [
      `$ kubeadm config view --kubeconfig '${k}/admin.conf' > '${base}.kubeadm.yaml'`,
      `$ mv '${k}/pki/apiserver-kubelet-client.crt' '${base}.aside/apiserver-kubelet-client.crt'`,
      `$ mv '${k}/pki/apiserver-kubelet-client.key' '${base}.aside/apiserver-kubelet-client.key'`,
      `$ kubeadm alpha phase certs apiserver-kubelet-client --config '${base}.kubeadm.yaml'`,
      `$ kubeadm alpha phase certs etcd-server --config '${base}.kubeadm.yaml'`,
      `$ mv '${k}/admin.conf' '${base}.aside/admin.conf'`,
      `$ kubeadm alpha phase kubeconfig admin --config '${base}.kubeadm.yaml' --kubeconfig-dir '${k}'`,
      `$ kubeadm alpha phase kubeconfig scheduler --config '${base}.kubeadm.yaml' --kubeconfig-dir '${k}'`,
    ]) {
      assert.ok(run.stdout.includes(`${line}\n`), line);
    }
    assert.match(run.stdout, /apiserver-kubelet-client\s+EXPIRED\s+expires/);
    assert.match(run.stdout, /health: https:\/\/127\.0\.0\.1:6443\/healthz/);
    assert.match(run.stdout, /not renewed \(embedded\): kubelet\.conf/);
    // Not due yet (a year left): no command touches it, and the plan says when a renewal would.
    assert.doesNotMatch(
      run.stdout,
      /^\s+\$ .*phase kubeconfig (all|kubelet)/m,
      "kubelet.conf is not touched silently",
    );
    assert.match(run.stdout, /regenerates it once it is within the warning threshold/);
  });

  test("a CA that expires before the renewed leaves would: refused, exit 2", async () => {
    const run = await renew("lab-ca", "ca-1", "--dry-run");
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.match(run.stdout, /^certs-bot cannot renew cluster lab-ca:\n/);
    assert.match(
      run.stdout,
      /- node ca-1: CA ca expires on \d{4}-\d\d-\d\d, before the renewed leaves would/,
    );
    assert.doesNotMatch(run.stdout, /\$ kubeadm/);
  });

  test("never-renewed certificates are refused with their repair (exit 2); mistakes are usage errors (exit 3)", async () => {
    const kubelet = await renew("lab-ha", "ha-1", "--dry-run", "--certs", "kubelet-client");
    assert.equal(kubelet.code, 2);
    assert.match(kubelet.stdout, /kubelet-client: the kubelet rotates its own client certificate/);
    const typo = await renew("lab-ha", "ha-1", "--dry-run", "--node", "ha-4");
    assert.equal(typo.code, 3);
    assert.match(
      typo.stderr,
      /certs-bot: unknown node "ha-4" in cluster lab-ha; did you mean ha-1, ha-2, ha-3\?/,
    );
    const pwned = join(root, "pwned");
    const hostile = await renew("lab-ha", "ha-1", "--dry-run", "--certs", `apiserver;touch ${pwned}`);
    assert.equal(hostile.code, 3);
    assert.match(hostile.stderr, /unknown certificate "apiserver;touch/);
  });

  test("without --dry-run: renewals are requested in Slack, exit 3", async () => {
    const run = await renew("lab-ha", "ha-1");
    assert.equal(run.code, 3);
    assert.equal(run.stdout, "");
    assert.match(
      run.stderr,
      /certs-bot: renewals are requested and approved in Slack \(\/certs renew\) or in certs-bot console; use --dry-run to see the plan/,
    );
  });
});
