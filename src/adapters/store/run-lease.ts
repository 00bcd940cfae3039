// The execution lease of a cluster's renewal run:
//   <p>:renewal-run:<cluster>   "<request id> <attempt token>" of the attempt executing there   PX ttl
//
// Each attempt (a run of a request, or its rerun after a crash) takes it with a random token, keeps it
// alive every ttl/3 while it lives, confirms it before every step that changes a node, and releases it
// in a `finally` — each only while the lease still carries its own token. So two attempts never hold it
// at once, not even two attempts of one request: a rerun after a SIGKILL waits (at most ttl) for the
// dead attempt's lease to lapse, and an attempt that finds another token in it stops before its next
// change. Another request finds it held and is refused. It differs from RenewalStore's `renewal-lock`
// (one *pending/approved/running request* a cluster, 90-day backstop): this one exists only while some
// process is actually executing steps, and a dead process loses it after `ttl`.
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { randomUUID } from "node:crypto";
import { redisKey } from "./store.js";
import type { ExecutionLease, HeldLease, LeaseAttempt } from "../../core/renew/ports.js";

/** Outlives a Redis restart or a slow renewal of the lease, yet frees the cluster a minute after a crash. */
export const RUN_LEASE_TTL_MS = 60_000;

/**
 * The lease of a renewal worker lapses no later than its job lock: when the queue hands a dead
 * worker's job to another, the dead attempt's lease is gone or about to be.
 */
export const leaseTtlFor = (renewalLockDuration: number | undefined): number =>
  Math.min(RUN_LEASE_TTL_MS, renewalLockDuration ?? RUN_LEASE_TTL_MS);

// KEYS: lease. ARGV: holder ("<request> <token>"), ttl ms. 1 when taken, else the holder.
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return redis.call('GET', KEYS[1])`;

// KEYS: lease. ARGV: holder, ttl ms. 1 while it carries this holder (extended), or when it had lapsed
// and nobody took it (taken again); else the holder now.
const CONFIRM = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return holder`;

// KEYS: lease. ARGV: holder, ttl ms. Extends the lease only while it carries that holder.
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

// KEYS: lease. ARGV: holder. Deletes the lease only while it carries that holder.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The request id of a lease value ("<request> <token>"). */
const requestOf = (holder: string): string => holder.split(" ")[0] ?? holder;

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
  async holder(cluster: string): Promise<string | null> {
    const value = await this.redis.get(this.key(cluster));
    return value === null ? null : requestOf(value);
  }

  /**
   * Takes the lease with a new attempt token and keeps it alive every ttl/3. Held by an earlier attempt
   * of the same request (a worker that died), it waits for that lease to lapse (at most ttl); held by
   * another request, it is refused at once.
   */
  async acquire(cluster: string, requestId: string, ttlMs = this.ttl): Promise<LeaseAttempt> {
    const holder = `${requestId} ${randomUUID()}`;
    const deadline = Date.now() + ttlMs + 1_000;
    for (;;) {
      const reply = await this.redis.eval(ACQUIRE, 1, this.key(cluster), holder, ttlMs);
      if (reply === 1) return { ok: true, lease: this.keepAlive(cluster, holder, ttlMs) };
      const other = requestOf(String(reply));
      if (other !== requestId || Date.now() >= deadline) return { ok: false, holder: other };
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** True while the lease carries `holder` and was extended. */
  async renew(cluster: string, holder: string, ttlMs = this.ttl): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, this.key(cluster), holder, ttlMs)) === 1;
  }

  /** True when the lease carried `holder` and is gone now. */
  async release(cluster: string, holder: string): Promise<boolean> {
    return (await this.redis.eval(RELEASE, 1, this.key(cluster), holder)) === 1;
  }

  private get ttl(): number {
    return this.options.ttlMs ?? RUN_LEASE_TTL_MS;
  }

  private keepAlive(cluster: string, holder: string, ttlMs: number): HeldLease {
    const requestId = requestOf(holder);
    const logger = this.options.logger;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    // A timeout chain, not an interval: while Redis is down a renewal waits for the reconnect, and
    // renewals must not pile up behind it.
    const schedule = () => {
      timer = setTimeout(async () => {
        try {
          if (!(await this.renew(cluster, holder, ttlMs)) && !stopped)
            logger?.warn(
              { cluster, requestId },
              "renewal run lease lost (it lapsed or another attempt took it)",
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
        const reply = await this.redis.eval(CONFIRM, 1, this.key(cluster), holder, ttlMs);
        if (reply === 1) return null;
        const other = requestOf(String(reply));
        return other === requestId ? `another attempt of request ${other}` : `request ${other}`;
      },
      release: async () => {
        stopped = true;
        clearTimeout(timer);
        try {
          await this.release(cluster, holder);
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
