// Redis's maxmemory-policy, checked when `serve` or `worker` starts: BullMQ loses jobs under any
// policy but noeviction. Real redis-servers started by the test (never the shared :6379): one with
// the default noeviction, one with allkeys-lru, and an ACL user who may not run CONFIG, as on
// managed Redis. The real `certs-bot worker` warns, or with CERTS_BOT_STRICT_REDIS=1 exits 3.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { checkEvictionPolicy, RedisSettingsError } from "../../src/adapters/store/redis.js";
import { freePort } from "../lab/ports.js";
import { startRedis, type LabRedis } from "../lab/redis.js";
import { until } from "../lab/wait.js";

const PASSWORD = "policy-Pa55word";
const NO_CONFIG = [["certs-bot", "on", `>${PASSWORD}`, "~*", "&*", "+@all", "-config"]];
const EVICTS = "maxmemory-policy is allkeys-lru, not noeviction";

let dir: string;
let configPath: string;
let keeps: LabRedis;
let evicts: LabRedis;
let managed: LabRedis;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "certs-bot-redis-policy-"));
  configPath = join(dir, "clusters.yaml");
  writeFileSync(
    configPath,
    [
      'scanCron: "0 3 1 1 *"',
      "clusters:",
      "  - name: lab-policy",
      "    nodes:",
      "      - host: 127.0.0.1",
      "        transport: local",
      "        apiserver: { probe: false }",
      "",
    ].join("\n"),
  );
  [keeps, evicts, managed] = await Promise.all([
    startRedis(),
    startRedis({ args: ["--maxmemory-policy", "allkeys-lru"] }),
    startRedis({ users: NO_CONFIG }),
  ]);
});

after(async () => {
  await Promise.all([keeps, evicts, managed].map((r) => r?.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const asUser = (redis: LabRedis) => redis.url.replace("://", `://certs-bot:${PASSWORD}@`);

describe("checkEvictionPolicy", () => {
  test("noeviction: nothing to say, strict or not", async () => {
    assert.equal(await checkEvictionPolicy({ url: keeps.url }, false), null);
    assert.equal(await checkEvictionPolicy({ url: keeps.url }, true), null);
  });

  test("allkeys-lru: a warning, and in strict mode a settings error with the same reason", async () => {
    assert.equal(
      await checkEvictionPolicy({ url: evicts.url }, false),
      `${evicts.url}: ${EVICTS}: a full Redis would evict queued jobs and certs-bot's state`,
    );
    await assert.rejects(
      checkEvictionPolicy({ url: evicts.url }, true),
      (err: Error) =>
        err instanceof RedisSettingsError &&
        err.message.includes(EVICTS) &&
        err.message.endsWith("(CERTS_BOT_STRICT_REDIS=1)"),
    );
  });

  test("CONFIG refused (an ACL user without it): said so, strict or not, and the password is masked", async () => {
    for (const strict of [false, true]) {
      const said = await checkEvictionPolicy({ url: asUser(managed) }, strict);
      assert.match(
        said ?? "",
        /^redis:\/\/certs-bot:\*\*\*@127\.0\.0\.1:\d+\/?: maxmemory-policy could not be checked \(NOPERM .*\); make sure it is noeviction$/,
      );
    }
  });

  test("the Redis command of docker-compose.yml passes the check", async () => {
    const compose = parseDocument(readFileSync("docker-compose.yml", "utf8")).toJS() as {
      services: { redis: { command: string[] } };
    };
    const [server, ...args] = compose.services.redis.command;
    assert.equal(server, "redis-server");
    const composed = await startRedis({
      password: PASSWORD,
      args: args.map((a) => (a.startsWith("${REDIS_PASSWORD") ? PASSWORD : a)),
    });
    try {
      const url = composed.url.replace("://", `://:${PASSWORD}@`);
      assert.equal(await checkEvictionPolicy({ url }, true), null);
    } finally {
      await composed.stop();
    }
  });
});

describe("certs-bot worker at start", () => {
  const env = (url: string, strict: boolean): NodeJS.ProcessEnv => ({
    ...process.env,
    REDIS_URL: url,
    CERTS_BOT_REDIS_PREFIX: "policy-test",
    CERTS_BOT_STRICT_REDIS: strict ? "1" : "",
    SLACK_BOT_TOKEN: "xoxb-test",
    SLACK_API_URL: "http://127.0.0.1:1/api/",
    LOG_LEVEL: "info",
  });
  const args = ["--import", "tsx", "src/cli.ts", "worker", "--config"];

  /** Starts the worker, waits until it runs, stops it: its log. */
  async function runs(url: string): Promise<string> {
    const worker = spawn(process.execPath, [...args, configPath], {
      env: env(url, false),
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    worker.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      await until("the worker runs", async () => /certs-bot is running/.test(stderr), 30_000);
    } finally {
      const exited = once(worker, "exit");
      worker.kill("SIGTERM");
      await exited;
    }
    return stderr;
  }

  test("warns about allkeys-lru and runs; says nothing on noeviction", async () => {
    const warned = await runs(evicts.url);
    assert.match(warned, /"msg":"Redis may evict keys: set maxmemory-policy noeviction"/);
    assert.ok(warned.includes(EVICTS), warned);
    assert.doesNotMatch(await runs(keeps.url), /maxmemory-policy/);
  });

  test("CERTS_BOT_STRICT_REDIS=1 on allkeys-lru: exit 3, one line saying why", async () => {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [...args, configPath],
        { env: env(evicts.url, true), timeout: 30_000 },
        (err, _out, stderr) =>
          resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stderr }),
      ),
    );
    assert.equal(code, 3, stderr);
    assert.equal(
      stderr,
      `certs-bot: ${evicts.url}: ${EVICTS}: a full Redis would evict queued jobs and certs-bot's state ` +
        "(CERTS_BOT_STRICT_REDIS=1)\n",
    );
  });

  test("Redis down at start: the check runs once it answers; strict stops the worker with exit 3", async () => {
    const port = await freePort("127.0.0.1");
    const worker = spawn(process.execPath, [...args, configPath], {
      env: env(`redis://127.0.0.1:${port}`, true),
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    worker.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(worker, "exit");
    let late: LabRedis | undefined;
    try {
      await until("the worker runs without Redis", async () => /certs-bot is running/.test(stderr), 30_000);
      late = await startRedis({ port, args: ["--maxmemory-policy", "allkeys-lru"] });
      const [code] = (await Promise.race([
        exited,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`still running:\n${stderr}`)), 30_000)),
      ])) as [number | null];
      assert.equal(code, 3, stderr);
      assert.match(stderr, /"msg":"refusing this Redis; stopping"/);
      assert.ok(stderr.includes("allkeys-lru"), stderr);
    } finally {
      worker.kill("SIGKILL");
      await late?.stop();
    }
  });
});
