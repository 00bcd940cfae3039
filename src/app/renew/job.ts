// The renewal job's body, edge-agnostic: the queue hands in something job-like (BullMQ's Job fits),
// this loads the approved request and its plan, resumes from the state the job saved, and runs it.
//
// The state is saved with `updateData({ requestId, state })` after every progress event. Job data
// lives in the job's hash in Redis, so when the worker dies and BullMQ moves the stalled job back to
// wait, the next worker reads it back as `job.data.state` and resumes from there. (Progress would
// survive too, but it is meant for watchers; the data is what the job needs to run.)
import type { RenewalRequest } from "../../core/renew/approval.js";
import type { RenewalPlan } from "../../core/renew/plan.js";
import type { RunReporter } from "../../core/renew/ports.js";
import { runRenewal, type RunDependencies } from "./run.js";
import { readRunState, type RunState } from "../../core/renew/run-state.js";

/** The job name of a run on the renewal queue. */
export const RENEW_JOB = "renew";

/** What a renewal job carries: its request, and once it ran a step, the state it resumes from. */
export interface RenewalJobData {
  requestId: string;
  state?: RunState;
}

/** What the job handler needs of a BullMQ Job. */
export interface RenewalJobLike {
  readonly data: RenewalJobData;
  updateData(data: RenewalJobData): Promise<void>;
}

/** The job's return value (kept with the completed job). */
export type RenewalJobResult =
  | { requestId: string; outcome: "done" | "failed"; attempts: number }
  | { requestId: string; outcome: "not-run"; reason: string }
  /** The next node waits for its maintenance window: the queue runs the job again at `resumesAt` (ISO). */
  | { requestId: string; outcome: "waiting"; resumesAt: string };

export interface RenewalJobDependencies extends Omit<RunDependencies, "save" | "reporter"> {
  /** The request and the plan it was approved on (RenewalStore's get + loadPlan); null when gone. */
  load(requestId: string): Promise<{ request: RenewalRequest; plan: RenewalPlan } | null>;
  /** Where this request's run is shown (the approval card's thread). */
  reporterFor(request: RenewalRequest): RunReporter | Promise<RunReporter>;
}

export async function runRenewalJob(
  job: RenewalJobLike,
  deps: RenewalJobDependencies,
): Promise<RenewalJobResult> {
  const { requestId } = job.data;
  const loaded = await deps.load(requestId);
  if (!loaded) {
    const reason = `request ${requestId} or its plan no longer exists: nothing was run`;
    deps.logger?.warn({ requestId }, reason);
    return { requestId, outcome: "not-run", reason };
  }
  const result = await runRenewal(
    { ...loaded, ...(job.data.state ? { saved: readRunState(job.data.state) } : {}) },
    {
      ...deps,
      reporter: await deps.reporterFor(loaded.request),
      save: (state) => job.updateData({ requestId, state }),
    },
  );
  if (!result.ran && result.resumesAt) {
    return { requestId, outcome: "waiting", resumesAt: result.resumesAt.toISOString() };
  }
  if (!result.ran) return { requestId, outcome: "not-run", reason: result.reason };
  return { requestId, outcome: result.state.outcome ?? "failed", attempts: result.state.attempts };
}
