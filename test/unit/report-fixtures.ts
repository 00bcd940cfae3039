// Report fixtures shared by the digest, chat and alert unit tests: a certificate as a judged report says
// it, by status and days left around a fixed `now`.
import type { CertificateReport, Finding, Status } from "../../src/core/report/types.js";

const DAY = 86_400_000;

export function certificateAt(
  now: Date,
  name: string,
  status: Status,
  daysLeft: number,
  error?: string,
): CertificateReport {
  const unknown = status === "missing" || status === "unreadable";
  return {
    name,
    path: `/etc/kubernetes/pki/${name}.crt`,
    kind: "certificate",
    status: status === "unreachable" ? "ok" : status,
    ca: name === "ca" ? null : "ca",
    subject: null,
    issuer: null,
    serialNumber: null,
    notBefore: unknown ? null : new Date(now.getTime() + (status === "not-yet-valid" ? 1 : -300) * DAY),
    notAfter: unknown ? null : new Date(now.getTime() + daysLeft * DAY),
    daysLeft: unknown ? null : daysLeft,
    isCA: name === "ca",
    sans: [],
    keyAlgorithm: null,
    sha256: unknown ? null : `${name}-${daysLeft}`,
    ...(error ? { error } : {}),
  };
}

/** What the judge finds when the apiserver serves another certificate than the file on disk. */
export const APISERVER_DRIFT: Finding = {
  code: "apiserver-drift",
  severity: "critical",
  certificate: "apiserver",
  message: "The apiserver serves a different certificate than apiserver.crt on disk.",
  advice: "Restart the control-plane static pods.",
};
