// `certs-bot scan --output kubeadm-json`: each node as `kubeadm certs check-expiration -o json`
// prints it (kubeadm 1.30+, CertificateExpirationInfo of output.kubeadm.k8s.io/v1alpha3), so what
// reads kubeadm's output reads certs-bot's. Pure.
//
// What kubeadm lists, and how, follows its renewal manager and printer:
// - certificates: the leaves `kubeadm certs renew` knows, kubeconfigs by file name; CAs: the CAs
//   that sign them. The kubelet's own files are not listed. Each list is sorted by name.
// - the names the node's kubeadm version knows (super-admin.conf from 1.29, etcd from 1.10); a node
//   whose version is unknown is shown as the newest kubeadm would show it;
// - etcd-ca and the certificates it signs only with a local etcd (kubeadm leaves them out for an
//   external one);
// - a listed file that is absent is `missing: true` with a null expirationDate, residualTime 0 and
//   no caName, as kubeadm prints it (super-admin.conf on a node that joined, too); a file certs-bot
//   could not read is shown the same way, since kubeadm could not read it either;
// - residualTime: whole seconds from the scan to notAfter, truncated toward zero (negative once
//   expired); expirationDate: RFC 3339 in UTC, to the second; caName: absent for a CA;
// - externallyManaged is false: certs-bot does not look at CA keys;
// - an etcd or worker node has empty lists: kubeadm lists only a control-plane node's files (a worker's
//   are the kubelet's own, an etcd node's kubespray's); a List's item says its role in an annotation.
// Indented by four spaces, as kubectl's and kubeadm's JSON printer does.
import {
  CATALOGUE,
  findEntry,
  isRenewable,
  type CatalogueEntry,
  type RenewableName,
} from "../core/kubeadm/catalogue.js";
import { knows, ruleFor } from "../core/kubeadm/versions.js";
import {
  isControlPlane,
  type CertificateReport,
  type NodeReport,
  type ScanReport,
} from "../core/report/types.js";

export const KUBEADM_OUTPUT_API_VERSION = "output.kubeadm.k8s.io/v1alpha3";

/** The annotations that say which cluster and node an item of a List is. */
export const ANNOTATIONS = {
  cluster: "certs-bot.io/cluster",
  node: "certs-bot.io/node",
  /** Only on a node that could not be scanned: why (its lists are empty). */
  error: "certs-bot.io/error",
  /** Only on an etcd or worker node: its role (its lists are empty). */
  role: "certs-bot.io/role",
} as const;

/** One entry of `certificates` or `certificateAuthorities`, keys in kubeadm's order. */
export interface KubeadmCertificate {
  name: string;
  expirationDate: string | null;
  residualTime: number;
  externallyManaged: boolean;
  caName?: string;
  missing: boolean;
}

export interface CertificateExpirationInfo {
  kind: "CertificateExpirationInfo";
  apiVersion: typeof KUBEADM_OUTPUT_API_VERSION;
  metadata?: { annotations: Record<string, string> };
  certificates: KubeadmCertificate[];
  certificateAuthorities: KubeadmCertificate[];
}

/** Go's time.RFC3339 of a UTC time: no fraction of a second. */
const rfc3339 = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, "Z");

const byName = (a: { name: string }, b: { name: string }): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/** A node whose version certs-bot cannot read counts as the newest kubeadm. */
function versionKnows(node: NodeReport, name: RenewableName): boolean {
  const lookup = ruleFor(node.kubeadmVersion);
  return !lookup.ok || knows(lookup.rule, lookup.version, name);
}

/**
 * A local etcd: the scan reported a CA only a local etcd has (read, or missing because pki/etcd/
 * exists). With an external etcd kubeadm lists neither it nor what it signs.
 */
const hasLocalEtcd = (node: NodeReport): boolean =>
  node.certificates.some((cert) => {
    const entry = findEntry(cert.name);
    return entry?.isCA === true && entry.required === "local-etcd";
  });

function listed(node: NodeReport): CatalogueEntry[] {
  const localEtcd = hasLocalEtcd(node);
  return CATALOGUE.filter(
    (entry) =>
      (entry.isCA || (isRenewable(entry.name) && versionKnows(node, entry.name))) &&
      (entry.required !== "local-etcd" || localEtcd),
  );
}

function kubeadmCertificate(
  entry: CatalogueEntry,
  cert: CertificateReport | undefined,
  now: Date,
): KubeadmCertificate {
  if (!cert?.notAfter) {
    return {
      name: entry.name,
      expirationDate: null,
      residualTime: 0,
      externallyManaged: false,
      missing: true,
    };
  }
  return {
    name: entry.name,
    expirationDate: rfc3339(cert.notAfter),
    residualTime: Math.trunc((cert.notAfter.getTime() - now.getTime()) / 1000) || 0,
    externallyManaged: false,
    ...(entry.ca ? { caName: entry.ca } : {}),
    missing: false,
  };
}

/** The node as kubeadm on it would print it, at `now` (the scan). Empty lists for a node not scanned, or not a control-plane node. */
export function expirationInfo(node: NodeReport, now: Date): CertificateExpirationInfo {
  const entries = node.reachable && isControlPlane(node) ? listed(node) : [];
  const shown = (cas: boolean) =>
    entries
      .filter((entry) => entry.isCA === cas)
      .map((entry) =>
        kubeadmCertificate(
          entry,
          node.certificates.find((c) => c.name === entry.name),
          now,
        ),
      )
      .sort(byName);
  return {
    kind: "CertificateExpirationInfo",
    apiVersion: KUBEADM_OUTPUT_API_VERSION,
    certificates: shown(false),
    certificateAuthorities: shown(true),
  };
}

/** One node: its bare CertificateExpirationInfo. Several: a List, each item annotated with its cluster and node. */
export function renderKubeadmJson(report: ScanReport): string {
  const nodes = report.clusters.flatMap((cluster) => cluster.nodes.map((node) => ({ cluster, node })));
  if (nodes.length === 1) return JSON.stringify(expirationInfo(nodes[0]!.node, report.scannedAt), null, 4);
  const items = nodes.map(({ cluster, node }): CertificateExpirationInfo => {
    const { kind, apiVersion, certificates, certificateAuthorities } = expirationInfo(node, report.scannedAt);
    const annotations: Record<string, string> = {
      [ANNOTATIONS.cluster]: cluster.name,
      [ANNOTATIONS.node]: node.name,
      ...(node.reachable ? {} : { [ANNOTATIONS.error]: node.error ?? "not scanned" }),
      ...(isControlPlane(node) ? {} : { [ANNOTATIONS.role]: node.role! }),
    };
    return { kind, apiVersion, metadata: { annotations }, certificates, certificateAuthorities };
  });
  return JSON.stringify({ kind: "List", apiVersion: "v1", items }, null, 4);
}
