// Fixtures for the renewal unit tests: a config parsed from YAML (so it is validated as in real
// use) and scan reports of kubeadm nodes at chosen versions and dates.
import { parseConfig, type Config } from "../../src/config/load.js";
import { CATALOGUE } from "../../src/core/kubeadm/catalogue.js";
import type { CertificateReport, ClusterReport, NodeReport } from "../../src/core/report/types.js";
import { planRenewal, type RenewalPlan } from "../../src/core/renew/plan.js";

export const NOW = new Date("2026-11-28T09:00:00Z");
const DAY = 86_400_000;

export function config(extra = "", nodes = ["m1", "m2", "m3"], nodeExtra = ""): Config {
  return parseConfig(
    [
      "timezone: Europe/Berlin",
      extra,
      "clusters:",
      "  - name: prod",
      "    nodes:",
      ...nodes.map((n, i) => `      - { host: 10.0.0.${i + 1}, name: ${n}${nodeExtra} }`),
      "",
    ].join("\n"),
    "clusters.yaml",
  );
}

export interface NodeSpec {
  version?: string | null;
  /** Days left per certificate name; default 300 (leaves) and 3000 (CAs). */
  days?: Record<string, number>;
  /** Entries not on the node. */
  absent?: string[];
  unreachable?: string;
  embeddedKubeletConf?: boolean;
}

export function cert(name: string, daysLeft: number, kubernetesDir = "/etc/kubernetes"): CertificateReport {
  const entry = CATALOGUE.find((e) => e.name === name)!;
  const notAfter = new Date(NOW.getTime() + daysLeft * DAY);
  return {
    name,
    path: `${entry.base === "kubernetesDir" ? kubernetesDir : "/var/lib/kubelet/pki"}/${entry.path}`,
    kind: entry.kind,
    status: daysLeft <= 0 ? "expired" : daysLeft <= 7 ? "critical" : daysLeft <= 30 ? "warning" : "ok",
    ca: entry.ca,
    subject: `CN=${name}`,
    issuer: "CN=kubernetes",
    serialNumber: "01",
    notBefore: new Date(notAfter.getTime() - 365 * DAY),
    notAfter,
    daysLeft,
    isCA: entry.isCA,
    sans: [],
    keyAlgorithm: "ECDSA-P256",
    sha256: `${name}-${daysLeft}`,
  };
}

export function node(name: string, spec: NodeSpec = {}): NodeReport {
  if (spec.unreachable) {
    return {
      name,
      host: "10.0.0.9",
      port: 22,
      status: "unreachable",
      reachable: false,
      error: spec.unreachable,
      certificates: [],
      findings: [],
    };
  }
  const absent = new Set(spec.absent ?? []);
  absent.add(spec.embeddedKubeletConf ? "kubelet-client" : "kubelet.conf");
  const minor = Number(/^v?1\.(\d+)\./.exec(spec.version ?? "v1.28.4")?.[1] ?? 0);
  if (minor < 29) absent.add("super-admin.conf"); // only `kubeadm init` of 1.29+ writes it
  const certificates = CATALOGUE.filter((e) => !absent.has(e.name)).map((e) =>
    cert(e.name, spec.days?.[e.name] ?? (e.isCA ? 3000 : 300)),
  );
  return {
    name,
    host: "10.0.0.1",
    port: 22,
    status: "ok",
    reachable: true,
    ...(spec.version === null ? {} : { kubeadmVersion: spec.version ?? "v1.28.4" }),
    certificates,
    findings: spec.embeddedKubeletConf
      ? [
          {
            code: "kubelet-conf-embedded",
            severity: "warning",
            certificate: "kubelet.conf",
            message: "embedded",
            advice: "point it at kubelet-client-current.pem",
          },
        ]
      : [],
  };
}

export const clusterReport = (...nodes: NodeReport[]): ClusterReport => ({
  name: "prod",
  status: "ok",
  nodes,
});

/** A renewal plan of a healthy cluster with these nodes (every renewable certificate, one at a time). */
export function planOf(nodes: readonly string[] = ["m1", "m2", "m3"], version = "v1.30.4"): RenewalPlan {
  const cfg = config("", [...nodes]);
  const result = planRenewal({
    cluster: cfg.clusters[0]!,
    report: clusterReport(...nodes.map((n) => node(n, { version }))),
    renewal: cfg.renewal,
    now: NOW,
    requestedBy: "U0ALICE01",
  });
  if (!result.ok) throw new Error(result.reason);
  return result.plan;
}
