// Verify: the apiserver answers its health endpoint and serves the apiserver.crt on disk (when
// apiserver.probe is on), and a rescan finds every renewed certificate new and valid for about a year.
// Nothing to undo: the rollback of the steps before it is what a failed verify triggers.
import { renewProblems } from "./renew.js";
import { SERVED_BY_APISERVER } from "../../kubeadm/catalogue.js";
import { sha256Of, StepFailure, WAITS, type NodeSpec, type Step, type StepContext } from "./step.js";

/** Health answers and (when probed) the served certificate is `expected`, within `ms`. */
export async function waitServing(ctx: StepContext, expected: string | null, ms: number): Promise<string> {
  const { spec } = ctx;
  const seen: { served: string | null; ready: boolean } = { served: null, ready: false };
  try {
    await ctx.waitFor(`for ${spec.healthUrl} to answer`, ms, async () => {
      seen.ready = await ctx.healthy();
      if (!seen.ready) return false;
      if (!spec.probeServed) return true;
      seen.served = await ctx.served();
      return expected === null || seen.served === expected;
    });
  } catch (err) {
    if (!seen.ready) throw err;
    throw new StepFailure(
      `the apiserver serves ${seen.served?.slice(0, 16) ?? "nothing"}…, not the expected ${expected?.slice(0, 16)}…`,
    );
  }
  const path = new URL(spec.healthUrl).pathname;
  return spec.probeServed ? `${path} ok; serving sha256 ${seen.served ?? "?"}` : `${path} ok`;
}

export function verifyStep(spec: NodeSpec): Step {
  const health = new URL(spec.healthUrl).pathname;
  const apiserverRenewed = spec.names.includes(SERVED_BY_APISERVER);
  const served = !spec.probeServed
    ? "The served certificate is not checked: apiserver.probe is false for this node."
    : apiserverRenewed
      ? "The certificate served is the new apiserver.crt (a new fingerprint, not the one served before): a " +
        "renewed file with a process still serving the old one is the trap."
      : "The certificate served is apiserver.crt on disk (no drift).";
  return {
    id: "verify",
    mutates: false,
    shown: {
      id: "verify",
      title: "verify",
      run:
        `Wait (at most ${WAITS.readySeconds} s) until ${spec.healthUrl} answers, check what the apiserver serves, ` +
        "then rescan the node.",
      commands: [],
      verify: `${health} answers ok. ${served} The rescan shows nothing renewed still near expiry.`,
      undo: "Roll back (below).",
      undoCommands: [],
    },
    async run(ctx) {
      const expected = sha256Of(await ctx.rescan(), SERVED_BY_APISERVER); // renewed or not, what is on disk must be served
      const line = await waitServing(ctx, expected, ctx.waits.readyMs);
      if (apiserverRenewed && expected === ctx.progress.apiserverBefore)
        throw new StepFailure("apiserver.crt on disk is still the old one", line);
      const problem = renewProblems(await ctx.rescan(), ctx);
      if (problem) throw new StepFailure(`rescan: ${problem}`, line);
      return line;
    },
    holds: async () => false,
    undo: async () => "",
  };
}
