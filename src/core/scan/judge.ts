// Judging: what the node sent (and what its apiserver serves) → statuses and findings. Pure: no
// I/O, the clock comes in as `now`, so every rule is tested in milliseconds.
import {
  CertificateCache,
  CertificateDecodeError,
  firstPemCertificate,
  type Certificate,
} from "../certs/certificate.js";
import type { ServedObservation } from "../certs/served.js";
import { KUBELET_KUBECONFIG, SERVED_BY_APISERVER, notRenewed } from "../kubeadm/catalogue.js";
import { kubeletConfAdvice } from "../kubeadm/kubelet-conf.js";
import type { NodeRole, Thresholds } from "../../config/schema.js";
import {
  worstOf,
  type CertificateReport,
  type CertificateStatus,
  type Finding,
  type NodeReport,
  type ServedCertificate,
} from "../report/types.js";
import type { RawEntry, RawNodeRead } from "./script.js";
import { entriesFor, type FileEntry } from "./roles.js";

const DAY_MS = 86_400_000;
/** How long `kubeadm certs renew` makes a leaf valid (kubeadm's default certificate validity). */
export const RENEWED_LEAF_VALIDITY_DAYS = 365;

/** When a leaf renewed at `now` expires: a CA must outlive it. */
export const renewedLeafUntil = (now: Date): Date =>
  new Date(now.getTime() + RENEWED_LEAF_VALIDITY_DAYS * DAY_MS);

/** Why a leaf just renewed at `now` does not look it (null: it expires about a year away). */
export function notFreshlyRenewed(notAfter: Date, now: number): string | null {
  if (Math.abs((notAfter.getTime() - now) / DAY_MS - RENEWED_LEAF_VALIDITY_DAYS) <= 2) return null;
  return `notAfter ${notAfter.toISOString()} is not ~${RENEWED_LEAF_VALIDITY_DAYS} d away`;
}

/** `2027-11-28`: a certificate's day in the judge's and the plan's words (UTC). */
export const isoDay = (d: Date): string => d.toISOString().slice(0, 10);

export interface JudgeContext {
  now: Date;
  thresholds: Thresholds;
  cache: CertificateCache;
}

export interface NodeObservation {
  name: string;
  host: string;
  port: number;
  role: NodeRole;
  read: RawNodeRead;
  served?: ServedObservation;
}

/** Whole days left, truncated toward zero: -1 reads "expired a day ago", as the table says. */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.trunc((notAfter.getTime() - now.getTime()) / DAY_MS) || 0;
}

export function certificateStatus(
  cert: Pick<Certificate, "notBefore" | "notAfter">,
  ctx: JudgeContext,
): CertificateStatus {
  const left = cert.notAfter.getTime() - ctx.now.getTime();
  if (left <= 0) return "expired";
  if (cert.notBefore.getTime() > ctx.now.getTime()) return "not-yet-valid";
  if (left <= ctx.thresholds.criticalDays * DAY_MS) return "critical";
  if (left <= ctx.thresholds.warningDays * DAY_MS) return "warning";
  return "ok";
}

function isRequired(entry: FileEntry, read: RawNodeRead): boolean {
  switch (entry.required) {
    case "always":
      return true;
    case "local-etcd":
      return read.localEtcd;
    case "rotating-kubelet":
      return !kubeletConfEmbeds(read);
    case "never":
      return false;
  }
}

const kubeletConfEmbeds = (read: RawNodeRead): boolean => {
  const entry = read.entries.get(KUBELET_KUBECONFIG);
  return entry?.state === "content" && entry.format === "embedded";
};

function toDer(entry: Extract<RawEntry, { state: "content" }>): Uint8Array {
  if (entry.format === "der") return Buffer.from(entry.body.replace(/\s+/g, ""), "base64");
  return firstPemCertificate(entry.body);
}

const blank = (entry: FileEntry, path: string) => ({
  name: entry.name,
  path,
  kind: entry.kind,
  ca: entry.ca,
  subject: null,
  issuer: null,
  serialNumber: null,
  notBefore: null,
  notAfter: null,
  daysLeft: null,
  isCA: entry.isCA,
  sans: [],
  keyAlgorithm: null,
  sha256: null,
});

interface Judged {
  report: CertificateReport;
  cert?: Certificate;
  entry: FileEntry;
}

function judgeEntry(entry: FileEntry, raw: RawEntry, ctx: JudgeContext): Judged {
  if (raw.state === "missing") {
    return { entry, report: { ...blank(entry, raw.path), status: "missing", error: "file not found" } };
  }
  if (raw.state === "unreadable") {
    return { entry, report: { ...blank(entry, raw.path), status: "unreadable", error: raw.reason } };
  }
  let cert: Certificate;
  try {
    cert = ctx.cache.get(toDer(raw));
  } catch (err) {
    if (!(err instanceof CertificateDecodeError)) throw err;
    return { entry, report: { ...blank(entry, raw.path), status: "unreadable", error: err.message } };
  }
  return {
    entry,
    cert,
    report: {
      name: entry.name,
      path: raw.path,
      kind: entry.kind,
      status: certificateStatus(cert, ctx),
      ca: entry.ca,
      subject: cert.subject,
      issuer: cert.issuer,
      serialNumber: cert.serialNumber,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      daysLeft: daysLeft(cert.notAfter, ctx.now),
      isCA: cert.isCA,
      sans: cert.sans,
      keyAlgorithm: cert.keyAlgorithm,
      sha256: cert.sha256,
    },
  };
}

/** A kubespray file (an etcd node's): its repair is kubespray's, where a kubeadm file's advice names kubeadm. */
const kubesprayRepair = (entry: FileEntry): string | undefined =>
  entry.roles.includes("etcd") && entry.renewal.by === "never" ? entry.renewal.repair : undefined;

function caFindings(judged: Judged[], ctx: JudgeContext): Finding[] {
  const renewedUntil = renewedLeafUntil(ctx.now);
  return judged
    .filter((j): j is Judged & { cert: Certificate } => j.entry.isCA && j.cert !== undefined)
    .filter((j) => j.cert.notAfter < renewedUntil)
    .map(({ entry, cert }) => {
      const expired = cert.notAfter <= ctx.now;
      return {
        code: "ca-expires-before-renewal",
        severity: expired ? "critical" : "warning",
        certificate: entry.name,
        message: expired
          ? `CA ${entry.name} expired on ${isoDay(cert.notAfter)}: everything it signed is invalid.`
          : `CA ${entry.name} expires on ${isoDay(cert.notAfter)}, before a renewed leaf would (${isoDay(renewedUntil)}).`,
        advice:
          "Renewing leaf certificates cannot help past the CA's own expiry. " +
          (kubesprayRepair(entry) ??
            "Rotate the CA by hand (kubeadm docs: 'Manual rotation of CA certificates'), then renew the leaves."),
      };
    });
}

function signatureFindings(judged: Judged[], ctx: JudgeContext): Finding[] {
  const cas = new Map(judged.filter((j) => j.entry.isCA && j.cert).map((j) => [j.entry.name, j.cert!]));
  const findings: Finding[] = [];
  for (const { entry, cert } of judged) {
    const ca = entry.ca ? cas.get(entry.ca) : undefined;
    if (!cert || !ca || ctx.cache.isSignedBy(cert, ca)) continue;
    findings.push({
      code: "not-signed-by-ca",
      severity: "critical",
      certificate: entry.name,
      message: `${entry.name} is not signed by this node's ${entry.ca} (issuer: ${cert.issuer}).`,
      advice:
        `Clients that trust ${entry.ca} will reject it. ` +
        (kubesprayRepair(entry) ??
          `Re-issue it from this node's ${entry.ca} (kubeadm certs renew), or copy the right CA from the ` +
            "other control-plane nodes."),
    });
  }
  return findings;
}

function kubeletFindings(read: RawNodeRead): Finding[] {
  if (!kubeletConfEmbeds(read)) return [];
  return [
    {
      code: "kubelet-conf-embedded",
      severity: "warning",
      certificate: KUBELET_KUBECONFIG,
      message: "kubelet.conf embeds its client certificate (pre-1.17 layout): it will not rotate.",
      advice: "", // said once the node's report is whole (withKubeletAdvice): it depends on the version
    },
  ];
}

/** The kubelet.conf finding's advice: what a renewal of this node does about it, for its kubeadm. */
function withKubeletAdvice(node: NodeReport): NodeReport {
  const byHand = notRenewed("kubelet-client")!.repair;
  return {
    ...node,
    findings: node.findings.map((f) =>
      f.code === "kubelet-conf-embedded" ? { ...f, advice: kubeletConfAdvice(node, "this node", byHand) } : f,
    ),
  };
}

function judgeServed(
  served: ServedObservation,
  apiserver: Judged | undefined,
  ctx: JudgeContext,
): { served: ServedCertificate; findings: Finding[] } {
  if ("error" in served) {
    return {
      served: { port: served.port, reachable: false, error: served.error },
      findings: [
        {
          code: "apiserver-unreachable",
          severity: "info",
          message: `The apiserver on port ${served.port} did not complete a TLS handshake: ${served.error}.`,
          advice:
            "Check that kube-apiserver runs on this node, or set apiserver.probe: false for nodes without one.",
        },
      ],
    };
  }
  const [leaf] = served.chain;
  const cert = leaf ? ctx.cache.get(leaf) : undefined;
  if (!cert) {
    return { served: { port: served.port, reachable: true, error: "no certificate served" }, findings: [] };
  }
  const status = certificateStatus(cert, ctx);
  const report: ServedCertificate = {
    port: served.port,
    reachable: true,
    sha256: cert.sha256,
    subject: cert.subject,
    notAfter: cert.notAfter,
    daysLeft: daysLeft(cert.notAfter, ctx.now),
    status,
  };
  const onDisk = apiserver?.cert;
  if (!onDisk || onDisk.sha256 === cert.sha256) return { served: report, findings: [] };
  return {
    served: report,
    findings: [
      {
        code: "apiserver-drift",
        severity: status === "ok" || status === "warning" ? "warning" : "critical",
        certificate: SERVED_BY_APISERVER,
        message:
          `The apiserver serves a different certificate (expires ${isoDay(cert.notAfter)}) than ` +
          `apiserver.crt on disk (expires ${isoDay(onDisk.notAfter)}): renewed but not restarted.`,
        advice:
          "Restart the control-plane static pods so they load the renewed files: move " +
          "kube-apiserver.yaml (and the other manifests) out of manifests/ and back, or remove the pods with crictl.",
      },
    ],
  };
}

/** A node that answered: its certificates, findings and status. */
export function judgeNode(obs: NodeObservation, ctx: JudgeContext): NodeReport {
  const { read } = obs;
  const entries = entriesFor(obs.role);
  const judged = entries
    .flatMap((entry): Judged[] => {
      const raw = read.entries.get(entry.name);
      if (!raw) return [];
      if (raw.state === "missing" && !isRequired(entry, read)) return [];
      return [judgeEntry(entry, raw, ctx)];
    })
    .filter((j) => !duplicatesAnotherEntry(j, entries, read))
    .map((j, _, all) => (isSuperseded(j, all) ? superseded(j) : j));

  const findings = [...caFindings(judged, ctx), ...signatureFindings(judged, ctx), ...kubeletFindings(read)];
  const certificates = judged.map((j) => j.report);
  const statuses = certificates.map((c) => c.status);
  let apiserver: ServedCertificate | undefined;
  if (obs.served) {
    const outcome = judgeServed(
      obs.served,
      judged.find((j) => j.entry.name === SERVED_BY_APISERVER),
      ctx,
    );
    apiserver = outcome.served;
    findings.push(...outcome.findings);
    // What the apiserver serves is a certificate in use: its expiry counts as much as the file's.
    if (outcome.served.status) statuses.push(outcome.served.status);
  }
  return withKubeletAdvice({
    name: obs.name,
    host: obs.host,
    port: obs.port,
    role: obs.role,
    status: worstOf(statuses),
    reachable: true,
    ...(read.kubeadmVersion ? { kubeadmVersion: read.kubeadmVersion } : {}),
    certificates,
    findings,
    ...(apiserver ? { apiserver } : {}),
  });
}

/**
 * A kubeconfig that points at a file another entry already reports (kubelet.conf →
 * kubelet-client-current.pem) is not reported twice.
 */
function duplicatesAnotherEntry(judged: Judged, entries: readonly FileEntry[], read: RawNodeRead): boolean {
  if (judged.entry.kind !== "kubeconfig") return false;
  const path = judged.report.path;
  return entries.some(
    (other) =>
      other.kind === "certificate" &&
      other.name !== judged.entry.name &&
      read.entries.get(other.name)?.path === path,
  );
}

/** Another entry that holds a certificate replaces this one's file (kubelet-server-current.pem → kubelet.crt). */
const isSuperseded = (judged: Judged, all: readonly Judged[]): boolean =>
  all.some((other) => other.entry.supersedes === judged.entry.name && other.cert !== undefined);

/** Kept in the report with its dates, but not in use: nothing about it is a concern. */
const superseded = (judged: Judged): Judged => ({
  ...judged,
  report: { ...judged.report, status: "superseded" },
});

/** A node that could not be scanned at all. */
export function unreachableNode(
  { name, host, role }: { name: string; host: string; role: NodeRole },
  port: number,
  error: string,
): NodeReport {
  return {
    name,
    host,
    port,
    role,
    status: "unreachable",
    reachable: false,
    error,
    certificates: [],
    findings: [],
  };
}
