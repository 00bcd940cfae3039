// Redis as production should run it for certs-bot: a password, an ACL user, TLS only. Real
// redis-servers started by the test (never the shared :6379), certificates issued by the lab PKI:
// one server signed by the CA certs-bot is given (REDIS_TLS_CA_FILE), one by another CA. The
// stores and BullMQ work through rediss:// with the CA, in-process and in the real `certs-bot
// worker`; a wrong password and an untrusted server certificate stop it with a clear error; the
// password is never printed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { newRequest } from "../../src/core/renew/approval.js";
import { Queues } from "../../src/adapters/queue/queues.js";
import { AuditLog } from "../../src/adapters/store/audit.js";
import {
  checkRedis,
  connectRedis,
  redisOptions,
  RedisSettingsError,
  redisTarget,
  type RedisTarget,
} from "../../src/adapters/store/redis.js";
import { RenewalStore } from "../../src/adapters/store/renewals.js";
import { Store } from "../../src/adapters/store/store.js";
import { issueCert, newKey, type LabCert } from "../lab/pki.js";
import { freePort } from "../lab/ports.js";
import { startRedis, type LabRedis } from "../lab/redis.js";
import { newClusterPki, writeLabNode } from "../lab/tree.js";
import { until } from "../lab/wait.js";

const USER = "certs-bot";
/** Characters a URL must escape, so the test also proves they are decoded. */
const PASSWORD = "p@ss:w/rd#1";
const DEFAULT_PASSWORD = "default-S3cret";
const ACL = [[USER, "on", `>${PASSWORD}`, "~*", "&*", "+@all"]];
const withUser = (url: string, password = PASSWORD) =>
  url.replace("://", `://${USER}:${encodeURIComponent(password)}@`);
const errorOf = async (work: Promise<unknown>): Promise<Error> => {
  try {
    await work;
  } catch (err) {
    return err as Error;
  }
  assert.fail("expected a rejection");
};

let dir: string;
let caFile: string;
let otherCaFile: string;
/** Password and ACL user, no TLS. */
let locked: LabRedis;
/** TLS only, its certificate signed by the CA in caFile; password and ACL user. */
let trusted: LabRedis;
/** TLS only, its certificate signed by another CA. */
let rogue: LabRedis;

/**
 * A certificate valid for a day, written to NAME.crt and its key to NAME.key: a CA without
 * `issuer`, else a server certificate for 127.0.0.1 and localhost signed by it.
 */
async function labCert(name: string, issuer?: LabCert) {
  const now = Date.now();
  const cert = await issueCert({
    subject: `CN=${name}`,
    key: await newKey("ecdsa"),
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 86_400_000),
    ...(issuer
      ? { issuer, sans: { dns: ["localhost"], ip: ["127.0.0.1"] }, usage: "server" as const }
      : { isCA: true }),
  });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, cert.pem);
  writeFileSync(keyFile, cert.key.privateKeyPem, { mode: 0o600 });
  return { cert, certFile, keyFile };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "certs-bot-redis-secure-"));
  const ca = await labCert("certs-bot-redis-ca");
  const other = await labCert("some-other-ca");
  caFile = ca.certFile;
  otherCaFile = other.certFile;
  const server = async (name: string, issuer: typeof ca) => {
    const { certFile, keyFile } = await labCert(name, issuer.cert);
    return { certFile, keyFile, caFile: issuer.certFile };
  };
  [locked, trusted, rogue] = await Promise.all([
    startRedis({ password: DEFAULT_PASSWORD, users: ACL }),
    startRedis({ password: DEFAULT_PASSWORD, users: ACL, tls: await server("redis", ca) }),
    startRedis({ password: DEFAULT_PASSWORD, tls: await server("rogue", other) }),
  ]);
});

after(async () => {
  await Promise.all([locked, trusted, rogue].map((r) => r?.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The renewal store and the audit log do a round trip through `target`. */
async function storesWork(target: RedisTarget | string, prefix: string): Promise<void> {
  const redis = connectRedis(target);
  try {
    const renewals = new RenewalStore(redis, prefix);
    const request = newRequest({
      cluster: "lab",
      requestedBy: "U0ALICE",
      now: new Date(),
      settings: { approvalTtlMinutes: 60 },
    });
    assert.equal((await renewals.create(request)).ok, true);
    assert.equal((await renewals.get(request.id))?.requestedBy, "U0ALICE");
    const audit = new AuditLog(redis, prefix);
    await audit.append("lab", { kind: "requested", actor: "U0ALICE", detail: "through the locked Redis" });
    assert.equal((await audit.latest("lab"))[0]?.detail, "through the locked Redis");
  } finally {
    redis.disconnect();
  }
}

describe("Redis with a password and an ACL user", () => {
  test("the stores work as the ACL user and as the default user with its password", async () => {
    await storesWork(withUser(locked.url), "acl-user");
    await storesWork(locked.url.replace("://", `://:${DEFAULT_PASSWORD}@`), "default-user");
    assert.equal(await checkRedis({ url: withUser(locked.url) }), null);
  });

  test("a wrong or missing password stops at the check, clearly, without printing the password", async () => {
    const wrong = await errorOf(checkRedis({ url: withUser(locked.url, "wrong-Pa55") }));
    assert.ok(wrong instanceof RedisSettingsError);
    assert.equal(
      wrong.message,
      `redis://${USER}:***@127.0.0.1:${locked.port}: Redis refused certs-bot's credentials ` +
        "(the user and password in REDIS_URL): WRONGPASS invalid username-password pair or user is disabled.",
    );
    const missing = await errorOf(checkRedis({ url: locked.url }));
    assert.ok(missing instanceof RedisSettingsError);
    assert.match(missing.message, /refused certs-bot's credentials .*NOAUTH Authentication required/);
  });

  test("a Redis that is only down is no settings error: the reason is returned and the service retries", async () => {
    const port = await freePort("127.0.0.1");
    const reason = await checkRedis({ url: withUser(`redis://127.0.0.1:${port}`) });
    assert.match(
      reason ?? "",
      new RegExp(`^redis://${USER}:\\*\\*\\*@127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
    );
  });
});

describe("Redis over TLS (rediss://)", () => {
  const target = (redis: LabRedis, ca = caFile): RedisTarget =>
    redisTarget({ REDIS_URL: withUser(redis.url), REDIS_TLS_CA_FILE: ca });

  test("with REDIS_TLS_CA_FILE the stores and a BullMQ queue work through rediss://", async () => {
    const secure = target(trusted);
    assert.equal(await checkRedis(secure), null);
    await storesWork(secure, "tls");
    const queues = new Queues(redisOptions(secure), "tls:bull");
    try {
      const job = await queues.requestScan("lab", "manual");
      assert.equal((await queues.scan.getJob(job.id!))?.data.cluster, "lab");
    } finally {
      await queues.close();
    }
  });

  test("a server whose certificate another CA signed is refused, and nothing reaches it", async () => {
    const rogueTarget = { ...target(rogue), url: rogue.url.replace("://", `://:${DEFAULT_PASSWORD}@`) };
    const refused = await errorOf(checkRedis(rogueTarget));
    assert.ok(refused instanceof RedisSettingsError);
    assert.match(
      refused.message,
      /^rediss:\/\/:\*\*\*@127\.0\.0\.1:\d+: certs-bot does not trust the Redis server's certificate \(.+\); set REDIS_TLS_CA_FILE to the CA that signed it$/,
    );
    // The service's own connection: the write waits, the handshake fails, the server gets nothing.
    const client = connectRedis(rogueTarget);
    const failed = once(client, "error");
    const write = client.set("written-to-rogue", "yes").catch((err: Error) => err);
    const [err] = (await failed) as [Error & { code?: string }];
    assert.match(err.code ?? "", /VERIFY|CERT|SELF_SIGNED|ISSUER/);
    client.disconnect();
    assert.ok((await write) instanceof Error);
    const admin = new Redis(rogue.port, "127.0.0.1", {
      tls: { ca: readFileSync(otherCaFile) },
      password: DEFAULT_PASSWORD,
      maxRetriesPerRequest: 0,
    });
    try {
      assert.equal(await admin.get("written-to-rogue"), null);
    } finally {
      admin.disconnect();
    }
  });

  test("without the CA (Node's trusted CAs only) the lab server is refused; verification is never off", async () => {
    const refused = await errorOf(checkRedis({ url: withUser(trusted.url) }));
    assert.match(refused.message, /does not trust the Redis server's certificate/);
  });
});

describe("certs-bot worker with REDIS_URL=rediss://user:pass@… and REDIS_TLS_CA_FILE", () => {
  let configPath: string;

  before(async () => {
    const node = await writeLabNode({
      root: join(dir, "node"),
      nodeName: "tls-1",
      address: "127.0.0.1",
      pki: await newClusterPki(),
    });
    configPath = join(dir, "clusters.yaml");
    writeFileSync(
      configPath,
      [
        'scanCron: "0 3 1 1 *"',
        "clusters:",
        "  - name: lab-tls",
        "    nodes:",
        "      - host: 127.0.0.1",
        "        transport: local",
        `        paths: { kubernetesDir: "${node.kubernetesDir}", kubeletPkiDir: "${node.kubeletPkiDir}" }`,
        "        apiserver: { probe: false }",
        "",
      ].join("\n"),
    );
  });

  const env = (redis: LabRedis, url: string, ca = caFile): NodeJS.ProcessEnv => ({
    ...process.env,
    REDIS_URL: url,
    REDIS_TLS_CA_FILE: ca,
    CERTS_BOT_REDIS_PREFIX: `cli-${redis.port}`,
    SLACK_BOT_TOKEN: "xoxb-test",
    SLACK_API_URL: "http://127.0.0.1:1/api/",
    LOG_LEVEL: "info",
  });

  test("scans through the queue and stores the report; the log shows the URL with the password masked", async () => {
    const worker = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", "worker", "--config", configPath],
      {
        env: env(trusted, withUser(trusted.url)),
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    worker.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const secure = redisTarget({ REDIS_URL: withUser(trusted.url), REDIS_TLS_CA_FILE: caFile });
    const queues = new Queues(redisOptions(secure), `cli-${trusted.port}:bull`);
    const redis = connectRedis(secure);
    try {
      await until("the worker runs", async () => /certs-bot is running/.test(stderr), 30_000);
      assert.match(
        stderr,
        new RegExp(`"redis":"rediss://${USER}:\\*\\*\\*@127\\.0\\.0\\.1:${trusted.port}"`),
      );
      await queues.requestScan("lab-tls", "manual");
      const store = new Store(redis, `cli-${trusted.port}`);
      const scan = await until(
        "the stored report",
        async () => (await store.latest("lab-tls")) ?? undefined,
        60_000,
      );
      assert.equal(scan.report.name, "lab-tls");
      assert.equal(scan.report.nodes[0]?.reachable, true);
    } finally {
      const exited = worker.exitCode ?? once(worker, "exit").then(([code]) => code as number | null);
      worker.kill("SIGTERM");
      // A worker that cannot stop (its queues never connected) must not hang the suite: it fails.
      const stuck = setTimeout(() => worker.kill("SIGKILL"), 30_000);
      const code = await exited;
      clearTimeout(stuck);
      await queues.close();
      redis.disconnect();
      assert.equal(code, 0, stderr);
      assert.ok(
        !stderr.includes(PASSWORD) && !stderr.includes(encodeURIComponent(PASSWORD)),
        "no password in the log",
      );
    }
  });

  test("a wrong password or an untrusted server exits 3 with why, and prints no password", async () => {
    const run = (environment: NodeJS.ProcessEnv) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          ["--import", "tsx", "src/cli.ts", "worker", "--config", configPath],
          { env: environment },
          (err, _stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stderr }),
        ),
      );
    const wrong = await run(env(trusted, withUser(trusted.url, "not-the-Pa55word")));
    assert.equal(wrong.code, 3, wrong.stderr);
    assert.match(
      wrong.stderr,
      /^certs-bot: rediss:\/\/certs-bot:\*\*\*@127\.0\.0\.1:\d+: Redis refused certs-bot's credentials/m,
    );
    assert.ok(!wrong.stderr.includes("not-the-Pa55word"));
    const untrusted = await run(env(rogue, withUser(rogue.url), caFile));
    assert.equal(untrusted.code, 3, untrusted.stderr);
    assert.match(untrusted.stderr, /does not trust the Redis server's certificate/);
    assert.ok(!untrusted.stderr.includes(PASSWORD));
    for (const { stderr } of [wrong, untrusted]) assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
  });
});
