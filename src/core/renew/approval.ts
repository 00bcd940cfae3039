// Renewal requests and the approval rules. Pure: the clock comes in as `now`,
// the clicker's user groups come from the edge (looked up at the click), the approval rules from the
// config in force at the click, persistence is `src/adapters/store/renewals.ts`.
//
// A request is pending until enough different approvers approve it (→ approved, and exactly one
// click gets `startRun: true`), one eligible person rejects it (→ rejected), or nobody approves it
// within `approvalTtlMinutes` (→ expired). The run then moves it approved → running → done | failed.
// An approved run that has not started a node yet (it waits for its maintenance window) may be
// cancelled (→ cancelled) by the requester or an approver; the run marks its first node started in
// the same compare-and-set records (`beginNode`), so a cancel and a node start never both happen.
// Such a run may also be started now, outside its windows ("Run now"): that takes one approval more
// than `requiredApprovals`, each from an approver who is neither the requester nor one who approved.
// Every click is checked here: the clicker is an approver of this cluster (by user id or user group),
// is not the requester (unless `allowSelfApproval`), has not already approved, and the request is
// still pending and not past its expiry. Refusals are worded for the clicker (shown to them only).
//
// `requiredApprovals` and `allowSelfApproval` are not part of the request: a click is judged by the
// rules of today's config, so raising the count or turning self-approval off after a request
// applies to it. An approval counts for the rights its approver had when they clicked; the
// requester's own approval stops counting when self-approval is turned off.
import { createHash } from "node:crypto";
import { canApprove, mention } from "../access/access.js";
import type { ClusterConfig, RenewalSettings } from "../../config/load.js";
import { backupTimestamp } from "./plan.js";

export type RequestState =
  "pending" | "approved" | "rejected" | "expired" | "cancelled" | "running" | "done" | "failed";

/** States after which the request holds nothing: a new request of the cluster may be made. */
export const ENDED_STATES: readonly RequestState[] = ["rejected", "expired", "cancelled", "done", "failed"];

export interface Approval {
  user: string;
  at: Date;
}

export interface Rejection {
  user: string;
  at: Date;
  reason?: string;
}

export interface RenewalRequest {
  /** `<cluster>-<yyyymmddThhmmssZ>-<hash>`: URL-safe, no ':' (see `runJobId`). */
  id: string;
  cluster: string;
  node?: string;
  certs?: string[];
  requestedBy: string;
  requestedAt: Date;
  expiresAt: Date;
  /** In click order; one entry per different approver. */
  approvals: Approval[];
  rejection?: Rejection;
  /** Who cancelled the approved run before it started a node, and when. */
  cancellation?: Approval;
  state: RequestState;
  /** When the run started its first node: from then on it cannot be cancelled. */
  nodeStartedAt?: Date;
  /** "Run now" approvals, in click order; enough of them waive the maintenance windows. */
  runNow?: Approval[];
  /** The run ignores the cluster's maintenance windows (enough "Run now" approvals). */
  windowsWaived?: boolean;
  /**
   * Filed by the cluster's renewal policy (requested by POLICY_REQUESTER): the `file:line` that
   * decided it, and whether the policy approved it too (it then needs no click).
   */
  policy?: { source: string; preApproved: boolean };
  /** When the run started (approved → running) and ended (→ done | failed). */
  startedAt?: Date;
  endedAt?: Date;
  /** The run's one-line result, including what state a failed node was left in. */
  outcome?: string;
}

export interface NewRequestInput {
  cluster: string;
  requestedBy: string;
  now: Date;
  settings: Pick<RenewalSettings, "approvalTtlMinutes">;
  node?: string;
  certs?: readonly string[];
  /** Filed by a policy; a pre-approved one is saved approved. */
  policy?: { source: string; preApproved: boolean };
}

/** An Approve, Reject or Cancel click as the edge receives it (the user id from Slack's signed payload). */
export interface Click {
  user: string;
  action: "approve" | "reject" | "cancel" | "runNow";
  /** Optional words with a rejection. */
  reason?: string;
}

/** A click with the user groups (S…) the clicker belongs to, asked of Slack at the click. */
export interface ResolvedClick extends Click {
  userGroups: readonly string[];
}

/** How many approvals a request needs and whether the requester may give one. */
export type ApprovalRules = Pick<RenewalSettings, "requiredApprovals" | "allowSelfApproval">;

export interface DecideContext {
  /** The request's cluster, from the current config (its `approvers` decide). */
  cluster: ClusterConfig;
  /** From the current config, not from the time of the request. */
  rules: ApprovalRules;
  now: Date;
  /** A time as the refusal shows it: in the configured time zone, like the card (present/time.ts). */
  formatTime(date: Date): string;
}

/**
 * `request` is the next state to save. On a refusal it is set only when the click also changed the
 * request (it was found expired): save it, then answer the refusal.
 */
export type DecideResult =
  | { ok: true; request: RenewalRequest; startRun: boolean }
  | { ok: false; reason: string; request?: RenewalRequest };

const MINUTE_MS = 60_000;

const people = (ids: readonly string[]): string => {
  const m = ids.map(mention);
  return m.length <= 1 ? m.join("") : `${m.slice(0, -1).join(", ")} and ${m[m.length - 1]}`;
};

/** Deterministic: the same cluster, time and requester give the same id (a replayed request is one request). */
export function requestId(cluster: string, requestedAt: Date, requestedBy: string): string {
  const hash = createHash("sha256")
    .update(`${cluster}\0${requestedAt.toISOString()}\0${requestedBy}`)
    .digest("hex")
    .slice(0, 12);
  return `${cluster}-${backupTimestamp(requestedAt)}-${hash}`;
}

/** The cluster named in a request id (what a button carries), or null when it is not one. */
export function clusterOfRequest(id: string): string | null {
  return /^([a-z0-9][a-z0-9-]{0,62})-\d{8}T\d{6}Z-[0-9a-f]{12}$/.exec(id)?.[1] ?? null;
}

export function newRequest(input: NewRequestInput): RenewalRequest {
  const { settings, now } = input;
  return {
    id: requestId(input.cluster, now, input.requestedBy),
    cluster: input.cluster,
    ...(input.node ? { node: input.node } : {}),
    ...(input.certs?.length ? { certs: [...input.certs] } : {}),
    requestedBy: input.requestedBy,
    requestedAt: now,
    expiresAt: new Date(now.getTime() + settings.approvalTtlMinutes * MINUTE_MS),
    approvals: [],
    ...(input.policy ? { policy: { ...input.policy } } : {}),
    state: input.policy?.preApproved ? "approved" : "pending",
  };
}

/**
 * The BullMQ job id of the request's run. BullMQ refuses ids containing ':' and adds a job whose id
 * exists only once, so every path that starts the run (a double click, a replay, a retry after a
 * crash) starts the same single job.
 */
export function runJobId(request: Pick<RenewalRequest, "id">): string {
  const id = `renew-${request.id.replace(/[^A-Za-z0-9_.-]/g, "_")}`;
  if (id.includes(":")) throw new Error(`unsafe job id ${id}`); // unreachable: kept as a guard
  return id;
}

export const isEnded = (request: Pick<RenewalRequest, "state">): boolean =>
  ENDED_STATES.includes(request.state);

/** A pending request whose approval window has passed. */
export const isDue = (request: RenewalRequest, now: Date): boolean =>
  request.state === "pending" && now.getTime() >= request.expiresAt.getTime();

/** The request marked expired when its window has passed; otherwise null (nothing to do). */
export function expire(request: RenewalRequest, now: Date): RenewalRequest | null {
  return isDue(request, now) ? { ...request, state: "expired", endedAt: now } : null;
}

/** The approvals that count under `rules`: the requester's own only while self-approval is allowed. */
export const countedApprovals = (request: RenewalRequest, rules: ApprovalRules): Approval[] =>
  request.approvals.filter((a) => rules.allowSelfApproval || a.user !== request.requestedBy);

/** Why a request that is no longer pending takes no click, for `user`. */
function notPending(request: RenewalRequest, user: string, when: (date: Date) => string): string {
  const approvedBy = request.approvals.map((a) => a.user);
  const byYou = approvedBy.includes(user);
  switch (request.state) {
    case "approved":
    case "running":
      return byYou
        ? "you already approved this request; the renewal is already running."
        : `this request was already approved by ${people(approvedBy)}; the renewal is already running.`;
    case "rejected": {
      const r = request.rejection;
      return r
        ? `this request was rejected by ${mention(r.user)} at ${when(r.at)}${r.reason ? ` (${r.reason})` : ""}; ` +
            "request a new renewal if it is still needed."
        : "this request was rejected; request a new renewal if it is still needed.";
    }
    case "expired":
      return `this request expired at ${when(request.expiresAt)} without enough approvals; request a new renewal.`;
    case "cancelled": {
      const c = request.cancellation;
      return (
        `this request was cancelled${c ? ` by ${mention(c.user)} at ${when(c.at)}` : ""}; ` +
        "request a new renewal if it is still needed."
      );
    }
    case "done":
    case "failed":
      return `this request already ran (${request.state === "done" ? "it succeeded" : "it failed"}); request a new renewal.`;
    case "pending":
      return "";
  }
}

/** Applies one Approve or Reject click, or refuses it with a reason for the clicker. */
export function decide(request: RenewalRequest, click: ResolvedClick, ctx: DecideContext): DecideResult {
  const { now, rules } = ctx;
  if (ctx.cluster.name !== request.cluster) {
    return { ok: false, reason: `this request is for ${request.cluster}, not ${ctx.cluster.name}.` };
  }
  const when = ctx.formatTime;
  if (click.action === "cancel") return cancel(request, click, ctx);
  if (click.action === "runNow") return runNow(request, click, ctx);
  if (request.state !== "pending") return { ok: false, reason: notPending(request, click.user, when) };
  const expired = expire(request, now);
  if (expired) {
    return {
      ok: false,
      reason: `this request expired at ${when(request.expiresAt)} without enough approvals; request a new renewal.`,
      request: expired,
    };
  }
  const isRequester = click.user === request.requestedBy;

  if (click.action === "reject") {
    // Stopping never makes a cluster worse: any approver may reject, and the requester may withdraw.
    if (!isRequester) {
      const may = canApprove(ctx.cluster, click.user, click.userGroups);
      if (!may.allowed)
        return { ok: false, reason: may.reason.replace("approve renewals", "reject renewals") };
    }
    const reason = click.reason?.trim().slice(0, 500);
    return {
      ok: true,
      startRun: false,
      request: {
        ...request,
        state: "rejected",
        rejection: { user: click.user, at: now, ...(reason ? { reason } : {}) },
        endedAt: now,
      },
    };
  }

  const may = canApprove(ctx.cluster, click.user, click.userGroups);
  if (!may.allowed) return { ok: false, reason: may.reason };
  if (isRequester && !rules.allowSelfApproval) {
    return {
      ok: false,
      reason:
        "you requested this renewal, so a different approver must approve it (self-approval is off for this bot).",
    };
  }
  const already = request.approvals.some((a) => a.user === click.user);
  const approvals = already ? request.approvals : [...request.approvals, { user: click.user, at: now }];
  const counted = countedApprovals({ ...request, approvals }, rules).length;
  const needed = Math.max(1, rules.requiredApprovals);
  const reached = counted >= needed;
  // A repeat click counts nothing new, but completes a request whose requirement was lowered since.
  if (already && !reached) {
    const missing = needed - counted;
    return {
      ok: false,
      reason:
        `you already approved this request; it needs ${missing} more approval${missing === 1 ? "" : "s"} ` +
        "from a different approver.",
    };
  }
  return {
    ok: true,
    startRun: reached,
    request: { ...request, approvals, state: reached ? "approved" : "pending" },
  };
}

/**
 * Ends a request whose card could not be posted (nobody could approve or cancel it), as withdrawn by
 * its requester; null once its run has begun or it has ended.
 */
export function withdraw(request: RenewalRequest, reason: string, now: Date): RenewalRequest | null {
  if (request.state !== "pending" && request.state !== "approved") return null;
  return {
    ...request,
    state: "rejected",
    rejection: { user: request.requestedBy, at: now, reason },
    endedAt: now,
  };
}

/** A run that started a node stops only at its end (cancelling it half way would leave a mixed cluster). */
export const STARTED_RUN =
  "a run that has started cannot be cancelled; it stops only at its end (the thread shows its progress).";

/**
 * Cancel on an approved run that has not started a node (it waits for its maintenance window): the
 * requester or any approver of the cluster may; the request ends cancelled and frees the cluster.
 */
function cancel(request: RenewalRequest, click: ResolvedClick, ctx: DecideContext): DecideResult {
  if (request.state === "pending") {
    return { ok: false, reason: "this request is not approved yet; Reject withdraws or rejects it." };
  }
  if (request.state !== "approved" && request.state !== "running") {
    return { ok: false, reason: notPending(request, click.user, ctx.formatTime) };
  }
  if (click.user !== request.requestedBy) {
    const may = canApprove(ctx.cluster, click.user, click.userGroups);
    if (!may.allowed) return { ok: false, reason: may.reason.replace("approve renewals", "cancel renewals") };
  }
  if (request.nodeStartedAt) return { ok: false, reason: STARTED_RUN };
  const cancellation = { user: click.user, at: ctx.now };
  return {
    ok: true,
    startRun: false,
    request: { ...request, state: "cancelled", cancellation, endedAt: ctx.now },
  };
}

/** How many "Run now" approvals waive the windows: one more than a request needs. */
export const runNowNeeded = (rules: ApprovalRules): number => Math.max(1, rules.requiredApprovals) + 1;

/**
 * "Run now" on an approved run that waits for its window: an approver who is neither the requester
 * nor one who approved adds theirs; the one that reaches `runNowNeeded` waives the windows.
 */
function runNow(request: RenewalRequest, click: ResolvedClick, ctx: DecideContext): DecideResult {
  if (request.state === "pending") {
    return { ok: false, reason: "this request is not approved yet; Approve it first." };
  }
  if (request.state !== "approved" && request.state !== "running") {
    return { ok: false, reason: notPending(request, click.user, ctx.formatTime) };
  }
  if (request.windowsWaived) return { ok: false, reason: "this run was already approved to run now." };
  const may = canApprove(ctx.cluster, click.user, click.userGroups);
  if (!may.allowed) return { ok: false, reason: may.reason.replace("approve renewals", "run renewals now") };
  if (click.user === request.requestedBy || request.approvals.some((a) => a.user === click.user)) {
    return {
      ok: false,
      reason:
        "running now outside the maintenance window needs approvers other than the requester and those who approved.",
    };
  }
  const votes = request.runNow ?? [];
  if (votes.some((a) => a.user === click.user)) {
    return { ok: false, reason: "you already approved running this now; it needs a different approver." };
  }
  const runNow = [...votes, { user: click.user, at: ctx.now }];
  const windowsWaived = runNow.length >= runNowNeeded(ctx.rules);
  return {
    ok: true,
    startRun: false,
    request: { ...request, runNow, ...(windowsWaived ? { windowsWaived } : {}) },
  };
}

/**
 * The run is about to start a node: records the first such start (after it, Cancel is refused).
 * Null when the request is not running any more (it was cancelled): the node must not start.
 */
export function beginNode(request: RenewalRequest, now: Date): RenewalRequest | null {
  if (request.state !== "running") return null;
  return request.nodeStartedAt ? request : { ...request, nodeStartedAt: now };
}

/** approved → running, when the run's job starts (idempotent for a rerun after a crash). */
export function markRunning(request: RenewalRequest, now: Date): RenewalRequest | null {
  if (request.state === "running") return request;
  return request.state === "approved" ? { ...request, state: "running", startedAt: now } : null;
}

/** approved | running → done | failed, when the run ends. */
export function finish(
  request: RenewalRequest,
  ok: boolean,
  now: Date,
  outcome?: string,
): RenewalRequest | null {
  if (request.state !== "approved" && request.state !== "running") return null;
  return { ...request, state: ok ? "done" : "failed", endedAt: now, ...(outcome ? { outcome } : {}) };
}
