// Executes one node's renewal: its steps (core/renew/steps/, derived from the plan's NodeSpec) in order, each run
// and checked by the step itself. On a failure after the node was touched, every started step is
// undone in reverse order (put back parked manifests, restore the backup), the control plane is
// restarted with the manifests only if it had been restarted, and the node is checked to be back where
// it started (the old certificate served, the old files on disk). Progress after every step goes to
// `onProgress` as JSON-safe data, so a job can save it and a rerun can resume: a rerun first puts back
// anything parked, and skips a step only while its postcondition still holds, so a renew that took
// effect is never run again. Before every step that changes the node, `guard` confirms this run still
// holds the cluster; when it throws, the run stops at once and touches nothing more.
import { createHash } from "node:crypto";
import { KUBELET_KUBECONFIG } from "../../core/kubeadm/catalogue.js";
import type { NodeReport } from "../../core/report/types.js";
import type { ServedObservation } from "../../core/certs/served.js";
import { TransportError, type Transport } from "../../core/transport/transport.js";
import type { NodePlan } from "../../core/renew/plan.js";
import { backupUsable } from "../../core/renew/steps/backup.js";
import { stepsFor } from "../../core/renew/steps/index.js";
import { restartWithoutTools } from "../../core/renew/steps/parking.js";
import {
  StepFailure,
  WAITS,
  type ExecOptions,
  type NodeProgress,
  type Step,
  type StepContext,
  type StepId,
} from "../../core/renew/steps/step.js";
import { waitServing } from "../../core/renew/steps/verify.js";
import { scrubSecrets } from "../../core/secrets.js";
import type { NodeExecution, ProgressEvent, StepOutcome } from "../../core/renew/progress.js";

const EXCERPT_CHARS = 1_500;

export interface ExecutorDependencies {
  transport: Transport;
  probe(host: string, port: number, timeoutMs: number): Promise<ServedObservation>;
  /** A fresh scan of this node (files and served certificate). */
  rescan(): Promise<NodeReport>;
  onProgress(event: ProgressEvent, progress: NodeProgress): void | Promise<void>;
  now(): Date;
  sleep(ms: number): Promise<void>;
  resumeFrom?: NodeProgress;
  /** GET the apiserver's health URL: 200 with body "ok" (adapters/nodes/health.ts). */
  health(url: string, timeoutMs: number): Promise<boolean>;
  /** Bounded waits in ms (default: the plan's WAITS), the poll interval, how long to retry a lost node. */
  waits?: { containersGoneMs?: number; readyMs?: number; pollMs?: number; reconnectMs?: number };
  /** Before every step that changes the node (and before a rollback): throws when the run lost the cluster. */
  guard?(): Promise<void>;
}

// --- Output ------------------------------------------------------------------------------------

/** The tail of some output, scrubbed (scrubbed first, so a key cut in half is still caught). */
function excerptOf(text: string): string {
  const clean = scrubSecrets(text).trim();
  return clean.length > EXCERPT_CHARS ? `…${clean.slice(-EXCERPT_CHARS)}` : clean;
}

const sha256Hex = (der: Uint8Array): string => createHash("sha256").update(der).digest("hex");

// --- The node context --------------------------------------------------------------------------

function nodeContext(plan: NodePlan, progress: NodeProgress, deps: ExecutorDependencies): StepContext {
  const waits = {
    containersGoneMs: deps.waits?.containersGoneMs ?? WAITS.containersGoneSeconds * 1000,
    readyMs: deps.waits?.readyMs ?? WAITS.readySeconds * 1000,
    pollMs: deps.waits?.pollMs ?? 500,
    reconnectMs: deps.waits?.reconnectMs ?? 60_000,
  };
  const { health } = deps;
  const url = new URL(plan.spec.healthUrl);
  const probeHost = url.hostname.replace(/^\[|\]$/g, "");
  const probePort = Number(url.port || 443);
  const now = () => deps.now().getTime();

  /** The transport, retried while the node cannot be reached when `reconnect` (undo and recovery). */
  const run = async (script: string, options: ExecOptions = {}) => {
    const deadline = now() + (options.reconnect ? waits.reconnectMs : 0);
    const runOptions = options.timeoutMs ? { timeoutMs: options.timeoutMs } : {};
    for (;;) {
      try {
        return await deps.transport.run(script, runOptions);
      } catch (err) {
        if (!(err instanceof TransportError) || now() >= deadline) throw err;
        await deps.sleep(1_000);
      }
    }
  };

  const ctx: StepContext = {
    spec: plan.spec,
    progress,
    waits,
    now,
    async exec(script, what, options) {
      let result;
      try {
        result = await run(`set -e\n${script}`, options);
      } catch (err) {
        throw new StepFailure(`${what}: ${(err as Error).message}`);
      }
      const out = result.stdout + (result.stderr ? `\n${result.stderr}` : "");
      if (result.code !== 0) {
        const last = scrubSecrets(result.stderr.trim().split("\n").slice(-1)[0] ?? "").slice(0, 300);
        throw new StepFailure(
          `${what} failed (exit status ${result.code ?? "signal"})${last ? `: ${last}` : ""}`,
          excerptOf(out),
        );
      }
      return out;
    },
    async probeExec(script, options) {
      const result = await run(script, options);
      return { code: result.code, out: result.stdout + (result.stderr ? `\n${result.stderr}` : "") };
    },
    rescan: deps.rescan,
    healthy: () => health(plan.spec.healthUrl, 2_000),
    async served() {
      const obs = await deps.probe(probeHost, probePort, 5_000);
      const leaf = "chain" in obs ? obs.chain[0] : undefined;
      return leaf ? sha256Hex(leaf) : null;
    },
    async waitFor(what, ms, condition) {
      const deadline = now() + ms;
      for (;;) {
        if (await condition()) return;
        if (now() >= deadline) throw new StepFailure(`timed out after ${ms} ms waiting ${what}`);
        await deps.sleep(waits.pollMs);
      }
    },
  };
  return ctx;
}

// --- The executor ------------------------------------------------------------------------------

/**
 * A node counts as touched once a step that changes pki/, the kubeconfigs (kubelet.conf, the copies
 * of admin.conf) or the pods has started.
 */
const TOUCHING: readonly StepId[] = ["renew", "kubelet-conf", "refresh-kubeconfigs", "restart"];

export async function executeNodePlan(plan: NodePlan, deps: ExecutorDependencies): Promise<NodeExecution> {
  const resume =
    deps.resumeFrom && deps.resumeFrom.node === plan.node && deps.resumeFrom.backup === plan.backup
      ? deps.resumeFrom
      : undefined;
  const progress = startProgress(plan, resume);
  const ctx = nodeContext(plan, progress, deps);
  const steps = stepsFor(plan.spec);
  const emit: Emit = (event) => deps.onProgress({ node: plan.node, ...event }, structuredClone(progress));

  const { outcomes, failure } = await runSteps(steps, ctx, resume !== undefined, emit, deps);

  let rollback: NodeExecution["rollback"];
  if (failure && TOUCHING.some((id) => progress.started?.includes(id))) {
    await deps.guard?.(); // another attempt holds the cluster now: it decides, this one touches nothing
    rollback = await rollBack(steps, ctx, emit, deps);
  }

  const final = await deps.rescan().catch(() => undefined);
  return {
    node: plan.node,
    ok: !failure,
    steps: outcomes,
    ...(failure ? { failure } : {}),
    ...(rollback ? { rollback } : {}),
    leftIn: leftIn(plan, failure, rollback),
    renewed: renewedCertificates(plan, progress, final),
    progress,
  };
}

type Emit = (event: Omit<ProgressEvent, "node">) => void | Promise<void>;

/** The node's progress: empty, or on a resume what the interrupted run had started and recorded. */
function startProgress(plan: NodePlan, resume: NodeProgress | undefined): NodeProgress {
  return {
    node: plan.node,
    backup: plan.backup,
    completed: [],
    started: [...(resume?.started ?? resume?.completed ?? [])],
    ...(resume?.fingerprintsBefore ? { fingerprintsBefore: { ...resume.fingerprintsBefore } } : {}),
    ...(resume?.apiserverBefore !== undefined ? { apiserverBefore: resume.apiserverBefore } : {}),
    ...(resume?.runtime ? { runtime: resume.runtime } : {}),
  };
}

/**
 * The steps in order, up to the first that fails. On a resume, parked manifests go back first, and a
 * step whose postcondition still holds is not run again.
 */
async function runSteps(
  steps: readonly Step[],
  ctx: StepContext,
  resume: boolean,
  emit: Emit,
  deps: ExecutorDependencies,
): Promise<{ outcomes: StepOutcome[]; failure?: NodeExecution["failure"] }> {
  const { progress } = ctx;
  const outcomes: StepOutcome[] = [];
  const elapsed = (since: number) => deps.now().getTime() - since;
  const fail = async (step: StepId, err: unknown, since: number) => {
    const error = (err as Error).message;
    const excerpt = err instanceof StepFailure ? err.excerpt : "";
    const durationMs = elapsed(since);
    outcomes.push({ step, ok: false, skipped: false, durationMs, excerpt, error });
    await emit({ step, status: "failed", durationMs, excerpt, error });
    return { outcomes, failure: { step, error } };
  };

  for (const step of steps) {
    const since = deps.now().getTime();
    try {
      // A run interrupted while manifests were parked: they go back before anything else happens.
      if (resume && step.id === "preflight") await steps.find((s) => s.id === "restart")!.undo(ctx);
      if (resume && (await step.holds(ctx))) {
        progress.completed.push(step.id);
        const excerpt = "postcondition holds; not run again";
        outcomes.push({ step: step.id, ok: true, skipped: true, durationMs: elapsed(since), excerpt });
        await emit({ step: step.id, status: "done", durationMs: elapsed(since), excerpt, skipped: true });
        continue;
      }
    } catch (err) {
      return fail(step.id, err, since);
    }
    if (step.mutates) await deps.guard?.(); // a lost lease ends the run here, before the change
    if (!progress.started!.includes(step.id)) progress.started!.push(step.id);
    await emit({ step: step.id, status: "running", durationMs: 0, excerpt: "" });
    let excerpt: string;
    try {
      excerpt = excerptOf(await step.run(ctx));
    } catch (err) {
      return fail(step.id, err, since);
    }
    // Outside the try: a failing onProgress (the job cannot save) is not a failed step.
    progress.completed.push(step.id);
    outcomes.push({ step: step.id, ok: true, skipped: false, durationMs: elapsed(since), excerpt });
    await emit({ step: step.id, status: "done", durationMs: elapsed(since), excerpt });
  }
  return { outcomes };
}

/**
 * Each certificate of the plan (kubelet.conf too when it is repaired): its sha256 before the run, and
 * after it from the final rescan.
 */
function renewedCertificates(
  plan: NodePlan,
  progress: NodeProgress,
  final: NodeReport | undefined,
): NodeExecution["renewed"] {
  const names: string[] = [...plan.spec.names, ...(plan.spec.kubeletConf ? [KUBELET_KUBECONFIG] : [])];
  return names.map((name) => {
    const cert = final?.certificates.find((c) => c.name === name);
    return {
      name,
      before: progress.fingerprintsBefore?.[name] ?? null,
      after: cert?.sha256 ?? null,
      notAfter: cert?.notAfter ?? null,
    };
  });
}

/** The one line the card, the thread and the audit give for the state a node was left in. */
function leftIn(
  plan: NodePlan,
  failure: NodeExecution["failure"],
  rollback: NodeExecution["rollback"],
): string {
  if (!failure) return "renewed and verified";
  if (!rollback) return "nothing was changed (it failed before pki/ was touched)";
  if (rollback.ok)
    return "rolled back: pki/, the kubeconfigs and manifests/ as before, the old certificate served";
  return `NOT back to its old state (${rollback.error}); the backup is ${plan.backup}: restore it by hand (runbook in docs/operations.md)`;
}

/**
 * Undo every started step in reverse (each undo tried even when an earlier one failed), restart with
 * the manifests only if the control plane had been restarted, then check the node is where it started.
 */
async function rollBack(
  steps: readonly Step[],
  ctx: StepContext,
  emit: Emit,
  deps: ExecutorDependencies,
): Promise<NonNullable<NodeExecution["rollback"]>> {
  const since = deps.now().getTime();
  await emit({ step: "rollback", status: "running", durationMs: 0, excerpt: "" });
  const { progress } = ctx;
  const log: string[] = [];
  const errors: string[] = [];
  const attempt = async (what: string, action: () => Promise<string>) => {
    try {
      log.push(await action());
    } catch (err) {
      errors.push(`${what}: ${(err as Error).message}`);
      if (err instanceof StepFailure && err.excerpt) log.push(err.excerpt);
    }
  };
  for (const step of [...steps].reverse()) {
    if (!progress.started?.includes(step.id)) continue;
    if (step.id === "renew" && !(await backupUsable(ctx).catch(() => false))) {
      errors.push(`no usable backup at ${ctx.spec.backup}`);
      continue;
    }
    await attempt(`undo ${step.id}`, () => step.undo(ctx));
  }
  if (errors.length === 0) {
    if (progress.started?.includes("restart")) await attempt("restart", () => restartWithoutTools(ctx));
    await attempt("the old certificate served", () =>
      waitServing(ctx, progress.apiserverBefore ?? null, ctx.waits.readyMs),
    );
    await attempt("the old files", async () => {
      const report = await ctx.rescan();
      // Every file fingerprinted before the run: the planned certificates, and kubelet.conf when repaired.
      const changed = Object.entries(progress.fingerprintsBefore ?? {})
        .filter(([n, before]) => (report.certificates.find((c) => c.name === n)?.sha256 ?? null) !== before)
        .map(([n]) => n);
      if (changed.length)
        throw new StepFailure(`after the restore these differ from before: ${changed.join(", ")}`);
      return "the old certificates are back and served";
    });
  }
  const error = errors.length ? errors.join("; ") : undefined;
  const excerpt = excerptOf(log.join("\n"));
  await emit({
    step: "rollback",
    status: error ? "failed" : "done",
    durationMs: deps.now().getTime() - since,
    excerpt,
    ...(error ? { error } : {}),
  });
  return error ? { ok: false, error, excerpt } : { ok: true, excerpt };
}
