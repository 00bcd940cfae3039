// REDIS_URL and REDIS_TLS_CA_FILE as certs-bot reads them: what is accepted, what is refused and
// why, and that a password never shows in what may be logged or printed.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_REDIS_URL,
  maskRedisUrl,
  redisOptions,
  RedisSettingsError,
  redisTarget,
} from "../../src/adapters/store/redis.js";

let dir: string;
let caFile: string;
const CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

before(() => {
  dir = mkdtempSync(join(tmpdir(), "certs-bot-redis-settings-"));
  caFile = join(dir, "ca.pem");
  writeFileSync(caFile, CA_PEM);
});

after(() => rmSync(dir, { recursive: true, force: true }));

function refusal(env: NodeJS.ProcessEnv): string {
  try {
    redisTarget(env);
  } catch (err) {
    assert.ok(err instanceof RedisSettingsError, String(err));
    return err.message;
  }
  assert.fail("expected a RedisSettingsError");
}

test("maskRedisUrl: the password becomes ***, the rest stays", () => {
  assert.equal(
    maskRedisUrl("rediss://certs-bot:p%40ss%3Aw@redis.example:6380/2"),
    "rediss://certs-bot:***@redis.example:6380/2",
  );
  assert.equal(maskRedisUrl("redis://:s3cret@127.0.0.1"), "redis://:***@127.0.0.1");
  assert.equal(maskRedisUrl("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
  assert.equal(maskRedisUrl("redis://:s3cret@host:99999"), "(REDIS_URL, not shown: it is not a URL)");
});

test("redisTarget: REDIS_URL as given, the CA read for rediss://", () => {
  assert.deepEqual(redisTarget({}), { url: DEFAULT_REDIS_URL });
  assert.deepEqual(redisTarget({ REDIS_URL: "redis://:pw@h:1" }), { url: "redis://:pw@h:1" });
  const target = redisTarget({ REDIS_URL: "rediss://u:pw@h:6380", REDIS_TLS_CA_FILE: caFile });
  assert.equal(target.url, "rediss://u:pw@h:6380");
  assert.equal(target.ca?.toString(), CA_PEM);
  assert.deepEqual(redisOptions(target), {
    url: "rediss://u:pw@h:6380",
    protocol: 2,
    maxRetriesPerRequest: null,
    tls: { ca: target.ca },
  });
  assert.equal(
    "tls" in redisOptions({ url: "rediss://h" }),
    false,
    "rediss:// alone: ioredis verifies with Node's CAs",
  );
});

test("redisTarget refuses what cannot work, saying why and showing no password", () => {
  assert.equal(
    refusal({ REDIS_URL: "redis://:s3cret@host:99999" }),
    "REDIS_URL is not a URL; use redis://[user:password@]host[:port][/db] or rediss://… for TLS",
  );
  assert.equal(
    refusal({ REDIS_URL: "https://u:s3cret@host" }),
    "REDIS_URL must start with redis:// or rediss:// (TLS), not https:// (https://u:***@host/)",
  );
  assert.equal(
    refusal({ REDIS_URL: "redis://u:s3cret@host", REDIS_TLS_CA_FILE: caFile }),
    "REDIS_TLS_CA_FILE is set, but REDIS_URL (redis://u:***@host) does not use TLS: use rediss://",
  );
  assert.match(
    refusal({ REDIS_URL: "rediss://host", REDIS_TLS_CA_FILE: join(dir, "missing.pem") }),
    /^REDIS_TLS_CA_FILE .*missing\.pem cannot be read: ENOENT/,
  );
  const notPem = join(dir, "key.pem");
  writeFileSync(notPem, "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n");
  assert.equal(
    refusal({ REDIS_URL: "rediss://host", REDIS_TLS_CA_FILE: notPem }),
    `REDIS_TLS_CA_FILE ${notPem} holds no PEM certificate`,
  );
});
