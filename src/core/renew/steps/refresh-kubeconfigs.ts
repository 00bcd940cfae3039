// Kubeconfig copies (renewal.refreshKubeconfigs, opt-in): after the renew, each listed file (a copy of
// admin.conf someone keeps, such as /root/.kube/config) is rewritten in place with the renewed
// admin.conf, so it keeps its owner, mode and inode. Each is first copied (`cp -p`) beside the backup,
// to <backup>.kubeconfigs/<its path>, never over an earlier copy (a resumed run keeps the original).
// A listed file that is not on the node is skipped, and preflight and this step say so; one that is
// not a regular file is refused at preflight. The undo copies the originals back.
import { catalogueEntry } from "../../kubeadm/catalogue.js";
import { command, type Command } from "../../kubeadm/versions.js";
import { quote, StepFailure, type NodeSpec, type Step, type StepContext } from "./step.js";

/** `<backupDir>/<cluster>/<node>/<timestamp>.kubeconfigs`: where the originals are kept. */
const copiesDir = (spec: NodeSpec): string => spec.backup.replace(/\.tar\.gz$/, ".kubeconfigs");
const copyOf = (spec: NodeSpec, path: string): string => `${copiesDir(spec)}${path}`;
const adminConf = (spec: NodeSpec): string => `${spec.kubernetesDir}/${catalogueEntry("admin.conf").path}`;
const parent = (path: string): string => path.slice(0, path.lastIndexOf("/"));

function refreshCommands(spec: NodeSpec): Command[] {
  const dirs = [...new Set(spec.refreshKubeconfigs.map((p) => parent(copyOf(spec, p))))];
  return [
    ...dirs.map((dir) => command("mkdir", "-p", { path: dir })),
    ...spec.refreshKubeconfigs.flatMap((path) => {
      const file = { path };
      const copy = { path: copyOf(spec, path) };
      return [
        command("[", "-e", copy, "]", "||", "[", "!", "-e", file, "]", "||", "cp", "-p", file, copy),
        command("[", "!", "-e", copy, "]", "||", "cat", { path: adminConf(spec) }, ">", file),
      ];
    }),
  ];
}

const restoreCommand = (spec: NodeSpec, path: string): Command =>
  command(
    "[",
    "!",
    "-e",
    { path: copyOf(spec, path) },
    "]",
    "||",
    "cp",
    "-p",
    { path: copyOf(spec, path) },
    {
      path,
    },
  );

type CopyState =
  | { path: string; state: "absent" }
  | { path: string; state: "not copied" }
  | { path: string; state: "copied"; same: boolean; now: string; before: string };

/** Where one listed file stands: not on the node, there but not yet copied, or copied (and how it compares). */
async function stateOf(ctx: StepContext, path: string): Promise<CopyState> {
  const copy = quote(copyOf(ctx.spec, path));
  const file = quote(path);
  const { code, out } = await ctx.probeExec(
    [
      `if [ -e ${copy} ]; then`,
      `  if cmp -s ${quote(adminConf(ctx.spec))} ${file}; then echo same; else echo differs; fi`,
      `  stat -c '%a %u:%g' ${file} ${copy}`,
      `elif [ -e ${file} ]; then echo 'not copied'; else echo absent; fi`,
    ].join("\n"),
  );
  const [first, now, before] = out.trim().split("\n");
  if (code !== 0 || !first) throw new StepFailure(`could not inspect ${path}`, out);
  if (first === "absent") return { path, state: "absent" };
  if (first === "not copied") return { path, state: "not copied" };
  return { path, state: "copied", same: first === "same", now: now ?? "?", before: before ?? "?" };
}

/** The step's output line for a file that is done, or why it is not. */
function verdict(s: CopyState): { ok: boolean; line: string } {
  if (s.state === "absent") return { ok: true, line: `${s.path}: not on this node, skipped` };
  if (s.state === "not copied") return { ok: false, line: `${s.path}: not copied nor replaced` };
  if (!s.same) return { ok: false, line: `${s.path}: differs from the renewed admin.conf` };
  if (s.now !== s.before) return { ok: false, line: `${s.path}: mode and owner ${s.now}, were ${s.before}` };
  return { ok: true, line: `${s.path}: now the renewed admin.conf (mode and owner ${s.now}, as before)` };
}

async function verdicts(ctx: StepContext): Promise<{ ok: boolean; line: string }[]> {
  const out = [];
  for (const path of ctx.spec.refreshKubeconfigs) out.push(verdict(await stateOf(ctx, path)));
  return out;
}

/** Preflight's check: each listed file is a regular file or not there (skipped). */
export async function checkKubeconfigCopies(ctx: StepContext): Promise<string> {
  const lines: string[] = [];
  for (const path of ctx.spec.refreshKubeconfigs) {
    const { out } = await ctx.probeExec(
      `if [ ! -e ${quote(path)} ]; then echo absent; elif [ -f ${quote(path)} ]; then echo file; else echo other; fi`,
    );
    const kind = out.trim();
    if (kind === "other")
      throw new StepFailure(
        `${path} (renewal.refreshKubeconfigs) is not a regular file, so certs-bot will not replace it; nothing was changed`,
      );
    lines.push(`${path}: ${kind === "file" ? "to be replaced" : "not on this node, will be skipped"}`);
  }
  return lines.join("\n");
}

export function refreshKubeconfigsStep(spec: NodeSpec): Step {
  const commands = refreshCommands(spec);
  const admin = adminConf(spec);
  return {
    id: "refresh-kubeconfigs",
    mutates: true,
    shown: {
      id: "refresh-kubeconfigs",
      title: "refresh copies of admin.conf",
      run:
        `Replace ${spec.refreshKubeconfigs.join(", ")} (renewal.refreshKubeconfigs) with the renewed ${admin}, ` +
        `in place (owner and mode kept), each first copied to ${copiesDir(spec)}; a file not on this node is skipped.`,
      commands,
      verify:
        "Each listed file that exists is byte for byte the renewed admin.conf, with its owner and mode as " +
        "before; one not on the node is still not there.",
      undo: `Copy the originals back from ${copiesDir(spec)} (cp -p).`,
      undoCommands: spec.refreshKubeconfigs.map((p) => restoreCommand(spec, p)),
    },
    async run(ctx) {
      const out = await ctx.exec(commands.map((c) => c.line).join("\n"), "refreshing the kubeconfig copies");
      const results = await verdicts(ctx);
      const lines = results.map((r) => r.line).join("\n");
      if (results.some((r) => !r.ok))
        throw new StepFailure(`a kubeconfig copy was not refreshed: ${lines}`, out);
      return `${out}\n${lines}`;
    },
    holds: async (ctx) => (await verdicts(ctx)).every((r) => r.ok),
    async undo(ctx) {
      const out = await ctx.exec(
        spec.refreshKubeconfigs.map((p) => restoreCommand(spec, p).line).join("\n"),
        "putting the kubeconfig copies back",
        { reconnect: true },
      );
      const differing: string[] = [];
      for (const path of spec.refreshKubeconfigs) {
        const copy = quote(copyOf(spec, path));
        const { code } = await ctx.probeExec(`[ ! -e ${copy} ] || cmp -s ${copy} ${quote(path)}`);
        if (code !== 0) differing.push(path);
      }
      if (differing.length)
        throw new StepFailure(`not as before after copying back: ${differing.join(", ")}`, out);
      return `${out}\n${spec.refreshKubeconfigs.join(", ")}: as before`;
    },
  };
}
