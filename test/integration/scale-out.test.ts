// Scale-out: one `serve` and three `worker` processes (real children) on one private Redis and one
// fake Slack, with 200 clusters: 192 whose node refuses SSH and 8 local lab trees with an expired
// or expiring certificate. The scans spread over the processes, each warning reaches its channel
// once however the four race, the digest is posted once for its tick, and every instance's
// /metrics shows the same stored series.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Job } from "bullmq";
import { Redis } from "ioredis";
import { Queues } from "../../src/adapters/queue/queues.js";
import { startFakeSlack, type FakeSlack } from "../lab/fake-slack.js";
import { freePort } from "../lab/ports.js";
import { startRedis, type LabRedis } from "../lab/redis.js";
import { spawnService, type ServiceProcess } from "../lab/service-process.js";
import { newClusterPki, writeLabNode } from "../lab/tree.js";
import { until } from "../lab/wait.js";

const DAY = 86_400_000;
const CLUSTERS = 200;
const LAB = 8; // local trees, each with one certificate to warn about
const DIGEST_CHANNEL = "C0DIGEST";
const prefix = `scale-${process.pid}`;

const pad = (i: number) => String(i).padStart(3, "0");
const lab = Array.from({ length: LAB }, (_, i) => ({ name: `lab-${pad(i)}`, channel: `C0LAB${pad(i)}` }));
const down = Array.from({ length: CLUSTERS - LAB }, (_, i) => ({
  name: `down-${pad(i)}`,
  channel: `C0DOWN${pad(i)}`,
}));
const everyCluster = [...lab, ...down];

interface Instance extends ServiceProcess {
  metricsPort: number;
}

let root: string;
let redis: LabRedis;
let fake: FakeSlack;
let queues: Queues;
const instances: Instance[] = [];
/** The one minute (UTC) the digest schedule fires in this test. */
let digestTick: Date;

async function labCluster(i: number, now: Date, pki: Awaited<ReturnType<typeof newClusterPki>>) {
  // Half expired a day ago, half expiring in 10 days: one warning each, of different levels.
  const notAfter = new Date(now.getTime() + (i % 2 ? 10 : -1) * DAY);
  const node = await writeLabNode({
    root: join(root, lab[i]!.name),
    nodeName: `${lab[i]!.name}-1`,
    address: "127.0.0.1",
    pki,
    now,
    dates: { "admin.conf": { notBefore: new Date(notAfter.getTime() - 365 * DAY), notAfter } },
  });
  return [
    `  - name: ${lab[i]!.name}`,
    `    channel: ${lab[i]!.channel}`,
    "    nodes:",
    `      - host: 127.0.0.1`,
    `        name: ${lab[i]!.name}-1`,
    "        transport: local",
    `        paths: { kubernetesDir: "${node.kubernetesDir}", kubeletPkiDir: "${node.kubeletPkiDir}" }`,
  ];
}

async function writeConfig(): Promise<string> {
  const now = new Date();
  const pki = await newClusterPki({ now });
  // Nothing listens on refusedPort: every SSH node there is unreachable at once (ECONNREFUSED).
  const refusedPort = await freePort("127.0.0.1");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(root, "id_ed25519")]);
  writeFileSync(
    join(root, "known_hosts"),
    `[127.0.0.1]:${refusedPort} ssh-ed25519 ${Buffer.alloc(51).toString("base64")}\n`,
  );
  const labLines = [];
  for (let i = 0; i < LAB; i++) labLines.push(...(await labCluster(i, now, pki)));
  // A tick far enough away for `serve` to register it first, so it fires once while the test runs
  // (and next tomorrow): the wait for it is most of this file's time.
  digestTick = new Date(Math.ceil((Date.now() + 25_000) / 60_000) * 60_000);
  const file = join(root, "clusters.yaml");
  writeFileSync(
    file,
    [
      "timezone: UTC",
      'scanCron: "0 0 1 1 *"', // the test fans out itself, not the schedule
      `slack: { digestChannel: ${DIGEST_CHANNEL}, digestCron: "${digestTick.getUTCMinutes()} ${digestTick.getUTCHours()} * * *" }`,
      `ssh: { port: ${refusedPort}, privateKeyPath: ${join(root, "id_ed25519")}, knownHostsPath: ${join(root, "known_hosts")}, connectTimeoutMs: 2000 }`,
      "apiserver: { probe: false }",
      "clusters:",
      ...labLines,
      ...down.flatMap(({ name, channel }) => [
        `  - name: ${name}`,
        `    channel: ${channel}`,
        `    nodes: [{ host: 127.0.0.1, name: ${name}-1 }]`,
      ]),
      "",
    ].join("\n"),
  );
  return file;
}

async function start(role: ServiceProcess["role"], configPath: string): Promise<Instance> {
  const metricsPort = await freePort("127.0.0.1");
  const service = spawnService(role, configPath, {
    REDIS_URL: redis.url,
    CERTS_BOT_REDIS_PREFIX: prefix, // the same for all four: they share the queues and the store
    SLACK_BOT_TOKEN: "xoxb-test",
    SLACK_API_URL: fake.url,
    SLACK_APP_TOKEN: "",
    SLACK_SIGNING_SECRET: "",
    METRICS_PORT: String(metricsPort),
    LOG_LEVEL: "warn",
  });
  return { ...service, metricsPort };
}

const scanJobs = async (): Promise<Job[]> =>
  (await queues.scan.getCompleted(0, -1)).filter((j) => j.name === "scan-cluster");

/** Completed scan-cluster jobs per cluster. */
async function scansPerCluster(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const job of await scanJobs()) {
    const cluster = (job.data as { cluster: string }).cluster;
    counts.set(cluster, (counts.get(cluster) ?? 0) + 1);
  }
  return counts;
}

/** Every cluster scanned at least `n` times, and nothing left to run in the scan queue. */
async function everyClusterScanned(n: number): Promise<void> {
  let lastSeen = "";
  const done = async () => {
    const counts = await scansPerCluster();
    const pending = await queues.scan.getJobCounts("waiting", "active", "prioritized");
    // A retry waits as delayed; the schedule's own next fan-out (January) is always there.
    pending.retrying = (await queues.scan.getDelayed()).filter((j) => !j.repeatJobKey).length;
    const short = everyCluster.filter((c) => (counts.get(c.name) ?? 0) < n).map((c) => c.name);
    lastSeen = `${short.length} clusters scanned fewer times (${short.slice(0, 5).join(", ")}), jobs ${JSON.stringify(pending)}`;
    return short.length === 0 && Object.values(pending).every((v) => !v);
  };
  await until(`every cluster scanned ${n}x`, done, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}: ${lastSeen}`);
  });
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-scale-"));
  redis = await startRedis();
  fake = await startFakeSlack();
  queues = new Queues({ url: redis.url, protocol: 2, maxRetriesPerRequest: null }, `${prefix}:bull`);
  const configPath = await writeConfig();
  instances.push(await start("serve", configPath));
  for (let i = 0; i < 3; i++) instances.push(await start("worker", configPath));
  await until(
    "serve and three workers taking scan jobs",
    async () => (await queues.scan.getWorkers()).length === 4,
    30_000,
  );
  const digest = await until("serve to register the digest schedule", async () => {
    const [scheduler] = await queues.digest.getJobSchedulers();
    return scheduler;
  });
  assert.equal(digest.next, digestTick.getTime(), "the digest's tick was still ahead when registered");
});

after(async () => {
  // Bounded, and whatever failed before: no process or Redis outlives the file.
  await Promise.all(instances.map((i) => i.stop()));
  await queues?.close();
  await redis?.stop();
  await fake?.close();
  rmSync(root, { recursive: true, force: true });
});

test("at start, serve catches up: every cluster, none of them scanned before, is scanned once", async () => {
  await everyClusterScanned(1);
  const jobs = await scanJobs();
  assert.equal(jobs.length, CLUSTERS);
  assert.ok(
    jobs.every((j) => j.data.reason === "catch-up"),
    "queued by serve's catch-up, not by a schedule",
  );
});

test("the scans of a fan-out spread over the processes, and every cluster is scanned", async (t) => {
  const started = Date.now();
  await queues.scan.add("scan-all", {});
  await everyClusterScanned(2);
  t.diagnostic(`${CLUSTERS} clusters scanned in ${Date.now() - started} ms by 1 serve + 3 workers`);
  const jobs = (await scanJobs()).filter((j) => j.data.reason === "schedule");
  assert.equal(jobs.length, CLUSTERS);
  assert.deepEqual(await queues.scan.getFailedCount(), 0);
  const byPid = new Map<number, number>();
  for (const job of jobs) {
    const pid = Number(/^certs-bot@.+:(\d+)$/.exec(job.processedBy ?? "")?.[1]);
    byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
  }
  t.diagnostic(
    `jobs per process: ${instances.map((i) => `${i.role} ${byPid.get(i.child.pid!) ?? 0}`).join(", ")}`,
  );
  const labScans = jobs
    .filter((j) => j.data.cluster.startsWith("lab-"))
    .map((j) => j.finishedOn! - j.processedOn!);
  t.diagnostic(`a lab tree's scan took at most ${Math.max(...labScans)} ms`);
  for (const instance of instances.filter((i) => i.role === "worker")) {
    assert.ok(byPid.get(instance.child.pid!), `worker ${instance.child.pid} ran no scan: ${[...byPid]}`);
  }
});

test("racing fan-outs: each warning reaches its cluster's channel exactly once", async (t) => {
  // Two fan-outs at once, taken by two processes: a third scan of every cluster, some a fourth.
  // The down nodes were unreachable twice in a row by the fan-out before, which warned once.
  await Promise.all([queues.scan.add("scan-all", {}), queues.scan.add("scan-all", {})]);
  await everyClusterScanned(3);
  const more = [...(await scansPerCluster()).values()].filter((n) => n > 3).length;
  t.diagnostic(`${more} clusters scanned a fourth time by the second fan-out`);
  assert.deepEqual(await queues.scan.getFailedCount(), 0);
  for (const { name, channel } of everyCluster) {
    const posted = fake.messages(channel);
    assert.equal(posted.length, 1, `${channel} (${name}): ${posted.map((m) => m.text).join(" | ")}`);
    assert.match(posted[0]!.text, new RegExp(name));
  }
  for (const [i, { channel }] of lab.entries()) {
    assert.match(JSON.stringify(fake.messages(channel)[0]!.blocks), i % 2 ? /admin\.conf/ : /expired/i);
  }
  for (const { channel } of down.slice(0, 3)) {
    assert.match(JSON.stringify(fake.messages(channel)[0]!.blocks), /unreachable/i);
  }
});

test("the digest is posted once for its tick, whole", async (t) => {
  const waitMs = Math.max(digestTick.getTime() - Date.now(), 0) + 30_000;
  await until(
    "the digest job of the tick to complete",
    async () => queues.digest.getCompletedCount(),
    waitMs,
  );
  const [tops, replies] = [
    fake.messages(DIGEST_CHANNEL).filter((m) => !m.thread_ts),
    fake.messages(DIGEST_CHANNEL).filter((m) => m.thread_ts),
  ];
  t.diagnostic(`digest: 1 post and ${replies.length} replies`);
  assert.equal(tops.length, 1, tops.map((m) => m.text).join(" | "));
  assert.match(tops[0]!.text, /Certificate digest/);
  assert.ok(replies.every((m) => m.thread_ts === tops[0]!.ts));
  const more = /Continued in the thread: (\d+) more/.exec(JSON.stringify(tops[0]!.blocks));
  assert.equal(replies.length, more ? Number(more[1]) : 0, "every continuation once");
  assert.equal(await queues.digest.getCompletedCount(), 1);
  assert.equal(await queues.digest.getFailedCount(), 0);
});

/** The series read from the stored scans: the same on every instance. */
const STORED =
  /^(x509_\w+|certs_bot_node_up|certs_bot_apiserver_drift|certs_bot_last_scan_timestamp_seconds)\{/;

test("/metrics of every instance shows the same stored series", async () => {
  const scrapes = await Promise.all(
    instances.map(async (i) => {
      const res = await fetch(`http://127.0.0.1:${i.metricsPort}/metrics`, {
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(res.status, 200);
      return (await res.text())
        .split("\n")
        .filter((line) => STORED.test(line))
        .sort();
    }),
  );
  const [first, ...others] = scrapes;
  const up = first!.filter((l) => l.startsWith("certs_bot_node_up{"));
  assert.equal(up.length, CLUSTERS);
  assert.equal(up.filter((l) => l.endsWith(" 0")).length, CLUSTERS - LAB, "the down nodes are down");
  assert.equal(first!.filter((l) => l.startsWith("certs_bot_last_scan_timestamp_seconds{")).length, CLUSTERS);
  assert.ok(first!.some((l) => l.startsWith("x509_cert_expired{") && l.endsWith(" 1")));
  for (const [n, other] of others.entries()) {
    assert.deepEqual(
      other,
      first,
      `${instances[n + 1]!.role} ${instances[n + 1]!.child.pid} differs from serve`,
    );
  }
});

test("Redis holds it all in a few megabytes, and all four stop cleanly", async (t) => {
  const client = new Redis(redis.url);
  try {
    const memory = await client.info("memory");
    t.diagnostic(`redis ${/used_memory_human:(\S+)/.exec(memory)?.[1]} used after the run`);
    t.diagnostic(`redis keys: ${await client.dbsize()}`);
  } finally {
    client.disconnect();
  }
  const codes = await Promise.all(instances.map((i) => i.stop()));
  assert.deepEqual(codes, [0, 0, 0, 0], instances.map((i) => i.output()).join("\n"));
});
