// What lets `certs-bot console --allow-renewals` run a renewal: a run lease and an audit log.
// With serve's Redis (REDIS_URL, else serve's default; serve's key prefix) they are serve's own,
// RunLease and AuditLog, so a console renewal and a serve renewal never run on one cluster at once,
// and `/certs audit` in Slack shows what the console did. Each entry the console writes there says
// it came from the console and which OS account ran it: the console's Slack user ids are typed, not
// checked by Slack. Without Redis there is nothing to share:
//   - REDIS_URL not set and no Redis at the default: a lab on a laptop. The lease and the audit live
//     in memory, and the console says once that nothing keeps it from running beside a serve.
//   - REDIS_URL set but not answering: refused. That Redis is where a serve would hold the cluster,
//     and a renewal that cannot see it could restart a control plane in the middle of serve's run.
import { hostname, userInfo } from "node:os";
import type { Logger } from "pino";
import type { AuditTrail, ExecutionLease } from "../../core/renew/ports.js";
import { AuditLog } from "../store/audit.js";
import { connectRedisWithin, showRedisTarget, type RedisTarget } from "../store/redis.js";
import { RunLease } from "../store/run-lease.js";
import { MemoryAudit, MemoryLease } from "./renewals.js";

/** Long enough for a Redis across a network; short enough that a missing one does not stall the start. */
export const REDIS_CONNECT_TIMEOUT_MS = 3000;

export interface ConsoleRenewals {
  lease: ExecutionLease;
  audit: AuditTrail;
  /** Said once as the console starts: that renewals change real nodes, and what excludes them. */
  notice: string;
  close(): Promise<void>;
}

export type ConsoleRenewalsResult = { ok: true; renewals: ConsoleRenewals } | { ok: false; reason: string };

export interface ConsoleRenewalsInput {
  /** serve's Redis: REDIS_URL (and REDIS_TLS_CA_FILE), else the default. */
  target: RedisTarget | string;
  /** Whether REDIS_URL was set (a Redis someone meant), or the default was only tried. */
  explicit: boolean;
  /** serve's key prefix, so the lease and the audit keys are the ones serve uses. */
  prefix: string;
  logger?: Logger;
  timeoutMs?: number;
}

/** Who runs this console, as the OS knows them (a container may have no passwd entry). */
function account(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? process.env.LOGNAME ?? "unknown";
  }
  return `${user}@${hostname()}`;
}

/** serve's audit log, each entry marked as written by this console. */
function markedAudit(log: AuditLog, mark: string): AuditTrail {
  return {
    append: (cluster, entry, at) => log.append(cluster, { ...entry, detail: `${mark} ${entry.detail}` }, at),
    latest: (cluster, n) => log.latest(cluster, n),
  };
}

const ALLOWED = "allowed here, and they change real nodes.";

export async function consoleRenewals(input: ConsoleRenewalsInput): Promise<ConsoleRenewalsResult> {
  const { target, explicit, prefix, logger } = input;
  const shown = showRedisTarget(target);
  const connected = await connectRedisWithin(target, input.timeoutMs ?? REDIS_CONNECT_TIMEOUT_MS);
  if (connected.ok) {
    const { redis } = connected;
    redis.on("error", (err: Error) =>
      logger?.warn({ err: err.message }, "redis connection problem; retrying"),
    );
    return {
      ok: true,
      renewals: {
        lease: new RunLease(redis, prefix, logger ? { logger } : {}),
        audit: markedAudit(new AuditLog(redis, prefix, logger), `[console ${account()}]`),
        notice:
          `${ALLOWED} They take serve's run lease and write its audit in Redis at ${shown} ` +
          `(prefix ${prefix}): one renewal a cluster at a time, and /certs audit in Slack shows them.`,
        close: async () => {
          await redis.quit().catch(() => redis.disconnect());
        },
      },
    };
  }
  if (explicit) {
    return {
      ok: false,
      reason:
        `--allow-renewals: Redis at ${shown} (REDIS_URL) does not answer (${connected.error}); a serve ` +
        "on it may be renewing a cluster, and a console renewal that cannot see its run lease could " +
        "run beside it. Start the console once Redis answers, or without --allow-renewals to see plans only",
    };
  }
  return {
    ok: true,
    renewals: {
      lease: new MemoryLease(),
      audit: new MemoryAudit(),
      notice:
        `${ALLOWED} No Redis at ${shown} (the default; REDIS_URL is not set): ${connected.error}. ` +
        "Nothing keeps a renewal here from running beside a serve's; the run lease and the audit " +
        "live only in this console.",
      close: async () => undefined,
    },
  };
}
