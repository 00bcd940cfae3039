// Restart with crictl: remove kubeadm's static pods (in kube-system, by their `component` label; the
// kubelet re-creates them), then restart the kubelet.
import { command } from "../../kubeadm/versions.js";
import { componentList, restartKubelet, restartStep, type RestartKind } from "./restart.js";

export const crictlRestart: RestartKind = {
  toolChecks: [command("crictl", "info")],
  step(spec) {
    const commands = [
      ...spec.components.flatMap((c) => [
        command({ code: `pods=$(crictl pods -q --namespace kube-system --label component=${c})` }),
        command({ code: '[ -z "$pods" ] || crictl rmp -f $pods' }),
      ]),
      restartKubelet,
    ];
    return restartStep(
      spec,
      {
        title: "restart the control plane (crictl)",
        run:
          `Remove the pods of ${componentList(spec)} (kube-system, by their component label) with crictl; the ` +
          "kubelet re-creates static pods. Then restart the kubelet.",
        commands,
        verify: `The kubelet is active and ${componentList(spec)} run again in new pods.`,
      },
      (ctx) => ctx.exec(commands.map((c) => c.line).join("\n"), "restart (crictl)"),
    );
  },
};
