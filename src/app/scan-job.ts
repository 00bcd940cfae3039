// The scan-cluster job: a fresh scan of one cluster, stored, then what the scan calls for told to
// the cluster's channel (planAlerts), each message posted once and the alert state saved after
// each, so a retried job carries on where it stopped. Every save is a compare-and-set
// (AlertMemory.updateAlerts): a snooze written while the job posts is kept. Then the cluster's
// renewal policy, if it has one, files a request for what became due (PolicyClerk). Renewal plans
// start from the same freshScan.
import { clusterChannel, configuredCluster, type ClusterConfig, type Config } from "../config/load.js";
import type { AlertMemory, ClusterScanner, MessagePoster, ScanArchive } from "../core/ports.js";
import type { ClusterReport, StoredScan } from "../core/report/types.js";
import { applyAlert } from "../core/alerts/actions.js";
import { scanPeriodMs } from "../config/schedule.js";
import { planAlerts } from "../present/warnings.js";
import type { PolicyClerk } from "./renew/policy.js";

/** Why a cluster is scanned: its schedule, someone asked, or `serve` catching up at start. */
export type ScanReason = "schedule" | "manual" | "catch-up";
export interface ScanClusterData {
  cluster: string;
  reason: ScanReason;
}

/** The progress a scan-cluster job reports once its report is stored (the Slack surface waits for it). */
export interface ScannedProgress {
  stage: "scanned";
  cluster: string;
  status: string;
}

/** What the handler needs of a BullMQ Job. */
interface ScanJobLike {
  readonly data: ScanClusterData;
  updateProgress(progress: ScannedProgress): Promise<void>;
}

export interface FreshScanDependencies {
  scan: ClusterScanner;
  archive: Pick<ScanArchive, "saveScan">;
}

export interface ScanJobDependencies extends FreshScanDependencies {
  config: Config;
  alerts: AlertMemory;
  poster: Pick<MessagePoster, "postOnce">;
  /** Files the requests of a cluster's renewal policy from the scan. */
  policy?: Pick<PolicyClerk, "afterScan">;
}

/** Scans one cluster now and stores the report. */
export async function freshScan(cluster: ClusterConfig, deps: FreshScanDependencies): Promise<StoredScan> {
  const started = Date.now();
  const report = await deps.scan(cluster);
  const scan: StoredScan = {
    cluster: cluster.name,
    scannedAt: report.scannedAt,
    durationMs: Date.now() - started,
    report: report.clusters[0]!,
  };
  await deps.archive.saveScan(scan);
  return scan;
}

export async function runScanJob(
  job: ScanJobLike,
  deps: ScanJobDependencies,
): Promise<{ cluster: string; status: string; policy?: string }> {
  const cluster = configuredCluster(deps.config, job.data.cluster);
  const { report, scannedAt } = await freshScan(cluster, deps);
  await job.updateProgress({ stage: "scanned", cluster: cluster.name, status: report.status });
  await notify(cluster, report, scannedAt, deps);
  const policy = await deps.policy?.afterScan(cluster, report);
  return {
    cluster: cluster.name,
    status: report.status,
    ...(policy?.filed ? { policy: `filed ${policy.request.id}` } : {}),
  };
}

/** Plans what to tell the cluster's channel, then posts each action once, saving state after each. */
async function notify(
  cluster: ClusterConfig,
  report: ClusterReport,
  scannedAt: Date,
  { config, alerts, poster }: ScanJobDependencies,
): Promise<void> {
  const channel = clusterChannel(config, cluster);
  if (!channel) return;
  // Planned on the state as saved; planned again if a snooze (or another job) wrote it meanwhile.
  const plan = await alerts.updateAlerts(cluster.name, (state) => {
    const planned = planAlerts({
      cluster: cluster.name,
      channel,
      report,
      state,
      scannedAt,
      timeZone: config.timezone,
      maxSnoozeDays: cluster.alerts.maxSnoozeDays,
    });
    return { next: planned.state, value: planned };
  });
  for (const action of plan.actions) {
    const ts = await poster.postOnce(action.id, action.message, action.threadTs, action.broadcast);
    // Applied to the state as it is now, so what was written while posting is kept.
    await alerts.updateAlerts(cluster.name, (state) => ({ next: applyAlert(state, action, ts), value: ts }));
  }
}

/**
 * The clusters `serve` scans at start: no stored report, or one older than a scan period (ticks were
 * missed while nothing ran). Without this the first report waits for the next `scanCron` tick.
 */
export function clustersBehind(
  config: Config,
  latest: ReadonlyMap<string, StoredScan | null>,
  now: Date,
): string[] {
  const oldest = now.getTime() - scanPeriodMs(config, now);
  return config.clusters
    .map((c) => c.name)
    .filter((name) => (latest.get(name)?.scannedAt.getTime() ?? -Infinity) < oldest);
}
