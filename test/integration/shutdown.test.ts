// How `certs-bot serve` starts and stops, as a real child process on a private Redis: SIGTERM waits
// for running jobs up to CERTS_BOT_SHUTDOWN_MS, even with Redis gone, and names what it abandoned;
// with Redis down at start it serves health (not ready), handles signals and comes up when Redis
// does; and what it logs is one JSON object a line, without the secrets it was given.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Redis } from "ioredis";
import { Queues } from "../../src/adapters/queue/queues.js";
import { Store } from "../../src/adapters/store/store.js";
import { startFakeSlack, type FakeSlack } from "../lab/fake-slack.js";
import { freePort } from "../lab/ports.js";
import { startRedis } from "../lab/redis.js";
import { spawnService, type ServiceProcess } from "../lab/service-process.js";
import { newClusterPki, writeLabNode } from "../lab/tree.js";
import { until } from "../lab/wait.js";

const DAY = 86_400_000;
const SECRETS = {
  token: "xoxb-4242-4242-TOKENsecretTOKEN",
  signingSecret: "signingSECRET0123456789abcdef",
  passphrase: "keyPASSPHRASEsecret",
  redisPassword: "redisPASSWORDsecret",
};

let root: string;
let configPath: string;
let quickConfigPath: string;
let fake: FakeSlack;
let blackhole: Server;
const held: Socket[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-shutdown-"));
  fake = await startFakeSlack({ token: SECRETS.token });
  // Accepts TCP and never answers SSH: the scan of `slow` runs until its connect timeout.
  blackhole = createServer((socket) => held.push(socket));
  const slowPort = await freePort("127.0.0.1");
  await new Promise<void>((r) => blackhole.listen(slowPort, "127.0.0.1", r));
  // An SSH key under the passphrase: the scan of `slow` reads it from the environment.
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", SECRETS.passphrase, "-f", join(root, "id")]);
  // Pinned, so the scan waits for a host key that never comes instead of refusing an unknown host.
  writeFileSync(
    join(root, "known_hosts"),
    `[127.0.0.1]:${slowPort} ssh-ed25519 ${Buffer.alloc(51).toString("base64")}\n`,
  );
  const now = new Date();
  const expired = await writeLabNode({
    root: join(root, "expired-1"),
    nodeName: "expired-1",
    address: "127.0.0.1",
    pki: await newClusterPki({ now }),
    now,
    dates: {
      "admin.conf": {
        notBefore: new Date(now.getTime() - 368 * DAY),
        notAfter: new Date(now.getTime() - DAY),
      },
    },
  });
  configPath = join(root, "clusters.yaml");
  writeFileSync(
    configPath,
    [
      'scanCron: "0 0 1 1 *"',
      'slack: { digestChannel: C0DIGEST, digestCron: "0 0 1 1 *" }',
      "clusters:",
      "  - name: slow",
      "    channel: C0SLOWWW",
      `    ssh: { privateKeyPath: ${join(root, "id")}, privateKeyPassphraseEnv: CERTS_BOT_SSH_PASSPHRASE,`,
      `           knownHostsPath: ${join(root, "known_hosts")}, connectTimeoutMs: 20000 }`,
      "    nodes:",
      `      - { host: 127.0.0.1, name: slow-1, port: ${slowPort}, apiserver: { probe: false } }`,
      "  - name: expired",
      "    channel: C0EXPIRD",
      "    nodes:",
      "      - host: 127.0.0.1",
      "        name: expired-1",
      "        transport: local",
      `        paths: { kubernetesDir: "${expired.kubernetesDir}", kubeletPkiDir: "${expired.kubeletPkiDir}" }`,
      "        apiserver: { probe: false }",
      "",
    ].join("\n"),
  );
  // Without the slow cluster: for a serve whose catch-up scans everything once Redis arrives.
  quickConfigPath = join(root, "expired-only.yaml");
  writeFileSync(
    quickConfigPath,
    readFileSync(configPath, "utf8").replace(/ {2}- name: slow[\s\S]*?(?= {2}- name: expired)/, ""),
  );
});

after(async () => {
  held.forEach((s) => s.destroy());
  await new Promise((r) => blackhole?.close(r));
  await fake?.close();
  rmSync(root, { recursive: true, force: true });
});

let prefixes = 0;
/**
 * `certs-bot serve` on `redisUrl`. With Redis up, both clusters first get a current stored report,
 * so serve's catch-up at start scans nothing and each test decides what runs.
 */
async function serve(
  redisUrl: string,
  env: NodeJS.ProcessEnv = {},
  { config = configPath, redisUp = true } = {},
): Promise<ServiceProcess> {
  const prefix = `shutdown-${process.pid}-${++prefixes}`;
  if (redisUp) await storeCurrentReports(redisUrl, prefix);
  return spawnService("serve", config, {
    REDIS_URL: redisUrl,
    CERTS_BOT_REDIS_PREFIX: prefix,
    SLACK_BOT_TOKEN: SECRETS.token,
    SLACK_API_URL: fake.url,
    SLACK_APP_TOKEN: "",
    SLACK_SIGNING_SECRET: "",
    CERTS_BOT_SSH_PASSPHRASE: SECRETS.passphrase,
    LOG_LEVEL: "info",
    ...env,
  });
}

async function storeCurrentReports(url: string, prefix: string): Promise<void> {
  const client = new Redis(url);
  try {
    const store = new Store(client, prefix);
    for (const name of ["slow", "expired"]) {
      const report = { name, status: "ok" as const, nodes: [] };
      await store.saveScan({ cluster: name, scannedAt: new Date(), durationMs: 1, report });
    }
  } finally {
    client.disconnect();
  }
}

const running = (s: ServiceProcess) =>
  until("certs-bot is running", async () => s.lines().some((l) => l.msg === "certs-bot is running"));

function queuesOf(url: string, env: NodeJS.ProcessEnv): Queues {
  return new Queues(
    { url, protocol: 2, maxRetriesPerRequest: null },
    `${env.CERTS_BOT_REDIS_PREFIX}:bull`,
    pino({ level: "silent" }),
  );
}

test("SIGTERM while idle: exits 0 promptly", async () => {
  const redis = await startRedis();
  const s = await serve(redis.url);
  try {
    await running(s);
    const sent = Date.now();
    s.child.kill("SIGTERM");
    const { code, at } = await s.exited();
    assert.equal(code, 0, s.output());
    assert.ok(at - sent < 5000, `took ${at - sent} ms`);
    assert.ok(s.lines().some((l) => l.msg === "stopped"));
  } finally {
    s.child.kill("SIGKILL");
    await redis.stop();
  }
});

test("SIGTERM while idle and Redis is gone: exits by the deadline, nothing abandoned", async () => {
  const redis = await startRedis();
  const s = await serve(redis.url, { CERTS_BOT_SHUTDOWN_MS: "2000" });
  try {
    await running(s);
    await redis.stop();
    const sent = Date.now();
    s.child.kill("SIGTERM");
    const { code, at } = await s.exited();
    assert.equal(code, 0, s.output());
    assert.ok(at - sent < 2000 + 4000, `took ${at - sent} ms:\n${s.output()}`);
    assert.ok(!s.lines().some((l) => Array.isArray(l.abandoned)), s.output());
  } finally {
    s.child.kill("SIGKILL");
    await redis.stop();
  }
});

test("SIGTERM while a job runs and Redis is gone: exits non-zero by the deadline, naming the job", async () => {
  const redis = await startRedis();
  const s = await serve(redis.url, { CERTS_BOT_SHUTDOWN_MS: "3000", LOG_LEVEL: "debug" });
  const queues = queuesOf(redis.url, { CERTS_BOT_REDIS_PREFIX: `shutdown-${process.pid}-${prefixes}` });
  try {
    await running(s);
    const job = await queues.requestScan("slow", "manual");
    // Started in the service, not only active in Redis: a reply lost with Redis is no job taken.
    await until("the slow scan to start", async () => s.lines().some((l) => l.msg === "job started"));
    queues.disconnect();
    await redis.stop();
    const sent = Date.now();
    s.child.kill("SIGTERM");
    const { code, at } = await s.exited();
    assert.equal(code, 3, s.output());
    assert.ok(at - sent < 3000 + 4000, `took ${at - sent} ms:\n${s.output()}`);
    assert.ok(at - sent >= 3000, `did not wait for the job: ${at - sent} ms`);
    const report = s.lines().find((l) => Array.isArray(l.abandoned));
    assert.deepEqual(report?.abandoned, [{ queue: "scan", name: "scan-cluster", id: job.id }], s.output());
  } finally {
    s.child.kill("SIGKILL");
    await redis.stop();
  }
});

test("logs are JSON lines and hold none of the secrets the service was given", async () => {
  const redis = await startRedis({ password: SECRETS.redisPassword });
  const url = redis.url.replace("redis://", `redis://:${SECRETS.redisPassword}@`);
  const s = await serve(url, {
    LOG_LEVEL: "debug",
    SLACK_SIGNING_SECRET: SECRETS.signingSecret,
    PORT: String(await freePort("127.0.0.1")),
  });
  const queues = queuesOf(url, { CERTS_BOT_REDIS_PREFIX: `shutdown-${process.pid}-${prefixes}` });
  try {
    await running(s);
    await queues.requestScan("expired", "manual");
    await queues.requestScan("slow", "manual");
    await until("the warning posted with the token", async () => fake.messages("C0EXPIRD").length > 0);
    await until("the slow scan to start", async () => (await queues.scan.getActiveCount()) === 1);
    await redis.restart(); // connection errors, logged while Redis is away
    s.child.kill("SIGTERM");
    await s.exited();
    const output = s.output();
    for (const [name, secret] of Object.entries(SECRETS)) {
      assert.ok(!output.includes(secret), `${name} in the logs:\n${output}`);
    }
    assert.ok(s.lines().length > 5, output); // each parsed as one JSON object
    assert.ok(output.includes("***@127.0.0.1"), "the Redis URL is shown, masked");
  } finally {
    s.child.kill("SIGKILL");
    await queues.close();
    await redis.stop();
  }
});

/** /healthz or /readyz of a serve on `port`: the status code and the JSON body. */
async function health(port: number, path: "/healthz" | "/readyz") {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return {
    status: res.status,
    body: (await res.json()) as { status: string; checks?: Record<string, string> },
  };
}

/** A serve on a Redis port where nothing listens yet, with its own health port. */
async function serveWithoutRedis() {
  const redisPort = await freePort("127.0.0.1");
  const metricsPort = await freePort("127.0.0.1");
  const s = await serve(
    `redis://127.0.0.1:${redisPort}`,
    { METRICS_PORT: String(metricsPort), CERTS_BOT_SHUTDOWN_MS: "2000" },
    { config: quickConfigPath, redisUp: false },
  );
  await running(s);
  const live = await health(metricsPort, "/healthz");
  assert.equal(live.status, 200, s.output());
  const ready = await health(metricsPort, "/readyz");
  assert.equal(ready.status, 503, s.output());
  assert.match(ready.body.checks?.redis ?? "", /Redis connection is/, JSON.stringify(ready.body));
  assert.ok(
    s.lines().some((l) => l.msg === "Redis is not reachable yet; certs-bot keeps trying"),
    s.output(),
  );
  return { s, redisPort, metricsPort };
}

test("Redis down at start: health answers, not ready, and SIGTERM still exits 0", async () => {
  const { s } = await serveWithoutRedis();
  try {
    const sent = Date.now();
    s.child.kill("SIGTERM");
    const { code, at } = await s.exited();
    assert.equal(code, 0, s.output());
    assert.ok(at - sent < 2000 + 4000, `took ${at - sent} ms:\n${s.output()}`);
  } finally {
    s.child.kill("SIGKILL");
  }
});

test("Redis down at start: the service comes up fully when Redis arrives, and catches up", async () => {
  const { s, redisPort, metricsPort } = await serveWithoutRedis();
  const before = fake.messages("C0EXPIRD").length;
  const redis = await startRedis({ port: redisPort });
  try {
    await until(
      "ready once Redis answers",
      async () => (await health(metricsPort, "/readyz")).status === 200,
    );
    assert.ok(
      s.lines().some((l) => l.msg === "Redis answers again"),
      s.output(),
    );
    assert.ok(
      s.lines().some((l) => l.msg === "schedules registered"),
      s.output(),
    );
    // Nobody asks: the catch-up scan of a cluster never scanned finds the expired certificate.
    await until(
      "the warning for the expired certificate",
      async () => fake.messages("C0EXPIRD").length > before,
    );
    s.child.kill("SIGTERM");
    assert.equal((await s.exited()).code, 0, s.output());
  } finally {
    s.child.kill("SIGKILL");
    await redis.stop();
  }
});
