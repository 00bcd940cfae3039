// The whole run of one approved renewal request, edge-agnostic (the BullMQ job, the console and the
// tests hand in the edges): mark the request running, take the cluster's execution lease, run the
// plan's nodes one at a time in plan order with the executor, and after every progress event fold it
// into the RunState, save it (so a rerun after a crash resumes from it), show it, and audit finished
// steps. The run stops at the first failed node (the executor has rolled that node back; later nodes
// are skipped), then ends the request, audits a one-line result and posts the summary.
//
// Before anything, the stored plan is checked against today's config and derived again (`checkPlan`):
// a plan that differs from what its data derives is refused, audited and shown, and nothing runs.
// Before every step that changes a node, the run confirms it still holds the cluster's lease; an
// attempt that lost it stops there, touches nothing more and saves nothing (the attempt that holds
// it now owns the run).
//
// A failed renewal is an outcome, returned; only infrastructure errors (the state cannot be saved,
// the audit cannot be written) are thrown, so the job that runs this fails visibly. Reporter errors
// (Slack) are logged and never stop a renewal half way.
import type { Logger } from "pino";
import type { ClusterConfig, RenewalSettings } from "../../config/load.js";
import type { NodeReport } from "../../core/report/types.js";
import type { ExecutionLease, HeldLease } from "../../core/renew/ports.js";
import type { Transport } from "../../core/transport/transport.js";
import type { RenewalRequest } from "../../core/renew/approval.js";
import { executeNodePlan, type ExecutorDependencies } from "./executor.js";
import type { NodeExecution, ProgressEvent } from "../../core/renew/progress.js";
import type { NodeProgress } from "../../core/renew/steps/step.js";
import { checkPlan, type NodePlan, type RenewalPlan } from "../../core/renew/plan.js";
import type { AuditTrail, RenewalRecords, RunReporter } from "../../core/renew/ports.js";
import {
  applyEvent,
  endRun,
  finishNode,
  startRunState,
  type NodeRun,
  type RunState,
} from "../../core/renew/run-state.js";
import { nextNodeStart } from "../../core/renew/windows.js";
import { renderStepAudit } from "../../present/thread.js";

/** A saved state taken up again: after a crash, one more attempt; after a wait for the window, not. */
function resumed(saved: RunState): RunState {
  const { resumesAt, ...state } = saved;
  return resumesAt ? state : { ...state, attempts: saved.attempts + 1 };
}

export interface RunInput {
  request: RenewalRequest;
  /** The plan the request was approved on. */
  plan: RenewalPlan;
  /** The state the job saved before it was interrupted: the run resumes from it. */
  saved?: RunState;
}

export interface RunDependencies {
  /** Today's config of the plan's cluster: the stored plan must still be what it derives. */
  config: { cluster: ClusterConfig; renewal: RenewalSettings; timeZone: string };
  requests: Pick<RenewalRecords, "markRunning" | "beginNode" | "finish">;
  audit: AuditTrail;
  reporter: RunReporter;
  lease: ExecutionLease;
  transportFor(node: NodePlan): Transport;
  /** A fresh scan of that node (files and served certificate). */
  rescan(node: NodePlan): Promise<NodeReport>;
  probe: ExecutorDependencies["probe"];
  health: ExecutorDependencies["health"];
  /** Persists the state (the job's data); awaited after every event, before anything is shown. */
  save(state: RunState): Promise<void>;
  now(): Date;
  sleep(ms: number): Promise<void>;
  waits?: ExecutorDependencies["waits"];
  logger?: Logger;
}

/**
 * `ran: false`: the request was not approved (or running) any more, so nothing was touched; or this
 * attempt lost the cluster's lease and stopped before its next change (`leaseLost`); or the next
 * node may not start before its maintenance window (`resumesAt`: run it again then).
 */
export type RunResult =
  { ran: true; state: RunState } | { ran: false; reason: string; leaseLost?: true; resumesAt?: Date };

/** The next node may not start now: outside the cluster's windows, or too little of one left. */
class OutsideWindow extends Error {
  constructor(readonly resumesAt: Date) {
    super(`waiting for the maintenance window at ${resumesAt.toISOString()}`);
  }
}

/** The request was cancelled before this run started a node: nothing is touched. */
class Cancelled extends Error {}

/** Thrown by the guard: another attempt holds the cluster's lease now. */
export class LeaseLost extends Error {}

const names = (nodes: readonly NodeRun[]): string => nodes.map((n) => n.node).join(", ");

/** The audit's one-line result of an ended run. */
export function runSummary(state: RunState): string {
  const done = state.nodes.filter((n) => n.state === "done");
  const notRun = state.nodes.filter((n) => n.state === "skipped");
  const failed = state.nodes.find((n) => n.state === "failed");
  if (state.outcome === "done") return `done: renewed and verified on ${names(done)}`;
  if (state.refused) return state.refused;
  const parts = [
    failed?.failure
      ? `failed on ${failed.node} at ${failed.failure.step}: ${failed.failure.error}`
      : "failed",
  ];
  if (failed?.leftIn) parts.push(`${failed.node}: ${failed.leftIn}`);
  if (done.length) parts.push(`renewed before it: ${names(done)}`);
  if (notRun.length) parts.push(`not run: ${names(notRun)}`);
  return parts.join("; ");
}

/** A node refused before the executor touched it (another request's run holds the cluster). */
function refusedAtPreflight(node: NodePlan, error: string, progress: NodeProgress): NodeExecution {
  return {
    node: node.node,
    ok: false,
    steps: [{ step: "preflight", ok: false, skipped: false, durationMs: 0, excerpt: "", error }],
    failure: { step: "preflight", error },
    leftIn: "nothing was changed (another renewal held the cluster)",
    renewed: node.renew.map((r) => ({ name: r.name, before: null, after: null, notAfter: null })),
    progress,
  };
}

const heldBy = (cluster: string, holder: string): string =>
  `another renewal of ${cluster} is executing (request ${holder} holds the cluster's run lease); nothing was changed`;

export async function runRenewal(input: RunInput, deps: RunDependencies): Promise<RunResult> {
  const { request, plan } = input;
  if (!(await deps.requests.markRunning(request.id, deps.now()))) {
    const reason = `request ${request.id} is ${request.state}, not approved: nothing was run`;
    deps.logger?.warn({ requestId: request.id, cluster: plan.cluster }, reason);
    return { ran: false, reason };
  }

  const problems = checkPlan(plan, deps.config.cluster, deps.config.renewal);
  if (problems.length) return refuseTampered(input, deps, problems);

  const attempt = new Attempt(input, deps);
  await attempt.announce();
  try {
    if (!attempt.state.outcome) await attempt.runNodes();
    return await attempt.finish();
  } catch (err) {
    if (err instanceof OutsideWindow) return await attempt.paused(err.resumesAt);
    if (err instanceof Cancelled) return { ran: false, reason: err.message };
    if (!(err instanceof LeaseLost)) throw err;
    return await attempt.stopped(err); // awaited: the lease is released after the audit
  } finally {
    await attempt.release();
  }
}

/** One attempt at a run: a fresh state, or the saved one resumed; saved after every change, then shown. */
class Attempt {
  state: RunState;
  private readonly saved: RunState | undefined;
  private readonly cluster: string;
  private readonly requestId: string;
  private lease: HeldLease | undefined;

  constructor(
    private readonly input: RunInput,
    private readonly deps: RunDependencies,
  ) {
    const { request, plan } = input;
    this.cluster = plan.cluster;
    this.requestId = request.id;
    this.saved = input.saved?.requestId === request.id ? input.saved : undefined;
    this.state = this.saved ? resumed(this.saved) : startRunState(request.id, plan, deps.now());
  }

  /**
   * Audits that the run started, or resumed after an interruption, and shows the state. A waiting
   * run woken a little early (a worker's clock behind) says nothing: it waits again at once.
   */
  async announce(): Promise<void> {
    const { plan } = this.input;
    const finished = this.state.nodes.filter((n) => n.state === "done");
    if (this.saved?.resumesAt && this.windowWait()) return this.saveAndShow();
    await this.deps.audit.append(
      this.cluster,
      {
        kind: "started",
        requestId: this.requestId,
        detail: this.saved
          ? (this.saved.resumesAt
              ? "went on in its maintenance window"
              : `resumed (attempt ${this.state.attempts}) after an interruption`) +
            (finished.length ? `; already renewed: ${names(finished)}` : "")
          : `started: ${plan.nodes.length} node(s), one at a time: ${plan.nodes.map((n) => n.node).join(", ")}`,
      },
      this.deps.now(),
    );
    await this.saveAndShow();
  }

  /** Takes the cluster's lease, runs the plan's nodes in order up to the first that fails, ends the run. */
  async runNodes(): Promise<void> {
    const { plan } = this.input;
    const taken = await this.deps.lease.acquire(this.cluster, this.requestId);
    if (taken.ok) this.lease = taken.lease;
    let failed = false;
    for (const node of plan.nodes) {
      const before = this.state.nodes.find((n) => n.node === node.node)?.state;
      if (before === "done") continue; // renewed and verified before the interruption
      if (before === "failed") {
        failed = true; // failed (and rolled back) before the interruption: the run stops there
        break;
      }
      this.keepToWindow();
      await this.beginNode();
      // Each node's preflight first makes sure this run still holds the cluster.
      const execution = await this.runNode(node, taken.ok ? await taken.lease.confirm() : taken.holder);
      this.state = finishNode(this.state, plan, execution);
      await this.saveAndShow();
      if (!execution.ok) {
        failed = true;
        break;
      }
    }
    this.state = endRun(this.state, failed ? "failed" : "done", this.deps.now());
    await this.saveAndShow();
  }

  /** Ends the request, audits the one-line result and shows the summary. */
  async finish(): Promise<RunResult> {
    const { requestId, deps, state } = this;
    await deps.requests.finish(requestId, state.outcome !== "failed", deps.now(), runSummary(state));
    await deps.audit.append(
      this.cluster,
      { kind: "result", requestId, detail: runSummary(state) },
      deps.now(),
    );
    await this.quietly("summary", () => deps.reporter.finished(state));
    return { ran: true, state };
  }

  /** Throws OutsideWindow when the next node may not start now (no windows, or waived: it always may). */
  private keepToWindow(): void {
    const at = this.windowWait();
    if (at) throw new OutsideWindow(at);
  }

  /** When the next node may start, if not now. */
  private windowWait(): Date | null {
    if (this.input.request.windowsWaived) return null; // enough approvers said "Run now"
    const { cluster, timeZone } = this.deps.config;
    const { windows, windowMarginMinutes } = cluster.renewal;
    const now = this.deps.now();
    const at = nextNodeStart({ windows, timeZone }, now, windowMarginMinutes * 60_000);
    if (!at) throw new Error(`no maintenance window of ${this.cluster} opens within a week`);
    return at.getTime() > now.getTime() ? at : null;
  }

  /** Records the node start with the request, so a Cancel from now on is refused; stops if one came first. */
  private async beginNode(): Promise<void> {
    if (await this.deps.requests.beginNode(this.requestId, this.deps.now())) return;
    throw new Cancelled(`request ${this.requestId} was cancelled before its first node: nothing was changed`);
  }

  /** Waits for the window: the state says until when; the run goes on in a later attempt. */
  async paused(resumesAt: Date): Promise<RunResult> {
    const { requestId, cluster, deps } = this;
    this.state = { ...this.state, resumesAt: resumesAt.toISOString() };
    await this.saveAndShow();
    const detail = `waits for its maintenance window: goes on at ${resumesAt.toISOString()}`;
    await deps.audit.append(cluster, { kind: "started", requestId, detail }, deps.now());
    return { ran: false, reason: detail, resumesAt };
  }

  /** Saving or finishing now would overwrite the attempt that holds the cluster: only say so. */
  async stopped(err: LeaseLost): Promise<RunResult> {
    const { requestId, cluster, deps } = this;
    const reason = `${err.message}; stopped before its next change`;
    deps.logger?.warn({ requestId, cluster }, reason);
    await deps.audit.append(cluster, { kind: "refused", requestId, detail: reason }, deps.now());
    return { ran: false, reason, leaseLost: true };
  }

  async release(): Promise<void> {
    await this.lease?.release();
  }

  /** One node: refused at preflight while another request's run holds the cluster, else executed. */
  private async runNode(node: NodePlan, holder: string | null): Promise<NodeExecution> {
    const { deps } = this;
    const resumeFrom = this.state.nodes.find((n) => n.node === node.node)?.progress;
    if (holder !== null) {
      const progress = resumeFrom ?? { node: node.node, backup: node.backup, completed: [] };
      const error = heldBy(this.cluster, holder);
      await this.record(
        { node: node.node, step: "preflight", status: "failed", durationMs: 0, excerpt: "", error },
        progress,
      );
      return refusedAtPreflight(node, error, progress);
    }
    return executeNodePlan(node, {
      transport: deps.transportFor(node),
      probe: deps.probe,
      health: deps.health,
      rescan: () => deps.rescan(node),
      onProgress: (event, progress) => this.record(event, progress),
      guard: async () => {
        const holder = await this.lease?.confirm();
        if (holder) throw new LeaseLost(`this attempt lost the cluster's run lease to ${holder}`);
      },
      now: deps.now,
      sleep: deps.sleep,
      ...(deps.waits ? { waits: deps.waits } : {}),
      ...(resumeFrom ? { resumeFrom } : {}),
    });
  }

  /** Folds a progress event into the state, saves and shows it, and audits a finished step. */
  private async record(event: ProgressEvent, progress: NodeProgress): Promise<void> {
    const { requestId, deps } = this;
    this.state = applyEvent(this.state, event, progress);
    await this.saveAndShow();
    if (event.status === "running") return;
    const kind = event.step === "rollback" ? "rollback" : "step";
    await deps.audit.append(this.cluster, { kind, requestId, detail: renderStepAudit(event) }, deps.now());
    const state = this.state;
    await this.quietly("step reply", () => deps.reporter.step(event, state));
  }

  private async saveAndShow(): Promise<void> {
    const state = this.state;
    await this.deps.save(state);
    await this.quietly("status", () => this.deps.reporter.status(state));
  }

  private quietly(what: string, show: () => Promise<void>): Promise<void> {
    return showQuietly(this.deps.logger, this.requestId, what, show);
  }
}

/** Shows something of a run; a reporter (Slack) failure is logged and never stops a renewal. */
async function showQuietly(
  logger: Logger | undefined,
  requestId: string,
  what: string,
  show: () => Promise<void>,
): Promise<void> {
  try {
    await show();
  } catch (err) {
    logger?.warn({ requestId, err: (err as Error).message }, `renewal ${what} not shown`);
  }
}

/** The stored plan is not what its data derives under today's config: refused, audited, shown; nothing ran. */
async function refuseTampered(
  input: RunInput,
  deps: RunDependencies,
  problems: string[],
): Promise<RunResult> {
  const { request, plan } = input;
  const reason =
    "refused: the stored plan is not the plan its data derives under today's config, so nothing was run " +
    `(${problems.join("; ")}). Make a new request.`;
  deps.logger?.error(
    { requestId: request.id, cluster: plan.cluster, problems },
    "stored renewal plan refused",
  );
  const state = {
    ...endRun(startRunState(request.id, plan, deps.now()), "failed", deps.now()),
    refused: reason,
  };
  await deps.save(state);
  await deps.requests.finish(request.id, false, deps.now(), reason);
  await deps.audit.append(
    plan.cluster,
    { kind: "refused", requestId: request.id, detail: reason },
    deps.now(),
  );
  await showQuietly(deps.logger, request.id, "refusal", () => deps.reporter.finished(state));
  return { ran: true, state };
}
