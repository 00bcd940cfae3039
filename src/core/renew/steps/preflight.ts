// Preflight: nothing on the node changes. kubeadm is the version planned; the restart strategy's
// tools answer on this node (so a restart cannot fail half way for a missing or broken tool); the
// backup directory, where it exists, is private to root; there is room for the backup; each kubeconfig
// copy to refresh is a regular file or not there (skipped). It also records what the old state is
// (fingerprints before, kubelet.conf's too when it is repaired, the apiserver certificate on disk)
// for verify and rollback.
import { KUBELET_KUBECONFIG, SERVED_BY_APISERVER, type CertificateName } from "../../kubeadm/catalogue.js";
import { command, type Command } from "../../kubeadm/versions.js";
import { checkKubeconfigCopies } from "./refresh-kubeconfigs.js";
import { kubeletActive } from "./restart.js";
import { RESTARTS } from "./restarts.js";
import {
  backupNodeDir,
  quote,
  sha256Of,
  StepFailure,
  type NodeSpec,
  type Step,
  type StepContext,
} from "./step.js";

/** The tools each strategy needs, checked before anything is touched. */
export function toolChecks(spec: NodeSpec): Command[] {
  return [kubeletActive, ...RESTARTS[spec.restart].toolChecks];
}

/** Every existing level of backupDir/<cluster>/<node> must be a directory only root can enter. */
function privateDirsScript(spec: NodeSpec): string {
  const levels = [spec.backupRoot];
  for (
    let dir = backupNodeDir(spec);
    dir.length > spec.backupRoot.length;
    dir = dir.slice(0, dir.lastIndexOf("/"))
  )
    levels.splice(1, 0, dir);
  return [
    `for d in ${levels.map(quote).join(" ")}; do`,
    '  [ -e "$d" ] || [ -L "$d" ] || continue',
    '  case "$(ls -ld "$d")" in',
    "    d???------*) ;;",
    '    *) echo "$(ls -ld "$d")"; exit 4 ;;',
    "  esac",
    "done",
  ].join("\n");
}

/** The backup needs room: twice what pki/ and the kubeconfigs take, on the file system that will hold it. */
function freeSpaceScript(spec: NodeSpec): string {
  const dir = backupNodeDir(spec) || "/";
  return [
    `d=${quote(dir)}`,
    'while [ ! -d "$d" ]; do d=$(dirname "$d"); done',
    `df -Pk "$d" | awk 'NR == 2 { print $4 }'`,
    `cd ${quote(spec.kubernetesDir)} && du -sk pki *.conf 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'`,
  ].join("\n");
}

async function checkVersion(ctx: StepContext): Promise<string> {
  const out = await ctx.exec("kubeadm version -o short", "kubeadm version");
  const version = out.trim().split("\n")[0] ?? "";
  if (version.replace(/^v/, "") !== ctx.spec.kubeadmVersion.replace(/^v/, ""))
    throw new StepFailure(
      `kubeadm says ${version || "nothing"}, the plan was made for ${ctx.spec.kubeadmVersion}`,
    );
  return `kubeadm ${version}`;
}

async function checkTools(ctx: StepContext): Promise<string> {
  const lines: string[] = [];
  for (const check of toolChecks(ctx.spec)) {
    const { code } = await ctx.probeExec(`${check.line} >/dev/null 2>&1`);
    if (code !== 0)
      throw new StepFailure(
        `\`${check.line}\` failed on this node (exit ${code ?? "signal"}), so the ${ctx.spec.restart} restart ` +
          "cannot work here; nothing was changed",
      );
    lines.push(`${check.line}: ok`);
  }
  const runtime = await RESTARTS[ctx.spec.restart].runtime?.(ctx);
  if (runtime) ctx.progress.runtime = runtime;
  return lines.join("\n");
}

async function checkBackupDir(ctx: StepContext): Promise<string> {
  const { code, out } = await ctx.probeExec(privateDirsScript(ctx.spec));
  if (code === 4)
    throw new StepFailure(
      `the backup directory is open to others (${out.trim()}); backups hold CA keys, so certs-bot refuses: ` +
        `make it root-only (chmod 700) first`,
    );
  if (code !== 0) throw new StepFailure(`could not check the backup directory's mode: ${out.trim()}`);
  const { out: sizes } = await ctx.probeExec(freeSpaceScript(ctx.spec));
  const [free, used] = sizes.trim().split("\n").map(Number);
  if (!Number.isFinite(free) || !Number.isFinite(used))
    throw new StepFailure(`could not measure free space for the backup`, sizes);
  if (free! < 2 * used!)
    throw new StepFailure(
      `only ${free} KiB free for the backup; the backup of ${used} KiB needs at least ${2 * used!} KiB`,
    );
  return `backup directory private; ${free} KiB free for ${used} KiB`;
}

export function preflightStep(spec: NodeSpec): Step {
  return {
    id: "preflight",
    mutates: false,
    shown: {
      id: "preflight",
      title: "preflight",
      run:
        "Connect, read `kubeadm version -o short`, check that the restart tools answer, that the backup " +
        "directory is root-only and has room, and take the cluster's renewal lock.",
      commands: [command("kubeadm", "version", "-o", "short"), ...toolChecks(spec)],
      verify:
        `kubeadm still says ${spec.kubeadmVersion}; the kubelet is active and the ${spec.restart} tools answer; ` +
        `${spec.backupRoot} (where it exists) is a root-only directory with free space of at least twice ` +
        "the size of pki/ and the kubeconfigs; " +
        (spec.refreshKubeconfigs.length
          ? `${spec.refreshKubeconfigs.join(", ")}: each a regular file, or not on this node (then skipped); `
          : "") +
        "no other renewal holds the lock.",
      undo: "Release the lock. Nothing on the node changed.",
      undoCommands: [],
    },
    async run(ctx) {
      const lines = [await checkVersion(ctx), await checkTools(ctx), await checkBackupDir(ctx)];
      if (spec.refreshKubeconfigs.length) lines.push(await checkKubeconfigCopies(ctx));
      if (!ctx.progress.fingerprintsBefore) {
        const report = await ctx.rescan();
        if (!report.reachable) throw new StepFailure(`rescan failed: ${report.error ?? "unreachable"}`);
        const before: CertificateName[] = [...spec.names];
        if (spec.kubeletConf) before.push(KUBELET_KUBECONFIG);
        ctx.progress.fingerprintsBefore = Object.fromEntries(before.map((n) => [n, sha256Of(report, n)]));
        ctx.progress.apiserverBefore = sha256Of(report, SERVED_BY_APISERVER);
      }
      return lines.join("\n");
    },
    holds: async () => false, // cheap and side-effect free: always again
    undo: async () => "",
  };
}
