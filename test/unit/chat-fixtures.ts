// Report fixtures shared by the chat unit tests: a certificate judged by its days left (30/7-day
// thresholds) and a one-node cluster scan around it.
import type { CertificateReport, NodeReport, StoredScan } from "../../src/core/report/types.js";

const DAY = 86_400_000;

export function cert(name: string, daysLeft: number, now: Date): CertificateReport {
  return {
    name,
    path: `/etc/kubernetes/pki/${name}.crt`,
    kind: "certificate",
    status: daysLeft < 0 ? "expired" : daysLeft <= 7 ? "critical" : daysLeft <= 30 ? "warning" : "ok",
    ca: "ca",
    subject: null,
    issuer: null,
    serialNumber: null,
    notBefore: new Date(now.getTime() - 300 * DAY),
    notAfter: new Date(now.getTime() + daysLeft * DAY),
    daysLeft,
    isCA: false,
    sans: [],
    keyAlgorithm: null,
    sha256: name,
  };
}

export const node = (name: string, certs: CertificateReport[]): NodeReport => ({
  name,
  host: name,
  port: 22,
  status: certs.some((c) => c.status === "warning") ? "warning" : "ok",
  reachable: true,
  certificates: certs,
  findings: [],
});

/** `cluster` scanned two hours before `now`, its node m1 holding one apiserver certificate. */
export function scanWith(cluster: string, daysLeft: number, now: Date): StoredScan {
  const certificate = cert("apiserver", daysLeft, now);
  const m1 = { ...node("m1", [certificate]), status: certificate.status };
  return {
    cluster,
    scannedAt: new Date(now.getTime() - 2 * 3_600_000),
    durationMs: 1200,
    report: { name: cluster, status: certificate.status, nodes: [m1] },
  };
}
