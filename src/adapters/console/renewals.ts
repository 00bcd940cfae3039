// Renewal requests and the audit log of `certs-bot console`, in memory: the same rules as the Redis
// stores (approval.ts decides every change, admission.ts who may take a cluster), without the
// atomicity Redis needs — one process, one event loop, no other writer.
import { admission, heldBy } from "../../core/renew/admission.js";
import {
  decide,
  expire,
  finish,
  isEnded,
  beginNode,
  markRunning,
  type DecideContext,
  type DecideResult,
  type RenewalRequest,
  type ResolvedClick,
} from "../../core/renew/approval.js";
import type { RenewalPlan } from "../../core/renew/plan.js";
import type {
  AuditEntry,
  AuditInput,
  AuditTrail,
  CardLocation,
  CreateOptions,
  CreateResult,
  ExecutionLease,
  LeaseAttempt,
  RenewalRecords,
} from "../../core/renew/ports.js";
import { sanitize } from "../store/audit.js";

interface Entry {
  request: RenewalRequest;
  plan?: RenewalPlan;
  card?: CardLocation;
}

export class MemoryRenewals implements RenewalRecords {
  private readonly entries = new Map<string, Entry>();
  /** Per cluster: generation → the id of the request a policy filed for it. */
  private readonly filed = new Map<string, Map<string, string>>();

  async create(
    request: RenewalRequest,
    { plan, now = request.requestedAt, generations = [] }: CreateOptions = {},
  ): Promise<CreateResult> {
    const expired: RenewalRequest[] = [];
    if (this.entries.has(request.id)) {
      return { ok: false, expired };
    }
    const filed = this.filed.get(request.cluster) ?? new Map<string, string>();
    if (generations.length && generations.every((g) => filed.has(g)))
      return { ok: false, filed: true, expired };
    const admit = admission(await this.active(request.cluster), now);
    if (admit.verdict === "held") return heldBy(admit.holder, expired);
    if (admit.verdict === "expire") {
      const done = await this.expire(admit.holder.id, now);
      if (done) expired.push(done);
    }
    this.entries.set(request.id, { request, ...(plan ? { plan } : {}) });
    for (const generation of generations) filed.set(generation, request.id);
    this.filed.set(request.cluster, filed);
    return { ok: true, request, expired };
  }

  async filings(cluster: string): Promise<Map<string, string>> {
    return new Map(this.filed.get(cluster));
  }

  async get(id: string): Promise<RenewalRequest | null> {
    return this.entries.get(id)?.request ?? null;
  }

  async loadPlan(id: string): Promise<RenewalPlan | null> {
    return this.entries.get(id)?.plan ?? null;
  }

  async setCard(id: string, card: CardLocation): Promise<void> {
    const entry = this.entries.get(id);
    if (entry) entry.card = card;
  }

  async card(id: string): Promise<CardLocation | null> {
    return this.entries.get(id)?.card ?? null;
  }

  async active(cluster: string): Promise<RenewalRequest | null> {
    for (const { request } of this.entries.values()) {
      if (request.cluster === cluster && !isEnded(request)) return request;
    }
    return null;
  }

  async applyClick(id: string, click: ResolvedClick, ctx: DecideContext): Promise<DecideResult> {
    const entry = this.entries.get(id);
    if (!entry) return { ok: false, reason: "this renewal request no longer exists; request a new renewal." };
    const result = decide(entry.request, click, ctx);
    if (result.request) entry.request = result.request;
    return result;
  }

  async expire(id: string, now: Date): Promise<RenewalRequest | null> {
    return this.change(id, (r) => expire(r, now) ?? r);
  }

  async markRunning(id: string, now: Date): Promise<RenewalRequest | null> {
    return this.change(id, (r) => markRunning(r, now));
  }

  async beginNode(id: string, now: Date): Promise<RenewalRequest | null> {
    return this.change(id, (r) => beginNode(r, now));
  }

  async finish(id: string, ok: boolean, now: Date, outcome?: string): Promise<RenewalRequest | null> {
    return this.change(id, (r) => finish(r, ok, now, outcome));
  }

  private change(
    id: string,
    next: (request: RenewalRequest) => RenewalRequest | null,
  ): RenewalRequest | null {
    const entry = this.entries.get(id);
    if (!entry) return null;
    const changed = next(entry.request);
    if (changed) entry.request = changed;
    return changed;
  }
}

/** The audit log, newest last in memory, read newest first like AuditLog. */
export class MemoryAudit implements AuditTrail {
  private readonly entries = new Map<string, AuditEntry[]>();
  private seq = 0;

  async append(cluster: string, entry: AuditInput, at: Date = new Date()): Promise<string> {
    const id = `${at.getTime()}-${this.seq++}`;
    const list = this.entries.get(cluster) ?? [];
    list.push({ ...entry, detail: sanitize(entry.detail), id, at });
    this.entries.set(cluster, list);
    return id;
  }

  async latest(cluster: string, n = 20): Promise<AuditEntry[]> {
    return [...(this.entries.get(cluster) ?? [])].reverse().slice(0, Math.max(0, n));
  }
}

/** The execution lease in one process: held by one request per cluster until released. */
export class MemoryLease implements ExecutionLease {
  private readonly holders = new Map<string, string>();

  async acquire(cluster: string, requestId: string): Promise<LeaseAttempt> {
    const holder = this.holders.get(cluster);
    if (holder && holder !== requestId) return { ok: false, holder };
    this.holders.set(cluster, requestId);
    const holders = this.holders;
    return {
      ok: true,
      lease: {
        cluster,
        requestId,
        confirm: async () => {
          const now = holders.get(cluster);
          return now === undefined || now === requestId ? null : now;
        },
        release: async () => {
          if (holders.get(cluster) === requestId) holders.delete(cluster);
        },
      },
    };
  }
}
