// The long-running service: BullMQ workers that scan clusters, keep the results in Redis and tell
// Slack what matters, plus (role `serve`) the schedules and, when configured, the Slack surface
// (adapters/slack/app.ts). Roles scale out on Redis: run one `serve` and as many `worker` processes as you like.
import { randomUUID } from "node:crypto";
import type { Job } from "bullmq";
import type { Logger } from "pino";
import type { ClusterConfig, Config } from "./config/load.js";
import { planAlerts } from "./present/warnings.js";
import { applyAlert } from "./core/alerts/actions.js";
import { emptyAlertState, type AlertState } from "./core/alerts/state.js";
import { renderDigest } from "./present/digest.js";
import {
  Queues,
  Workers,
  workerTuning,
  type ScanClusterData,
  type ScannedProgress,
} from "./adapters/queue/queues.js";
import type { ClusterReport, StoredScan } from "./core/report/types.js";
import {
  defaultDependencies,
  nodeAccess,
  scanClusters,
  type ScanDependencies,
} from "./adapters/nodes/scan.js";
import { SlackApp, type SlackSurface } from "./adapters/slack/app.js";
import { groupsNow, ServiceBackend } from "./adapters/slack/backend.js";
import { INTERACTIVE_CALLS, SlackPoster, webClient, type SlackEnvironment } from "./adapters/slack/poster.js";
import type { WebClient } from "@slack/web-api";
import { clusterOfRequest } from "./core/renew/approval.js";
import { RenewalDesk } from "./app/renew/desk.js";
import { runRenewalJob, type RenewalJobData } from "./app/renew/job.js";
import type { RunReporter } from "./core/renew/ports.js";
import { SlackThreadReporter } from "./adapters/slack/thread-reporter.js";
import { leaseTtlFor, RunLease } from "./adapters/store/run-lease.js";
import { AuditLog } from "./adapters/store/audit.js";
import { connectRedis, redisOptions } from "./adapters/store/redis.js";
import { RenewalStore } from "./adapters/store/renewals.js";
import { Store } from "./adapters/store/store.js";

export type Role = "serve" | "worker";

export interface ServiceOptions {
  role: Role;
  config: Config;
  redisUrl: string;
  /** The CA for a rediss:// `redisUrl` (REDIS_TLS_CA_FILE); default: Node's trusted CAs. */
  redisCa?: Buffer;
  /** Redis key prefix (CERTS_BOT_REDIS_PREFIX); BullMQ queues live under `<prefix>:bull`. */
  prefix: string;
  slack: SlackEnvironment;
  /** `/certs` and App Home (role `serve` only); none when the environment asks for none. */
  slackSurface?: SlackSurface | null;
  logger: Logger;
  /** How long running jobs may take to finish at shutdown. */
  graceMs?: number;
  scanDependencies?: ScanDependencies;
}

/** Only one process registers the schedules (BullMQ misbehaves when several upsert at once). */
const SCHEDULES_LEASE_MS = 60_000;
/** Schedules are re-asserted this often by `serve`, so a Redis that lost its data gets them back. */
const SCHEDULES_REFRESH_MS = 5 * 60_000;
/** How often `serve` expires renewal requests nobody approved in time (and updates their cards). */
export const EXPIRY_SWEEP_MS = 60_000;

/** A run whose approval card is unknown (its post was never recorded) is told only to the logs. */
const unreported = (logger: Logger, requestId: string): RunReporter => ({
  status: async () => undefined,
  step: async () => undefined,
  finished: async (state) =>
    logger.warn(
      { request: requestId, outcome: state.outcome },
      "renewal ended; no approval card to report to",
    ),
});

export class Service {
  private readonly redis;
  private readonly store: Store;
  private readonly queues: Queues;
  private readonly poster: SlackPoster;
  private readonly scanDeps: ScanDependencies;
  private workers?: Workers;
  private readonly chat?: { backend: ServiceBackend; app: SlackApp };
  private readonly renewals: RenewalStore;
  private readonly audit: AuditLog;
  private readonly desk: RenewalDesk;
  private readonly lease: RunLease;
  private readonly slackClient: WebClient;
  private refresh?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;
  private readonly id = randomUUID();

  constructor(private readonly options: ServiceOptions) {
    const { redisUrl, prefix, logger } = options;
    const target = { url: redisUrl, ...(options.redisCa ? { ca: options.redisCa } : {}) };
    this.redis = connectRedis(target);
    this.redis.on("error", (err: Error) =>
      logger.warn({ err: err.message }, "redis connection problem; retrying"),
    );
    this.store = new Store(this.redis, prefix);
    const connection = redisOptions(target);
    this.queues = new Queues(connection, `${prefix}:bull`);
    for (const queue of [this.queues.scan, this.queues.digest]) {
      // Without a listener BullMQ prints connection errors to the console, around pino.
      queue.on("error", (err: Error) =>
        logger.warn({ queue: queue.name, err: err.message }, "queue connection problem"),
      );
    }
    const client = webClient(options.slack, logger);
    this.poster = new SlackPoster(client, this.store);
    this.scanDeps = options.scanDependencies ?? defaultDependencies(logger);
    this.renewals = new RenewalStore(this.redis, prefix);
    this.audit = new AuditLog(this.redis, prefix, logger);
    this.lease = new RunLease(this.redis, prefix, {
      logger,
      ttlMs: leaseTtlFor(workerTuning().renewalLockDuration),
    });
    this.slackClient = client;
    const interactive = webClient(options.slack, logger, INTERACTIVE_CALLS);
    this.desk = new RenewalDesk({
      config: options.config,
      records: this.renewals,
      audit: this.audit,
      scan: async (cluster) => (await this.freshScan(cluster)).report,
      channelFor: (cluster) => cluster.channel ?? options.config.slack?.digestChannel ?? null,
      cards: {
        post: async (message, requestId) => ({
          channel: message.channel,
          ts: await this.poster.postOnce(`renewal:${requestId}:card`, message),
        }),
        update: async (card, message) => {
          // Our blocks are a structural subset of Slack's (present/slack-types.ts).
          await client.chat.update({
            channel: card.channel,
            ts: card.ts,
            text: message.text,
            blocks: message.blocks,
          } as never);
        },
      },
      groupsNow: (userId, groups) => groupsNow(interactive, userId, groups),
      startRun: async (request) => void (await this.queues.requestRun(request.id)),
      now: () => new Date(),
    });
    this.workers = new Workers(
      connection,
      `${prefix}:bull`,
      this.queues,
      options.config,
      {
        scanCluster: (data, job) => this.scanCluster(data, job),
        digest: (job) => this.digest(job),
        renew: (_data, job) => this.renew(job),
      },
      logger,
      workerTuning(),
    );
    if (options.role === "serve" && options.slackSurface) {
      const backend = new ServiceBackend({
        store: this.store,
        queues: this.queues,
        connection,
        client: interactive,
        logger,
        desk: this.desk,
        audit: this.audit,
      });
      const app = new SlackApp({
        surface: options.slackSurface,
        slack: options.slack,
        config: options.config,
        backend,
        store: this.store,
        logger,
      });
      this.chat = { backend, app };
    }
  }

  get queue(): Queues {
    return this.queues;
  }

  async start(): Promise<void> {
    if (this.options.role !== "serve") return;
    await this.assertSchedules();
    this.refresh = setInterval(() => void this.assertSchedules(), SCHEDULES_REFRESH_MS);
    // A Redis restart without persistence loses the schedules: put them back once it is ready.
    this.redis.on("ready", () => void this.assertSchedules());
    this.sweeper = setInterval(() => void this.sweepRenewals(), EXPIRY_SWEEP_MS);
    await this.chat?.app.start();
  }

  private async sweepRenewals(): Promise<void> {
    try {
      const expired = await this.desk.sweep();
      if (expired) this.options.logger.info({ expired }, "renewal requests expired without approval");
    } catch (err) {
      this.options.logger.warn(
        { err: (err as Error).message },
        "could not expire renewal requests; will retry",
      );
    }
  }

  /** Scans one cluster now and stores the report (scan jobs and renewal plans both start here). */
  private async freshScan(cluster: ClusterConfig): Promise<StoredScan> {
    const started = Date.now();
    const report = await scanClusters(this.options.config, [cluster], this.scanDeps);
    const scan: StoredScan = {
      cluster: cluster.name,
      scannedAt: report.scannedAt,
      durationMs: Date.now() - started,
      report: report.clusters[0]!,
    };
    await this.store.saveScan(scan);
    return scan;
  }

  private async assertSchedules(): Promise<void> {
    try {
      if (await this.store.acquireLease("schedules", this.id, SCHEDULES_LEASE_MS)) {
        await this.queues.upsertSchedules(this.options.config);
        this.options.logger.info(
          {
            scanCron: this.options.config.scanCron,
            digestCron: this.options.config.slack?.digestCron,
            tz: this.options.config.timezone,
          },
          "schedules registered",
        );
      }
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, "could not register schedules; will retry");
    }
  }

  private cluster(name: string): ClusterConfig {
    const cluster = this.options.config.clusters.find((c) => c.name === name);
    if (!cluster) throw new Error(`cluster ${name} is not in the configuration`);
    return cluster;
  }

  private async scanCluster({ cluster: name }: ScanClusterData, job: Job): Promise<unknown> {
    const cluster = this.cluster(name);
    const { report: clusterReport, scannedAt } = await this.freshScan(cluster);
    const progress: ScannedProgress = { stage: "scanned", cluster: name, status: clusterReport.status };
    await job.updateProgress(progress);
    await this.notify(cluster, clusterReport, scannedAt);
    return { cluster: name, status: clusterReport.status };
  }

  /** Plans what to tell the cluster's channel, then posts each action once, saving state after each. */
  private async notify(cluster: ClusterConfig, report: ClusterReport, scannedAt: Date): Promise<void> {
    const channel = cluster.channel ?? this.options.config.slack?.digestChannel;
    if (!channel) return;
    const saved = (await this.store.loadJson<AlertState>("alerts", cluster.name)) ?? emptyAlertState();
    const plan = planAlerts({
      cluster: cluster.name,
      channel,
      report,
      state: saved,
      scannedAt,
      timeZone: this.options.config.timezone,
    });
    let state = plan.state;
    await this.store.saveJson("alerts", cluster.name, state);
    for (const action of plan.actions) {
      const ts = await this.poster.postOnce(action.id, action.message, action.threadTs, action.broadcast);
      state = applyAlert(state, action, ts);
      await this.store.saveJson("alerts", cluster.name, state);
    }
  }

  /**
   * One renewal run (the renewal queue's job): resumes from the state the job saved, reports in the
   * approval card's thread, shows the outcome on the card, then rescans the cluster so `/certs
   * status` and the warnings see the renewed certificates.
   */
  private async renew(job: Job<RenewalJobData>): Promise<unknown> {
    const cluster = this.cluster(clusterOfRequest(job.data.requestId) ?? "");
    const result = await this.runRenewalJob(job, cluster).catch(async (err: Error) => {
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1))
        await this.giveUp(job.data.requestId, cluster, err);
      throw err;
    });
    if (result.outcome !== "not-run") await this.queues.requestScan(cluster.name, "manual");
    return result;
  }

  /** The last attempt failed on infrastructure: the request ends failed (best effort), freeing the cluster. */
  private async giveUp(requestId: string, cluster: ClusterConfig, err: Error): Promise<void> {
    try {
      const ended = await this.renewals.finish(requestId, false, new Date());
      await this.audit.append(cluster.name, {
        kind: "result",
        requestId,
        detail: `failed: the run could not go on (${err.message}); check the nodes before a new request`,
      });
      if (ended) await this.desk.refreshCard(ended);
    } catch (cause) {
      this.options.logger.error(
        { request: requestId, err: (cause as Error).message },
        "could not mark the renewal failed",
      );
    }
  }

  private runRenewalJob(job: Job<RenewalJobData>, cluster: ClusterConfig) {
    const { config, logger } = this.options;
    return runRenewalJob(job, {
      load: async (id) => {
        const [request, plan] = await Promise.all([this.renewals.get(id), this.renewals.loadPlan(id)]);
        return request && plan ? { request, plan } : null;
      },
      reporterFor: async (request) => {
        const card = await this.renewals.card(request.id);
        if (!card) return unreported(logger, request.id);
        return new SlackThreadReporter({
          poster: this.poster,
          client: this.slackClient,
          card,
          requestId: request.id,
          timeZone: config.timezone,
          logger,
          onFinished: async () => {
            const ended = await this.renewals.get(request.id);
            if (ended) await this.desk.refreshCard(ended);
          },
        });
      },
      config: { cluster, renewal: config.renewal },
      requests: this.renewals,
      audit: this.audit,
      lease: this.lease,
      ...nodeAccess(cluster, this.scanDeps),
      now: () => new Date(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      logger,
    });
  }

  private async digest(job: Job): Promise<unknown> {
    const { config } = this.options;
    if (!config.slack) return { skipped: "no slack.digestChannel configured" };
    const names = config.clusters.map((c) => c.name);
    const latest = await this.store.latestAll(names);
    const messages = renderDigest({
      channel: config.slack.digestChannel,
      clusters: names.map((name) => ({
        name,
        report: latest.get(name)?.report ?? null,
        scannedAt: latest.get(name)?.scannedAt ?? null,
      })),
      now: new Date(),
      timeZone: config.timezone,
    });
    let parent: string | undefined;
    for (const [i, message] of messages.entries()) {
      const ts = await this.poster.postOnce(`digest:${job.id}:${i}`, message, parent);
      parent ??= ts;
    }
    return { messages: messages.length };
  }

  /** Stops taking jobs, lets running ones finish (bounded), closes connections. */
  async stop(): Promise<void> {
    clearInterval(this.refresh);
    clearInterval(this.sweeper);
    // Slack first: no new commands while the workers finish.
    await this.chat?.app
      .stop()
      .catch((err: Error) =>
        this.options.logger.warn({ err: err.message }, "Slack surface did not stop cleanly"),
      );
    await this.workers?.close(this.options.graceMs ?? 30_000);
    this.workers = undefined;
    await this.chat?.backend.close();
    await this.queues.close();
    await this.redis.quit().catch(() => undefined);
  }
}
