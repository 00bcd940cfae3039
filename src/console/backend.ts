// The ChatBackend of `certs-bot console`: no Redis, no queue, no Slack. A scan runs in this process
// with the real scanner, and the latest scan of each cluster is kept in memory for as long as the
// console runs. User-group membership is simulated (`--groups`), since there is no Slack to ask.
import type { ChatBackend, ScanTicket } from "../chat/backend.js";
import type { Config } from "../config/load.js";
import { scanClusters, selectClusters, type ScanDependencies } from "../scan/scan.js";
import type { StoredScan } from "../store/store.js";

export interface InMemoryBackendOptions {
  config: Config;
  scanDependencies: ScanDependencies;
  /** The simulated user and the user groups (S…) they belong to. */
  userId: string;
  groups: readonly string[];
}

export class InMemoryBackend implements ChatBackend {
  private readonly scans = new Map<string, StoredScan>();
  /** Scans in progress, by cluster: a second request joins the first, as the queue deduplicates. */
  private readonly running = new Map<string, Promise<StoredScan>>();

  constructor(private readonly options: InMemoryBackendOptions) {}

  async latest(clusters: readonly string[]): Promise<Map<string, StoredScan | null>> {
    return new Map(clusters.map((cluster) => [cluster, this.scans.get(cluster) ?? null]));
  }

  async requestScan(cluster: string): Promise<ScanTicket> {
    let done = this.running.get(cluster);
    if (!done) {
      done = this.scan(cluster).finally(() => this.running.delete(cluster));
      this.running.set(cluster, done);
    }
    return { done };
  }

  async groupsOf(userId: string, groups: readonly string[]): Promise<string[]> {
    if (userId !== this.options.userId) return [];
    return groups.filter((group) => this.options.groups.includes(group));
  }

  private async scan(name: string): Promise<StoredScan> {
    const { config, scanDependencies } = this.options;
    const started = Date.now();
    const report = await scanClusters(config, selectClusters(config, [name]), scanDependencies);
    const scan: StoredScan = {
      cluster: name,
      scannedAt: report.scannedAt,
      durationMs: Date.now() - started,
      report: report.clusters[0]!,
    };
    this.scans.set(name, scan);
    return scan;
  }
}
