// How a scan report reads on a terminal (like `kubeadm certs check-expiration`, grouped by
// cluster and node), as JSON, and as a monitoring-plugin exit code. Pure.
import type {
  CertificateReport,
  ClusterReport,
  NodeReport,
  ScanReport,
  Status,
} from "../core/report/types.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Exit codes as monitoring plugins use them. */
export const EXIT = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;

const EXIT_BY_STATUS: Record<Status, number> = {
  ok: EXIT.ok,
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

/**
 * Building an Intl.DateTimeFormat costs far more than using one, and a rendered message formats
 * hundreds of dates in one time zone: each formatter is made once per locale, zone and kind.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(locale: string, timeZone: string, kind: "zone" | "date"): Intl.DateTimeFormat {
  const key = `${locale}\0${timeZone}\0${kind}`;
  let made = formatters.get(key);
  if (!made) {
    made =
      kind === "zone"
        ? new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: "short" })
        : new Intl.DateTimeFormat(locale, {
            timeZone,
            year: "numeric",
            month: "2-digit",
            day: "2-digit",
            hour: "2-digit",
            minute: "2-digit",
            hourCycle: "h23",
          });
    formatters.set(key, made);
  }
  return made;
}

/** Abbreviation where one exists in some English locale (CET, EST), else the offset (GMT+9). */
function zoneName(date: Date, timeZone: string): string {
  const names = ["en-GB", "en-US"].map(
    (locale) =>
      formatter(locale, timeZone, "zone")
        .formatToParts(date)
        .find((p) => p.type === "timeZoneName")?.value ?? timeZone,
  );
  return names.find((n) => !n.startsWith("GMT")) ?? names[0]!;
}

/** `2027-11-28 10:38 CET`: unambiguous in every team's locale, in the configured time zone. */
export function formatDate(date: Date, timeZone: string): string {
  const parts = formatter("en-CA", timeZone, "date").formatToParts(date);
  const part = (type: string): string => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")} ${zoneName(date, timeZone)}`;
}

function span(ms: number): string {
  return ms >= DAY_MS ? `${Math.floor(ms / DAY_MS)}d` : `${Math.max(0, Math.floor(ms / HOUR_MS))}h`;
}

export function residualTime(cert: Pick<CertificateReport, "notBefore" | "notAfter">, now: Date): string {
  if (!cert.notAfter || !cert.notBefore) return "-";
  const left = cert.notAfter.getTime() - now.getTime();
  if (left <= 0) return `expired ${span(-left)} ago`;
  if (cert.notBefore > now) return `valid in ${span(cert.notBefore.getTime() - now.getTime())}`;
  return span(left);
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
  const where = node.port ? `${node.host}:${node.port}` : `${node.host}, local`;
  const version = node.kubeadmVersion ? ` · kubeadm ${node.kubeadmVersion}` : "";
  const lines = [`  node ${node.name} (${where}) — ${node.status.toUpperCase()}${version}`];
  if (!node.reachable) return [...lines, `    not scanned: ${node.error}`];
  const rows = [["CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CA", "STATUS"]];
  for (const cert of node.certificates) {
    rows.push([
      cert.name,
      cert.notAfter ? formatDate(cert.notAfter, timeZone) : "-",
      residualTime(cert, now),
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
