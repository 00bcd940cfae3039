// `certs-bot console` may change real nodes only with --allow-renewals, and then only under serve's
// run lease and audit in Redis. The real CLI as a child process, lines piped to it, lab control-plane
// nodes whose apiserver-kubelet-client expired (local transport, lab tools first on PATH), the
// machine's Redis under a prefix of this file's own. Every refusal is checked on the node: its
// kubernetes tree byte for byte (pki/, kubeconfigs, manifests/), the certificate it serves, no backup.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { consoleRenewals } from "../../src/adapters/console/exclusion.js";
import { AuditLog } from "../../src/adapters/store/audit.js";
import { connectRedis } from "../../src/adapters/store/redis.js";
import { RunLease } from "../../src/adapters/store/run-lease.js";
import { consoleCli, transcriptAfter, type ConsoleRun } from "../lab/console-cli.js";
import { stopAllControlPlanes } from "../lab/control-plane.js";
import { freePort } from "../lab/ports.js";
import { dropKeys } from "../lab/redis.js";
import { renewalLabNode, type RenewalLabNode } from "../lab/renewal-lab.js";
import { newClusterPki } from "../lab/tree.js";

const REDIS_URL = "redis://127.0.0.1:6379";
const PREFIX = `console-allow-${process.pid}`;
const RENEW_AND_APPROVE = [
  "/certs renew CLUSTER",
  "Approve",
  "as U0BOB0001",
  "Approve",
  "/certs audit CLUSTER",
];

let root: string;
let redis: Redis;

interface LabCluster {
  name: string;
  node: RenewalLabNode;
  config: string;
}

async function labCluster(name: string, host: number): Promise<LabCluster> {
  const node = await renewalLabNode({
    root: join(root, name),
    name: "cp-1",
    host,
    pki: await newClusterPki(),
    expired: ["apiserver-kubelet-client"],
  });
  const config = join(root, `${name}.yaml`);
  writeFileSync(
    config,
    [
      "timezone: UTC",
      `renewal: { backupDir: "${join(root, name, "backups")}", restartStrategy: crictl }`,
      "clusters:",
      `  - name: ${name}`,
      "    channel: C0LABCCCC",
      "    operators: [U0ALICE01]",
      "    approvers: [U0ALICE01, U0BOB0001]",
      `    nodes: [${node.yaml}]`,
      "",
    ].join("\n"),
  );
  return { name, node, config };
}

/** The console as Alice; `env` replaces REDIS_URL and CERTS_BOT_REDIS_PREFIX (absent: unset). */
function consoleSession(
  lab: LabCluster,
  args: string[],
  lines: string[],
  env: { REDIS_URL?: string; CERTS_BOT_REDIS_PREFIX?: string },
): Promise<ConsoleRun> {
  const base = { ...process.env };
  delete base.REDIS_URL;
  delete base.CERTS_BOT_REDIS_PREFIX;
  return consoleCli(
    ["--config", lab.config, "--user", "U0ALICE01", ...args],
    lines.map((line) => line.replace("CLUSTER", lab.name)),
    { ...base, ...env, NO_COLOR: "1", PATH: `${lab.node.tree.binDir}:${process.env.PATH ?? ""}` },
  );
}

interface NodeState {
  /** Every file of the node's kubernetes tree: its mode and bytes. */
  files: Map<string, string>;
  served: string;
  backups: boolean;
}

async function nodeState(lab: LabCluster): Promise<NodeState> {
  const dir = lab.node.tree.kubernetesDir;
  const files = new Map<string, string>();
  for (const rel of readdirSync(dir, { recursive: true, encoding: "utf8" }).sort()) {
    const stat = statSync(join(dir, rel));
    if (stat.isFile())
      files.set(rel, `${stat.mode.toString(8)} ${readFileSync(join(dir, rel)).toString("base64")}`);
  }
  const served = (await lab.node.cp.served())?.fingerprint256 ?? "nothing served";
  return { files, served, backups: existsSync(join(root, lab.name, "backups")) };
}

function assertUnchanged(before: NodeState, after: NodeState): void {
  assert.ok(before.files.has("pki/apiserver-kubelet-client.crt"), "the snapshot holds pki/");
  assert.ok(before.files.has("admin.conf"), "the snapshot holds the kubeconfigs");
  assert.ok(before.files.has("manifests/kube-apiserver.yaml"), "the snapshot holds manifests/");
  assert.deepEqual([...after.files.keys()], [...before.files.keys()], "no file added or removed");
  for (const [rel, content] of before.files) assert.equal(after.files.get(rel), content, `${rel} unchanged`);
  assert.equal(after.served, before.served, "the apiserver serves the same certificate");
  assert.equal(after.backups, false, "no backup was taken");
}

const keysUnder = (prefix: string): Promise<string[]> => redis.keys(`${prefix}:*`);

let plain: LabCluster;
let held: LabCluster;
let shared: LabCluster;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-console-allow-"));
  redis = connectRedis(REDIS_URL);
  [plain, held, shared] = await Promise.all([
    labCluster("lab-plain", 81),
    labCluster("lab-held", 82),
    labCluster("lab-shared", 83),
  ]);
});

after(async () => {
  await stopAllControlPlanes();
  for (const suffix of ["plain", "held", "shared"]) await dropKeys(REDIS_URL, `${PREFIX}-${suffix}`);
  await redis?.quit();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("certs-bot console --allow-renewals", () => {
  test("without it, renew and approve show the plan and say how to run it; nothing on the node changes", async () => {
    const prefix = `${PREFIX}-plain`;
    const before = await nodeState(plain);
    const run = await consoleSession(plain, [], RENEW_AND_APPROVE, {
      REDIS_URL,
      CERTS_BOT_REDIS_PREFIX: prefix,
    });
    assert.equal(run.code, 0, run.stderr);

    const renew = transcriptAfter(run.stdout, "U0ALICE01> /certs renew lab-plain");
    assert.match(renew, /Renewal plan: lab-plain/, "the plan is shown");
    assert.match(renew, /apiserver-kubelet-client/);
    assert.match(
      renew,
      /renewals change real nodes; start the console with --allow-renewals to run them/,
      "one line says how to run it",
    );
    assert.doesNotMatch(renew, /\[ Approve \]/, "there is nothing to approve");
    assert.match(renew, /building a renewal plan; it is shown here only, not posted for approval/);
    assert.doesNotMatch(renew, /posted in .* for approval/);
    assert.match(transcriptAfter(run.stdout, "U0BOB0001> Approve"), /commands start with \/certs/);
    assert.match(
      transcriptAfter(run.stdout, "U0BOB0001> /certs audit lab-plain"),
      /No renewals or snoozes recorded/,
    );

    assertUnchanged(before, await nodeState(plain));
    assert.deepEqual(await keysUnder(prefix), [], "without the flag the console does not touch Redis");
  });

  test("REDIS_URL set but not answering: refused before anything runs, and its password is not shown", async () => {
    const before = await nodeState(plain);
    const port = await freePort("127.0.0.1");
    const run = await consoleSession(plain, ["--allow-renewals"], RENEW_AND_APPROVE, {
      REDIS_URL: `redis://:s3cret-pass@127.0.0.1:${port}`,
      CERTS_BOT_REDIS_PREFIX: `${PREFIX}-plain`,
    });
    assert.equal(run.code, 3, "a usage error");
    assert.match(
      run.stderr,
      /--allow-renewals: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ \(REDIS_URL\) does not answer/,
    );
    assert.match(run.stderr, /a console renewal that cannot see its run lease could run beside it/);
    assert.match(run.stderr, /without --allow-renewals to see plans only/);
    assert.doesNotMatch(run.stderr + run.stdout, /s3cret-pass/);
    assert.doesNotMatch(run.stdout, /Renewal plan/, "the console did not start");
    assertUnchanged(before, await nodeState(plain));
  });

  test("while a serve's run holds the cluster's lease in Redis, the console's renewal is refused", async () => {
    const prefix = `${PREFIX}-held`;
    const before = await nodeState(held);
    const serve = await new RunLease(redis, prefix).acquire(held.name, "some-other-request");
    assert.ok(serve.ok, "the test holds the lease as a running serve would");
    try {
      const run = await consoleSession(held, ["--allow-renewals"], RENEW_AND_APPROVE, {
        REDIS_URL,
        CERTS_BOT_REDIS_PREFIX: prefix,
      });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`Redis at redis://127.0.0.1:6379/? \\(prefix ${prefix}\\)`));
      const approved = transcriptAfter(run.stdout, "U0BOB0001> Approve");
      assert.match(approved, /another renewal of lab-held is executing/, "the refusal names the holder");
      assert.match(approved, /some-other-request/);
      assert.doesNotMatch(approved, /✅ cp-1 · (backup|renew|restart)/, "no step ran");

      assertUnchanged(before, await nodeState(held));
      assert.equal(
        await new RunLease(redis, prefix).holder(held.name),
        "some-other-request",
        "the serve's lease is still its own",
      );
    } finally {
      if (serve.ok) await serve.lease.release();
    }
  });

  test("with Redis, a console renewal writes serve's audit stream and releases the lease", async () => {
    const prefix = `${PREFIX}-shared`;
    const servedBefore = (await shared.node.cp.served())!.fingerprint256;
    const run = await consoleSession(shared, ["--allow-renewals"], RENEW_AND_APPROVE, {
      REDIS_URL,
      CERTS_BOT_REDIS_PREFIX: prefix,
    });
    assert.equal(run.code, 0, run.stderr);
    const approved = transcriptAfter(run.stdout, "U0BOB0001> Approve");
    assert.match(approved, /✅ cp-1 · verify/);
    assert.match(approved, /Renewal of lab-shared: renewed/);
    assert.notEqual(
      (await shared.node.cp.served())!.fingerprint256,
      servedBefore,
      "a new certificate is served",
    );

    const entries = await new AuditLog(redis, prefix).latest(shared.name, 100);
    const kinds = new Set(entries.map((e) => e.kind));
    for (const kind of ["requested", "refused", "approved", "started", "step", "result"])
      assert.ok(kinds.has(kind as never), `the Redis audit has ${kind}`);
    const requestId = entries.find((e) => e.kind === "requested")!.requestId;
    assert.ok(requestId?.startsWith("lab-shared-"));
    assert.match(entries.find((e) => e.kind === "result")!.detail, /done: renewed and verified on cp-1/);
    assert.equal(entries.find((e) => e.kind === "approved")!.actor, "U0BOB0001");
    for (const entry of entries)
      assert.match(entry.detail, /^\[console [^@\] ]+@[^\] ]+\] /, "each entry says the console wrote it");
    assert.match(
      transcriptAfter(run.stdout, "U0BOB0001> /certs audit lab-shared"),
      /\[console .*\] done: renewed and verified on cp-1/,
      "the console's /certs audit reads the same stream",
    );
    assert.equal(await new RunLease(redis, prefix).holder(shared.name), null, "the lease was released");
  });
});

describe("consoleRenewals: where the lease and the audit live without Redis", () => {
  test("REDIS_URL not set and nothing at the default: in memory, with a warning", async () => {
    const url = `redis://127.0.0.1:${await freePort("127.0.0.1")}`;
    const result = await consoleRenewals({ target: url, explicit: false, prefix: `${PREFIX}-memory` });
    assert.ok(result.ok);
    const { renewals } = result;
    assert.match(renewals.notice, /REDIS_URL is not set/);
    assert.match(renewals.notice, /Nothing keeps a renewal here from running beside a serve's/);
    const first = await renewals.lease.acquire("lab-m", "request-1");
    assert.ok(first.ok);
    assert.deepEqual(await renewals.lease.acquire("lab-m", "request-2"), { ok: false, holder: "request-1" });
    await renewals.audit.append("lab-m", { kind: "requested", detail: "kept in memory" });
    assert.equal((await renewals.audit.latest("lab-m"))[0]?.detail, "kept in memory");
    assert.deepEqual(await keysUnder(`${PREFIX}-memory`), []);
    await renewals.close();
  });

  test("REDIS_URL set and not answering: refused, naming it", async () => {
    const url = `redis://127.0.0.1:${await freePort("127.0.0.1")}`;
    const result = await consoleRenewals({ target: url, explicit: true, prefix: `${PREFIX}-memory` });
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.reason : "", /\(REDIS_URL\) does not answer \(connect ECONNREFUSED/);
  });
});
