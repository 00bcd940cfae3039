// What is worst about a cluster, in one place for every view that names it (the digest line,
// `/certs list`, a finished scan).
import {
  hasApiserverDrift,
  isFine,
  severity,
  worstOf,
  type CertificateReport,
  type ClusterReport,
  type Status,
} from "../report/types.js";
import { SERVED, alertKey } from "./state.js";

export interface Concern {
  status: Status;
  /** `node/certificate`, or `node` for a node that could not be scanned. */
  label: string;
  notBefore: Date | null;
  notAfter: Date | null;
  error?: string;
}

/**
 * A report's certificates and unreachable nodes, worst first (status, then the soonest expiry,
 * then the label). The apiserver's served certificate counts when the judge found it drifted from
 * the file (apiserver-drift). `includeOk` keeps healthy certificates, so a cluster that is fine still shows its next expiry.
 */
export function rankConcerns(
  report: ClusterReport,
  { includeOk }: { includeOk: boolean },
): readonly Concern[] {
  // Reports are never changed in place (the store's cache hands the same one to every command), so
  // a ranking is kept with its report: `/certs status` and `/certs list` rank nothing twice.
  const memo = includeOk ? RANKED_WITH_OK : RANKED;
  let ranked = memo.get(report);
  if (!ranked) {
    ranked = Object.freeze(rankAll(report, includeOk));
    memo.set(report, ranked);
  }
  return ranked;
}

const RANKED = new WeakMap<ClusterReport, readonly Concern[]>();
const RANKED_WITH_OK = new WeakMap<ClusterReport, readonly Concern[]>();

function rankAll(report: ClusterReport, includeOk: boolean): Concern[] {
  const found: Concern[] = [];
  for (const node of report.nodes) {
    if (!node.reachable) {
      found.push({
        status: "unreachable",
        label: node.name,
        notBefore: null,
        notAfter: null,
        ...(node.error ? { error: node.error } : {}),
      });
      continue;
    }
    for (const cert of node.certificates) {
      if (isFine(cert.status) && !includeOk) continue;
      found.push({
        status: cert.status,
        label: `${node.name}/${cert.name}`,
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
        ...(cert.error ? { error: cert.error } : {}),
      });
    }
    const served = node.apiserver;
    if (served?.status && served.status !== "ok" && hasApiserverDrift(node)) {
      found.push({
        status: served.status,
        label: alertKey(node.name, SERVED),
        notBefore: null,
        notAfter: served.notAfter ?? null,
      });
    }
  }
  const rank = (c: Concern): Rank => ({ status: c.status, notAfter: c.notAfter, name: c.label });
  return found.sort((a, b) => worstFirst(rank(a), rank(b)));
}

/** A cluster in a list: its worst status and concern; a null status when it was never scanned. */
/** A cluster's status as every view shows it: its own, its nodes', and its worst concern's. */
export function clusterStatus(report: ClusterReport, worst: Concern | undefined): Status {
  return worstOf([report.status, ...report.nodes.map((n) => n.status), ...(worst ? [worst.status] : [])]);
}

export interface RankedCluster {
  name: string;
  status: Status | null;
  worst?: Concern;
}

/** Clusters as every list shows them: worst first, as rankConcerns; never-scanned ones last, by name. */
export function compareClusters(a: RankedCluster, b: RankedCluster): number {
  if (a.status === null || b.status === null) {
    return (a.status === null ? 1 : 0) - (b.status === null ? 1 : 0) || a.name.localeCompare(b.name);
  }
  return worstFirst(
    { status: a.status, notAfter: a.worst?.notAfter, name: a.name },
    { status: b.status, notAfter: b.worst?.notAfter, name: b.name },
  );
}

/** A node's certificates as `/certs status` lists them: worst first, as rankConcerns. */
export const compareCertificates = (a: CertificateReport, b: CertificateReport): number => worstFirst(a, b);

interface Rank {
  status: Status;
  notAfter: Date | null | undefined;
  name: string;
}

/** The one worst-first order: STATUS_ORDER, then the soonest expiry (none: last), then the name. */
function worstFirst(a: Rank, b: Rank): number {
  return (
    severity(b.status) - severity(a.status) ||
    (a.notAfter?.getTime() ?? Infinity) - (b.notAfter?.getTime() ?? Infinity) ||
    a.name.localeCompare(b.name)
  );
}
