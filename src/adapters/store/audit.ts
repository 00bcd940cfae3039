// The audit log of renewals: one Redis stream per cluster,
//   <p>:audit:<cluster>   XADD … MAXLEN ~ 1000: the latest ~1000 entries     TTL 365 d after the last entry
// Each entry: kind, when, who (a Slack user id, or nothing for certs-bot itself), the request id and a
// short detail. `/certs audit <cluster>` reads the newest first. The same entries also go to the logs.
//
// Never store secrets: callers pass ids, names, states, exit codes and excerpts that are already
// scrubbed. As a backstop, `append` cuts details to DETAIL_MAX characters and masks what looks like
// a private key block or a Slack token before writing.
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { redisKey } from "./store.js";
import type { AuditEntry, AuditInput, AuditKind } from "../../core/renew/ports.js";
import { scrubSecrets } from "../../core/secrets.js";

export const AUDIT_MAXLEN = 1000;
export const AUDIT_TTL_S = 365 * 86_400;
export const DETAIL_MAX = 1000;

/** What `append` writes for a detail: masked and bounded. */
export function sanitize(detail: string): string {
  const masked = scrubSecrets(detail);
  return masked.length > DETAIL_MAX ? `${masked.slice(0, DETAIL_MAX - 1)}…` : masked;
}

export class AuditLog {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    /** Every entry is logged too (info), so the record survives in the logs if Redis does not. */
    private readonly logger?: Logger,
  ) {}

  key(cluster: string): string {
    return redisKey(this.prefix, "audit", cluster);
  }

  /** Appends an entry; returns its stream id. */
  async append(cluster: string, entry: AuditInput, at: Date = new Date()): Promise<string> {
    const fields = ["kind", entry.kind, "at", at.toISOString(), "detail", sanitize(entry.detail)];
    if (entry.actor) fields.push("actor", entry.actor);
    if (entry.requestId) fields.push("requestId", entry.requestId);
    const key = this.key(cluster);
    this.logger?.info(
      {
        audit: entry.kind,
        cluster,
        ...(entry.actor ? { actor: entry.actor } : {}),
        ...(entry.requestId ? { request: entry.requestId } : {}),
        detail: sanitize(entry.detail),
      },
      "audit",
    );
    const replies = await this.redis
      .multi()
      .xadd(key, "MAXLEN", "~", AUDIT_MAXLEN, "*", ...fields)
      .expire(key, AUDIT_TTL_S)
      .exec();
    const [err, id] = replies?.[0] ?? [new Error("audit: transaction aborted"), null];
    if (err) throw err;
    return id as string;
  }

  /** The newest `n` entries of the cluster, newest first. */
  async latest(cluster: string, n = 20): Promise<AuditEntry[]> {
    if (n <= 0) return [];
    const rows = await this.redis.xrevrange(this.key(cluster), "+", "-", "COUNT", n);
    return rows.map(([id, flat]) => {
      const f = new Map<string, string>();
      for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i]!, flat[i + 1]!);
      const at = f.get("at");
      return {
        id,
        at: at ? new Date(at) : new Date(Number(id.split("-")[0])),
        kind: (f.get("kind") ?? "step") as AuditKind,
        ...(f.get("actor") ? { actor: f.get("actor")! } : {}),
        ...(f.get("requestId") ? { requestId: f.get("requestId")! } : {}),
        detail: f.get("detail") ?? "",
      };
    });
  }
}
