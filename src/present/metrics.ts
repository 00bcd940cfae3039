// Scans as Prometheus samples, and the gauges they fill: /metrics (adapters/http/metrics.ts) and
// `certs-bot scan --output openmetrics` (openmetrics.ts) both read SCAN_GAUGES, so their names, help
// and labels cannot drift apart. The certificate series carry x509-certificate-exporter's
// names and labels, so its alert rules and Grafana dashboard work on certs-bot unchanged:
//   x509_cert_not_after / x509_cert_not_before  seconds since the epoch
//   x509_cert_expired                            1 once not_after has passed (judged at `now`)
//   x509_read_errors                             how many watched files could not be read
// with filepath, filename, subject_CN, issuer_CN, serial_number (decimal, as Go prints it) and, for
// a kubeconfig, embedded_kind="user" (certs-bot reads its user's client certificate) and
// embedded_key (the kubeconfig user, which kubeadm names after the certificate's CN). certs-bot adds
// cluster, node, name (catalogue name) and status.
import {
  hasApiserverDrift,
  type CertificateReport,
  type NodeReport,
  type StoredScan,
} from "../core/report/types.js";

/** What the samples need of a cluster's scan: a stored one, or one the CLI just made. */
export type ScannedCluster = Pick<StoredScan, "cluster" | "scannedAt" | "report">;

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
}

export interface ScanSamples {
  notAfter: Sample[];
  notBefore: Sample[];
  expired: Sample[];
  readErrors: Sample[];
  /** Per node: 1 when the last scan reached it. */
  nodeUp: Sample[];
  /** Per node: 1 when its apiserver serves another certificate than apiserver.crt on disk. */
  apiserverDrift: Sample[];
  /** Per cluster: when its stored scan ran, seconds since the epoch. */
  lastScan: Sample[];
}

export const CERTIFICATE_LABELS = [
  "cluster",
  "node",
  "name",
  "status",
  "filepath",
  "filename",
  "subject_CN",
  "issuer_CN",
  "serial_number",
  "embedded_kind",
  "embedded_key",
] as const;

const seconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/** The CN of a distinguished name as certificates.ts writes it ("O=x, CN=y"). */
export function commonName(dn: string | null): string | undefined {
  return dn ? /(?:^|, )CN=([^,]*)/.exec(dn)?.[1] : undefined;
}

/** The serial number in decimal, as x509-certificate-exporter (Go's big.Int) prints it. */
export function decimalSerial(hex: string): string | undefined {
  return /^[0-9a-f]+$/i.test(hex) ? BigInt(`0x${hex}`).toString(10) : undefined;
}

/** Labels without the ones that have no value (Prometheus: an absent label is an empty one). */
const defined = (labels: Record<string, string | undefined>): Labels =>
  Object.fromEntries(
    Object.entries(labels).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );

function certificateLabels(cluster: string, node: string, cert: CertificateReport): Labels {
  const cn = commonName(cert.subject);
  const kubeconfig = cert.kind === "kubeconfig";
  return defined({
    cluster,
    node,
    name: cert.name,
    status: cert.status,
    filepath: cert.path,
    filename: cert.path.slice(cert.path.lastIndexOf("/") + 1),
    subject_CN: cn,
    issuer_CN: commonName(cert.issuer),
    serial_number: cert.serialNumber ? decimalSerial(cert.serialNumber) : undefined,
    embedded_kind: kubeconfig ? "user" : undefined,
    embedded_key: kubeconfig ? cn : undefined,
  });
}

function nodeSamples(cluster: string, node: NodeReport, now: Date, into: ScanSamples): void {
  const labels = { cluster, node: node.name };
  into.nodeUp.push({ labels, value: node.reachable ? 1 : 0 });
  into.apiserverDrift.push({ labels, value: hasApiserverDrift(node) ? 1 : 0 });
  let unread = 0;
  for (const cert of node.certificates) {
    if (cert.status === "unreadable" || cert.status === "missing") unread++;
    // A superseded file is not in use: exported, its expiry would page someone for nothing.
    if (!cert.notAfter || !cert.notBefore || cert.status === "superseded") continue;
    const certLabels = certificateLabels(cluster, node.name, cert);
    into.notAfter.push({ labels: certLabels, value: seconds(cert.notAfter) });
    into.notBefore.push({ labels: certLabels, value: seconds(cert.notBefore) });
    into.expired.push({ labels: certLabels, value: now >= cert.notAfter ? 1 : 0 });
  }
  if (node.reachable) into.readErrors.push({ labels, value: unread });
}

/** Every sample the scans give, judged at `now` (the scrape, or the CLI's scan). */
export function scanSamples(scans: Iterable<ScannedCluster>, now: Date): ScanSamples {
  const samples: ScanSamples = {
    notAfter: [],
    notBefore: [],
    expired: [],
    readErrors: [],
    nodeUp: [],
    apiserverDrift: [],
    lastScan: [],
  };
  for (const scan of scans) {
    samples.lastScan.push({ labels: { cluster: scan.cluster }, value: seconds(scan.scannedAt) });
    for (const node of scan.report.nodes) nodeSamples(scan.cluster, node, now, samples);
  }
  return samples;
}

/** A gauge filled from one of ScanSamples' lists. */
export interface ScanGauge {
  name: string;
  help: string;
  labels: readonly string[];
  pick: (samples: ScanSamples) => Sample[];
}

const NODE_LABELS = ["cluster", "node"] as const;

/** Every gauge a scan fills, in exposition order. */
export const SCAN_GAUGES: readonly ScanGauge[] = [
  {
    name: "x509_cert_not_after",
    help: "When the certificate expires (notAfter), seconds since the epoch",
    labels: CERTIFICATE_LABELS,
    pick: (s) => s.notAfter,
  },
  {
    name: "x509_cert_not_before",
    help: "When the certificate became valid (notBefore), seconds since the epoch",
    labels: CERTIFICATE_LABELS,
    pick: (s) => s.notBefore,
  },
  {
    name: "x509_cert_expired",
    help: "1 when the certificate's notAfter has passed",
    labels: CERTIFICATE_LABELS,
    pick: (s) => s.expired,
  },
  {
    name: "x509_read_errors",
    help: "Certificate files the last scan of the node could not read or did not find",
    labels: NODE_LABELS,
    pick: (s) => s.readErrors,
  },
  {
    name: "certs_bot_node_up",
    help: "1 when the last scan reached the node",
    labels: NODE_LABELS,
    pick: (s) => s.nodeUp,
  },
  {
    name: "certs_bot_apiserver_drift",
    help: "1 when the node's apiserver serves another certificate than apiserver.crt on disk",
    labels: NODE_LABELS,
    pick: (s) => s.apiserverDrift,
  },
  {
    name: "certs_bot_last_scan_timestamp_seconds",
    help: "When the cluster's latest scan ran",
    labels: ["cluster"],
    pick: (s) => s.lastScan,
  },
];
