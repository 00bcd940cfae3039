// What a renewal run looks like while it runs and when it ends, as plain JSON-safe data: the status
// message in the approval card's thread is rendered from a RunState, the job saves it after every
// step (so a rerun after a crash resumes from it), and the final summary is rendered from it.
// Pure: `startRunState` and `applyEvent` only build new values.
//
// States are words; the icons a person sees are drawn by the views (present/thread.ts), so changing
// an icon never changes what is saved. `readRunState` reads back job data saved when step states
// were still icons.
import { KUBELET_KUBECONFIG } from "../kubeadm/catalogue.js";
import type { NodeExecution, ProgressEvent, StepStatus } from "./progress.js";
import type { NodeProgress } from "./steps/step.js";
import type { RenewalPlan, StepId } from "./plan.js";

/** "pending": not reached yet; "skipped": a resumed run found its postcondition holding. */
export type StepState = StepStatus | "pending" | "skipped";

export interface StepLine {
  step: StepId | "rollback";
  state: StepState;
  durationMs?: number;
  error?: string;
}

export interface RenewedCertificate {
  name: string;
  /** Expiry before the run (from the plan's scan) and after (from the final rescan). */
  notAfterBefore: string | null;
  notAfterAfter: string | null;
  changed: boolean;
}

export interface NodeRun {
  node: string;
  host: string;
  /** "waiting" until its turn; "skipped" when an earlier node failed (one node at a time). */
  state: "waiting" | "running" | "done" | "failed" | "skipped";
  steps: StepLine[];
  /** Saved after every step: handed back to executeNodePlan as `resumeFrom` after a crash. */
  progress?: NodeProgress;
  failure?: { step: StepId; error: string };
  rollback?: { ok: boolean; error?: string };
  /** One line: the state the node was left in (see NodeExecution.leftIn). */
  leftIn?: string;
  renewed?: RenewedCertificate[];
}

export interface RunState {
  requestId: string;
  cluster: string;
  /** ISO times (JSON-safe). */
  startedAt: string;
  endedAt?: string;
  outcome?: "done" | "failed";
  /** How many times the run was (re)started: 1 normally, more after a crash. */
  attempts: number;
  /** Why nothing ran: the stored plan was refused. */
  refused?: string;
  /** ISO: the run waits for its maintenance window, and goes on (or starts) then. */
  resumesAt?: string;
  /** The request was cancelled while the run waited, before any node started: who, and when (ISO). */
  cancelled?: { by: string; at: string };
  nodes: NodeRun[];
}

export function startRunState(requestId: string, plan: RenewalPlan, now: Date): RunState {
  return {
    requestId,
    cluster: plan.cluster,
    startedAt: now.toISOString(),
    attempts: 1,
    nodes: plan.nodes.map((n) => ({
      node: n.node,
      host: n.host,
      state: "waiting",
      steps: n.steps.map((s) => ({ step: s.id, state: "pending" as const })),
    })),
  };
}

const STEP_STATES: readonly string[] = [
  "pending",
  "running",
  "done",
  "failed",
  "skipped",
] satisfies StepState[];

/** The icons step states were saved as before they were words: jobs saved then still resume. */
const ICON_STATES: Readonly<Record<string, StepState>> = {
  "·": "pending",
  "⏳": "running",
  "✅": "done",
  "❌": "failed",
  "⏭": "skipped",
};

function readStepState(saved: string): StepState {
  if (STEP_STATES.includes(saved)) return saved as StepState;
  if (Object.hasOwn(ICON_STATES, saved)) return ICON_STATES[saved]!;
  throw new Error(`the saved run state has a step in an unknown state: ${JSON.stringify(saved)}`);
}

/** A RunState read back from job data, its step states as words whichever way they were saved. */
export function readRunState(saved: RunState): RunState {
  return {
    ...saved,
    nodes: saved.nodes.map((n) => ({
      ...n,
      steps: n.steps.map((s) => ({ ...s, state: readStepState(s.state) })),
    })),
  };
}

const replaceNode = (state: RunState, node: string, change: (n: NodeRun) => NodeRun): RunState => ({
  ...state,
  nodes: state.nodes.map((n) => (n.node === node ? change(n) : n)),
});

/** One executor event folded in: the node's checklist line and its saved progress. */
export function applyEvent(state: RunState, event: ProgressEvent, progress: NodeProgress): RunState {
  return replaceNode(state, event.node, (n) => {
    const line: StepLine = {
      step: event.step,
      state: event.skipped ? "skipped" : event.status,
      ...(event.status === "running" ? {} : { durationMs: event.durationMs }),
      ...(event.error ? { error: event.error } : {}),
    };
    const known = n.steps.some((s) => s.step === event.step);
    return {
      ...n,
      state: n.state === "waiting" ? "running" : n.state,
      steps: known ? n.steps.map((s) => (s.step === event.step ? line : s)) : [...n.steps, line],
      progress,
    };
  });
}

/** A node's execution finished: its state, failure, rollback and before/after expiries. */
export function finishNode(state: RunState, plan: RenewalPlan, execution: NodeExecution): RunState {
  const planned = plan.nodes.find((n) => n.node === execution.node);
  return replaceNode(state, execution.node, (n) => ({
    ...n,
    state: execution.ok ? "done" : "failed",
    progress: execution.progress,
    leftIn: execution.leftIn,
    ...(execution.failure ? { failure: execution.failure } : {}),
    ...(execution.rollback
      ? {
          rollback: {
            ok: execution.rollback.ok,
            ...(execution.rollback.error ? { error: execution.rollback.error } : {}),
          },
        }
      : {}),
    renewed: execution.renewed.map((r) => ({
      name: r.name,
      notAfterBefore:
        (r.name === KUBELET_KUBECONFIG
          ? planned?.kubeletConf
          : planned?.renew.find((p) => p.name === r.name)
        )?.notAfter?.toISOString() ?? null,
      notAfterAfter: r.notAfter?.toISOString() ?? null,
      changed: r.after !== null && r.after !== r.before,
    })),
  }));
}

/** The run ended: nodes not reached are skipped. */
export function endRun(state: RunState, outcome: "done" | "failed", now: Date): RunState {
  return {
    ...state,
    outcome,
    endedAt: now.toISOString(),
    nodes: state.nodes.map((n) => (n.state === "waiting" ? { ...n, state: "skipped" } : n)),
  };
}
