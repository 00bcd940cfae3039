// Restart with docker (dockershim nodes): stop the containers kubeadm's static pods run, found by
// dockershim's exact names k8s_<container>_<pod>-<node>_kube-system_…; the kubelet starts them again.
import { command } from "../../kubeadm/versions.js";
import { componentList, restartKubelet, restartStep, type RestartKind } from "./restart.js";

export const dockerRestart: RestartKind = {
  toolChecks: [command("docker", "info")],
  step(spec) {
    const commands = [
      ...spec.components.flatMap((c) => [
        command({ code: `ids=$(docker ps -q --filter 'name=^k8s_${c}_${c}-[^_]+_kube-system_')` }),
        command({ code: '[ -z "$ids" ] || docker stop $ids' }),
      ]),
      restartKubelet,
    ];
    return restartStep(
      spec,
      {
        title: "restart the control plane (docker)",
        run:
          `Stop the containers of ${componentList(spec)} (k8s_<name>_<name>-<node>_kube-system_…), then restart ` +
          "the kubelet, which starts them again.",
        commands,
        verify: `The kubelet is active and ${componentList(spec)} run again in new containers.`,
      },
      (ctx) => ctx.exec(commands.map((c) => c.line).join("\n"), "restart (docker)"),
    );
  },
};
