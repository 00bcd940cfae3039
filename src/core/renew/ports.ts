// What a renewal run and the request flow need from the edges, as interfaces: the Redis stores and
// BullMQ in the service, memory in `certs-bot console`, recorders in tests. The records they pass
// are declared here with them, so the stores import them from the core, never the other way round.
import type { DecideContext, DecideResult, RenewalRequest, ResolvedClick } from "./approval.js";
import type { RenewalPlan } from "./plan.js";
import type { ProgressEvent } from "./progress.js";
import type { RunState } from "./run-state.js";
import type { ClusterConfig } from "../../config/load.js";

/** Where a run tells people how it goes (the Slack edge: the approval card's thread). */
export interface RunReporter {
  /** The checklist changed; the Slack edge updates one status message in place, coalesced. */
  status(state: RunState): Promise<void>;
  /** A step ended (✅, ❌ or skipped because its postcondition held): one reply with its excerpt. */
  step(event: ProgressEvent, state: RunState): Promise<void>;
  /** The run ended: the before/after summary. */
  finished(state: RunState): Promise<void>;
}

export type AuditKind =
  | "requested"
  | "refused"
  | "approved"
  | "rejected"
  | "expired"
  | "cancelled"
  | "started"
  | "step"
  | "rollback"
  | "result"
  // Warnings quieted or no longer (`/certs snooze`, `unsnooze`, the Acknowledge button).
  | "snoozed"
  | "acknowledged"
  | "unsnoozed";

export interface AuditInput {
  kind: AuditKind;
  /** Who did it: a Slack user id; absent for certs-bot's own actions. */
  actor?: string;
  requestId?: string;
  detail: string;
}

export interface AuditEntry extends AuditInput {
  /** The stream entry id (`<ms>-<seq>`). */
  id: string;
  at: Date;
}

/** The audit log (AuditLog in Redis; an array in the console). */
export interface AuditTrail {
  append(cluster: string, entry: AuditInput, at?: Date): Promise<string>;
  latest(cluster: string, n?: number): Promise<AuditEntry[]>;
}

/** Where the approval card was posted: its thread carries the run. */
export interface CardLocation {
  channel: string;
  ts: string;
}

export type CreateResult =
  | {
      ok: true;
      request: RenewalRequest;
      /** Requests found pending past their expiry on the way and marked expired (audit them). */
      expired: RenewalRequest[];
    }
  /**
   * Not saved: `active` is the cluster's request that holds it, absent when a request with this id
   * exists already; `filed`: a policy filed for all its generations before. The records return
   * data; the desk words the refusal.
   */
  | { ok: false; active?: RenewalRequest; expired: RenewalRequest[]; filed?: true };

export interface CreateOptions {
  /** The plan the request is approved on (what its run executes). */
  plan?: RenewalPlan;
  /** Decides whether a pending holder is past its expiry (default: the request time). */
  now?: Date;
  /**
   * A policy's request: the certificate generations it is filed for (`node/cert@serial`). Refused
   * with `filed` when a request was filed for every one of them before; recorded with the request.
   */
  generations?: readonly string[];
}

/** Renewal requests with their plans (RenewalStore in Redis; memory in the console). */
export interface RenewalRecords {
  create(request: RenewalRequest, options?: CreateOptions): Promise<CreateResult>;
  /** The generations a policy filed a request for, each with that request's id. */
  filings(cluster: string): Promise<Map<string, string>>;
  /**
   * Ends a request nobody can act on (its card could not be posted) as withdrawn, and forgets the
   * generations a policy filed it for; null when its run has begun or it has ended.
   */
  withdraw(id: string, reason: string, now: Date): Promise<RenewalRequest | null>;
  get(id: string): Promise<RenewalRequest | null>;
  loadPlan(id: string): Promise<RenewalPlan | null>;
  setCard(id: string, card: CardLocation): Promise<void>;
  card(id: string): Promise<CardLocation | null>;
  active(cluster: string): Promise<RenewalRequest | null>;
  applyClick(id: string, click: ResolvedClick, ctx: DecideContext): Promise<DecideResult>;
  expire(id: string, now: Date): Promise<RenewalRequest | null>;
  markRunning(id: string, now: Date): Promise<RenewalRequest | null>;
  /** Before each node: records the run's first node start; null when the request was cancelled. */
  beginNode(id: string, now: Date): Promise<RenewalRequest | null>;
  /** `outcome`: the run's one-line result (what state the nodes were left in), shown on the card. */
  finish(id: string, ok: boolean, now: Date, outcome?: string): Promise<RenewalRequest | null>;
}

/** A lease this process holds; kept alive until `release`. */
export interface HeldLease {
  readonly cluster: string;
  readonly requestId: string;
  /**
   * Asserts the lease again: null while it carries this attempt's token (extended) or once it was free
   * and is taken again (it had lapsed); otherwise who holds it now ("request <id>, another attempt").
   */
  confirm(): Promise<string | null>;
  /** Stops keeping it alive and deletes it if it still names this request. Never throws. */
  release(): Promise<void>;
}

/** `holder`: the id of the request whose attempt holds the cluster. */
export type LeaseAttempt = { ok: true; lease: HeldLease } | { ok: false; holder: string };

/** What a run needs of the lease (RunLease in Redis; memory elsewhere). */
export interface ExecutionLease {
  acquire(cluster: string, requestId: string, ttlMs?: number): Promise<LeaseAttempt>;
}

// --- The desk (requesting and approving), as the chat backends call it ----------------------

export interface RenewalAsk {
  cluster: ClusterConfig;
  userId: string;
  node?: string;
  certs?: readonly string[];
}

export type AskOutcome =
  | { ok: true; request: RenewalRequest; plan: RenewalPlan; card: CardLocation }
  | { ok: false; reason: string };

export type ClickOutcome =
  { ok: true; request: RenewalRequest; started: boolean } | { ok: false; reason: string; cluster: string };
