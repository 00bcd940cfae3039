// The ChatBackend of `certs-bot console`: no Redis, no queue, no Slack. A scan runs in this process
// with the real scanner, and the latest scan of each cluster is kept in memory for as long as the
// console runs. User-group membership is simulated (`--groups`, `as USER GROUPS`), since there is
// no Slack to ask. Renewal requests, cards and the audit log live in memory too; an approved
// renewal runs in this process (`runRenewal`), reporting to the screen.
import type { ChatBackend, ScanTicket } from "../chat/backend.js";
import type { ChatReply } from "../chat/views.js";
import type { Config } from "../config/load.js";
import type { Click, RenewalRequest } from "../renew/approval.js";
import { RenewalDesk, type AskOutcome, type ClickOutcome, type RenewalAsk } from "../renew/desk.js";
import { renderRenewalRefused } from "../renew/thread.js";
import { scanClusters, selectClusters, type ScanDependencies } from "../scan/scan.js";
import type { AuditEntry } from "../store/audit.js";
import type { StoredScan } from "../store/store.js";
import { MemoryAudit, MemoryRenewals } from "./renewals.js";

export interface InMemoryBackendOptions {
  config: Config;
  scanDependencies: ScanDependencies;
  /** Simulated user groups (S…) per user. */
  groups: ReadonlyMap<string, readonly string[]>;
  /** Where cards go when a cluster has no channel: the console's channel. */
  channelId: string;
  /** Prints what certs-bot posts (approval cards and their updates). */
  show(replies: readonly ChatReply[], ephemeral: boolean): void;
  /** Runs an approved renewal in this process (console.ts wires the executor to the screen). */
  run(request: RenewalRequest, backend: InMemoryBackend): Promise<void>;
}

export class InMemoryBackend implements ChatBackend {
  private readonly scans = new Map<string, StoredScan>();
  /** Scans in progress, by cluster: a second request joins the first, as the queue deduplicates. */
  private readonly running = new Map<string, Promise<StoredScan>>();
  readonly records = new MemoryRenewals();
  readonly audit = new MemoryAudit();
  readonly desk: RenewalDesk;
  /** Runs started by approvals, so the console can wait for them before it leaves. */
  readonly runs = new Set<Promise<void>>();
  private cards = 0;

  readonly config: Config;

  constructor(private readonly options: InMemoryBackendOptions) {
    const { config, show } = options;
    this.config = config;
    this.desk = new RenewalDesk({
      config,
      records: this.records,
      audit: this.audit,
      scan: async (cluster) => (await (await this.requestScan(cluster.name)).done).report,
      channelFor: (cluster) => cluster.channel ?? options.channelId,
      cards: {
        post: async (message) => {
          show([message], false);
          return { channel: message.channel, ts: `console.${++this.cards}` };
        },
        update: async (_card, message) => show([message], false),
      },
      groupsNow: (userId, groups) => this.groupsOf(userId, groups),
      startRun: async (request) => {
        const run = options
          .run(request, this)
          .catch((err: Error) =>
            show([renderRenewalRefused(request.cluster, `the renewal run stopped: ${err.message}`)], false),
          )
          .finally(() => this.runs.delete(run));
        this.runs.add(run);
      },
      now: () => new Date(),
    });
  }

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
    const mine = this.options.groups.get(userId) ?? [];
    return groups.filter((group) => mine.includes(group));
  }

  auditEntries(cluster: string, n: number): Promise<AuditEntry[]> {
    return this.audit.latest(cluster, n);
  }

  requestRenewal(ask: RenewalAsk): Promise<AskOutcome> {
    return this.desk.request(ask);
  }

  clickRenewal(requestId: string, click: Click): Promise<ClickOutcome> {
    return this.desk.click(requestId, click);
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
