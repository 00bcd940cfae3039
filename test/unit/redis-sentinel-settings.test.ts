// REDIS_SENTINELS, REDIS_SENTINEL_NAME and REDIS_SENTINEL_PASSWORD as certs-bot reads them: the
// forms accepted, a clear refusal naming the variable or the entry for each bad one, the options
// every connection gets, and what may be logged (never a password).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  redisOptions,
  RedisSettingsError,
  redisTarget,
  sentinelTarget,
  showRedisTarget,
} from "../../src/adapters/store/redis.js";

const NAME = { REDIS_SENTINEL_NAME: "mymaster" };

function refusal(env: NodeJS.ProcessEnv): string {
  try {
    redisTarget(env);
  } catch (err) {
    assert.ok(err instanceof RedisSettingsError, String(err));
    return err.message;
  }
  assert.fail(`expected a RedisSettingsError for ${JSON.stringify(env)}`);
}

test("no REDIS_SENTINELS: no Sentinel, REDIS_URL alone", () => {
  assert.equal(sentinelTarget({}), undefined);
  assert.equal(sentinelTarget({ REDIS_SENTINELS: " " }), undefined);
  assert.equal(redisTarget({ REDIS_URL: "redis://h:1" }).sentinel, undefined);
});

test("REDIS_SENTINELS: host[:port] entries, port 26379 by default, spaces around commas allowed", () => {
  assert.deepEqual(sentinelTarget({ REDIS_SENTINELS: "10.0.0.1:26379,10.0.0.2:26380, 10.0.0.3", ...NAME }), {
    name: "mymaster",
    sentinels: [
      { host: "10.0.0.1", port: 26379 },
      { host: "10.0.0.2", port: 26380 },
      { host: "10.0.0.3", port: 26379 },
    ],
  });
  assert.deepEqual(
    sentinelTarget({ REDIS_SENTINELS: "sentinel-0.redis.svc:5000,[::1],[fd00::2]:26381", ...NAME })
      ?.sentinels,
    [
      { host: "sentinel-0.redis.svc", port: 5000 },
      { host: "::1", port: 26379 },
      { host: "fd00::2", port: 26381 },
    ],
  );
  assert.deepEqual(
    sentinelTarget({ REDIS_SENTINELS: "s1", ...NAME, REDIS_SENTINEL_PASSWORD: "sent-SECRET" }),
    { name: "mymaster", sentinels: [{ host: "s1", port: 26379 }], password: "sent-SECRET" },
  );
});

test("REDIS_SENTINEL_NAME is required with REDIS_SENTINELS, and only with it", () => {
  for (const name of [undefined, "", "  "]) {
    const env: NodeJS.ProcessEnv = { REDIS_SENTINELS: "10.0.0.1" };
    if (name !== undefined) env.REDIS_SENTINEL_NAME = name;
    assert.equal(
      refusal(env),
      "REDIS_SENTINEL_NAME is not set: with REDIS_SENTINELS, it names the master group " +
        "(as in sentinel.conf `sentinel monitor NAME …`)",
    );
  }
  assert.equal(
    refusal(NAME),
    "REDIS_SENTINEL_NAME is set, but REDIS_SENTINELS (the sentinels' host[:port] list) is not",
  );
  assert.equal(
    refusal({ REDIS_SENTINEL_PASSWORD: "sent-SECRET" }),
    "REDIS_SENTINEL_PASSWORD is set, but REDIS_SENTINELS (the sentinels' host[:port] list) is not",
  );
});

test("every malformed REDIS_SENTINELS entry is refused, naming the entry", () => {
  const cases: [string, string][] = [
    ["10.0.0.1,,10.0.0.3", "REDIS_SENTINELS entry 2 is empty; use a comma-separated host[:port] list"],
    ["10.0.0.1,", "REDIS_SENTINELS entry 2 is empty; use a comma-separated host[:port] list"],
    [",10.0.0.1", "REDIS_SENTINELS entry 1 is empty; use a comma-separated host[:port] list"],
    ["10.0.0.1:abc", 'REDIS_SENTINELS entry "10.0.0.1:abc": the port must be a number from 1 to 65535'],
    ["10.0.0.1:0", 'REDIS_SENTINELS entry "10.0.0.1:0": the port must be a number from 1 to 65535'],
    ["10.0.0.1:65536", 'REDIS_SENTINELS entry "10.0.0.1:65536": the port must be a number from 1 to 65535'],
    ["10.0.0.1:", 'REDIS_SENTINELS entry "10.0.0.1:": the port must be a number from 1 to 65535'],
    ["10.0.0.1:-1", 'REDIS_SENTINELS entry "10.0.0.1:-1": the port must be a number from 1 to 65535'],
    [
      "10.0.0.1:26379:1",
      'REDIS_SENTINELS entry "10.0.0.1:26379:1": an IPv6 address goes in brackets, as [::1]:26379',
    ],
    ["fd00::2", 'REDIS_SENTINELS entry "fd00::2": an IPv6 address goes in brackets, as [::1]:26379'],
    [":26379", 'REDIS_SENTINELS entry ":26379": no host'],
    ["[]:26379", 'REDIS_SENTINELS entry "[]:26379": no host'],
    [
      "redis://10.0.0.1:26379",
      'REDIS_SENTINELS entry "redis://10.0.0.1:26379": a sentinel is host[:port], not a URL',
    ],
    ["bad_host:26379", 'REDIS_SENTINELS entry "bad_host:26379": bad_host is not a host name or IP address'],
    [
      "10.0.0.1 10.0.0.2",
      'REDIS_SENTINELS entry "10.0.0.1 10.0.0.2": 10.0.0.1 10.0.0.2 is not a host name or IP address',
    ],
    ["[nothex]:1", 'REDIS_SENTINELS entry "[nothex]:1": nothex is not a host name or IP address'],
    ["[::1", 'REDIS_SENTINELS entry "[::1": an IPv6 address goes in brackets, as [::1]:26379'],
  ];
  for (const [list, message] of cases) {
    assert.equal(refusal({ REDIS_SENTINELS: list, ...NAME }), message, list);
  }
});

test("REDIS_URL is still checked with sentinels: it says how to talk to the master", () => {
  assert.equal(
    refusal({ REDIS_SENTINELS: "s1", ...NAME, REDIS_URL: "https://u:s3cret@host" }),
    "REDIS_URL must start with redis:// or rediss:// (TLS), not https:// (https://u:***@host/)",
  );
});

test("redisOptions with sentinels: RESP2, no retry limit, the master's credentials from REDIS_URL", () => {
  const target = redisTarget({
    REDIS_URL: "redis://certs-bot:pw@ignored:1/2",
    REDIS_SENTINELS: "10.0.0.1,10.0.0.2:26380",
    REDIS_SENTINEL_NAME: "mymaster",
    REDIS_SENTINEL_PASSWORD: "sent-SECRET",
  });
  assert.deepEqual(redisOptions(target), {
    url: "redis://certs-bot:pw@ignored:1/2",
    protocol: 2,
    maxRetriesPerRequest: null,
    sentinels: [
      { host: "10.0.0.1", port: 26379 },
      { host: "10.0.0.2", port: 26380 },
    ],
    name: "mymaster",
    sentinelPassword: "sent-SECRET",
  });
  const tls = redisOptions(redisTarget({ REDIS_URL: "rediss://h", REDIS_SENTINELS: "s1", ...NAME }));
  assert.equal(tls.enableTLSForSentinelMode, true, "rediss://: TLS to the master the sentinels name");
  assert.equal("sentinelPassword" in tls, false);
});

test("what is logged: the group and its sentinels, no password of either kind", () => {
  const target = redisTarget({
    REDIS_URL: "rediss://certs-bot:url-SECRET@ignored:6380",
    REDIS_SENTINELS: "10.0.0.1:26379,10.0.0.2:26379,[::1]",
    REDIS_SENTINEL_NAME: "mymaster",
    REDIS_SENTINEL_PASSWORD: "sent-SECRET",
  });
  const shown = showRedisTarget(target);
  assert.equal(shown, "sentinel mymaster via 10.0.0.1:26379,10.0.0.2:26379,[::1]:26379");
  assert.doesNotMatch(shown, /SECRET/);
  assert.equal(showRedisTarget({ url: "redis://:pw@h:1" }), "redis://:***@h:1");
});
