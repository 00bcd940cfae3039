// Renew: the version row's commands (core/kubeadm/versions.ts) for the node's kubeadm; its postcondition
// is a rescan finding every planned certificate new (not the fingerprint seen in preflight) and valid
// for about a year. Its undo restores the backup over the kubernetes directory and removes the old
// pairs a phase-based renew moved aside (the backup holds them).
import {
  checkPath,
  command,
  parkedFiles,
  renewCommands,
  ruleFor,
  type Command,
} from "../../kubeadm/versions.js";
import type { NodeReport } from "../../report/types.js";
import { notFreshlyRenewed, RENEWED_LEAF_VALIDITY_DAYS } from "../../scan/judge.js";
import { quote, StepFailure, type NodeSpec, type Step, type StepContext } from "./step.js";

function rowOf(spec: NodeSpec) {
  const lookup = ruleFor(spec.kubeadmVersion);
  if (!lookup.ok) throw new StepFailure(lookup.reason);
  return lookup;
}

const restoreCommand = (spec: NodeSpec): Command =>
  command("tar", "-xzf", { path: spec.backup }, "-C", { path: spec.kubernetesDir });

/** Where a phase-based renew parks each old file (see renewCommands). */
function parkedPairs(spec: NodeSpec): string[] {
  return spec.names.flatMap((name) => parkedFiles(name, spec.aside).map((p) => checkPath(p.aside)));
}

/** Why the renew has not (fully) taken effect, or null when it has. */
export function renewProblems(report: NodeReport, ctx: StepContext): string | null {
  const now = ctx.now();
  if (!report.reachable) return `rescan failed: ${report.error ?? "unreachable"}`;
  const before = ctx.progress.fingerprintsBefore ?? {};
  const bad: string[] = [];
  for (const name of ctx.spec.names) {
    const cert = report.certificates.find((c) => c.name === name);
    if (!cert?.sha256 || !cert.notAfter) bad.push(`${name}: unreadable`);
    else if (cert.sha256 === before[name]) bad.push(`${name}: unchanged`);
    else {
      const stale = notFreshlyRenewed(cert.notAfter, now);
      if (stale) bad.push(`${name}: ${stale}`);
    }
  }
  return bad.length ? bad.join("; ") : null;
}

export function renewStep(spec: NodeSpec): Step {
  const { rule, version } = rowOf(spec);
  const commands = renewCommands({
    rule,
    version,
    names: spec.names,
    all: spec.all,
    kubernetesDir: spec.kubernetesDir,
    asideDir: spec.aside,
    configFile: spec.configFile,
  });
  const restore = restoreCommand(spec);
  return {
    id: "renew",
    mutates: true,
    shown: {
      id: "renew",
      title: `renew (kubeadm ${rule.label})`,
      run:
        rule.method === "renew"
          ? `kubeadm ${version.text} re-issues ${spec.all ? "every certificate it manages" : spec.names.join(", ")} in place, ` +
            "keeping subject and SANs."
          : `kubeadm ${version.text} only creates missing pairs: export the cluster's kubeadm configuration ` +
            "(for the same SANs and endpoints), move each old pair aside, re-create it with --config.",
      commands,
      verify:
        `Each renewed file is readable, signed by its CA, with a new fingerprint and notAfter about ` +
        `${RENEWED_LEAF_VALIDITY_DAYS} days away` +
        (rule.method === "phase"
          ? `; the exported configuration is not empty and its certificatesDir is ${spec.kubernetesDir}/pki.`
          : "."),
      undo: "Restore the backup over the kubernetes directory.",
      undoCommands: [restore],
    },
    async run(ctx) {
      // kubeadm gives its files their modes (certificates 0644, keys 0600) under the usual umask; the
      // private 077 would make a re-created certificate unreadable to a scan without sudo.
      const out = await ctx.exec(["umask 022", ...commands.map((c) => c.line)].join("\n"), "renew");
      const problem = renewProblems(await ctx.rescan(), ctx);
      if (problem) throw new StepFailure(`the renew did not take effect: ${problem}`, out);
      return out;
    },
    holds: async (ctx) =>
      ctx.progress.fingerprintsBefore !== undefined && renewProblems(await ctx.rescan(), ctx) === null,
    async undo(ctx) {
      const parked = rule.method === "phase" ? parkedPairs(spec) : [];
      const out = await ctx.exec(
        [restore.line, ...parked.map((p) => `rm -f ${quote(p)}`)].join("\n"),
        "restoring the backup",
        { reconnect: true },
      );
      return `${out}\nrestored ${spec.backup}`;
    },
  };
}
