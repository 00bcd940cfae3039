// Backup: a timestamped tarball of pki/ and the kubeconfigs, private to root (the scripts run under
// umask 077: the directories 0700, the tarball 0600), never overwriting an existing file. Its undo is
// nothing: a backup is kept, never deleted or overwritten.
import { command } from "../../kubeadm/versions.js";
import { backupNodeDir, quote, StepFailure, type NodeSpec, type Step, type StepContext } from "./step.js";

/** The tarball lists pki/ca.crt, and it and its directory are root-only. */
async function backupHolds(ctx: StepContext): Promise<boolean> {
  const { backup } = ctx.spec;
  const { code, out } = await ctx.probeExec(
    [
      `tar -tzf ${quote(backup)} | grep -Eq '^(\\./)?pki/ca\\.crt$' || exit 1`,
      `ls -ld ${quote(backupNodeDir(ctx.spec))} ${quote(backup)}`,
    ].join("\n"),
  );
  if (code !== 0) return false;
  const modes = out
    .trim()
    .split("\n")
    .map((l) => l.slice(0, 10));
  return modes.length === 2 && modes[0] === "drwx------" && modes[1] === "-rw-------";
}

export function backupStep(spec: NodeSpec): Step {
  const commands = [
    command("mkdir", "-p", { path: backupNodeDir(spec) }),
    command(
      "[",
      "!",
      "-e",
      { path: spec.backup },
      "]",
      "&&",
      "tar",
      "-czf",
      { path: spec.backup },
      "-C",
      { path: spec.kubernetesDir },
      "pki",
      ...spec.kubeconfigs,
    ),
  ];
  return {
    id: "backup",
    mutates: true,
    shown: {
      id: "backup",
      title: "backup",
      run:
        `A timestamped tarball of pki/ and the kubeconfigs, root-only (directory 0700, file 0600), ` +
        `never overwriting an existing file: ${spec.backup}.`,
      commands,
      verify:
        `Listing the tarball (tar -tzf) shows pki/ca.crt${spec.kubeconfigs.length ? ` and ${spec.kubeconfigs.join(", ")}` : ""}; ` +
        "the tarball is 0600 and its directory 0700.",
      undo: "None: a backup is kept, never deleted or overwritten.",
      undoCommands: [],
    },
    async run(ctx) {
      const out = await ctx.exec(commands.map((c) => c.line).join("\n"), "backup");
      if (!(await backupHolds(ctx)))
        throw new StepFailure(
          `${spec.backup} does not list pki/ca.crt or is not root-only (0600 in a 0700 directory)`,
          out,
        );
      return `${out}\n${spec.backup} lists pki/ca.crt; 0600 in a 0700 directory`;
    },
    // Even when not marked done: the tar never overwrites, so a backup that holds is this run's.
    holds: backupHolds,
    undo: async () => "",
  };
}

/** Whether the backup is there to restore from (rollback asks before it restores). */
export const backupUsable = backupHolds;
