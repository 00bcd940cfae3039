// A node's steps, in order, from its spec: what the plan shows, what the executor runs, what a
// resumed run checks and what a rollback undoes all read these same objects. kubelet.conf and the
// kubeconfig copies are steps only where the spec has them, after the renew (the copies need the
// renewed admin.conf) and before the restart and verify (a failure there rolls them back too).
import { backupStep } from "./backup.js";
import { kubeletConfStep } from "./kubelet-conf.js";
import { preflightStep } from "./preflight.js";
import { refreshKubeconfigsStep } from "./refresh-kubeconfigs.js";
import { renewStep } from "./renew.js";
import { RESTARTS } from "./restarts.js";
import type { NodeSpec, Step } from "./step.js";
import { verifyStep } from "./verify.js";

export function stepsFor(spec: NodeSpec): Step[] {
  return [
    preflightStep(spec),
    backupStep(spec),
    renewStep(spec),
    ...(spec.kubeletConf ? [kubeletConfStep(spec)] : []),
    ...(spec.refreshKubeconfigs.length ? [refreshKubeconfigsStep(spec)] : []),
    RESTARTS[spec.restart].step(spec),
    verifyStep(spec),
  ];
}
