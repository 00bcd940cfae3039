// What a scan reports. These records are the JSON contract of `certs-bot scan --output json` (dates
// become ISO-8601 UTC strings there) and what the store, the digest and the Slack views consume.
import type { NodeRole } from "../../config/node-roles.js";

/**
 * `superseded`: a file the node no longer uses because a newer one replaced it (kubelet.crt once the
 * kubelet serves `kubelet-server-current.pem`); reported, never warned about.
 */
export type CertificateStatus =
  "ok" | "superseded" | "warning" | "critical" | "expired" | "not-yet-valid" | "unreadable" | "missing";

export type Status = CertificateStatus | "unreachable";

/**
 * Worst last. Time-bound statuses outrank the unknowns: an expired certificate is a known outage,
 * while an unreachable node or an unreadable file is something to look at.
 */
export const STATUS_ORDER: readonly Status[] = [
  "superseded",
  "ok",
  "warning",
  "missing",
  "unreadable",
  "unreachable",
  "critical",
  "not-yet-valid",
  "expired",
];

/** Position in STATUS_ORDER: higher is worse. */
export const severity = (status: Status): number => STATUS_ORDER.indexOf(status);

/** Nothing to do about it: fine, or a file the node no longer uses. */
export const isFine = (status: Status): boolean => status === "ok" || status === "superseded";

/** A node or cluster is ok at best: a superseded file makes nothing worse, nor itself a status. */
export function worstOf(statuses: Iterable<Status>): Status {
  let worst = STATUS_ORDER.indexOf("ok");
  for (const status of statuses) worst = Math.max(worst, STATUS_ORDER.indexOf(status));
  return STATUS_ORDER[worst] ?? "ok";
}

export interface CertificateReport {
  name: string;
  path: string;
  kind: "certificate" | "kubeconfig";
  status: CertificateStatus;
  /** Catalogue name of the CA expected to sign it (null for CAs and self-signed files). */
  ca: string | null;
  subject: string | null;
  issuer: string | null;
  serialNumber: string | null;
  notBefore: Date | null;
  notAfter: Date | null;
  daysLeft: number | null;
  isCA: boolean;
  sans: string[];
  keyAlgorithm: string | null;
  sha256: string | null;
  error?: string;
}

export type FindingCode =
  | "kubelet-conf-embedded"
  | "ca-expires-before-renewal"
  | "not-signed-by-ca"
  | "apiserver-drift"
  | "apiserver-unreachable";

export interface Finding {
  code: FindingCode;
  severity: "info" | "warning" | "critical";
  /** The certificate it is about, when it is about one. */
  certificate?: string;
  message: string;
  advice: string;
}

/** What the apiserver on the node actually serves, seen by a TLS handshake from certs-bot. */
export interface ServedCertificate {
  port: number;
  reachable: boolean;
  sha256?: string;
  subject?: string;
  notAfter?: Date;
  daysLeft?: number;
  status?: CertificateStatus;
  error?: string;
}

export interface NodeReport {
  name: string;
  host: string;
  port: number;
  /** What the scan read there (config's `role`); absent only in scans stored before roles: control-plane. */
  role?: NodeRole;
  status: Status;
  reachable: boolean;
  error?: string;
  kubeadmVersion?: string;
  certificates: CertificateReport[];
  findings: Finding[];
  apiserver?: ServedCertificate;
}

/**
 * Does the node's apiserver serve another certificate than apiserver.crt on disk (renewed but not
 * restarted)? The judge decides it once, as the `apiserver-drift` finding; every view reads that.
 */
export const hasApiserverDrift = (node: NodeReport): boolean =>
  node.findings.some((f) => f.code === "apiserver-drift");

/** A node whose certificates kubeadm manages and certs-bot renews (the default role). */
export const isControlPlane = (node: Pick<NodeReport, "role">): boolean =>
  node.role === undefined || node.role === "control-plane";

export interface ClusterReport {
  name: string;
  status: Status;
  nodes: NodeReport[];
}

export interface ScanReport {
  scannedAt: Date;
  clusters: ClusterReport[];
}

/** A cluster's latest scan as kept (the store) and shown (`/certs status`, App Home). */
export interface StoredScan {
  cluster: string;
  scannedAt: Date;
  durationMs: number;
  report: ClusterReport;
}
