// What a renewal run reports as it goes: one event per step state, and each node's execution.
// The executor produces them; the run state, the ports and the thread views read them.
import type { NodeProgress, StepId } from "./steps/step.js";

/** What a progress event says of its step, in words: views draw the icons (present/thread.ts). */
export type StepStatus = "running" | "done" | "failed";

export interface ProgressEvent {
  node: string;
  step: StepId | "rollback";
  status: StepStatus;
  durationMs: number;
  /** The step's output, tail only, scrubbed of keys and tokens. */
  excerpt: string;
  /** Why it failed ("failed" only). */
  error?: string;
  /** A resumed run found the step's postcondition still holding and did not run it again. */
  skipped?: true;
}

export interface StepOutcome {
  step: StepId;
  ok: boolean;
  skipped: boolean;
  durationMs: number;
  excerpt: string;
  error?: string;
}

export interface NodeExecution {
  node: string;
  ok: boolean;
  steps: StepOutcome[];
  /** The first failure (the step and why). */
  failure?: { step: StepId; error: string };
  /** Present when the node was touched before the failure: the rollback and, if it failed, why. */
  rollback?: { ok: boolean; error?: string; excerpt: string };
  /** One line: the state the node was left in. */
  leftIn: string;
  /** Each renewed certificate's sha256 before and after (after: from the final rescan). */
  renewed: { name: string; before: string | null; after: string | null; notAfter: Date | null }[];
  progress: NodeProgress;
}
