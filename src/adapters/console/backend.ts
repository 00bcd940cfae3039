// The ChatBackend of `certs-bot console`: no queue, no Slack. A scan runs in this process
// with the real scanner, and the latest scan of each cluster is kept in memory for as long as the
// console runs. User-group membership is simulated (`--groups`, `as USER GROUPS`), since there is
// no Slack to ask. Renewal requests and cards live in memory too. With a way to run renewals
// (`--allow-renewals`) an approved one runs in this process (`runRenewal`), reporting to the screen,
// and its audit goes where that way says (serve's Redis or memory); without one, `/certs renew` shows
// the plan and creates no request, so nothing anyone types can change a node. The alert state of
// each cluster is kept in memory as serve would keep it (its warnings are planned after each scan,
// not printed), so `/certs snooze`, `unsnooze` and `snoozes` act on what serve would have warned of;
// they are audited in this memory too, even when renewals use serve's audit, which they never touch.
// A cluster's renewal policy acts after each scan `scan` asks for, as serve's scan job would: with
// --allow-renewals it files its request (a card on the screen); without, it only says what it
// would file.
import type { ChatBackend, ScanTicket } from "../../core/chat/backend.js";
import type { ChatReply } from "../../present/slack-types.js";
import { configuredCluster, type ClusterConfig, type Config } from "../../config/load.js";
import type { Click, RenewalRequest } from "../../core/renew/approval.js";
import { RenewalDesk } from "../../app/renew/desk.js";
import type {
  AskOutcome,
  AuditEntry,
  AuditInput,
  AuditTrail,
  ClickOutcome,
  RenewalAsk,
} from "../../core/renew/ports.js";
import { emptyAlertState, type AlertState } from "../../core/alerts/state.js";
import { applyAlert } from "../../core/alerts/actions.js";
import type { AlertChange } from "../../core/ports.js";
import { planAlerts } from "../../present/warnings.js";
import { renderPlanBlocks } from "../../present/renewal.js";
import { renderRenewalRefused } from "../../present/thread.js";
import { scanClusters, type ScanDependencies } from "../nodes/scan.js";
import { freshScan } from "../../app/scan-job.js";
import type { StoredScan } from "../../core/report/types.js";
import { MemoryAudit, MemoryRenewals } from "./renewals.js";
import { PolicyClerk } from "../../app/renew/policy.js";
import { dueCertificates } from "../../core/renew/policy.js";

export interface InMemoryBackendOptions {
  config: Config;
  scanDependencies: ScanDependencies;
  /** Simulated user groups (S…) per user. */
  groups: ReadonlyMap<string, readonly string[]>;
  /** Where cards go when a cluster has no channel: the console's channel. */
  channelId: string;
  /** Prints what certs-bot posts (approval cards and their updates). */
  show(replies: readonly ChatReply[], ephemeral: boolean): void;
  /** The audit log (default: in memory). */
  audit?: AuditTrail;
  /**
   * Runs an approved renewal in this process (console.ts wires the executor to the screen). Absent
   * without --allow-renewals: a request then only shows its plan.
   */
  run?(request: RenewalRequest, backend: InMemoryBackend): Promise<void>;
}

/** Why a console without --allow-renewals shows a plan and nothing more. */
export const RENEWALS_OFF = "renewals change real nodes; start the console with --allow-renewals to run them";

export class InMemoryBackend implements ChatBackend {
  private readonly scans = new Map<string, StoredScan>();
  private readonly alerts = new Map<string, AlertState>();
  /** Scans in progress, by cluster: a second request joins the first, as the queue deduplicates. */
  private readonly running = new Map<string, Promise<StoredScan>>();
  readonly records = new MemoryRenewals();
  readonly audit: AuditTrail;
  /** Where snoozes are audited: always this session's memory, since they change nothing else. */
  private readonly quietAudit: AuditTrail;
  readonly desk: RenewalDesk;
  /** Runs started by approvals, so the console can wait for them before it leaves. */
  readonly runs = new Set<Promise<void>>();
  private cards = 0;
  private readonly policy: PolicyClerk;
  /** Action ids of the messages shown (an escalation is shown once per session). */
  private readonly shown = new Set<string>();

  readonly config: Config;

  constructor(private readonly options: InMemoryBackendOptions) {
    const { config, show } = options;
    this.config = config;
    this.audit = options.audit ?? new MemoryAudit();
    this.quietAudit = options.audit ? new MemoryAudit() : this.audit;
    this.desk = new RenewalDesk({
      config,
      records: this.records,
      audit: this.audit,
      scan: async (cluster) => (await this.scanOnce(cluster.name)).report,
      channelFor: (cluster) => this.channelFor(cluster),
      cards: {
        post: async (message) => {
          show([message], false);
          return { channel: message.channel, ts: `console.${++this.cards}` };
        },
        update: async (_card, message) => show([message], false),
      },
      groupsNow: (userId, groups) => this.groupsOf(userId, groups),
      startRun: async (request) => {
        // Unreachable without `run`: no request is ever created then (requestRenewal).
        if (!options.run) throw new Error(RENEWALS_OFF);
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
    this.policy = new PolicyClerk({
      config,
      desk: this.desk,
      records: this.records,
      audit: this.audit,
      poster: {
        postOnce: async (actionId, message) => {
          if (!this.shown.has(actionId)) show([message], false);
          this.shown.add(actionId);
          return actionId;
        },
      },
      posted: async (actionId) => this.shown.has(actionId),
    });
  }

  async latest(clusters: readonly string[]): Promise<Map<string, StoredScan | null>> {
    return this.latestNow(clusters);
  }

  /** Always at hand: the console keeps every scan in memory. */
  latestNow(clusters: readonly string[]): Map<string, StoredScan | null> {
    return new Map(clusters.map((cluster) => [cluster, this.scans.get(cluster) ?? null]));
  }

  /** A scan as `/certs scan` asks for it: then the cluster's renewal policy acts on it. */
  async requestScan(cluster: string): Promise<ScanTicket> {
    return { done: this.scanOnce(cluster).then((scan) => this.afterScan(scan)) };
  }

  private scanOnce(cluster: string): Promise<StoredScan> {
    let done = this.running.get(cluster);
    if (!done) {
      done = this.scan(cluster).finally(() => this.running.delete(cluster));
      this.running.set(cluster, done);
    }
    return done;
  }

  private async afterScan(scan: StoredScan): Promise<StoredScan> {
    const cluster = configuredCluster(this.config, scan.cluster);
    const policy = cluster.renewal.policy;
    if (!policy) return scan;
    if (this.options.run) {
      await this.policy.afterScan(cluster, scan.report);
      return scan;
    }
    const fresh = dueCertificates(scan.report, policy);
    if (fresh.length) {
      const first = fresh[0]!;
      this.options.show(
        [
          renderRenewalRefused(
            cluster.name,
            `its renewal policy would file a request now (${first.node}/${first.name} has ${first.daysLeft} days left); ${RENEWALS_OFF}`,
          ),
        ],
        false,
      );
    }
    return scan;
  }

  async groupsOf(userId: string, groups: readonly string[]): Promise<string[]> {
    const mine = this.options.groups.get(userId) ?? [];
    return groups.filter((group) => mine.includes(group));
  }

  async auditEntries(cluster: string, n: number): Promise<AuditEntry[]> {
    if (this.quietAudit === this.audit) return this.audit.latest(cluster, n);
    const [renewals, quiets] = await Promise.all([
      this.audit.latest(cluster, n),
      this.quietAudit.latest(cluster, n),
    ]);
    return [...renewals, ...quiets].sort((a, b) => b.at.getTime() - a.at.getTime()).slice(0, n);
  }

  async alertStates(clusters: readonly string[]): Promise<Map<string, AlertState>> {
    return new Map(clusters.map((cluster) => [cluster, this.alerts.get(cluster) ?? emptyAlertState()]));
  }

  /** One process, no await between reading and writing: nothing can write in between. */
  async updateAlerts<T>(cluster: string, change: (current: AlertState) => AlertChange<T>): Promise<T> {
    const { next, value } = change(this.alerts.get(cluster) ?? emptyAlertState());
    if (next) this.alerts.set(cluster, next);
    return value;
  }

  async appendAudit(cluster: string, entry: AuditInput, at: Date): Promise<void> {
    await this.quietAudit.append(cluster, entry, at);
  }

  /** What serve's scan job would remember of this scan's warnings (posted nowhere here). */
  private remember(scan: StoredScan): void {
    const cluster = configuredCluster(this.config, scan.cluster);
    void this.updateAlerts(scan.cluster, (state) => {
      const plan = planAlerts({
        cluster: scan.cluster,
        channel: this.channelFor(cluster),
        report: scan.report,
        state,
        scannedAt: scan.scannedAt,
        timeZone: this.config.timezone,
        maxSnoozeDays: cluster.alerts.maxSnoozeDays,
      });
      const next = plan.actions.reduce((s, action, i) => applyAlert(s, action, `console.${i}`), plan.state);
      return { next, value: null };
    });
  }

  async requestRenewal(ask: RenewalAsk): Promise<AskOutcome> {
    if (this.options.run) return this.desk.request(ask);
    // The plan as its approval card would show it, but no request: there is nothing to approve.
    const planned = await this.desk.preview(ask);
    if (!planned.ok) return { ok: false, reason: planned.reason };
    const opts = {
      channel: this.channelFor(ask.cluster),
      timeZone: this.config.timezone,
      windows: { ...ask.cluster.renewal, now: planned.plan.createdAt },
    };
    this.options.show([renderPlanBlocks(planned.plan, opts)], true);
    return { ok: false, reason: RENEWALS_OFF };
  }

  private channelFor(cluster: ClusterConfig): string {
    return cluster.channel ?? this.options.channelId;
  }

  clickRenewal(requestId: string, click: Click): Promise<ClickOutcome> {
    return this.desk.click(requestId, click);
  }

  /** The same fresh scan as the service's, kept in this session's memory. */
  private scan(name: string): Promise<StoredScan> {
    const { config, scanDependencies } = this.options;
    return freshScan(configuredCluster(config, name), {
      scan: (cluster) => scanClusters(config, [cluster], scanDependencies),
      archive: {
        saveScan: async (scan) => {
          this.scans.set(name, scan);
          this.remember(scan);
        },
      },
    });
  }
}
