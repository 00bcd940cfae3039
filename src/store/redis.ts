// Redis connections. RESP2 on purpose: ioredis 6 defaults to RESP3, and BullMQ's scripts and
// our replies are written for RESP2 shapes. `maxRetriesPerRequest: null` is what BullMQ workers
// require (a command waits for a reconnect instead of failing), and it lets the service ride
// out a Redis restart.
import { Redis } from "ioredis";

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

export function redisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.REDIS_URL || DEFAULT_REDIS_URL;
}

export function connectRedis(url: string): Redis {
  return new Redis(url, {
    protocol: 2,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    // Back off up to 2 s between reconnects, forever: a restarted Redis is normal operations.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
}

/** Key namespace: everything certs-bot writes lives under one prefix (BullMQ's queues too). */
export function keyPrefix(env: NodeJS.ProcessEnv = process.env): string {
  return env.CERTS_BOT_REDIS_PREFIX || "certs-bot";
}

/**
 * A connection (as connectRedis) once Redis answers, or why it did not: the first error or
 * `timeoutMs` without an answer, whichever comes first, and then no connection is left behind. For
 * a process that must decide at once whether Redis is there (the console), not wait for it forever.
 */
export async function connectRedisWithin(
  url: string,
  timeoutMs: number,
): Promise<{ ok: true; redis: Redis } | { ok: false; error: string }> {
  const redis = connectRedis(url);
  let timer: NodeJS.Timeout | undefined;
  let onReady = (): void => undefined;
  let onError = (_err: Error): void => undefined;
  const error = await new Promise<string | null>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    onReady = () => resolve(null);
    onError = (err) => resolve(err.message || String(err));
    redis.once("ready", onReady).on("error", onError);
  });
  clearTimeout(timer);
  redis.off("ready", onReady).off("error", onError);
  if (error === null) return { ok: true, redis };
  redis.disconnect();
  return { ok: false, error };
}

/** The URL as it may be shown: its password, if any, masked. */
export function shownRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(REDIS_URL, not a URL)";
  }
}
