// Renewal policies: the requests certs-bot files itself (`renewal.policy`). Pure: which renewable
// certificates a scan finds at or past `requestWhenDaysLeft`, each named by its generation (node,
// file and serial) so one certificate gets one request however many scans and processes see it,
// and when the policy will next file (for `/certs policy`).
import type { RenewalPolicy } from "../../config/load.js";
import { isRenewable, type RenewableName } from "../kubeadm/catalogue.js";
import type { ClusterReport } from "../report/types.js";

/** Who a request filed by a policy is "requested by": no Slack user, so nobody's self-approval rule applies. */
export const POLICY_REQUESTER = "certs-bot (policy)";

const DAY_MS = 86_400_000;

/** One renewable certificate on one node, as a scan saw it. */
export interface PolicyCertificate {
  node: string;
  name: RenewableName;
  /** `node/name@serial`: a renewed certificate is a new generation, and may get its own request. */
  generation: string;
  notAfter: Date;
  daysLeft: number;
}

/** The renewable certificates with a known expiry on the report's reachable nodes, soonest first. */
function renewableCertificates(report: ClusterReport): PolicyCertificate[] {
  return report.nodes
    .flatMap((node) =>
      node.certificates.flatMap((cert) => {
        const { name, notAfter, daysLeft } = cert;
        const serial = cert.serialNumber ?? cert.sha256;
        if (!isRenewable(name) || !notAfter || daysLeft === null || !serial) return [];
        return [{ node: node.name, name, generation: `${node.name}/${name}@${serial}`, notAfter, daysLeft }];
      }),
    )
    .sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime() || a.generation.localeCompare(b.generation));
}

/** The certificates the policy asks a renewal for: `requestWhenDaysLeft` days left or fewer (expired too). */
export const dueCertificates = (report: ClusterReport, policy: RenewalPolicy): PolicyCertificate[] =>
  renewableCertificates(report).filter((c) => c.daysLeft <= policy.requestWhenDaysLeft);

/**
 * The first certificate not due yet, and from when it is (days left are whole days, truncated, so
 * "30 days left" starts 31 days before expiry); null when every one is due or none is known.
 */
export function nextDue(
  report: ClusterReport,
  policy: RenewalPolicy,
): { certificate: PolicyCertificate; dueAt: Date } | null {
  const next = renewableCertificates(report).find((c) => c.daysLeft > policy.requestWhenDaysLeft);
  if (!next) return null;
  return {
    certificate: next,
    dueAt: new Date(next.notAfter.getTime() - (policy.requestWhenDaysLeft + 1) * DAY_MS),
  };
}

/** The due certificates no request was filed for yet, given the generations filed so far. */
export const unfiled = (due: readonly PolicyCertificate[], filed: ReadonlySet<string>): PolicyCertificate[] =>
  due.filter((c) => !filed.has(c.generation));

/** `node/name` of a generation (`node/name@serial`): the certificate as warnings and commands name it. */
export const generationSubject = (generation: string): string => {
  const at = generation.lastIndexOf("@");
  return at < 0 ? generation : generation.slice(0, at);
};
