// kubelet.conf: the kubelet's own credential, which kubeadm's renew never touches (core/kubeadm/
// kubelet-conf.ts says how each version repairs it). Before 1.17 the old file is moved aside and that
// version's kubeadm writes a new one, with a one-year certificate for the node's name; from 1.17 its
// client-certificate and client-key are pointed at the kubelet's rotating kubelet-client-current.pem.
// Then the kubelet restarts to load it. Its postcondition: a rescan finds the new credential valid
// (new, about a year ahead, for this node and signed by its CA; or the rotating file) and the kubelet
// active. Its undo puts the kept original back (with `mv` only) and restarts the kubelet.
import { catalogueEntry, KUBELET_KUBECONFIG } from "../../kubeadm/catalogue.js";
import {
  keptKubeletConf,
  kubeletConfCommands,
  nodeNameIn,
  type KubeletConfChoice,
} from "../../kubeadm/kubelet-conf.js";
import { command } from "../../kubeadm/versions.js";
import type { NodeReport } from "../../report/types.js";
import { notFreshlyRenewed, RENEWED_LEAF_VALIDITY_DAYS } from "../../scan/judge.js";
import { kubeletActive, restartKubelet } from "./restart.js";
import { quote, StepFailure, type NodeSpec, type Step, type StepContext } from "./step.js";

/** kubelet-client-current.pem is something to point at while it is in its validity period. */
const VALID = new Set(["ok", "warning", "critical"]);

const live = (spec: NodeSpec): string => `${spec.kubernetesDir}/${KUBELET_KUBECONFIG}`;
const pemOf = (spec: NodeSpec): string => `${spec.kubeletPkiDir}/${catalogueEntry("kubelet-client").path}`;

function choiceOf(spec: NodeSpec): KubeletConfChoice {
  if (!spec.kubeletConf) throw new StepFailure("the plan repairs no kubelet.conf on this node");
  return spec.kubeletConf;
}

/** Why the rescan does not show the repaired kubelet.conf, or null when it does. */
function repairProblem(report: NodeReport, ctx: StepContext): string | null {
  if (!report.reachable) return `rescan failed: ${report.error ?? "unreachable"}`;
  const choice = choiceOf(ctx.spec);
  const unsigned = (name: string) =>
    report.findings.some((f) => f.code === "not-signed-by-ca" && f.certificate === name);
  if (choice.repair === "repoint") {
    if (report.findings.some((f) => f.code === "kubelet-conf-embedded"))
      return "kubelet.conf still embeds its client certificate";
    if (report.certificates.some((c) => c.name === KUBELET_KUBECONFIG))
      return `kubelet.conf does not point at ${pemOf(ctx.spec)}`;
    const client = report.certificates.find((c) => c.name === "kubelet-client");
    if (!client || !VALID.has(client.status) || unsigned("kubelet-client"))
      return `${pemOf(ctx.spec)} is ${client?.status ?? "missing"}${unsigned("kubelet-client") ? " and not signed by this node's CA" : ""}`;
    return null;
  }
  const conf = report.certificates.find((c) => c.name === KUBELET_KUBECONFIG);
  if (!conf?.sha256 || !conf.notAfter) return "kubelet.conf: no readable embedded certificate";
  if (conf.sha256 === ctx.progress.fingerprintsBefore?.[KUBELET_KUBECONFIG]) return "kubelet.conf: unchanged";
  const stale = notFreshlyRenewed(conf.notAfter, ctx.now());
  if (stale) return `kubelet.conf: ${stale}`;
  if (nodeNameIn(conf.subject) !== choice.nodeName)
    return `kubelet.conf: its subject is ${conf.subject ?? "empty"}, not system:node:${choice.nodeName}`;
  if (unsigned(KUBELET_KUBECONFIG)) return "kubelet.conf: not signed by this node's CA";
  return null;
}

/** The new kubelet.conf names the API server the old one named (sed: the first `server:` line). */
const sameServerScript = (spec: NodeSpec): string => {
  const server = (file: string) => `$(sed -n 's|^ *server: *||p' ${quote(file)} | head -n 1)`;
  return `[ "${server(live(spec))}" = "${server(keptKubeletConf(spec.aside))}" ]`;
};

async function repaired(ctx: StepContext): Promise<string | null> {
  if ((await ctx.probeExec(kubeletActive.line)).code !== 0) return "the kubelet is not active";
  if ((await ctx.probeExec(sameServerScript(ctx.spec))).code !== 0)
    return "the new kubelet.conf names another API server than the old one";
  return repairProblem(await ctx.rescan(), ctx);
}

function shownRun(spec: NodeSpec, choice: KubeletConfChoice): string {
  if (choice.repair === "repoint")
    return (
      `kubelet.conf embeds a client certificate that never rotates: keep it aside, point its ` +
      `client-certificate and client-key at ${pemOf(spec)} (which the kubelet rotates), restart the kubelet.`
    );
  return (
    `kubeadm ${spec.kubeadmVersion} embeds a one-year client certificate in kubelet.conf and never renews ` +
    `it: move it aside, let kubeadm write a new one for node ${choice.nodeName} (the API server the old ` +
    "one named), restart the kubelet."
  );
}

export function kubeletConfStep(spec: NodeSpec): Step {
  const choice = choiceOf(spec);
  const commands = [
    ...kubeletConfCommands(choice, spec.kubeadmVersion, {
      kubernetesDir: spec.kubernetesDir,
      asideDir: spec.aside,
      configFile: spec.configFile,
      pem: pemOf(spec),
    }),
    restartKubelet,
  ];
  const kept = keptKubeletConf(spec.aside);
  const putBack = command("mv", { path: kept }, { path: live(spec) });
  return {
    id: "kubelet-conf",
    mutates: true,
    shown: {
      id: "kubelet-conf",
      title:
        choice.repair === "repoint"
          ? "kubelet.conf: point it at the rotating client certificate"
          : "kubelet.conf: regenerate it",
      run: shownRun(spec, choice),
      commands,
      verify:
        (choice.repair === "repoint"
          ? `A rescan finds kubelet.conf pointing at ${pemOf(spec)}, which is valid and signed by the node's CA`
          : `A rescan finds a new certificate in kubelet.conf, valid for about ${RENEWED_LEAF_VALIDITY_DAYS} days, ` +
            `for system:node:${choice.nodeName} and signed by the node's CA`) +
        "; it names the same API server as before; the kubelet is active.",
      undo: `Move the kept kubelet.conf back (${kept}) and restart the kubelet.`,
      undoCommands: [putBack, restartKubelet],
    },
    async run(ctx) {
      const out = await ctx.exec(commands.map((c) => c.line).join("\n"), "kubelet.conf");
      const problem = await repaired(ctx);
      if (problem) throw new StepFailure(`kubelet.conf was not repaired: ${problem}`, out);
      return `${out}\nkubelet.conf repaired; the kubelet is active`;
    },
    holds: async (ctx) => ctx.progress.fingerprintsBefore !== undefined && (await repaired(ctx)) === null,
    async undo(ctx) {
      const out = await ctx.exec(
        [`if [ -e ${quote(kept)} ]; then ${putBack.line}; fi`, restartKubelet.line].join("\n"),
        "putting kubelet.conf back",
        { reconnect: true },
      );
      if ((await ctx.probeExec(`[ -f ${quote(live(spec))} ]`)).code !== 0)
        throw new StepFailure(`${live(spec)} is missing after putting it back`, out);
      return `${out}\nkubelet.conf as before; the kubelet restarted`;
    },
  };
}
