// The execution lease of a cluster's renewal run (issue 5):
//   <p>:renewal-run:<cluster>   id of the request whose run is executing on that cluster   PX ttl
//
// The run takes it before its first node and keeps it alive every ttl/3 while it lives; it is
// released in a `finally`, and only if it still names that request. The same request taking it again
// succeeds and refreshes it: a run resumed after its worker was SIGKILLed holds it again at once,
// without waiting for the dead worker's lease to lapse. Another request finds it held and is refused.
// It differs from RenewalStore's `renewal-lock` (one *pending/approved/running request* a cluster,
// 90-day backstop): this one exists only while some process is actually executing steps, and a dead
// process loses it after `ttl`.
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { redisKey } from "./store.js";

/** Outlives a Redis restart or a slow renewal of the lease, yet frees the cluster a minute after a crash. */
export const RUN_LEASE_TTL_MS = 60_000;

// KEYS: lease. ARGV: request id, ttl ms. 1 when taken (or taken again by the same request), else the holder.
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return holder`;

// KEYS: lease. ARGV: request id, ttl ms. Extends the lease only while it names that request.
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

// KEYS: lease. ARGV: request id. Deletes the lease only while it names that request.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** A lease this process holds; kept alive until `release`. */
export interface HeldLease {
  readonly cluster: string;
  readonly requestId: string;
  /**
   * Asserts the lease again: null while it names this request (extended) or once it was free and is
   * taken again (it had lapsed); otherwise the id of the request that holds it now.
   */
  confirm(): Promise<string | null>;
  /** Stops keeping it alive and deletes it if it still names this request. Never throws. */
  release(): Promise<void>;
}

export type LeaseAttempt = { ok: true; lease: HeldLease } | { ok: false; holder: string };

/** What a run needs of the lease (RunLease in Redis; memory elsewhere). */
export interface ExecutionLease {
  acquire(cluster: string, requestId: string, ttlMs?: number): Promise<LeaseAttempt>;
}

export class RunLease implements ExecutionLease {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    private readonly options: { ttlMs?: number; logger?: Logger } = {},
  ) {}

  key(cluster: string): string {
    return redisKey(this.prefix, "renewal-run", cluster);
  }

  /** The request whose run holds the cluster now, if any. */
  holder(cluster: string): Promise<string | null> {
    return this.redis.get(this.key(cluster));
  }

  /** Takes the lease (or takes it again, refreshed, for the same request) and keeps it alive every ttl/3. */
  async acquire(cluster: string, requestId: string, ttlMs = this.ttl): Promise<LeaseAttempt> {
    const reply = await this.take(cluster, requestId, ttlMs);
    if (reply !== 1) return { ok: false, holder: String(reply) };
    return { ok: true, lease: this.keepAlive(cluster, requestId, ttlMs) };
  }

  /** True while the lease named `requestId` and was extended. */
  async renew(cluster: string, requestId: string, ttlMs = this.ttl): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, this.key(cluster), requestId, ttlMs)) === 1;
  }

  /** True when the lease named `requestId` and is gone now. */
  async release(cluster: string, requestId: string): Promise<boolean> {
    return (await this.redis.eval(RELEASE, 1, this.key(cluster), requestId)) === 1;
  }

  private async take(cluster: string, requestId: string, ttlMs: number): Promise<number | string> {
    return (await this.redis.eval(ACQUIRE, 1, this.key(cluster), requestId, ttlMs)) as number | string;
  }

  private get ttl(): number {
    return this.options.ttlMs ?? RUN_LEASE_TTL_MS;
  }

  private keepAlive(cluster: string, requestId: string, ttlMs: number): HeldLease {
    const logger = this.options.logger;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    // A timeout chain, not an interval: while Redis is down a renewal waits for the reconnect, and
    // renewals must not pile up behind it.
    const schedule = () => {
      timer = setTimeout(async () => {
        try {
          if (!(await this.renew(cluster, requestId, ttlMs)) && !stopped)
            logger?.warn(
              { cluster, requestId },
              "renewal run lease lost (it lapsed or another request took it)",
            );
        } catch (err) {
          logger?.warn({ cluster, requestId, err: (err as Error).message }, "could not extend the run lease");
        }
        if (!stopped) schedule();
      }, ttlMs / 3);
      timer.unref(); // never what keeps a process alive
    };
    schedule();
    return {
      cluster,
      requestId,
      confirm: async () => {
        const reply = await this.take(cluster, requestId, ttlMs);
        return reply === 1 ? null : String(reply);
      },
      release: async () => {
        stopped = true;
        clearTimeout(timer);
        try {
          await this.release(cluster, requestId);
        } catch (err) {
          // It lapses within ttl anyway; the run's outcome must not hinge on this.
          logger?.warn(
            { cluster, requestId, err: (err as Error).message },
            "could not release the run lease",
          );
        }
      },
    };
  }
}
