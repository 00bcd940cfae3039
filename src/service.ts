// The long-running service: BullMQ workers that scan clusters, keep the results in Redis and tell
// Slack what matters, plus (role `serve`) the schedules and, when configured, the Slack surface
// (slack/app.ts). Roles scale out on Redis: run one `serve` and as many `worker` processes as you like.
import { randomUUID } from "node:crypto";
import type { Job } from "bullmq";
import type { Logger } from "pino";
import type { ClusterConfig, Config } from "./config/load.js";
import { planAlerts, applyAlert, emptyAlertState, type AlertState } from "./notify/warnings.js";
import { renderDigest } from "./notify/digest.js";
import { Queues, Workers, workerTuning, type ScanClusterData, type ScannedProgress } from "./queue/queues.js";
import type { ClusterReport } from "./report/types.js";
import { defaultDependencies, scanClusters, type ScanDependencies } from "./scan/scan.js";
import { SlackApp, type SlackSurface } from "./slack/app.js";
import { ServiceBackend } from "./slack/backend.js";
import { INTERACTIVE_CALLS, SlackPoster, webClient, type SlackEnvironment } from "./slack/poster.js";
import { connectRedis } from "./store/redis.js";
import { Store } from "./store/store.js";

export type Role = "serve" | "worker";

export interface ServiceOptions {
  role: Role;
  config: Config;
  redisUrl: string;
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

export class Service {
  private readonly redis;
  private readonly store: Store;
  private readonly queues: Queues;
  private readonly poster: SlackPoster;
  private readonly scanDeps: ScanDependencies;
  private workers?: Workers;
  private readonly chat?: { backend: ServiceBackend; app: SlackApp };
  private refresh?: NodeJS.Timeout;
  private readonly id = randomUUID();

  constructor(private readonly options: ServiceOptions) {
    const { redisUrl, prefix, logger } = options;
    this.redis = connectRedis(redisUrl);
    this.redis.on("error", (err: Error) =>
      logger.warn({ err: err.message }, "redis connection problem; retrying"),
    );
    this.store = new Store(this.redis, prefix);
    const connection = { url: redisUrl, protocol: 2, maxRetriesPerRequest: null } as const;
    this.queues = new Queues(connection, `${prefix}:bull`);
    for (const queue of [this.queues.scan, this.queues.digest]) {
      // Without a listener BullMQ prints connection errors to the console, around pino.
      queue.on("error", (err: Error) =>
        logger.warn({ queue: queue.name, err: err.message }, "queue connection problem"),
      );
    }
    this.poster = new SlackPoster(webClient(options.slack, logger), this.store);
    this.scanDeps = options.scanDependencies ?? defaultDependencies(logger);
    this.workers = new Workers(
      connection,
      `${prefix}:bull`,
      this.queues,
      options.config,
      { scanCluster: (data, job) => this.scanCluster(data, job), digest: (job) => this.digest(job) },
      logger,
      workerTuning(),
    );
    if (options.role === "serve" && options.slackSurface) {
      const backend = new ServiceBackend({
        store: this.store,
        queues: this.queues,
        connection,
        client: webClient(options.slack, logger, INTERACTIVE_CALLS),
        logger,
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
    await this.chat?.app.start();
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
    const started = Date.now();
    const report = await scanClusters(this.options.config, [cluster], this.scanDeps);
    const clusterReport = report.clusters[0]!;
    await this.store.saveScan({
      cluster: name,
      scannedAt: report.scannedAt,
      durationMs: Date.now() - started,
      report: clusterReport,
    });
    const progress: ScannedProgress = { stage: "scanned", cluster: name, status: clusterReport.status };
    await job.updateProgress(progress);
    await this.notify(cluster, clusterReport, report.scannedAt);
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
