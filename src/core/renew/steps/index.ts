// A node's steps, in order, from its spec: what the plan shows, what the executor runs, what a
// resumed run checks and what a rollback undoes all read these same objects.
import { backupStep } from "./backup.js";
import { preflightStep } from "./preflight.js";
import { renewStep } from "./renew.js";
import { RESTARTS } from "./restarts.js";
import type { NodeSpec, Step } from "./step.js";
import { verifyStep } from "./verify.js";

export function stepsFor(spec: NodeSpec): Step[] {
  return [
    preflightStep(spec),
    backupStep(spec),
    renewStep(spec),
    RESTARTS[spec.restart].step(spec),
    verifyStep(spec),
  ];
}
