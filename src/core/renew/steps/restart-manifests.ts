// Restart by static pod manifests: park them (the kubelet stops the pods), wait until no container
// of theirs runs in kube-system, put them back, restart the kubelet. The wait watches the runtime
// preflight found (crictl, else docker); the node puts the manifests back by itself if certs-bot is gone.
import { command } from "../../kubeadm/versions.js";
import { parkCommands, parkUntil, putBackCommands } from "./parking.js";
import { componentList, restartKubelet, restartStep, type RestartKind } from "./restart.js";
import { StepFailure, WAITS, type StepContext } from "./step.js";

/** Exactly kubeadm's containers: their names in kube-system, nothing that merely contains them. */
function runningScript(ctx: StepContext): string {
  const { components } = ctx.spec;
  if (ctx.progress.runtime === "docker")
    return `docker ps -q ${components.map((c) => `--filter 'name=^k8s_${c}_${c}-[^_]+_kube-system_'`).join(" ")}`;
  return `crictl ps -q --label io.kubernetes.pod.namespace=kube-system --name '^(${components.join("|")})$'`;
}

async function containersGone(ctx: StepContext): Promise<boolean> {
  const { code, out } = await ctx.probeExec(runningScript(ctx));
  if (code !== 0)
    throw new StepFailure(
      `${ctx.progress.runtime ?? "crictl"} failed while waiting (exit ${code ?? "signal"})`,
      out,
    );
  return out.trim() === "";
}

export const manifestsRestart: RestartKind = {
  toolChecks: [command({ code: "crictl info >/dev/null 2>&1 || docker info" })],
  async runtime(ctx) {
    return (await ctx.probeExec("crictl info >/dev/null 2>&1")).code === 0 ? "crictl" : "docker";
  },
  step(spec) {
    const park = parkCommands(spec);
    return restartStep(
      spec,
      {
        title: "restart the control plane (static pod manifests)",
        run:
          `Move the static pod manifests of ${componentList(spec)} out of manifests/, wait (at most ` +
          `${WAITS.containersGoneSeconds} s) until the kubelet has stopped their containers, move them back, ` +
          "then restart the kubelet. Whatever fails meanwhile, the node itself moves the manifests back.",
        commands: [...park, ...putBackCommands(spec), restartKubelet],
        wait: {
          before: park.length,
          what: `until no container of ${componentList(spec)} runs in kube-system (at most ${WAITS.containersGoneSeconds} s)`,
        },
        verify: `Every manifest is back in manifests/, the kubelet is active, and ${componentList(spec)} run again.`,
      },
      async (ctx) => {
        const gone = await parkUntil(
          ctx,
          `for ${componentList(spec)} to stop`,
          ctx.waits.containersGoneMs,
          () => containersGone(ctx),
        );
        if (!gone)
          throw new StepFailure(
            `${componentList(spec)} did not stop within ${ctx.waits.containersGoneMs} ms; the manifests are back`,
          );
        return `${await ctx.exec(restartKubelet.line, "restarting the kubelet")}\nstopped and put back`;
      },
    );
  },
};
