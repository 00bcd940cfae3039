// The restart strategies, one module each; adding one is a new file and a line here.
import { crictlRestart } from "./restart-crictl.js";
import { dockerRestart } from "./restart-docker.js";
import { manifestsRestart } from "./restart-manifests.js";
import type { RestartKind } from "./restart.js";
import type { RestartStrategy } from "./step.js";

export const RESTARTS: Readonly<Record<RestartStrategy, RestartKind>> = {
  manifests: manifestsRestart,
  crictl: crictlRestart,
  docker: dockerRestart,
};
