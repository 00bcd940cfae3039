// What one scan tells about each subject of the alerts: a node, a certificate on it, and the
// certificate its apiserver serves when that is not the file on disk. Pure.
import {
  hasApiserverDrift,
  isFine,
  type CertificateReport,
  type NodeReport,
  type ServedCertificate,
  type Status,
} from "../report/types.js";
import { SERVED, alertKey } from "./state.js";

interface SeenBase {
  key: string;
  node: NodeReport;
  level: Status;
}

/** The node itself: unreachable (after UNREACHABLE_SCANS) or ok. */
export interface NodeSeen extends SeenBase {
  kind: "node";
  sha256: null;
  /** Consecutive unreachable scans. */
  streak: number;
}

/** A file of the node's catalogue, readable or not. */
export interface CertificateSeen extends SeenBase {
  kind: "certificate";
  certificate: CertificateReport;
  sha256: string | null;
}

/** What the apiserver serves: a subject of its own only while it drifts from the file and is bad. */
export interface ServedSeen extends SeenBase {
  kind: "served";
  served: ServedCertificate;
  sha256: string;
  /** Another certificate than apiserver.crt on disk (the judge's apiserver-drift finding). */
  drifted: boolean;
}

export type Seen = NodeSeen | CertificateSeen | ServedSeen;

export const nodeSeen = (node: NodeReport, streak: number): NodeSeen => ({
  key: alertKey(node.name),
  node,
  kind: "node",
  level: node.reachable ? "ok" : "unreachable",
  sha256: null,
  streak,
});

/**
 * What this scan tells about each subject of a reachable node, and whether its apiserver was
 * probed: a probe turned off means the served subject is gone, a failed one means unknown.
 */
export function seenOnNode(node: NodeReport): { seen: Seen[]; probed: boolean } {
  const seen: Seen[] = node.certificates.map((certificate) => ({
    key: alertKey(node.name, certificate.name),
    node,
    kind: "certificate",
    certificate,
    // A superseded file is not in use: nothing to warn about, and a warning about it is resolved.
    level: isFine(certificate.status) ? "ok" : certificate.status,
    sha256: certificate.sha256,
  }));
  const served = node.apiserver;
  if (served?.sha256 && served.status) {
    // The same certificate as on disk is that subject already; only a drifted one is a subject.
    const drifted = hasApiserverDrift(node);
    seen.push({
      key: alertKey(node.name, SERVED),
      node,
      kind: "served",
      served,
      level: drifted ? served.status : "ok",
      sha256: served.sha256,
      drifted,
    });
  }
  return { seen, probed: node.apiserver === undefined || Boolean(served?.sha256) };
}
