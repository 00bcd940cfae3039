// What every renewal step is made of, and what it may use while it runs. A step is one small module
// (preflight, backup, renew, kubelet.conf, kubeconfig copies, a restart strategy, verify) that owns
// its commands as shown to the approvers, its run, its postcondition (`holds`, asked when a run
// resumes) and its undo. Everything
// a step knows comes from the node's `NodeSpec`: structured data saved with the plan, from which the
// commands are derived again at run time. Pure: a step reaches the node only through `StepContext`.
import type { RenewalSettings } from "../../../config/load.js";
import type { CertificateName, RenewableName } from "../../kubeadm/catalogue.js";
import type { KubeletConfChoice } from "../../kubeadm/kubelet-conf.js";
import type { Command } from "../../kubeadm/versions.js";
import type { NodeReport } from "../../report/types.js";

export type RestartStrategy = RenewalSettings["restartStrategy"];
export type StepId =
  "preflight" | "backup" | "renew" | "kubelet-conf" | "refresh-kubeconfigs" | "restart" | "verify";

/** Bounded waits the executor uses; in the plan so approvers see them. */
export const WAITS = { containersGoneSeconds: 120, readySeconds: 300 } as const;

/**
 * One node's renewal as data: what the approvers approved, and all a step needs. Saved with the
 * plan; at run time every command is derived from it again and compared with what was shown.
 */
export interface NodeSpec {
  node: string;
  host: string;
  /** `kubeadm version -o short` as scanned; the version row follows from it. */
  kubeadmVersion: string;
  kubernetesDir: string;
  /** The kubelet's pki directory (kubelet-client-current.pem, what a repointed kubelet.conf names). */
  kubeletPkiDir: string;
  /** What is renewed; `all`: with kubeadm's own "renew all" (every renewable file present). */
  names: RenewableName[];
  all: boolean;
  /** The kubeconfigs present, relative to kubernetesDir: the backup holds them and pki/. */
  kubeconfigs: string[];
  /** The static pods restarted (their manifest names without .yaml). */
  components: string[];
  restart: RestartStrategy;
  /** The configured backupDir (its mode is checked) and this run's files under it. */
  backupRoot: string;
  backup: string;
  /** Where manifests (and, before 1.15, old pairs) are parked while they are out of place. */
  aside: string;
  /** Where the cluster's kubeadm configuration is exported (phase renewals, kubelet.conf before 1.17). */
  configFile: string;
  /** How kubelet.conf is repaired in this run (an embedded certificate near or past expiry); null: it is not. */
  kubeletConf: KubeletConfChoice | null;
  /** Files replaced with the renewed admin.conf (renewal.refreshKubeconfigs), when admin.conf is renewed. */
  refreshKubeconfigs: string[];
  /** Where /readyz (or /healthz) is asked, from certs-bot. */
  healthUrl: string;
  /** Whether the served certificate is checked (apiserver.probe). */
  probeServed: boolean;
}

/** What the approvers see of a step (and what a run compares with the commands it derives). */
export interface PlanStep {
  id: StepId;
  title: string;
  run: string;
  commands: Command[];
  /** A bounded wait done before `commands[before]` (shown in the plan, not a command). */
  wait?: { before: number; what: string };
  verify: string;
  undo: string;
  undoCommands: Command[];
}

/** What a run saves after every step (JSON-safe); handed back after a crash to resume. */
export interface NodeProgress {
  node: string;
  /** The plan's backup path: progress of another plan (another timestamp) is not resumed. */
  backup: string;
  completed: StepId[];
  /** Steps that started (completed or not): what a rollback has to undo. */
  started?: StepId[];
  /**
   * sha256 (hex DER) of each certificate to renew, and of kubelet.conf when it is repaired, as scanned
   * in preflight, before any change.
   */
  fingerprintsBefore?: Record<string, string | null>;
  /** sha256 of apiserver.crt on disk before any change: what the old state must serve. */
  apiserverBefore?: string | null;
  /** The container runtime preflight found working (what the manifests strategy watches). */
  runtime?: "crictl" | "docker";
}

/** Why a step failed, with the scrubbed tail of what the node printed. */
export class StepFailure extends Error {
  constructor(
    message: string,
    readonly excerpt = "",
  ) {
    super(message);
  }
}

export interface ExecOptions {
  /** A bound for this script (default: the node's command timeout). */
  timeoutMs?: number;
  /** Retry while the node cannot be reached, up to the reconnect bound (undo and recovery only). */
  reconnect?: boolean;
}

/** What a step may do: everything reaches the node or the clock through here. */
export interface StepContext {
  readonly spec: NodeSpec;
  /** Mutable: saved after every step. */
  readonly progress: NodeProgress;
  readonly waits: { containersGoneMs: number; readyMs: number; pollMs: number; reconnectMs: number };
  /** Runs a script under `set -e` (the transport adds `umask 077`); its output, or StepFailure on a non-zero exit. */
  exec(script: string, what: string, options?: ExecOptions): Promise<string>;
  /** Runs a script and hands back its exit status and output; throws only when the node is unreachable. */
  probeExec(script: string, options?: ExecOptions): Promise<{ code: number | null; out: string }>;
  rescan(): Promise<NodeReport>;
  /** Epoch ms. */
  now(): number;
  /** The apiserver's health endpoint answers "ok". */
  healthy(): Promise<boolean>;
  /** sha256 of the certificate the apiserver serves now, or null when nothing answers. */
  served(): Promise<string | null>;
  /** Polls `condition` until it holds; StepFailure after `ms`. */
  waitFor(what: string, ms: number, condition: () => Promise<boolean>): Promise<void>;
}

/** One kind of step: shown to approvers, run, checked on resume, undone on rollback. */
export interface Step {
  readonly id: StepId;
  readonly shown: PlanStep;
  /** Changes the node: the run confirms it still holds the cluster's lease first. */
  readonly mutates: boolean;
  /** Does the step and checks its postcondition; the excerpt to show, or StepFailure. */
  run(ctx: StepContext): Promise<string>;
  /** On resume: the postcondition still holds, so the step is not run again. */
  holds(ctx: StepContext): Promise<boolean>;
  /** Puts back what the step changed (it may have stopped half way); never depends on a failed tool. */
  undo(ctx: StepContext): Promise<string>;
}

/** Single-quoted for sh: paths in specs are validated (no quote), this keeps that true anyway. */
export const quote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** The directory of this node's backups: `<backupDir>/<cluster>/<node>`. */
export const backupNodeDir = (spec: NodeSpec): string => spec.backup.slice(0, spec.backup.lastIndexOf("/"));

export const sha256Of = (report: NodeReport, name: CertificateName): string | null =>
  report.certificates.find((c) => c.name === name)?.sha256 ?? null;
