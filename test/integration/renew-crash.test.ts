// Crashes during a renewal run: a real worker process (test/lab/renew-worker.ts: Queues/Workers with
// the renew handler) is SIGKILLed, with everything it started, in the middle of each step, at a
// point made exact by a tool wrapper that pauses there (and marks that it got there). Another worker
// picks the stalled job up once its lock expires and resumes from the state the job saved. What must
// hold afterwards: every certificate re-issued exactly once, exactly one backup tarball, written
// before the renew and never overwritten, the new certificate served, the request done and the run
// lease released. Also: Redis (append-only, private) restarted in the middle of a run.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Job } from "bullmq";
import type { Redis } from "ioredis";
import type { Command } from "../../src/core/kubeadm/versions.js";
import { Queues } from "../../src/adapters/queue/queues.js";
import type { RenewalRequest } from "../../src/core/renew/approval.js";
import type { RenewalJobData, RenewalJobResult } from "../../src/app/renew/job.js";
import type { NodePlan, RenewalPlan, StepId } from "../../src/core/renew/plan.js";
import { AuditLog } from "../../src/adapters/store/audit.js";
import { connectRedis } from "../../src/adapters/store/redis.js";
import { RenewalStore } from "../../src/adapters/store/renewals.js";
import { RunLease } from "../../src/adapters/store/run-lease.js";
import { fingerprintOf, stopAllControlPlanes } from "../lab/control-plane.js";
import { startRedis, type LabRedis } from "../lab/redis.js";
import {
  approvedRequest,
  pkiFingerprint,
  planLabRenewal,
  startLabCluster,
  type LabCluster,
} from "../lab/renewal-cluster.js";
import { until } from "../lab/wait.js";

/** Short, so a killed worker's job is picked up again within ~3 s. */
const FAST_STALL = {
  CERTS_BOT_RENEWAL_LOCK_DURATION_MS: "2000",
  CERTS_BOT_RENEWAL_STALLED_INTERVAL_MS: "1000",
};

type Tool = "kubeadm" | "tar" | "systemctl" | "crictl" | "probe";

/** Where the worker dies: while `tool` is paused before or after a call whose arguments contain `match`. */
interface CrashPoint {
  name: string;
  step: StepId;
  tool: Tool;
  when: "before" | "after";
  match(node: NodePlan): string;
  /** The step line the resumed run shows: run again, or skipped because its postcondition held. */
  resumed: "done" | "skipped";
  /** A known gap: the case runs and reports, without failing the suite. */
}

/** A command's arguments as the tool sees them ("$*"): words after the tool, paths unquoted. */
const argsOf = (command: Command): string =>
  command.words
    .slice(1)
    .map((w) => (typeof w === "string" ? w : "path" in w ? w.path : w.code))
    .join(" ");

const stepOf = (node: NodePlan, id: StepId) => node.steps.find((s) => s.id === id)!;
const kubeadmRenewals = (node: NodePlan): string[] =>
  stepOf(node, "renew")
    .commands.filter((c) => c.words[0] === "kubeadm")
    .map(argsOf);

const CRASH_POINTS: CrashPoint[] = [
  {
    name: "preflight: kubeadm version hangs",
    step: "preflight",
    tool: "kubeadm",
    when: "before",
    match: (node) => argsOf(stepOf(node, "preflight").commands[0]!),
    resumed: "done",
  },
  {
    name: "backup: the tarball is written, the step not yet saved",
    step: "backup",
    tool: "tar",
    when: "after",
    match: () => "-czf",
    resumed: "skipped",
  },
  {
    name: "renew: every certificate re-issued, the step not yet saved",
    step: "renew",
    tool: "kubeadm",
    when: "after",
    match: (node) => kubeadmRenewals(node).at(-1)!,
    resumed: "skipped",
  },
  {
    name: "restart: the manifests are parked while the control plane stops",
    step: "restart",
    tool: "crictl",
    when: "before",
    match: () => "ps -q",
    resumed: "done",
  },
  {
    name: "restart: manifests back, the kubelet not restarted yet",
    step: "restart",
    tool: "systemctl",
    when: "before",
    match: () => "restart kubelet",
    resumed: "done",
  },
  {
    name: "verify: waiting for the apiserver to serve",
    step: "verify",
    tool: "probe",
    when: "before",
    match: () => "",
    resumed: "done",
  },
];

let root: string;
let redis: LabRedis;
let client: Redis;
const PREFIX = `renew-crash-${process.pid}`;
const labs = new Map<string, LabCluster>();
const connection = () => ({ url: redis.url, protocol: 2, maxRetriesPerRequest: null }) as const;

/**
 * Wrappers around the node's tools, first on the worker's PATH: each logs its successful calls to
 * calls-<tool>, and while pause-<before|after>-<tool> exists and the call's arguments contain its text,
 * it marks reached-<before|after>-<tool> and waits.
 */
function writeToolWrappers(dir: string, binDir: string): void {
  mkdirSync(dir, { recursive: true });
  const real: Record<Exclude<Tool, "probe">, string> = {
    kubeadm: join(binDir, "kubeadm"),
    systemctl: join(binDir, "systemctl"),
    crictl: join(binDir, "crictl"),
    tar: execFileSync("/bin/sh", ["-c", "command -v tar"], { encoding: "utf8" }).trim(),
  };
  for (const [tool, path] of Object.entries(real)) {
    const script = `#!/bin/sh
SW='${dir}'
pause() {
  _when=$1
  shift
  _switch="$SW/pause-$_when-${tool}"
  [ -e "$_switch" ] || return 0
  case "$*" in *"$(cat "$_switch" 2>/dev/null)"*) ;; *) return 0 ;; esac
  : >"$SW/reached-$_when-${tool}"
  while [ -e "$_switch" ]; do sleep 0.1; done
}
pause before "$@"
'${path}' "$@"
_status=$?
if [ "$_status" -eq 0 ]; then
  printf '%s\\n' "$*" >>"$SW/calls-${tool}"
  pause after "$@"
fi
exit "$_status"
`;
    writeFileSync(join(dir, tool), script, { mode: 0o755 });
  }
}

/** A lab cluster with its own wrappers and its own key prefix (queues and stores), as the worker has it. */
interface CrashLab {
  lab: LabCluster;
  switches: string;
  prefix: string;
  renewals: RenewalStore;
  audit: AuditLog;
  lease: RunLease;
}

async function crashLab(name: string, host: number): Promise<CrashLab> {
  const lab = await startLabCluster({
    root: join(root, name),
    name,
    nodes: [{ name: `${name}-1`, host, version: "v1.28.4" }],
    expired: ["apiserver-kubelet-client"],
  });
  labs.set(name, lab);
  const switches = join(root, name, "switches");
  writeToolWrappers(switches, lab.nodes[0]!.tree.binDir);
  const prefix = `${PREFIX}-${name}`;
  return {
    lab,
    switches,
    prefix,
    renewals: new RenewalStore(client, prefix),
    audit: new AuditLog(client, prefix),
    lease: new RunLease(client, prefix),
  };
}

function startWorker(c: CrashLab, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const log = openSync(join(c.switches, "worker.log"), "a");
  // Its own process group: SIGKILL to the group takes whatever the worker started with it, as a
  // crashed host would (the lab kubelet runs in a session of its own and survives, as a node's would).
  const child = spawn(process.execPath, ["--import", "tsx", "test/lab/renew-worker.ts"], {
    detached: true,
    stdio: ["ignore", "ignore", log],
    env: {
      ...process.env,
      ...env,
      REDIS_URL: redis.url,
      CERTS_BOT_REDIS_PREFIX: c.prefix,
      LAB_CONFIG: c.lab.configPath,
      LAB_SWITCHES: c.switches,
    },
  });
  closeSync(log);
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((r) =>
    child.exitCode !== null || child.signalCode !== null
      ? r(child.exitCode)
      : child.once("exit", (code) => r(code)),
  );

async function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    // already gone
  }
  await exited(child);
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  await exited(child);
  await killGroup(child); // anything it left behind in its group
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const tarballsOf = (c: CrashLab, node: string): string[] => {
  const dir = join(root, c.lab.name, "backups", c.lab.name, node);
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".tar.gz"))
        .map((f) => join(dir, f))
    : [];
};
const callsOf = (c: CrashLab, tool: Tool): string[] => {
  const file = join(c.switches, `calls-${tool}`);
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
};
const workerLog = (c: CrashLab) => readFileSync(join(c.switches, "worker.log"), "utf8").slice(-2000);

async function finishedJob(
  c: CrashLab,
  queues: Queues,
  id: string,
  timeoutMs: number,
): Promise<Job<RenewalJobData>> {
  await until(
    "the run to finish",
    async () => (await queues.renewal.getJob(id))?.finishedOn,
    timeoutMs,
  ).catch((err: Error) => assert.fail(`${err.message}\nworker log:\n${workerLog(c)}`));
  return (await queues.renewal.getJob(id)) as Job<RenewalJobData>;
}

/**
 * What a user must find after a run that was interrupted (or not): done, each certificate re-issued
 * once, one backup of the old certificates, the new one served, audited, the cluster free again.
 */
async function assertRenewedOnce(
  c: CrashLab,
  job: Job<RenewalJobData>,
  request: RenewalRequest,
  plan: RenewalPlan,
  original: string,
  attempts: number,
) {
  const node = plan.nodes[0]!;
  const lab = c.lab.nodes[0]!;
  assert.equal(job.failedReason, undefined, job.failedReason);
  const result: RenewalJobResult = { requestId: request.id, outcome: "done", attempts };
  const failures = job.data.state?.nodes.map((n) => ({ failure: n.failure, rollback: n.rollback }));
  assert.deepEqual(job.returnvalue, result, `${JSON.stringify(failures)}\n${workerLog(c)}`);
  assert.equal(job.data.state?.outcome, "done");
  assert.deepEqual(
    callsOf(c, "kubeadm")
      .filter((l) => / renew /.test(l))
      .sort(),
    kubeadmRenewals(node).sort(),
    "every certificate re-issued exactly once",
  );
  const renewed = pkiFingerprint(lab, "apiserver.crt");
  assert.notEqual(renewed, original);
  assert.equal((await lab.cp.served())?.fingerprint256, renewed, "the new apiserver.crt is served");
  const tarballs = tarballsOf(c, node.node);
  assert.deepEqual(tarballs, [node.backup], "exactly one backup tarball");
  const listing = execFileSync("tar", ["-tzf", node.backup], { encoding: "utf8" }).split("\n");
  assert.ok(listing.includes("pki/ca.crt"), "the listing is intact");
  const backedUp = execFileSync("tar", ["-xzOf", node.backup, "pki/apiserver.crt"]);
  assert.equal(fingerprintOf(backedUp), original, "the backup holds the certificate from before the renew");
  assert.equal((await c.renewals.get(request.id))?.state, "done");
  assert.equal(await c.lease.holder(plan.cluster), null, "the run lease is released");
  const entries = (await c.audit.latest(plan.cluster, 100))
    .filter((e) => e.requestId === request.id)
    .reverse();
  assert.deepEqual(
    entries.filter((e) => e.kind === "started").map((e) => e.detail.replace(/:.*/, "")),
    ["started", ...(attempts > 1 ? [`resumed (attempt ${attempts}) after an interruption`] : [])],
  );
  assert.ok(!entries.some((e) => e.detail.includes("❌")), "no step failed");
  assert.deepEqual(
    entries.filter((e) => e.kind === "result").map((e) => e.detail),
    [`done: renewed and verified on ${node.node}`],
  );
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-renew-crash-"));
  redis = await startRedis({ persistent: true });
  client = connectRedis(redis.url);
  client.on("error", () => undefined); // while the test restarts it
});

after(async () => {
  await stopAllControlPlanes();
  client?.disconnect();
  await redis?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("a worker SIGKILLed during a renewal: another worker resumes it", () => {
  for (const [i, point] of CRASH_POINTS.entries()) {
    test(point.name, async () => {
      const c = await crashLab(`crash-${i + 1}`, 71 + i);
      const plan = await planLabRenewal(c.lab);
      const node = plan.nodes[0]!;
      const original = pkiFingerprint(c.lab.nodes[0]!, "apiserver.crt");
      const request = await approvedRequest(c.renewals, plan);
      const pause = join(c.switches, `pause-${point.when}-${point.tool}`);
      writeFileSync(pause, point.match(node));
      const queues = new Queues(connection(), `${c.prefix}:bull`);
      const first = startWorker(c, FAST_STALL);
      let second: ChildProcess | undefined;
      try {
        const job = await queues.requestRun(request.id);
        await until(
          `the worker to reach ${point.step}`,
          async () => existsSync(join(c.switches, `reached-${point.when}-${point.tool}`)),
          30_000,
        ).catch((err: Error) => assert.fail(`${err.message}\nworker log:\n${workerLog(c)}`));
        // The saved state says the step is under way: the worker dies in the middle of it.
        const saved = (await queues.renewal.getJob(job.id!))!.data.state;
        assert.equal(saved?.nodes[0]!.steps.find((s) => s.step === point.step)?.state, "running");
        const tarball = existsSync(node.backup) ? sha256(node.backup) : null;
        await killGroup(first);
        rmSync(pause);

        second = startWorker(c, FAST_STALL);
        const done = await finishedJob(c, queues, job.id!, 60_000);
        assert.equal(done.processedBy?.endsWith(`:${second.pid}`), true, "the second worker finished it");
        await assertRenewedOnce(c, done, request, plan, original, 2);
        const line = done.data.state!.nodes[0]!.steps.find((s) => s.step === point.step);
        assert.equal(line?.state, point.resumed, `${point.step} on resume`);
        if (tarball) assert.equal(sha256(node.backup), tarball, "the backup was not overwritten");
      } finally {
        await killGroup(first);
        if (second) await stopWorker(second);
        await queues.close();
      }
    });
  }
});

describe("Redis restarted during a renewal", () => {
  test("the run rides it out (append-only Redis): done once, no rerun", async () => {
    const c = await crashLab("redis-restart", 71 + CRASH_POINTS.length);
    const plan = await planLabRenewal(c.lab);
    const original = pkiFingerprint(c.lab.nodes[0]!, "apiserver.crt");
    const request = await approvedRequest(c.renewals, plan);
    const pause = join(c.switches, "pause-before-systemctl");
    writeFileSync(pause, "restart kubelet");
    const queues = new Queues(connection(), `${c.prefix}:bull`);
    for (const queue of [queues.scan, queues.digest, queues.renewal]) queue.on("error", () => undefined); // Redis is down for a while
    // The production lock settings: a Redis restart must not look like a dead worker.
    const worker = startWorker(c);
    try {
      const job = await queues.requestRun(request.id);
      await until("the run to reach the restart", async () =>
        existsSync(join(c.switches, "reached-before-systemctl")),
      );
      await redis.restart(1_000);
      rmSync(pause);
      const done = await finishedJob(c, queues, job.id!, 60_000);
      await assertRenewedOnce(c, done, request, plan, original, 1);
      assert.equal(done.stalledCounter, 0, "never taken for stalled");
    } finally {
      await stopWorker(worker);
      await queues.close();
    }
  });
});
