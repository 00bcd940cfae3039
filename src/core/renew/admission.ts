// One active request per cluster: whether a new request may take a cluster from the request that
// holds it now. The Redis records, the console's memory records and the desk's early check all ask
// this, so every surface admits and refuses alike; the desk words a refusal (renderClusterHeld).
import { isDue, isEnded, type RenewalRequest } from "./approval.js";
import type { CreateResult } from "./ports.js";

type Admission =
  /** Nobody holds the cluster: no holder, or one that has ended (a lock still naming it is stale). */
  | { verdict: "free" }
  /** The holder is pending past its approval window: expire it first, then the cluster is free. */
  | { verdict: "expire"; holder: RenewalRequest }
  /** The holder is pending, approved or running: the new request is refused. */
  | { verdict: "held"; holder: RenewalRequest };

/** The rule, given the cluster's holder as found (null when none or gone) and the time of the request. */
export function admission(holder: RenewalRequest | null, now: Date): Admission {
  if (!holder || isEnded(holder)) return { verdict: "free" };
  return isDue(holder, now) ? { verdict: "expire", holder } : { verdict: "held", holder };
}

/** The refusal of a held cluster, as every records implementation returns it: data the desk words. */
export const heldBy = (holder: RenewalRequest, expired: RenewalRequest[]): CreateResult => ({
  ok: false,
  active: holder,
  expired,
});
