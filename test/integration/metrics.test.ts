// /metrics, /healthz and /readyz of a real service: a lab node scanned for real into a private
// Redis, the Slack surface in HTTP mode against the fake Slack Web API, Redis stopped for real.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadConfig, type Config } from "../../src/config/load.js";
import { defaultDependencies } from "../../src/adapters/nodes/scan.js";
import { Service } from "../../src/service.js";
import { startFakeSlack, type FakeSlack } from "../lab/fake-slack.js";
import { freePort } from "../lab/ports.js";
import { startRedis, type LabRedis } from "../lab/redis.js";
import { until } from "../lab/wait.js";
import { newClusterPki, writeLabNode } from "../lab/tree.js";

const DAY = 86_400_000;
const now = new Date();
const expiredAt = new Date(now.getTime() - 3 * DAY);
const quiet = pino({ level: "silent" });

let root: string;
let redis: LabRedis;
let fake: FakeSlack;
let config: Config;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-metrics-"));
  redis = await startRedis();
  fake = await startFakeSlack();
  const dirs = await writeLabNode({
    root: join(root, "m-1"),
    nodeName: "m-1",
    address: "127.0.0.1",
    pki: await newClusterPki({ now }),
    now,
    dates: {
      "apiserver-kubelet-client": { notBefore: new Date(now.getTime() - 368 * DAY), notAfter: expiredAt },
    },
  });
  const file = join(root, "clusters.yaml");
  writeFileSync(
    file,
    [
      'scanCron: "0 */6 * * *"',
      "clusters:",
      "  - name: lab-m",
      "    channel: C0LABMMM",
      "    nodes:",
      "      - host: 127.0.0.1",
      "        name: m-1",
      "        transport: local",
      `        paths: { kubernetesDir: "${dirs.kubernetesDir}", kubeletPkiDir: "${dirs.kubeletPkiDir}" }`,
      "        apiserver: { probe: false }",
      "",
    ].join("\n"),
  );
  config = loadConfig(file);
});

after(async () => {
  await fake?.close();
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
  // In clean-clone CI this file's process has twice stayed alive after its test passed: a handle
  // left by one of the two in-process services, not yet identified. An unref'd timer fires only
  // then: it names what is still open and ends the process, instead of a silent 300 s timeout.
  setTimeout(() => {
    process.stderr.write(`metrics.test: still open: ${JSON.stringify(process.getActiveResourcesInfo())}\n`);
    process.exit(process.exitCode ?? 0);
  }, 10_000).unref();
});

async function service(role: "serve" | "worker", metricsPort: number): Promise<Service> {
  const slackPort = await freePort("127.0.0.1");
  return new Service({
    role,
    config,
    redisUrl: redis.url,
    prefix: `m${process.pid}`,
    slack: { token: "xoxb-test", apiUrl: fake.url },
    ...(role === "serve"
      ? { slackSurface: { mode: "http", signingSecret: "s3cret", port: slackPort, host: "127.0.0.1" } }
      : {}),
    logger: quiet,
    graceMs: 5000,
    scanDependencies: defaultDependencies(),
    metricsPort,
  });
}

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
};

/** The values of the series of `name` whose labels include all of `labels`. */
const values = (text: string, name: string, labels: Record<string, string>): number[] =>
  text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`))
    .filter((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
    .map((line) => Number(line.slice(line.lastIndexOf(" ") + 1)));

/** The value of the one series of `name` whose labels include all of `labels`. */
function series(text: string, name: string, labels: Record<string, string>): number {
  const found = values(text, name, labels);
  assert.equal(found.length, 1, `one ${name} series with ${JSON.stringify(labels)} in:\n${text}`);
  return found[0]!;
}

test("metrics come from the stored scan, on every instance; health and readiness answer", async () => {
  const servePort = await freePort("127.0.0.1");
  const workerPort = await freePort("127.0.0.1");
  const serve = await service("serve", servePort);
  const worker = await service("worker", workerPort);
  try {
    await serve.start();
    await worker.start();
    const job = await serve.queue.requestScan("lab-m", "manual");
    await until("the scan", async () => (await serve.queue.scan.getJob(job.id!))?.finishedOn);

    const cert = { cluster: "lab-m", node: "m-1", name: "apiserver-kubelet-client" };
    const scraped = await get(servePort, "/metrics");
    assert.equal(scraped.status, 200);
    assert.match(scraped.type ?? "", /^text\/plain/);
    const labels = {
      ...cert,
      status: "expired",
      filename: "apiserver-kubelet-client.crt",
      subject_CN: "kube-apiserver-kubelet-client",
    };
    assert.equal(series(scraped.text, "x509_cert_not_after", labels), Math.floor(expiredAt.getTime() / 1000));
    assert.equal(series(scraped.text, "x509_cert_expired", labels), 1);
    assert.equal(series(scraped.text, "x509_cert_expired", { name: "apiserver" }), 0);
    const admin = { name: "admin.conf", embedded_kind: "user", embedded_key: "kubernetes-admin" };
    assert.ok(series(scraped.text, "x509_cert_not_before", admin) > 0, "a kubeconfig's series");
    assert.equal(series(scraped.text, "certs_bot_node_up", { node: "m-1" }), 1);
    assert.equal(series(scraped.text, "certs_bot_apiserver_drift", { node: "m-1" }), 0);
    assert.equal(series(scraped.text, "x509_read_errors", { node: "m-1" }), 0);
    assert.equal(series(scraped.text, "certs_bot_jobs", { queue: "scan", state: "completed" }), 1);
    assert.equal(series(scraped.text, "certs_bot_build_info", {}), 1);
    assert.equal(series(scraped.text, "certs_bot_renewals_total", { result: "failed" }), 0);
    assert.match(scraped.text, /^process_cpu_user_seconds_total /m);
    const lastScan = series(scraped.text, "certs_bot_last_scan_timestamp_seconds", { cluster: "lab-m" });
    assert.ok(Math.abs(lastScan - Date.now() / 1000) < 120, `last scan ${lastScan}`);

    // The worker scanned nothing itself and still answers the same certificate series from Redis.
    const fromWorker = await get(workerPort, "/metrics");
    assert.equal(series(fromWorker.text, "x509_cert_expired", labels), 1);
    // The scan durations are each process's own: whichever ran the job observed it.
    const durations = [scraped.text, fromWorker.text].flatMap((text) =>
      values(text, "certs_bot_scan_duration_seconds_count", { cluster: "lab-m" }),
    );
    assert.deepEqual(durations, [1]);

    assert.deepEqual(await get(servePort, "/healthz"), {
      status: 200,
      type: "application/json",
      text: '{"status":"ok"}',
    });
    const ready = await get(servePort, "/readyz");
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(JSON.parse(ready.text), {
      status: "ok",
      checks: { redis: "ok", schedules: "ok", slack: "ok" },
    });
    assert.deepEqual(JSON.parse((await get(workerPort, "/readyz")).text).checks, { redis: "ok" });

    // Redis down: not ready (and saying why), yet alive; back up: ready again.
    const restarted = redis.restart(4000);
    await until(
      "readyz 503 while Redis is down",
      async () => (await get(servePort, "/readyz")).status === 503,
    );
    const down = JSON.parse((await get(servePort, "/readyz")).text);
    assert.equal(down.status, "not ready");
    assert.notEqual(down.checks.redis, "ok");
    assert.equal(down.checks.slack, "ok");
    assert.equal((await get(servePort, "/healthz")).status, 200);
    const scrapeWhileDown = await get(servePort, "/metrics");
    assert.equal(scrapeWhileDown.status, 200, "process metrics still served");
    await restarted;
    await until(
      "readyz 200 once Redis is back",
      async () => (await get(servePort, "/readyz")).status === 200,
    );
  } finally {
    await Promise.all([serve.stop(), worker.stop()]);
  }
  await assert.rejects(
    fetch(`http://127.0.0.1:${servePort}/healthz`),
    "the listener closes with the service",
  );
});
