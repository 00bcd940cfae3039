// What a renewal run and the request flow need from the edges, as interfaces: the Redis stores and
// BullMQ in the service, memory in `certs-bot console`, recorders in tests.
import type { AuditEntry, AuditInput } from "../store/audit.js";
import type { CardLocation, CreateResult } from "../store/renewals.js";
import type { DecideContext, DecideResult, RenewalRequest, ResolvedClick } from "./approval.js";
import type { RenewalPlan } from "./plan.js";
import type { ProgressEvent } from "./executor.js";
import type { RunState } from "./run-state.js";

/** Where a run tells people how it goes (the Slack edge: the approval card's thread). */
export interface RunReporter {
  /** The checklist changed; the Slack edge updates one status message in place, coalesced. */
  status(state: RunState): Promise<void>;
  /** A step ended (✅, ❌ or skipped because its postcondition held): one reply with its excerpt. */
  step(event: ProgressEvent, state: RunState): Promise<void>;
  /** The run ended: the before/after summary. */
  finished(state: RunState): Promise<void>;
}

/** The audit log (AuditLog in Redis; an array in the console). */
export interface AuditTrail {
  append(cluster: string, entry: AuditInput, at?: Date): Promise<string>;
  latest(cluster: string, n?: number): Promise<AuditEntry[]>;
}

/** Renewal requests with their plans (RenewalStore in Redis; memory in the console). */
export interface RenewalRecords {
  create(request: RenewalRequest, options?: { plan?: RenewalPlan; now?: Date }): Promise<CreateResult>;
  get(id: string): Promise<RenewalRequest | null>;
  loadPlan(id: string): Promise<RenewalPlan | null>;
  setCard(id: string, card: CardLocation): Promise<void>;
  card(id: string): Promise<CardLocation | null>;
  active(cluster: string): Promise<RenewalRequest | null>;
  applyClick(id: string, click: ResolvedClick, ctx: DecideContext): Promise<DecideResult>;
  expire(id: string, now: Date): Promise<RenewalRequest | null>;
  markRunning(id: string, now: Date): Promise<RenewalRequest | null>;
  /** `outcome`: the run's one-line result (what state the nodes were left in), shown on the card. */
  finish(id: string, ok: boolean, now: Date, outcome?: string): Promise<RenewalRequest | null>;
}
