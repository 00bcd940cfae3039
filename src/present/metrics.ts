// The stored scans as Prometheus samples. The certificate series carry x509-certificate-exporter's
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
    if (!cert.notAfter || !cert.notBefore) continue;
    const certLabels = certificateLabels(cluster, node.name, cert);
    into.notAfter.push({ labels: certLabels, value: seconds(cert.notAfter) });
    into.notBefore.push({ labels: certLabels, value: seconds(cert.notBefore) });
    into.expired.push({ labels: certLabels, value: now >= cert.notAfter ? 1 : 0 });
  }
  if (node.reachable) into.readErrors.push({ labels, value: unread });
}

/** Every sample the stored scans give, judged at `now` (the scrape). */
export function scanSamples(scans: Iterable<StoredScan>, now: Date): ScanSamples {
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
