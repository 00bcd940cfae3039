// Wraps scan dependencies so every node's raw output is seen by the caller: the private-key leak
// check and the benchmark's replay both need exactly what a node sent.
import type { NodeConfig } from "../../src/config/load.js";
import type { ScanDependencies } from "../../src/adapters/nodes/scan.js";
import type { ExecResult } from "../../src/core/transport/transport.js";

export function recordOutputs(
  deps: ScanDependencies,
  record: (node: NodeConfig, result: ExecResult) => void,
): ScanDependencies {
  const transportFor = deps.transportFor;
  return {
    ...deps,
    transportFor: (node) => {
      const transport = transportFor(node);
      return {
        run: async (script) => {
          const result = await transport.run(script);
          record(node, result);
          return result;
        },
      };
    },
  };
}
