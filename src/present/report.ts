// How a scan report reads on a terminal (like `kubeadm certs check-expiration`, grouped by
// cluster and node), as JSON, and as a monitoring-plugin exit code. Pure.
import type { ClusterReport, NodeReport, ScanReport, Status } from "../core/report/types.js";
import { formatDate, timeLeft } from "./time.js";
import { roleNote } from "./format.js";
import { nodeWhere } from "../core/transport/address.js";

/** Exit codes as monitoring plugins use them. */
export const EXIT = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;

const EXIT_BY_STATUS: Record<Status, number> = {
  ok: EXIT.ok,
  superseded: EXIT.ok,
  warning: EXIT.warning,
  critical: EXIT.critical,
  expired: EXIT.critical,
  "not-yet-valid": EXIT.critical,
  missing: EXIT.unknown,
  unreadable: EXIT.unknown,
  unreachable: EXIT.unknown,
};

/**
 * 2 if anything is critical, expired or not yet valid (a known outage outranks an unknown); else 3
 * if anything could not be read; else 1 for a warning; else 0.
 */
export function exitCode(report: ScanReport): number {
  const codes = new Set<number>();
  for (const cluster of report.clusters) {
    for (const node of cluster.nodes) {
      codes.add(EXIT_BY_STATUS[node.status]);
      for (const cert of node.certificates) codes.add(EXIT_BY_STATUS[cert.status]);
    }
  }
  for (const code of [EXIT.critical, EXIT.unknown, EXIT.warning]) if (codes.has(code)) return code;
  return EXIT.ok;
}

/** Dates become ISO-8601 UTC strings (Date#toJSON). */
export function renderJson(report: ScanReport): string {
  return JSON.stringify(report, null, 2);
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return rows.map((r) =>
    r
      .map((cell, col) => cell.padEnd(widths[col]!))
      .join("   ")
      .trimEnd(),
  );
}

function renderNode(node: NodeReport, now: Date, timeZone: string): string[] {
  const where = nodeWhere(node);
  const version = node.kubeadmVersion ? ` · kubeadm ${node.kubeadmVersion}` : "";
  const lines = [`  node ${node.name} (${where}) — ${node.status.toUpperCase()}${roleNote(node)}${version}`];
  if (!node.reachable) return [...lines, `    not scanned: ${node.error}`];
  const rows = [["CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CA", "STATUS"]];
  for (const cert of node.certificates) {
    rows.push([
      cert.name,
      cert.notAfter ? formatDate(cert.notAfter, timeZone) : "-",
      timeLeft(cert, now, "column"),
      cert.ca ?? (cert.isCA ? "(CA)" : "-"),
      cert.status.toUpperCase() + (cert.error ? `: ${cert.error}` : ""),
    ]);
  }
  lines.push(...table(rows).map((l) => `    ${l}`));
  const served = node.apiserver;
  if (served?.sha256 && served.notAfter) {
    lines.push(
      `    apiserver :${served.port} serves sha256 ${served.sha256.slice(0, 16)}…, ` +
        `expires ${formatDate(served.notAfter, timeZone)} (${served.status?.toUpperCase()})`,
    );
  }
  for (const f of node.findings) {
    lines.push(`    ! ${f.severity.toUpperCase()}${f.certificate ? ` ${f.certificate}` : ""}: ${f.message}`);
    lines.push(`      → ${f.advice}`);
  }
  return lines;
}

function renderCluster(cluster: ClusterReport, now: Date, timeZone: string): string[] {
  return [
    `cluster ${cluster.name} — ${cluster.status.toUpperCase()}`,
    ...cluster.nodes.flatMap((node) => [...renderNode(node, now, timeZone), ""]),
  ];
}

export function renderTable(report: ScanReport, timeZone: string): string {
  const header = `certs-bot scan at ${formatDate(report.scannedAt, timeZone)}`;
  return [header, "", ...report.clusters.flatMap((c) => renderCluster(c, report.scannedAt, timeZone))].join(
    "\n",
  );
}
