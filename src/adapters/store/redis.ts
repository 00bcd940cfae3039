// Redis connections. RESP2 on purpose: ioredis 6 defaults to RESP3, and BullMQ's scripts and
// our replies are written for RESP2 shapes. `maxRetriesPerRequest: null` is what BullMQ workers
// require (a command waits for a reconnect instead of failing), and it lets the service ride
// out a Redis restart.
//
// Whoever can write to certs-bot's Redis can approve or alter renewals, so production Redis needs
// credentials and TLS: REDIS_URL carries the user and password (`rediss://user:pass@host:port`, or
// `redis://:pass@host` for the default user), `rediss://` turns TLS on with the server's certificate
// verified (against Node's trusted CAs, or the CA in REDIS_TLS_CA_FILE); verification cannot be
// turned off. The same options go to our connection and to BullMQ's. The URL is only ever shown
// with its password masked.
//
// With Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_NAME) every connection asks the sentinels
// where the master of that group is, and asks again on each reconnect, so a failover is ridden out
// like a restart. REDIS_URL then only says how to talk to the master (user, password, db, TLS):
// its host and port are not used. The sentinels themselves are reached without TLS.
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { OperatorError } from "../../config/operator-error.js";
import { nodeAddress } from "../../core/transport/address.js";
import { withoutPassword } from "../log/logger.js";

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** REDIS_URL, REDIS_TLS_CA_FILE or the REDIS_SENTINEL* settings cannot be used, or Redis refuses us for good (the CLI exits 3). */
export class RedisSettingsError extends OperatorError {}

export const DEFAULT_SENTINEL_PORT = 26379;

/** The sentinels that say where the master of group `name` is (REDIS_SENTINELS, REDIS_SENTINEL_NAME). */
export interface SentinelTarget {
  sentinels: { host: string; port: number }[];
  name: string;
  /** REDIS_SENTINEL_PASSWORD: for sentinels that require auth (never shown). */
  password?: string;
}

/** Where Redis is, and how certs-bot knows it is talking to the right server. */
export interface RedisTarget {
  url: string;
  /** PEM of the CA(s) that sign the server's certificate (rediss:// only); default: Node's trusted CAs. */
  ca?: Buffer;
  /** Set: the master is found through these sentinels, and `url`'s host and port are not used. */
  sentinel?: SentinelTarget;
}

export function redisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.REDIS_URL || DEFAULT_REDIS_URL;
}

/** The URL as it may be shown: the password replaced by `***`. */
export const maskRedisUrl = (url: string): string =>
  withoutPassword(url) ?? "(REDIS_URL, not shown: it is not a URL)";

/** The target as it may be logged: the masked URL, or the sentinel group and its sentinels. */
export function showRedisTarget(target: RedisTarget | string): string {
  if (typeof target === "string") return maskRedisUrl(target);
  if (!target.sentinel) return maskRedisUrl(target.url);
  const { name, sentinels } = target.sentinel;
  return `sentinel ${name} via ${sentinels.map(({ host, port }) => nodeAddress(host, port)).join(",")}`;
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

/** One REDIS_SENTINELS entry: `host`, `host:port`, `[ipv6]` or `[ipv6]:port`. */
function sentinelEntry(entry: string, position: number): { host: string; port: number } {
  const bad = (why: string) => new RedisSettingsError(`REDIS_SENTINELS entry "${entry}": ${why}`);
  if (entry === "") {
    throw new RedisSettingsError(
      `REDIS_SENTINELS entry ${position} is empty; use a comma-separated host[:port] list`,
    );
  }
  if (entry.includes("/")) throw bad("a sentinel is host[:port], not a URL");
  const bracketed = entry.startsWith("[");
  const parts = bracketed ? /^\[([^\]]*)\](?::(.*))?$/.exec(entry) : /^([^:]*)(?::(.*))?$/.exec(entry);
  if (!parts || (!bracketed && entry.split(":").length > 2)) {
    throw bad("an IPv6 address goes in brackets, as [::1]:26379");
  }
  const [, host = "", portText] = parts;
  if (host === "") throw bad("no host");
  if (bracketed ? !IPV6.test(host) || !host.includes(":") : !HOSTNAME.test(host)) {
    throw bad(`${host} is not a host name or IP address`);
  }
  if (portText === undefined) return { host, port: DEFAULT_SENTINEL_PORT };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) throw bad(`the port must be a number from 1 to 65535`);
  return { host, port };
}

/** REDIS_SENTINELS, REDIS_SENTINEL_NAME and REDIS_SENTINEL_PASSWORD, checked; undefined: no Sentinel. */
export function sentinelTarget(env: NodeJS.ProcessEnv = process.env): SentinelTarget | undefined {
  const list = env.REDIS_SENTINELS?.trim();
  const name = env.REDIS_SENTINEL_NAME?.trim();
  const password = env.REDIS_SENTINEL_PASSWORD;
  if (!list) {
    const stray = name ? "REDIS_SENTINEL_NAME" : password ? "REDIS_SENTINEL_PASSWORD" : null;
    if (stray) {
      throw new RedisSettingsError(
        `${stray} is set, but REDIS_SENTINELS (the sentinels' host[:port] list) is not`,
      );
    }
    return undefined;
  }
  const sentinels = list.split(",").map((entry, i) => sentinelEntry(entry.trim(), i + 1));
  if (!name) {
    throw new RedisSettingsError(
      "REDIS_SENTINEL_NAME is not set: with REDIS_SENTINELS, it names the master group " +
        "(as in sentinel.conf `sentinel monitor NAME …`)",
    );
  }
  return { sentinels, name, ...(password ? { password } : {}) };
}

/**
 * REDIS_URL and REDIS_TLS_CA_FILE, and the sentinels when REDIS_SENTINELS is set, checked (a
 * RedisSettingsError says what is wrong).
 */
export function redisTarget(env: NodeJS.ProcessEnv = process.env): RedisTarget {
  const url = redisUrl(env);
  const sentinel = sentinelTarget(env);
  const target = urlTarget(url, env);
  return sentinel ? { ...target, sentinel } : target;
}

function urlTarget(url: string, env: NodeJS.ProcessEnv): RedisTarget {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    // Not echoed: a URL that does not parse may still hold a password.
    throw new RedisSettingsError(
      "REDIS_URL is not a URL; use redis://[user:password@]host[:port][/db] or rediss://… for TLS",
    );
  }
  if (protocol !== "redis:" && protocol !== "rediss:") {
    throw new RedisSettingsError(
      `REDIS_URL must start with redis:// or rediss:// (TLS), not ${protocol}// (${maskRedisUrl(url)})`,
    );
  }
  const caFile = env.REDIS_TLS_CA_FILE;
  if (!caFile) return { url };
  if (protocol !== "rediss:") {
    throw new RedisSettingsError(
      `REDIS_TLS_CA_FILE is set, but REDIS_URL (${maskRedisUrl(url)}) does not use TLS: use rediss://`,
    );
  }
  let ca: Buffer;
  try {
    ca = readFileSync(caFile);
  } catch (err) {
    throw new RedisSettingsError(`REDIS_TLS_CA_FILE ${caFile} cannot be read: ${(err as Error).message}`);
  }
  if (!ca.includes("-----BEGIN CERTIFICATE-----")) {
    throw new RedisSettingsError(`REDIS_TLS_CA_FILE ${caFile} holds no PEM certificate`);
  }
  return { url, ca };
}

/** The options of every connection to `target`, ours and BullMQ's (which takes `url` among them). */
export function redisOptions(target: RedisTarget) {
  return {
    url: target.url,
    protocol: 2,
    maxRetriesPerRequest: null,
    // rediss:// alone already means TLS with verification; this only adds the CA to trust.
    ...(target.ca ? { tls: { ca: target.ca } } : {}),
    ...(target.sentinel ? sentinelOptions(target.sentinel, target.url.startsWith("rediss:")) : {}),
  } as const;
}

/** ioredis's Sentinel options: the master's address comes from the sentinels on every (re)connect. */
function sentinelOptions(sentinel: SentinelTarget, tls: boolean) {
  return {
    sentinels: sentinel.sentinels,
    name: sentinel.name,
    ...(sentinel.password ? { sentinelPassword: sentinel.password } : {}),
    // ioredis speaks TLS to a master found by the sentinels only when asked to (rediss://).
    ...(tls ? { enableTLSForSentinelMode: true } : {}),
  };
}

export function connectRedis(target: RedisTarget | string): Redis {
  const { url, ...options } = redisOptions(typeof target === "string" ? { url: target } : target);
  return new Redis(url, {
    ...options,
    enableReadyCheck: true,
    // Back off up to 2 s between reconnects, forever: a restarted Redis is normal operations.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
}

/** Why a connection failure will not go away by retrying, or null when it may (Redis down, restarting). */
function refusal(err: Error & { code?: string }): string | null {
  // ioredis reports sentinels that refuse us as all of them unreachable, with the last error.
  if (/^All sentinels are unreachable.*Last error: (WRONGPASS|NOAUTH|NOPERM)\b/.test(err.message)) {
    return `the sentinels refused certs-bot (REDIS_SENTINEL_PASSWORD): ${err.message}`;
  }
  if (/^(WRONGPASS|NOAUTH|NOPERM)\b/.test(err.message)) {
    return `Redis refused certs-bot's credentials (the user and password in REDIS_URL): ${err.message}`;
  }
  if (/CERT|SELF_SIGNED|ISSUER|VERIFY/.test(err.code ?? "")) {
    return (
      `certs-bot does not trust the Redis server's certificate (${err.message}); ` +
      "set REDIS_TLS_CA_FILE to the CA that signed it"
    );
  }
  return null;
}

/**
 * Connects once, so that wrong credentials or an untrusted server certificate stop the service at
 * start with why (a RedisSettingsError) instead of being retried forever. A Redis that is merely not
 * reachable yet is not an error: the reason is returned (to log), and the service's connections keep
 * trying as usual. Null: all is well.
 */
export async function checkRedis(target: RedisTarget, timeoutMs = 5000): Promise<string | null> {
  const answer = await connectRedisWithin(target, timeoutMs);
  if (answer.ok) {
    answer.redis.disconnect();
    return null;
  }
  const shown = showRedisTarget(target);
  if (answer.refused) throw new RedisSettingsError(`${shown}: ${answer.refused}`);
  return `${shown}: ${answer.error}`;
}

/**
 * BullMQ needs Redis to keep every key: under any maxmemory-policy but noeviction, a full Redis
 * drops jobs, schedules and approvals without a word. Returns what to warn about (the wrong policy,
 * or that it could not be read: CONFIG is often refused on managed Redis or to an ACL user), null
 * when it is noeviction. `strict` (CERTS_BOT_STRICT_REDIS=1): a wrong policy is a RedisSettingsError.
 */
export async function checkEvictionPolicy(
  target: RedisTarget,
  strict: boolean,
  timeoutMs = 5000,
): Promise<string | null> {
  const shown = showRedisTarget(target);
  const unchecked = (why: string) =>
    `${shown}: maxmemory-policy could not be checked (${why}); make sure it is noeviction`;
  const answer = await connectRedisWithin(target, timeoutMs);
  if (!answer.ok) return unchecked(answer.error);
  let reply: unknown;
  try {
    reply = await answer.redis.config("GET", "maxmemory-policy");
  } catch (err) {
    return unchecked((err as Error).message);
  } finally {
    answer.redis.disconnect();
  }
  // RESP2 (our connections): [name, value]; nothing when CONFIG knows no such parameter.
  const policy = Array.isArray(reply) ? (reply[1] as unknown) : undefined;
  if (typeof policy !== "string") return unchecked("no answer to CONFIG GET");
  if (policy === "noeviction") return null;
  const problem =
    `${shown}: maxmemory-policy is ${policy}, not noeviction: ` +
    "a full Redis would evict queued jobs and certs-bot's state";
  if (strict) throw new RedisSettingsError(`${problem} (CERTS_BOT_STRICT_REDIS=1)`);
  return problem;
}

/** Key namespace: everything certs-bot writes lives under one prefix (BullMQ's queues too). */
export function keyPrefix(env: NodeJS.ProcessEnv = process.env): string {
  return env.CERTS_BOT_REDIS_PREFIX || "certs-bot";
}

/**
 * A connection (as connectRedis) once Redis answers, or why it did not: the first error or
 * `timeoutMs` without an answer, whichever comes first, and then no connection is left behind. For
 * a process that must decide at once whether Redis is there (the console, the service's start
 * check), not wait for it forever. `refused`: why retrying will not help (credentials, certificate).
 */
export async function connectRedisWithin(
  target: RedisTarget | string,
  timeoutMs: number,
): Promise<{ ok: true; redis: Redis } | { ok: false; error: string; refused: string | null }> {
  const redis = connectRedis(target);
  let timer: NodeJS.Timeout | undefined;
  let onReady = (): void => undefined;
  let onError = (_err: Error): void => undefined;
  const error = await new Promise<Error | null>((resolve) => {
    timer = setTimeout(() => resolve(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    onReady = () => resolve(null);
    onError = resolve;
    redis.once("ready", onReady).on("error", onError);
  });
  clearTimeout(timer);
  redis.off("ready", onReady).off("error", onError);
  if (error === null) return { ok: true, redis };
  redis.disconnect();
  return { ok: false, error: error.message || String(error), refused: refusal(error) };
}
