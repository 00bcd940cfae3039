// The service end to end: real BullMQ on a real (private) Redis, real scans of lab trees, real
// @slack/web-api talking HTTP to the fake Slack Web API (the only stand-in). Worker processes are
// real `certs-bot worker` children, killed and restarted for real.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CronExpressionParser } from "cron-parser";
import { Redis } from "ioredis";
import { pino } from "pino";
import { loadConfig, type Config } from "../../src/config/load.js";
import { renderDigest } from "../../src/present/digest.js";
import { checkBlockLimits } from "../../src/present/slack-types.js";
import type { ClusterReport, NodeReport } from "../../src/core/report/types.js";
import { defaultDependencies } from "../../src/adapters/nodes/scan.js";
import { Service } from "../../src/service.js";
import { SlackPoster, webClient } from "../../src/adapters/slack/poster.js";
import { Store } from "../../src/adapters/store/store.js";
import { startFakeSlack, type FakeSlack } from "../lab/fake-slack.js";
import { freePort } from "../lab/ports.js";
import { startRedis, type LabRedis } from "../lab/redis.js";
import { until } from "../lab/wait.js";
import { newClusterPki, writeLabNode, type ClusterPki, type LabNodeSpec } from "../lab/tree.js";

const DAY = 86_400_000;
const realNow = new Date();
const days = (n: number) => new Date(realNow.getTime() + n * DAY);
const quiet = pino({ level: "silent" });

let root: string;
let redis: LabRedis;
let fake: FakeSlack;
let config: Config;
let configPath: string;
let blackhole: Server;
const held: Socket[] = [];
const pkis = new Map<string, ClusterPki>();

async function writeNode(cluster: string, name: string, spec: Partial<LabNodeSpec> = {}) {
  if (!pkis.has(cluster)) pkis.set(cluster, await newClusterPki({ now: realNow }));
  return writeLabNode({
    root: join(root, name),
    nodeName: name,
    address: "127.0.0.1",
    pki: pkis.get(cluster)!,
    now: realNow,
    ...spec,
  });
}

const topLevel = (channel: string) => fake.messages(channel).filter((m) => !m.thread_ts);
const replies = (channel: string) => fake.messages(channel).filter((m) => m.thread_ts);

let prefixes = 0;
function service(role: "serve" | "worker", now?: () => Date): Service {
  return new Service({
    role,
    config,
    redisUrl: redis.url,
    prefix: `t${process.pid}-${++prefixes}`,
    slack: { token: "xoxb-test", apiUrl: fake.url },
    logger: quiet,
    graceMs: 5000,
    scanDependencies: { ...defaultDependencies(), ...(now ? { now } : {}) },
  });
}

async function scanAndWait(svc: Service, cluster: string) {
  const job = await svc.queue.requestScan(cluster, "manual");
  await until(`scan of ${cluster}`, async () => (await svc.queue.scan.getJob(job.id!))?.finishedOn);
  const finished = (await svc.queue.scan.getJob(job.id!))!;
  assert.equal(finished.failedReason, undefined, finished.failedReason);
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-service-"));
  redis = await startRedis({ persistent: true });
  fake = await startFakeSlack({ retryAfterSeconds: 1 });
  // Accepts TCP and never answers TLS: makes a node's scan take connectTimeoutMs.
  blackhole = createServer((socket) => held.push(socket));
  const blackholePort = await freePort("127.0.0.1");
  await new Promise<void>((r) => blackhole.listen(blackholePort, "127.0.0.1", r));

  const a = await writeNode("lab-a", "a-1", {
    dates: {
      "apiserver-kubelet-client": { notBefore: days(-368), notAfter: days(-3) },
      "front-proxy-client": { notBefore: days(-340), notAfter: days(25) },
    },
  });
  const b = await writeNode("lab-b", "b-1");
  const slow = await writeNode("lab-slow", "slow-1", {
    dates: { "admin.conf": { notBefore: days(-368), notAfter: days(-1) } },
  });
  // A node that refuses SSH: known (pinned), but down.
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(root, "id_ed25519")]);
  const downPort = await freePort("127.0.0.1");
  writeFileSync(
    join(root, "known_hosts"),
    `[127.0.0.1]:${downPort} ssh-ed25519 ${Buffer.alloc(51).toString("base64")}\n`,
  );
  const node = (name: string, dirs: { kubernetesDir: string; kubeletPkiDir: string }, extra = "") =>
    [
      `      - host: 127.0.0.1`,
      `        name: ${name}`,
      `        transport: local`,
      `        paths: { kubernetesDir: "${dirs.kubernetesDir}", kubeletPkiDir: "${dirs.kubeletPkiDir}" }`,
      extra || `        apiserver: { probe: false }`,
    ].join("\n");
  configPath = join(root, "clusters.yaml");
  writeFileSync(
    configPath,
    [
      "timezone: Europe/Berlin",
      'scanCron: "*/30 * * * *"',
      'slack: { digestChannel: C0DIGEST, digestCron: "0 9 * * 1-5" }',
      "clusters:",
      "  - name: lab-a",
      "    channel: C0LABAAA",
      "    nodes:",
      node("a-1", a),
      "  - name: lab-b",
      "    channel: C0LABBBB",
      "    nodes:",
      node("b-1", b),
      "  - name: lab-slow",
      "    channel: C0SLOWWW",
      "    nodes:",
      node(
        "slow-1",
        slow,
        `        apiserver: { port: ${blackholePort} }\n        ssh: { connectTimeoutMs: 5000 }`,
      ),
      "  - name: lab-down",
      "    channel: C0DOWNNN",
      `    ssh: { privateKeyPath: ${join(root, "id_ed25519")}, knownHostsPath: ${join(root, "known_hosts")} }`,
      "    nodes:",
      `      - { host: 127.0.0.1, name: down-1, port: ${downPort}, apiserver: { probe: false } }`,
      "",
    ].join("\n"),
  );
  config = loadConfig(configPath);
});

after(async () => {
  held.forEach((s) => s.destroy());
  await new Promise((r) => blackhole?.close(r));
  await fake?.close();
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("schedules and fan-out", () => {
  test("serve registers both schedules in the configured time zone; worker registers none", async () => {
    const serve = service("serve");
    const worker = service("worker");
    try {
      await serve.start();
      await worker.start();
      const [scan] = await serve.queue.scan.getJobSchedulers();
      assert.equal(scan?.pattern, "*/30 * * * *");
      assert.equal(scan?.tz, "Europe/Berlin");
      const [digest] = await serve.queue.digest.getJobSchedulers();
      assert.equal(digest?.pattern, "0 9 * * 1-5");
      assert.equal(digest?.tz, "Europe/Berlin");
      const expected = CronExpressionParser.parse("0 9 * * 1-5", {
        tz: "Europe/Berlin",
        currentDate: new Date(),
      }).next();
      assert.equal(digest?.next, expected.getTime(), "the next digest is 09:00 Berlin time, not UTC");
      assert.deepEqual(await worker.queue.scan.getJobSchedulers(), []);
    } finally {
      await Promise.all([serve.stop(), worker.stop()]);
    }
  });

  test("at start, serve scans each cluster whose report is missing or older than a scan period", async () => {
    const serve = service("serve");
    const client = new Redis(redis.url);
    const store = new Store(client, `t${process.pid}-${prefixes}`);
    const report = (name: string): ClusterReport => ({ name, status: "ok", nodes: [] });
    const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);
    // scanCron "*/30 * * * *": a report 10 minutes old is current, one 2 hours old missed ticks.
    await store.saveScan({
      cluster: "lab-a",
      scannedAt: minutesAgo(10),
      durationMs: 5,
      report: report("lab-a"),
    });
    await store.saveScan({
      cluster: "lab-b",
      scannedAt: minutesAgo(120),
      durationMs: 5,
      report: report("lab-b"),
    });
    try {
      await serve.start();
      const queued = await serve.queue.scan.getJobs(["waiting", "active", "completed", "failed"]);
      assert.deepEqual(
        queued.map((j) => [j.data.cluster, j.data.reason]).sort(),
        [
          ["lab-b", "catch-up"],
          ["lab-down", "catch-up"],
          ["lab-slow", "catch-up"],
        ],
        "lab-a, scanned 10 minutes ago, waits for its tick",
      );
    } finally {
      await serve.stop();
      client.disconnect();
    }
  });

  test("scan-all queues one job per cluster, and a manual scan joins a waiting one", async () => {
    const svc = service("worker");
    try {
      const first = await svc.queue.requestScan("lab-b", "manual");
      const again = await svc.queue.requestScan("lab-b", "manual");
      assert.equal(again.id, first.id, "deduplicated while waiting or running");
      await svc.queue.scan.add("scan-all", {});
      await until("all four clusters scanned", async () => {
        const done = await svc.queue.scan.getCompleted();
        return done.filter((j) => j.name === "scan-cluster").length === 4;
      });
      const done = await svc.queue.scan.getCompleted();
      assert.deepEqual(
        done
          .filter((j) => j.name === "scan-cluster")
          .map((j) => j.data.cluster)
          .sort(),
        ["lab-a", "lab-b", "lab-down", "lab-slow"],
      );
    } finally {
      await svc.stop();
    }
  });
});

describe("warnings", () => {
  let later = realNow;
  let svc: Service;
  before(() => {
    fake.reset();
    svc = service("worker", () => later);
  });
  after(() => svc.stop());

  test("posted once per level, to the cluster's channel", async () => {
    await scanAndWait(svc, "lab-a");
    const [warning, ...others] = topLevel("C0LABAAA");
    assert.equal(others.length, 0);
    assert.match(warning!.text, /lab-a/);
    const body = JSON.stringify(warning!.blocks);
    for (const needle of [
      "apiserver-kubelet-client",
      "front-proxy-client",
      "a-1",
      "apiserver-kubelet-client.crt",
      "CET",
    ]) {
      assert.ok(body.includes(needle), `${needle} in ${body.slice(0, 400)}`);
    }
    await scanAndWait(svc, "lab-a");
    assert.equal(fake.messages("C0LABAAA").length, 1, "the same levels are not posted again");
  });

  test("a worse level is posted again; expired repeats daily in the thread", async () => {
    const thread = topLevel("C0LABAAA")[0]!.ts;
    later = days(20); // front-proxy-client: 25 d → 5 d left, critical
    await scanAndWait(svc, "lab-a");
    const tops = topLevel("C0LABAAA");
    assert.equal(tops.length, 2);
    assert.match(JSON.stringify(tops[1]!.blocks), /front-proxy-client/);
    assert.match(JSON.stringify(tops[1]!.blocks), /critical/i);
    const reminders = replies("C0LABAAA").filter((m) => m.thread_ts === thread);
    assert.equal(reminders.length, 1, "one reminder for the expired certificate, in its thread");
    await scanAndWait(svc, "lab-a");
    assert.equal(fake.messages("C0LABAAA").length, 3, "nothing new on a rescan the same day");
  });

  test("a renewed certificate is announced as resolved, in its thread", async () => {
    await writeNode("lab-a", "a-1"); // kubeadm certs renew: fresh certificates everywhere
    await scanAndWait(svc, "lab-a");
    assert.equal(topLevel("C0LABAAA").length, 2, "no new warning");
    const resolved = replies("C0LABAAA").slice(1);
    assert.ok(resolved.length >= 1, "resolved replies");
    assert.ok(
      resolved.every((m) => /renew|resolved|ok/i.test(m.text)),
      resolved.map((m) => m.text).join("\n"),
    );
  });
});

describe("unreachable nodes", () => {
  test("warned on the second unreachable scan in a row, once", async () => {
    fake.reset();
    const svc = service("worker");
    try {
      await scanAndWait(svc, "lab-down");
      assert.equal(fake.messages("C0DOWNNN").length, 0, "one failed scan is not yet a warning");
      await scanAndWait(svc, "lab-down");
      const [warning, ...more] = fake.messages("C0DOWNNN");
      assert.equal(more.length, 0);
      assert.match(JSON.stringify(warning!.blocks), /down-1/);
      assert.match(JSON.stringify(warning!.blocks), /connection refused/);
      await scanAndWait(svc, "lab-down");
      assert.equal(fake.messages("C0DOWNNN").length, 1, "not again while it stays down");
    } finally {
      await svc.stop();
    }
  });
});

describe("Slack failures", () => {
  test("500s and 429s are retried and the warning lands exactly once", async () => {
    fake.reset();
    const svc = service("worker");
    try {
      await writeNode("lab-b", "b-1", {
        dates: { "front-proxy-client": { notBefore: days(-355), notAfter: days(10) } },
      });
      fake.failNext("chat.postMessage", 2, { status: 500 });
      await scanAndWait(svc, "lab-b");
      assert.equal(fake.messages("C0LABBBB").length, 1);
      assert.equal(fake.calls.filter((c) => c.status === 500).length, 2);

      await writeNode("lab-b", "b-1", {
        dates: { "front-proxy-client": { notBefore: days(-355), notAfter: days(3) } },
      });
      fake.failNext("chat.postMessage", 1, { status: 429, retryAfter: 1 });
      await scanAndWait(svc, "lab-b");
      assert.equal(fake.calls.filter((c) => c.status === 429).length, 1);
      const posts = fake.calls.filter((c) => c.method === "chat.postMessage");
      const limited = posts.find((c) => c.status === 429)!;
      const retried = posts[posts.indexOf(limited) + 1]!;
      assert.ok(retried!.at - limited!.at >= 1000, "waited at least Retry-After");
      assert.equal(topLevel("C0LABBBB").length, 2, "the critical one, once");
    } finally {
      await svc.stop();
    }
  });

  test("a warning that fails past its retries is retried by its job, never posted twice", async () => {
    fake.reset();
    const svc = service("worker");
    try {
      await writeNode("lab-b", "b-1", { missing: ["admin.conf"] });
      fake.failNext("chat.postMessage", 4, { status: 500 }); // the client's 3 retries, then the job's
      const job = await svc.queue.requestScan("lab-b", "manual");
      await until(
        "the job's second attempt",
        async () => (await svc.queue.scan.getJob(job.id!))?.finishedOn,
        60_000,
      );
      const finished = (await svc.queue.scan.getJob(job.id!))!;
      assert.equal(finished.attemptsMade >= 2, true, `attempts: ${finished.attemptsMade}`);
      assert.equal(fake.messages("C0LABBBB").length, 1);
    } finally {
      await svc.stop();
    }
  });
});

describe("digest", () => {
  test("one message with counts, worst first, to the digest channel", async () => {
    fake.reset();
    const svc = service("worker");
    try {
      await scanAndWait(svc, "lab-a");
      await scanAndWait(svc, "lab-b");
      await svc.queue.digest.add("digest", {});
      await until("digest", async () => topLevel("C0DIGEST").some((m) => /digest/i.test(m.text)));
      const digest = topLevel("C0DIGEST").find((m) => /digest/i.test(m.text))!;
      const body = JSON.stringify(digest.blocks);
      assert.ok(body.indexOf("lab-b") < body.indexOf("lab-a") || /lab-a[\s\S]*all fine|ok/.test(body), body);
      assert.match(body, /lab-slow/);
    } finally {
      await svc.stop();
    }
  });

  test("500 clusters: every message and thread reply accepted by Slack's limits", async () => {
    fake.reset();
    const statuses = ["ok", "ok", "ok", "warning", "critical", "expired", "unreachable"] as const;
    const clusters = Array.from({ length: 500 }, (_, i) => {
      const status = statuses[i % statuses.length]!;
      const node: NodeReport = {
        name: `cp-${i}`,
        host: `10.0.${i >> 8}.${i & 255}`,
        port: 22,
        status,
        reachable: status !== "unreachable",
        certificates: [],
        findings: [],
      };
      const report: ClusterReport = { name: `cluster-${String(i).padStart(3, "0")}`, status, nodes: [node] };
      return { name: report.name, report, scannedAt: realNow };
    });
    const messages = renderDigest({ channel: "C0DIGEST", clusters, now: realNow, timeZone: "Europe/Berlin" });
    for (const m of messages) assert.deepEqual(checkBlockLimits(m), []);
    const client = new Redis(redis.url);
    const poster = new SlackPoster(
      webClient({ token: "xoxb-test", apiUrl: fake.url }),
      new Store(client, `digest500-${process.pid}`),
    );
    try {
      let parent: string | undefined;
      for (const [i, m] of messages.entries()) {
        const ts = await poster.postOnce(`d500:${i}`, m, parent);
        parent ??= ts;
      }
      assert.equal(fake.calls.filter((c) => c.response.error === "invalid_blocks").length, 0);
      assert.equal(fake.messages("C0DIGEST").length, messages.length);
      assert.equal(replies("C0DIGEST").length, messages.length - 1, "continuations are thread replies");
    } finally {
      client.disconnect();
    }
  });
});

describe("the CLI", () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { env }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
      ),
    );

  test("digest --print: a fresh scan, the messages as JSON, no Slack or Redis", async () => {
    const calls = fake.calls.length;
    const result = await run(["digest", "--config", configPath, "--print"], {
      ...process.env,
      REDIS_URL: "redis://127.0.0.1:1",
    });
    assert.equal(result.code, 0, result.stderr);
    const messages = JSON.parse(result.stdout) as { channel: string; text: string; blocks: unknown[] }[];
    assert.ok(messages.length >= 1);
    for (const m of messages) {
      assert.deepEqual(Object.keys(m).sort(), ["blocks", "channel", "text"]);
      assert.equal(m.channel, "C0DIGEST");
      assert.deepEqual(checkBlockLimits(m as never), []);
    }
    const body = JSON.stringify(messages);
    for (const cluster of ["lab-a", "lab-b", "lab-slow", "lab-down"])
      assert.ok(body.includes(cluster), cluster);
    assert.equal(fake.calls.length, calls, "nothing was sent to Slack");
  });

  test("serve and worker refuse to start without SLACK_BOT_TOKEN", async () => {
    const env = { ...process.env, SLACK_BOT_TOKEN: "" };
    for (const role of ["serve", "worker"]) {
      const result = await run([role, "--config", configPath], env);
      assert.equal(result.code, 3, role);
      assert.match(result.stderr, /SLACK_BOT_TOKEN is not set/);
    }
  });

  test("certs-bot serve posts warnings and the digest on schedule, and stops on SIGTERM", async () => {
    fake.reset();
    const file = join(root, "every-minute.yaml");
    const text = (await import("node:fs")).readFileSync(configPath, "utf8");
    writeFileSync(
      file,
      text
        .replace('scanCron: "*/30 * * * *"', 'scanCron: "* * * * *"')
        .replace('digestCron: "0 9 * * 1-5"', 'digestCron: "* * * * *"'),
    );
    const serve = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "serve", "--config", file], {
      env: {
        ...process.env,
        REDIS_URL: redis.url,
        CERTS_BOT_REDIS_PREFIX: `schedule-${process.pid}`,
        SLACK_BOT_TOKEN: "xoxb-test",
        SLACK_API_URL: fake.url,
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    try {
      await until(
        "a scheduled warning for lab-slow",
        async () => fake.messages("C0SLOWWW").length > 0,
        90_000,
      );
      await until(
        "a scheduled digest",
        async () => topLevel("C0DIGEST").some((m) => /digest/i.test(m.text)),
        90_000,
      );
    } finally {
      serve.kill("SIGTERM");
      const code = await new Promise((r) =>
        serve.exitCode !== null ? r(serve.exitCode) : serve.once("exit", r),
      );
      assert.equal(code, 0);
    }
  });
});

describe("crashes", () => {
  const worker = (prefix: string, extraEnv: NodeJS.ProcessEnv = {}): ChildProcess =>
    spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "worker", "--config", configPath], {
      env: {
        ...process.env,
        ...extraEnv,
        REDIS_URL: redis.url,
        CERTS_BOT_REDIS_PREFIX: prefix,
        SLACK_BOT_TOKEN: "xoxb-test",
        SLACK_API_URL: fake.url,
        CERTS_BOT_LOCK_DURATION_MS: "3000",
        CERTS_BOT_STALLED_INTERVAL_MS: "2000",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
  const exited = (child: ChildProcess) =>
    new Promise<number | null>((r) =>
      child.exitCode !== null ? r(child.exitCode) : child.once("exit", (code) => r(code)),
    );

  test("worker processes scale out: scans of one fan-out run on both", async () => {
    fake.reset();
    const prefix = `scale-${process.pid}`;
    const { Queues } = await import("../../src/adapters/queue/queues.js");
    const queues = new Queues({ url: redis.url, protocol: 2, maxRetriesPerRequest: null }, `${prefix}:bull`);
    const workers = [
      worker(prefix, { CERTS_BOT_SCAN_JOBS: "1" }),
      worker(prefix, { CERTS_BOT_SCAN_JOBS: "1" }),
    ];
    try {
      await until("both workers connected", async () => (await queues.scan.getWorkers()).length === 2);
      await queues.scan.add("scan-all", {});
      await until("four cluster scans", async () => {
        const done = await queues.scan.getCompleted();
        return done.filter((j) => j.name === "scan-cluster").length === 4;
      });
      const done = (await queues.scan.getCompleted()).filter((j) => j.name === "scan-cluster");
      const by = new Set(done.map((j) => j.processedBy));
      assert.equal(by.size, 2, `processed by ${[...by].join(", ")}`);
      assert.ok([...by].every((name) => /^certs-bot@.+:\d+$/.test(name ?? "")));
    } finally {
      workers.forEach((w) => w.kill("SIGTERM"));
      assert.deepEqual(await Promise.all(workers.map(exited)), [0, 0]);
      await queues.scan.obliterate({ force: true });
      await queues.close();
    }
  });

  test("a worker SIGKILLed mid-scan: the scan reruns on another worker, one warning", async () => {
    fake.reset();
    const prefix = `kill-${process.pid}`;
    const { Queues } = await import("../../src/adapters/queue/queues.js");
    const queues = new Queues({ url: redis.url, protocol: 2, maxRetriesPerRequest: null }, `${prefix}:bull`);
    const first = worker(prefix);
    try {
      const job = await queues.requestScan("lab-slow", "manual");
      await until("the slow scan to start", async () => (await queues.scan.getActiveCount()) === 1);
      first.kill("SIGKILL");
      await exited(first);
      const second = worker(prefix);
      try {
        await until(
          "the rerun to finish",
          async () => (await queues.scan.getJob(job.id!))?.finishedOn,
          40_000,
        );
        assert.equal(fake.messages("C0SLOWWW").length, 1);
        assert.match(JSON.stringify(fake.messages("C0SLOWWW")[0]!.blocks), /admin\.conf/);
      } finally {
        second.kill("SIGTERM");
        assert.equal(await exited(second), 0);
      }
    } finally {
      await queues.scan.obliterate({ force: true });
      await queues.close();
    }
  });

  test("SIGTERM lets the running scan finish, then exits 0", async () => {
    fake.reset();
    const prefix = `term-${process.pid}`;
    const { Queues } = await import("../../src/adapters/queue/queues.js");
    const queues = new Queues({ url: redis.url, protocol: 2, maxRetriesPerRequest: null }, `${prefix}:bull`);
    const child = worker(prefix);
    try {
      const job = await queues.requestScan("lab-slow", "manual");
      await until("the slow scan to start", async () => (await queues.scan.getActiveCount()) === 1);
      child.kill("SIGTERM");
      assert.equal(await exited(child), 0);
      const done = await queues.scan.getJob(job.id!);
      assert.ok(done?.finishedOn, "finished before exit");
      assert.equal(done?.failedReason, undefined);
    } finally {
      await queues.close();
    }
  });

  test("Redis restarted mid-run: the service reconnects and nothing is lost", async () => {
    fake.reset();
    const serve = service("serve");
    try {
      await serve.start();
      await scanAndWait(serve, "lab-b");
      const before = (await serve.queue.scan.getCompleted()).map((j) => j.id);
      await redis.restart();
      await scanAndWait(serve, "lab-a");
      assert.equal((await serve.queue.scan.getJobSchedulers()).length, 1, "schedules survived");
      const after = (await serve.queue.scan.getCompleted()).map((j) => j.id);
      assert.ok(
        before.every((id) => after.includes(id)),
        "finished jobs survived",
      );
    } finally {
      await serve.stop();
    }
  });
});
