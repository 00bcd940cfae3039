// Executes one node's renewal plan: the plan's steps in order (preflight, backup, renew, restart,
// verify), each as ONE `/bin/sh -s` script per command segment (`set -e`, the plan's already-quoted
// lines), its bounded wait polled from here with a deadline, then its postcondition checked. On a
// failure after the node was touched: rollback (restore the backup, restart again, verify the old
// state serves) and both failures reported. Progress after every step is handed to `onProgress`
// as JSON-safe data, so a queue job can save it and a rerun can resume: a completed step is
// skipped only when its postcondition still holds, and a renew that already took effect is never
// run again.
import { createHash } from "node:crypto";
import { request } from "node:https";
import type { Command } from "../kubeadm/versions.js";
import type { NodeReport } from "../report/types.js";
import type { ServedObservation } from "../scan/judge.js";
import { RENEWED_LEAF_VALIDITY_DAYS } from "../scan/judge.js";
import type { Transport } from "../transport/transport.js";
import { WAITS, type NodePlan, type PlanStep, type StepId } from "./plan.js";

const DAY_MS = 86_400_000;
const EXCERPT_CHARS = 1_500;

export type StepMark = "⏳" | "✅" | "❌";

export interface ProgressEvent {
  node: string;
  step: StepId | "rollback";
  status: StepMark;
  durationMs: number;
  /** The step's output, tail only, scrubbed of keys and tokens. */
  excerpt: string;
  /** Why it failed (❌ only). */
  error?: string;
  /** A resumed run found the step's postcondition still holding and did not run it again. */
  skipped?: true;
}

/** What a job saves after every step; JSON-safe. Pass it back as `resumeFrom` after a crash. */
export interface NodeProgress {
  node: string;
  /** The plan's backup path: progress of another plan (another timestamp) is not resumed. */
  backup: string;
  completed: StepId[];
  /** sha256 (hex DER) of each certificate to renew as scanned in preflight, before any change. */
  fingerprintsBefore?: Record<string, string | null>;
  /** sha256 of apiserver.crt on disk before any change: what the old state must serve. */
  apiserverBefore?: string | null;
}

export interface ExecutorDependencies {
  transport: Transport;
  probe(host: string, port: number, timeoutMs: number): Promise<ServedObservation>;
  /** A fresh scan of this node (files and served certificate). */
  rescan(): Promise<NodeReport>;
  onProgress(event: ProgressEvent, progress: NodeProgress): void | Promise<void>;
  now(): Date;
  sleep(ms: number): Promise<void>;
  resumeFrom?: NodeProgress;
  /** GET the health URL (default: node https, rejectUnauthorized false): 200 with body "ok". */
  health?(url: string, timeoutMs: number): Promise<boolean>;
  /** Bounded waits in ms (default: the plan's WAITS) and the poll interval. */
  waits?: { containersGoneMs?: number; readyMs?: number; pollMs?: number };
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
  /** Each renewed certificate's sha256 before and after (after: from the final rescan). */
  renewed: { name: string; before: string | null; after: string | null; notAfter: Date | null }[];
  progress: NodeProgress;
}

class StepFailure extends Error {
  constructor(
    message: string,
    readonly excerpt = "",
  ) {
    super(message);
  }
}

// --- Output ------------------------------------------------------------------------------------

const SECRETS: [RegExp, string][] = [
  [
    /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
    "[private key]",
  ],
  [/\b(client-key-data|token|password|secret)(["']?\s*[:=]\s*)\S+/gi, "$1$2[redacted]"],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, "$1 [redacted]"],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, "[jwt]"],
  [/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g, "[bootstrap token]"],
];

/** Anything that looks like a private key or a token, replaced. */
export function scrub(text: string): string {
  return SECRETS.reduce((t, [re, by]) => t.replace(re, by), text);
}

/** The tail of some output, scrubbed (scrubbed first, so a key cut in half is still caught). */
export function excerptOf(text: string): string {
  const clean = scrub(text).trim();
  return clean.length > EXCERPT_CHARS ? `…${clean.slice(-EXCERPT_CHARS)}` : clean;
}

/** One script for a run of commands: `set -e`, one already-quoted line each. */
export function stepScript(commands: readonly Command[]): string {
  return ["set -e", ...commands.map((c) => c.line), ""].join("\n");
}

/** The same commands, each allowed to fail (best-effort repair). */
const lenient = (commands: readonly Command[]): Command[] =>
  commands.map((c) => ({ ...c, line: `${c.line} || true` }));

const quote = (path: string): string => `'${path.replace(/'/g, `'\\''`)}'`;

const sha256Hex = (der: Uint8Array): string => createHash("sha256").update(der).digest("hex");

function defaultHealth(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve(res.statusCode === 200 && body.trim() === "ok"));
      res.on("error", () => resolve(false));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

// --- The executor ------------------------------------------------------------------------------

export async function executeNodePlan(plan: NodePlan, deps: ExecutorDependencies): Promise<NodeExecution> {
  const waits = {
    containersGoneMs: deps.waits?.containersGoneMs ?? WAITS.containersGoneSeconds * 1000,
    readyMs: deps.waits?.readyMs ?? WAITS.readySeconds * 1000,
    pollMs: deps.waits?.pollMs ?? 500,
  };
  const health = deps.health ?? defaultHealth;
  const resume =
    deps.resumeFrom && deps.resumeFrom.node === plan.node && deps.resumeFrom.backup === plan.backup
      ? deps.resumeFrom
      : undefined;
  const progress: NodeProgress = {
    node: plan.node,
    backup: plan.backup,
    completed: [],
    ...(resume?.fingerprintsBefore ? { fingerprintsBefore: { ...resume.fingerprintsBefore } } : {}),
    ...(resume?.apiserverBefore !== undefined ? { apiserverBefore: resume.apiserverBefore } : {}),
  };
  const steps: StepOutcome[] = [];
  const stepOf = (id: StepId): PlanStep | undefined => plan.steps.find((s) => s.id === id);
  const renewedNames = plan.renew.map((r) => r.name);
  const apiserverRenewed = renewedNames.includes("apiserver");
  const url = new URL(plan.healthUrl);
  const probeHost = url.hostname.replace(/^\[|\]$/g, "");
  const probePort = Number(url.port || 443);
  const emit = (event: ProgressEvent) => deps.onProgress(event, structuredClone(progress));

  /** Run commands in one exec; throws with the scrubbed excerpt on a non-zero exit. */
  const exec = async (commands: readonly Command[], what: string): Promise<string> => {
    if (commands.length === 0) return "";
    let result;
    try {
      result = await deps.transport.run(stepScript(commands));
    } catch (err) {
      throw new StepFailure(`${what}: ${(err as Error).message}`);
    }
    const out = result.stdout + (result.stderr ? `\n${result.stderr}` : "");
    if (result.code !== 0) {
      const last = scrub(result.stderr.trim().split("\n").slice(-1)[0] ?? "").slice(0, 300);
      throw new StepFailure(
        `${what} failed (exit status ${result.code ?? "signal"})${last ? `: ${last}` : ""}`,
        excerptOf(out),
      );
    }
    return out;
  };

  /** Poll `condition` until it holds or the deadline passes. */
  const waitFor = async (what: string, ms: number, condition: () => Promise<boolean>): Promise<void> => {
    const deadline = deps.now().getTime() + ms;
    for (;;) {
      if (await condition()) return;
      if (deps.now().getTime() >= deadline) throw new StepFailure(`timed out after ${ms} ms waiting ${what}`);
      await deps.sleep(waits.pollMs);
    }
  };

  /** Run a plan step's commands; a `wait` splits them in two execs around the bounded wait. */
  const runCommands = async (step: PlanStep): Promise<string> => {
    if (!step.wait) return exec(step.commands, step.id);
    const first = await exec(step.commands.slice(0, step.wait.before), `${step.id} (before the wait)`);
    await waitFor(step.wait.what, waits.containersGoneMs, containersGone);
    return first + (await exec(step.commands.slice(step.wait.before), `${step.id} (after the wait)`));
  };

  // --- Conditions --------------------------------------------------------------------------

  const components = (): string[] => {
    const restart = stepOf("restart");
    // The manifests the plan moves back: the last path of each `mv` after the wait.
    return (restart?.commands ?? [])
      .slice(restart?.wait?.before ?? 0)
      .filter((c) => c.words[0] === "mv")
      .map((c) => c.words[c.words.length - 1])
      .filter((w): w is { path: string } => typeof w !== "string")
      .map((w) => w.path);
  };

  async function containersGone(): Promise<boolean> {
    const names = components().map((p) => (p.split("/").pop() ?? "").replace(/\.yaml$/, ""));
    if (names.length === 0) return true;
    const regex = names.map((n) => `^${n}$`).join("|");
    const r = await deps.transport.run(`crictl ps -q --name '${regex}'\n`);
    return r.code === 0 && r.stdout.trim() === "";
  }

  const backupListed = async (): Promise<boolean> => {
    const r = await deps.transport.run(`tar -tzf ${quote(plan.backup)}\n`);
    return r.code === 0 && r.stdout.split("\n").some((l) => /^(\.\/)?pki\/ca\.crt$/.test(l.trim()));
  };

  const fingerprints = (report: NodeReport): Record<string, string | null> =>
    Object.fromEntries(
      renewedNames.map((n) => [n, report.certificates.find((c) => c.name === n)?.sha256 ?? null]),
    );
  const onDiskApiserver = (report: NodeReport): string | null =>
    report.certificates.find((c) => c.name === "apiserver")?.sha256 ?? null;

  /** Why the renew has not (fully) taken effect, or null when it has. */
  const renewProblems = (report: NodeReport): string | null => {
    if (!report.reachable) return `rescan failed: ${report.error ?? "unreachable"}`;
    const before = progress.fingerprintsBefore ?? {};
    const now = deps.now().getTime();
    const bad: string[] = [];
    for (const name of renewedNames) {
      const cert = report.certificates.find((c) => c.name === name);
      if (!cert?.sha256 || !cert.notAfter) bad.push(`${name}: unreadable`);
      else if (cert.sha256 === before[name]) bad.push(`${name}: unchanged`);
      else if (Math.abs((cert.notAfter.getTime() - now) / DAY_MS - RENEWED_LEAF_VALIDITY_DAYS) > 2)
        bad.push(
          `${name}: notAfter ${cert.notAfter.toISOString()} is not ~${RENEWED_LEAF_VALIDITY_DAYS} d away`,
        );
    }
    return bad.length ? bad.join("; ") : null;
  };

  const served = async (): Promise<string | null> => {
    const obs = await deps.probe(probeHost, probePort, 5_000);
    const leaf = "chain" in obs ? obs.chain[0] : undefined;
    return leaf ? sha256Hex(leaf) : null;
  };

  /** Health answers and the served certificate is `expected`, within the ready deadline. */
  const waitServing = async (expected: string | null, ms: number): Promise<string> => {
    const seen: { served: string | null; ready: boolean } = { served: null, ready: false };
    try {
      await waitFor(`for ${plan.healthUrl} to answer`, ms, async () => {
        seen.ready = await health(plan.healthUrl, 2_000);
        if (!seen.ready) return false;
        seen.served = await served();
        return expected === null || seen.served === expected;
      });
    } catch (err) {
      if (!seen.ready) throw err;
      throw new StepFailure(
        `the apiserver serves ${seen.served?.slice(0, 16) ?? "nothing"}…, not the expected ${expected?.slice(0, 16)}…`,
      );
    }
    return `${url.pathname} ok; serving sha256 ${seen.served ?? "?"}`;
  };

  const manifestsBack = async (): Promise<boolean> => {
    const paths = components();
    if (plan.restart !== "manifests" || paths.length === 0) return true;
    const r = await deps.transport.run(paths.map((p) => `test -f ${quote(p)}`).join(" && ") + "\n");
    return r.code === 0;
  };

  /**
   * The backup needs room: at least twice what pki/ and the kubeconfigs take (the tarball is
   * compressed, so this is generous) on the file system that will hold it.
   */
  const checkFreeSpace = async (): Promise<void> => {
    const dir = plan.backup.slice(0, plan.backup.lastIndexOf("/")) || "/";
    const script = [
      `d=${quote(dir)}`,
      'while [ ! -d "$d" ]; do d=$(dirname "$d"); done',
      `df -Pk "$d" | awk 'NR == 2 { print $4 }'`,
      `cd ${quote(plan.kubernetesDir)} && du -sk pki *.conf 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'`,
      "",
    ].join("\n");
    const r = await deps.transport.run(script);
    const [free, used] = r.stdout.trim().split("\n").map(Number);
    if (r.code !== 0 || !Number.isFinite(free) || !Number.isFinite(used))
      throw new StepFailure(`could not measure free space for ${dir}`, excerptOf(r.stdout + r.stderr));
    if (free! < 2 * used!)
      throw new StepFailure(
        `only ${free} KiB free for ${dir}; the backup of ${used} KiB needs at least ${2 * used!} KiB`,
      );
  };

  // --- Steps -------------------------------------------------------------------------------

  /** Run step `id`; returns its excerpt or throws StepFailure. */
  const perform = async (id: StepId, step: PlanStep): Promise<string> => {
    switch (id) {
      case "preflight": {
        const out = await exec(step.commands, "preflight");
        const version = out.trim().split("\n")[0] ?? "";
        if (version.replace(/^v/, "") !== plan.kubeadmVersion.replace(/^v/, ""))
          throw new StepFailure(
            `kubeadm says ${version || "nothing"}, the plan was made for ${plan.kubeadmVersion}`,
            excerptOf(out),
          );
        await checkFreeSpace();
        if (!progress.fingerprintsBefore) {
          const report = await deps.rescan();
          if (!report.reachable) throw new StepFailure(`rescan failed: ${report.error ?? "unreachable"}`);
          progress.fingerprintsBefore = fingerprints(report);
          progress.apiserverBefore = onDiskApiserver(report);
        }
        return excerptOf(out);
      }
      case "backup": {
        const out = await exec(step.commands, "backup");
        if (!(await backupListed()))
          throw new StepFailure(`tar -tzf ${plan.backup} does not list pki/ca.crt`, excerptOf(out));
        return excerptOf(`${out}\n${plan.backup} lists pki/ca.crt`);
      }
      case "renew": {
        const out = await exec(step.commands, "renew");
        const problem = renewProblems(await deps.rescan());
        if (problem) throw new StepFailure(`the renew did not take effect: ${problem}`, excerptOf(out));
        return excerptOf(out);
      }
      case "restart": {
        // A run interrupted inside this step may have left the manifests parked: put them back first.
        if (resume)
          await exec(lenient(step.undoCommands), "restart (putting back what an interrupted run parked)");
        const out = await runCommands(step);
        if (!(await manifestsBack()))
          throw new StepFailure("a static pod manifest is not back in manifests/", excerptOf(out));
        return excerptOf(out);
      }
      case "verify": {
        const report = await deps.rescan();
        const expected = onDiskApiserver(report); // renewed or not, what is on disk must be served
        const line = await waitServing(expected, waits.readyMs);
        if (apiserverRenewed && expected === progress.apiserverBefore)
          throw new StepFailure("apiserver.crt on disk is still the old one", line);
        const problem = renewProblems(await deps.rescan());
        if (problem) throw new StepFailure(`rescan: ${problem}`, line);
        return excerptOf(line);
      }
    }
  };

  /** On resume: does the step's postcondition still hold, so it need not run again? */
  const stillHolds = async (id: StepId): Promise<boolean> => {
    if (!resume) return false;
    switch (id) {
      case "preflight":
        return false; // cheap and side-effect free: always again
      case "backup":
        return backupListed(); // even when not marked done: the plan's tar never overwrites
      case "renew":
        return progress.fingerprintsBefore !== undefined && renewProblems(await deps.rescan()) === null;
      case "restart": {
        if (!resume.completed.includes("restart") || !(await manifestsBack())) return false;
        const disk = onDiskApiserver(await deps.rescan());
        return (await health(plan.healthUrl, 2_000)) && (await served()) === disk;
      }
      case "verify":
        return false;
    }
  };

  let failure: NodeExecution["failure"];
  for (const step of plan.steps) {
    const started = deps.now().getTime();
    if (await stillHolds(step.id)) {
      progress.completed.push(step.id);
      const outcome = {
        step: step.id,
        ok: true,
        skipped: true,
        durationMs: deps.now().getTime() - started,
        excerpt: "postcondition holds; not run again",
      };
      steps.push(outcome);
      await emit({
        node: plan.node,
        step: step.id,
        status: "✅",
        durationMs: outcome.durationMs,
        excerpt: outcome.excerpt,
        skipped: true,
      });
      continue;
    }
    await emit({ node: plan.node, step: step.id, status: "⏳", durationMs: 0, excerpt: "" });
    let excerpt: string;
    try {
      excerpt = await perform(step.id, step);
    } catch (err) {
      const error = (err as Error).message;
      const excerpt = err instanceof StepFailure ? err.excerpt : "";
      const durationMs = deps.now().getTime() - started;
      steps.push({ step: step.id, ok: false, skipped: false, durationMs, excerpt, error });
      await emit({ node: plan.node, step: step.id, status: "❌", durationMs, excerpt, error });
      failure = { step: step.id, error };
      break;
    }
    // Outside the try: a failing onProgress (the job cannot save) is not a failed step.
    progress.completed.push(step.id);
    const durationMs = deps.now().getTime() - started;
    steps.push({ step: step.id, ok: true, skipped: false, durationMs, excerpt });
    await emit({ node: plan.node, step: step.id, status: "✅", durationMs, excerpt });
  }

  let rollback: NodeExecution["rollback"];
  if (failure && failure.step !== "preflight" && failure.step !== "backup") {
    rollback = await rollBack(failure.step);
  }

  const final = await deps.rescan().catch(() => undefined);
  const renewed = renewedNames.map((name) => {
    const cert = final?.certificates.find((c) => c.name === name);
    return {
      name,
      before: progress.fingerprintsBefore?.[name] ?? null,
      after: cert?.sha256 ?? null,
      notAfter: cert?.notAfter ?? null,
    };
  });
  return {
    node: plan.node,
    ok: !failure,
    steps,
    ...(failure ? { failure } : {}),
    ...(rollback ? { rollback } : {}),
    renewed,
    progress,
  };

  /** Restore the backup, restart again, verify the old state serves. */
  async function rollBack(failedStep: StepId): Promise<NonNullable<NodeExecution["rollback"]>> {
    const started = deps.now().getTime();
    await emit({ node: plan.node, step: "rollback", status: "⏳", durationMs: 0, excerpt: "" });
    const log: string[] = [];
    const finish = async (excerpt: string, error?: string) => {
      const durationMs = deps.now().getTime() - started;
      await emit({
        node: plan.node,
        step: "rollback",
        status: error ? "❌" : "✅",
        durationMs,
        excerpt,
        ...(error ? { error } : {}),
      });
      return error ? { ok: false, error, excerpt } : { ok: true, excerpt };
    };
    try {
      if (!(await backupListed())) throw new StepFailure(`no usable backup at ${plan.backup}`);
      log.push(await exec(stepOf("renew")?.undoCommands ?? [], "restoring the backup"));
      log.push(`restored ${plan.backup}`);
      const restart = stepOf("restart");
      if (restart) {
        if (failedStep === "restart" && restart.undoCommands.length) {
          // Best effort: put back whatever the failed restart left parked (each line may fail).
          log.push(await exec(lenient(restart.undoCommands), "un-parking the manifests"));
        }
        log.push(await runCommands(restart));
      }
      const expected = progress.apiserverBefore ?? null;
      log.push(await waitServing(expected, waits.readyMs));
      const report = await deps.rescan();
      const changed = renewedNames.filter(
        (n) =>
          (report.certificates.find((c) => c.name === n)?.sha256 ?? null) !==
          (progress.fingerprintsBefore?.[n] ?? null),
      );
      if (changed.length)
        throw new StepFailure(`after the restore these differ from before: ${changed.join(", ")}`);
      log.push("the old certificates are back and served");
      return finish(excerptOf(log.join("\n")));
    } catch (err) {
      const error = (err as Error).message;
      return finish(excerptOf([...log, err instanceof StepFailure ? err.excerpt : ""].join("\n")), error);
    }
  }
}
