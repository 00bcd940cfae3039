// `certs-bot scan --output openmetrics`: the scan just made as the gauges /metrics serves
// (SCAN_GAUGES: the same names, help and labels), in the Prometheus text exposition format that
// node_exporter's textfile collector reads. No timestamps (the collector refuses them); expiry is
// judged at the scan. It ends with OpenMetrics' `# EOF`, which the Prometheus format reads as a
// comment. Pure.
import type { ScanReport } from "../core/report/types.js";
import { SCAN_GAUGES, scanSamples, type Labels, type ScannedCluster } from "./metrics.js";

/** In a label value: backslash, double quote and line feed are escaped. */
const labelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** In HELP text: backslash and line feed are escaped. */
const helpText = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/** Go's ParseFloat spellings of the values JavaScript prints otherwise. */
function sampleValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  return String(value);
}

/** `name{label="value",…} value`, labels in the gauge's order, absent ones left out. */
function sampleLine(name: string, labelNames: readonly string[], labels: Labels, value: number): string {
  const pairs = labelNames
    .filter((label) => labels[label] !== undefined)
    .map((label) => `${label}="${labelValue(labels[label]!)}"`);
  return `${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${sampleValue(value)}`;
}

export function renderOpenMetrics(report: ScanReport): string {
  const scans: ScannedCluster[] = report.clusters.map((cluster) => ({
    cluster: cluster.name,
    scannedAt: report.scannedAt,
    report: cluster,
  }));
  const samples = scanSamples(scans, report.scannedAt);
  const lines: string[] = [];
  for (const gauge of SCAN_GAUGES) {
    lines.push(`# HELP ${gauge.name} ${helpText(gauge.help)}`, `# TYPE ${gauge.name} gauge`);
    for (const { labels, value } of gauge.pick(samples))
      lines.push(sampleLine(gauge.name, gauge.labels, labels, value));
  }
  lines.push("# EOF");
  return lines.join("\n");
}
