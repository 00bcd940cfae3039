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
