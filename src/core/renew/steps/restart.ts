// What a restart strategy is: the tools preflight checks, and its step. Every strategy ends by
// restarting the kubelet, and its undo puts back any parked manifest (with `mv` only), so a rollback
// never depends on the tool that just failed.
import { SERVED_BY_APISERVER } from "../../kubeadm/catalogue.js";
import { command, type Command } from "../../kubeadm/versions.js";
import { manifestsBack, putBack } from "./parking.js";
import { sha256Of, StepFailure, type NodeSpec, type PlanStep, type Step, type StepContext } from "./step.js";

export interface RestartKind {
  /** Must all succeed on the node before anything is touched. */
  readonly toolChecks: readonly Command[];
  /** The container runtime to watch, when the strategy watches one (after toolChecks passed). */
  runtime?(ctx: StepContext): Promise<"crictl" | "docker">;
  step(spec: NodeSpec): Step;
}

export const restartKubelet = command("systemctl", "restart", "kubelet");
export const kubeletActive = command("systemctl", "is-active", "kubelet");

/** kubeadm's static pods, by component: `kube-apiserver, kube-controller-manager, …`. */
export const componentList = (spec: NodeSpec): string => spec.components.join(", ");

/** The shared shape of a restart step around a strategy's own `run`. */
export function restartStep(
  spec: NodeSpec,
  shown: Omit<PlanStep, "id" | "undo" | "undoCommands">,
  run: (ctx: StepContext) => Promise<string>,
): Step {
  return {
    id: "restart",
    mutates: true,
    shown: {
      id: "restart",
      ...shown,
      undo: "Move any manifest still parked back into manifests/ (with mv only).",
      undoCommands: [],
    },
    async run(ctx) {
      const out = await run(ctx);
      const active = await ctx.probeExec(kubeletActive.line);
      if (active.code !== 0) throw new StepFailure("the kubelet is not active after its restart", active.out);
      return `${out}\nkubelet active`;
    },
    // Done before the interruption, everything back, and the apiserver serving what is on disk.
    async holds(ctx) {
      if (!ctx.progress.completed.includes("restart") || !(await manifestsBack(ctx))) return false;
      const disk = sha256Of(await ctx.rescan(), SERVED_BY_APISERVER);
      return (await ctx.healthy()) && (!spec.probeServed || (await ctx.served()) === disk);
    },
    undo: putBack,
  };
}
