// A Redis Sentinel failover under running certs-bot processes: a master, a replica and three
// sentinels on loopback (test/lab/sentinel.ts), `serve` and two `worker` processes given only the
// sentinels (REDIS_URL's host and port lead nowhere: it supplies the password), scanning lab
// clusters and warning a fake Slack, and a renewal paused in flight in a renew worker
// (test/lab/renew-worker.ts). The master is SIGKILLed. What must hold: the sentinels promote the
// replica, every process reports not ready while there is no master and ready after, with no
// restart; scans complete again; the warning is not posted twice; the renewal finishes as the one
// run it was.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { Job } from "bullmq";
import { Queues } from "../../src/adapters/queue/queues.js";
import { AuditLog } from "../../src/adapters/store/audit.js";
import { connectRedis, redisOptions, redisTarget } from "../../src/adapters/store/redis.js";
import { RenewalStore } from "../../src/adapters/store/renewals.js";
import type { RenewalJobResult } from "../../src/app/renew/job.js";
import { stopAllControlPlanes } from "../lab/control-plane.js";
import { startFakeSlack, type FakeSlack } from "../lab/fake-slack.js";
import { freePort } from "../lab/ports.js";
import { approvedRequest, planLabRenewal, startLabCluster, type LabCluster } from "../lab/renewal-cluster.js";
import { startSentinelGroup, type LabSentinelGroup } from "../lab/sentinel.js";
import { newClusterPki, writeLabNode } from "../lab/tree.js";
import { until } from "../lab/wait.js";

const DAY = 86_400_000;
const TOKEN = "xoxb-4242-4242-SENTINELtoken";
const PASSWORD = "redisPASSWORDsecret";
const SENTINEL_PASSWORD = "sentinelPASSWORDsecret";
/** The master's password; its host and port are not used once REDIS_SENTINELS is set. */
const REDIS_URL = `redis://:${PASSWORD}@127.0.0.1:1`;
const PREFIX = `sentinel-${process.pid}`;
const RENEW_PREFIX = `${PREFIX}-renew`;

let root: string;
let group: LabSentinelGroup;
let fake: FakeSlack;
let configPath: string;
let lab: LabCluster;
let switches: string;
const children: ChildProcess[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-sentinel-test-"));
  group = await startSentinelGroup({ password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD });
  fake = await startFakeSlack({ token: TOKEN });
  const now = new Date();
  const pki = await newClusterPki({ now });
  const node = (name: string, dates = {}) =>
    writeLabNode({ root: join(root, name), nodeName: name, address: "127.0.0.1", pki, now, dates });
  const expired = await node("expired-1", {
    "admin.conf": { notBefore: new Date(now.getTime() - 368 * DAY), notAfter: new Date(now.getTime() - DAY) },
  });
  const healthy = await node("healthy-1");
  const entry = (cluster: string, channel: string, n: typeof expired, name: string) => [
    `  - name: ${cluster}`,
    `    channel: ${channel}`,
    "    nodes:",
    `      - host: 127.0.0.1`,
    `        name: ${name}`,
    "        transport: local",
    `        paths: { kubernetesDir: "${n.kubernetesDir}", kubeletPkiDir: "${n.kubeletPkiDir}" }`,
    "        apiserver: { probe: false }",
  ];
  configPath = join(root, "clusters.yaml");
  writeFileSync(
    configPath,
    [
      // No scheduled scans: the test asks for each scan, so it knows which ones ran after the failover.
      'scanCron: "0 0 1 1 *"',
      'slack: { digestChannel: C0DIGEST, digestCron: "0 0 1 1 *" }',
      "clusters:",
      ...entry("expired", "C0EXPIRD", expired, "expired-1"),
      ...entry("healthy", "C0HEALTH", healthy, "healthy-1"),
      "",
    ].join("\n"),
  );
  lab = await startLabCluster({
    root: join(root, "renewal"),
    name: "renewal",
    nodes: [{ name: "renewal-1", host: 131, version: "v1.28.4" }],
    expired: ["apiserver-kubelet-client"],
  });
  switches = join(root, "switches");
  mkdirSync(switches);
});

after(async () => {
  await Promise.all(children.map(stopProcess));
  await stopAllControlPlanes();
  await group?.stop();
  await fake?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  output: () => string;
  metricsPort?: number;
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve()),
  );

/** SIGTERM, then SIGKILL to its process group if it has not exited within 15 s. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }, 15_000);
  await exited(child);
  clearTimeout(timer);
}

/** A child in a process group of its own (so a stuck one can be killed with all it started). */
function start(args: string[], env: NodeJS.ProcessEnv): Running {
  let output = "";
  const child = spawn(process.execPath, ["--import", "tsx", ...args], {
    detached: true,
    env: {
      ...process.env,
      REDIS_URL,
      ...group.env,
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_API_URL: fake.url,
      SLACK_APP_TOKEN: "",
      SLACK_SIGNING_SECRET: "",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function service(role: "serve" | "worker"): Promise<Running> {
  const metricsPort = await freePort("127.0.0.1");
  const running = start(["src/cli.ts", role, "--config", configPath], {
    CERTS_BOT_REDIS_PREFIX: PREFIX,
    METRICS_PORT: String(metricsPort),
  });
  return { ...running, metricsPort };
}

async function readyz(port: number): Promise<{ status: number; checks: Record<string, string> }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
}

/** Every job's end, or a failure naming the jobs that did not finish and what the processes wrote. */
async function finished(queues: Queues, jobs: Job[], what: string, logs: () => string): Promise<void> {
  await until(
    what,
    async () => {
      const now = await Promise.all(jobs.map((job) => queues.scan.getJob(job.id!)));
      return now.every((job) => job?.finishedOn && !job.failedReason);
    },
    30_000,
  ).catch((err: Error) => assert.fail(`${err.message}\n${logs().slice(-4000)}`));
}

/** The process's exit code, or a failure with what it wrote when it has not exited within 30 s. */
async function exitCode(running: Running): Promise<number | null> {
  const { child } = running;
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited(child);
  clearTimeout(timer);
  assert.equal(child.signalCode, null, `did not exit by itself:\n${running.output()}`);
  return child.exitCode;
}

test("settings certs-bot cannot use stop it at start: exit 3, the variable named, no password shown", async () => {
  const cases: [NodeJS.ProcessEnv, RegExp][] = [
    [
      { REDIS_SENTINEL_PASSWORD: "wrongSENTINELpassword" },
      /the sentinels refused certs-bot \(REDIS_SENTINEL_PASSWORD\)/,
    ],
    [{ REDIS_SENTINEL_NAME: "" }, /REDIS_SENTINEL_NAME is not set/],
    [
      { REDIS_SENTINELS: `127.0.0.1:${group.sentinelPorts[0]},127.0.0.1:x` },
      /REDIS_SENTINELS entry "127\.0\.0\.1:x"/,
    ],
  ];
  for (const [env, reason] of cases) {
    const worker = start(["src/cli.ts", "worker", "--config", configPath], {
      CERTS_BOT_REDIS_PREFIX: PREFIX,
      METRICS_PORT: "0",
      ...env,
    });
    assert.equal(await exitCode(worker), 3, worker.output());
    assert.match(worker.output(), reason);
    for (const secret of [PASSWORD, SENTINEL_PASSWORD, "wrongSENTINELpassword"]) {
      assert.ok(!worker.output().includes(secret), `a password in what it wrote:\n${worker.output()}`);
    }
  }
});

test("the master is killed: the sentinels promote the replica and certs-bot carries on by itself", async () => {
  const target = redisTarget({ REDIS_URL, ...group.env });
  const queues = new Queues(redisOptions(target), `${PREFIX}:bull`, pino({ level: "silent" }));
  const renewQueues = new Queues(redisOptions(target), `${RENEW_PREFIX}:bull`, pino({ level: "silent" }));
  const redis = connectRedis(target);
  for (const emitter of [redis, ...[queues, renewQueues].flatMap((q) => [q.scan, q.digest, q.renewal])]) {
    emitter.on("error", () => undefined); // while there is no master
  }
  try {
    const services = [await service("serve"), await service("worker"), await service("worker")];
    const logs = () => services.map((s) => s.output()).join("\n");
    for (const s of services) {
      await until("certs-bot is running", async () => s.output().includes('"msg":"certs-bot is running"'));
    }
    const shown = `sentinel ${group.name} via ${group.env.REDIS_SENTINELS}`;
    assert.ok(logs().includes(`"redis":"${shown}"`), `the target is logged as ${shown}:\n${logs()}`);

    // Before: both clusters scanned, the expired certificate warned about once.
    const before = [
      await queues.requestScan("expired", "manual"),
      await queues.requestScan("healthy", "manual"),
    ];
    await finished(queues, before, "the scans before the failover", logs);
    await until("the warning", async () => fake.messages("C0EXPIRD").length > 0);
    for (const s of services) assert.equal((await readyz(s.metricsPort!)).status, 200, s.output());

    // A renewal in flight: its run paused at the apiserver probe (the verify step).
    const renewals = new RenewalStore(redis, RENEW_PREFIX);
    const request = await approvedRequest(renewals, await planLabRenewal(lab));
    writeFileSync(join(switches, "pause-before-probe"), "");
    start(["test/lab/renew-worker.ts"], {
      CERTS_BOT_REDIS_PREFIX: RENEW_PREFIX,
      LAB_CONFIG: lab.configPath,
      LAB_SWITCHES: switches,
      LOG_LEVEL: "warn",
    });
    const run = await renewQueues.requestRun(request.id);
    await until("the renewal to reach verify", async () =>
      existsSync(join(switches, "reached-before-probe")),
    );

    // Replication is asynchronous: make sure the replica has everything so far before the master dies.
    assert.equal(await redis.call("WAIT", "1", "5000"), 1, "the replica acknowledged the writes");
    const oldMaster = `127.0.0.1:${group.master.port}`;
    assert.equal(await group.masterAddress(), oldMaster);
    await group.master.stop(); // SIGKILL: no goodbye to any client

    for (const s of services) {
      const answer = await until(
        "/readyz to report Redis failing",
        async () => {
          const r = await readyz(s.metricsPort!);
          return r.status === 503 && r.checks.redis !== "ok" ? r : undefined;
        },
        15_000,
      );
      assert.match(answer.checks.redis!, /Redis connection is|no answer/);
    }
    const newMaster = `127.0.0.1:${group.replica.port}`;
    for (const i of group.sentinelPorts.keys()) {
      await until(
        `sentinel ${i + 1} to name the replica as master`,
        async () => (await group.masterAddress(i).catch(() => "")) === newMaster,
        30_000,
      );
    }
    for (const s of services) {
      await until(
        "/readyz to report ready again",
        async () => (await readyz(s.metricsPort!)).status === 200,
        30_000,
      ).catch((err: Error) => assert.fail(`${err.message}\n${s.output().slice(-4000)}`));
    }

    // After: new scans complete on the new master, with no restart of any process.
    const after = [
      await queues.requestScan("expired", "manual"),
      await queues.requestScan("healthy", "manual"),
    ];
    await finished(queues, after, "the scans after the failover", logs);
    assert.ok(
      services.every((s) => s.child.exitCode === null),
      "no process exited",
    );
    const role = (await redis.call("ROLE")) as unknown[];
    assert.equal(role[0], "master");

    // The renewal goes on from where it was: one run, finished.
    rmSync(join(switches, "pause-before-probe"));
    await until(
      "the renewal to finish",
      async () => (await renewQueues.renewal.getJob(run.id!))?.finishedOn,
      60_000,
    );
    const done = (await renewQueues.renewal.getJob(run.id!))!;
    const result: RenewalJobResult = { requestId: request.id, outcome: "done", attempts: 1 };
    assert.deepEqual(done.returnvalue, result, done.failedReason);
    assert.equal((await renewals.get(request.id))?.state, "done");
    const audit = (await new AuditLog(redis, RENEW_PREFIX).latest("renewal", 100)).filter(
      (e) => e.requestId === request.id,
    );
    assert.equal(audit.filter((e) => e.kind === "started").length, 1, "one run started");
    assert.deepEqual(
      audit.filter((e) => e.kind === "result").map((e) => e.detail),
      ["done: renewed and verified on renewal-1"],
    );

    // Slack heard of the expired certificate once, before and after the failover alike.
    assert.equal(fake.messages("C0EXPIRD").length, 1, JSON.stringify(fake.messages("C0EXPIRD")));
    for (const secret of [PASSWORD, SENTINEL_PASSWORD]) {
      assert.ok(!logs().includes(secret), "no password in the logs");
    }
  } finally {
    await queues.close().catch(() => queues.disconnect());
    await renewQueues.close().catch(() => renewQueues.disconnect());
    redis.disconnect();
    await Promise.all(children.map(stopProcess));
  }
});
