// The long-running service: BullMQ workers that scan clusters, keep the results in Redis and tell
// Slack what matters, plus (role `serve`) the schedules and, when configured, the Slack surface
// (adapters/slack/app.ts). Roles scale out on Redis: run one `serve` and as many `worker` processes as you like.
import { randomUUID } from "node:crypto";
import type { WebClient } from "@slack/web-api";
import type { Logger } from "pino";
import { clusterChannel, type Config } from "./config/load.js";
import { Queues, settlesWithin, Workers, workerTuning, type RunningJob } from "./adapters/queue/queues.js";
import {
  defaultDependencies,
  nodeAccess,
  scanClusters,
  type ScanDependencies,
} from "./adapters/nodes/scan.js";
import { SlackApp, type SlackSurface } from "./adapters/slack/app.js";
import { groupsNow, ServiceBackend } from "./adapters/slack/backend.js";
import { INTERACTIVE_CALLS, SlackPoster, webClient, type SlackEnvironment } from "./adapters/slack/poster.js";
import { RenewalDesk } from "./app/renew/desk.js";
import { PolicyClerk } from "./app/renew/policy.js";
import { clustersBehind, freshScan, runScanJob, type FreshScanDependencies } from "./app/scan-job.js";
import { runDigestJob } from "./app/digest-job.js";
import { runRenewalAttempt, type RenewalJobHandlerDependencies } from "./app/renewal-job.js";
import { showCancelledRun, SlackThreadReporter } from "./adapters/slack/thread-reporter.js";
import type { RenewalRequest } from "./core/renew/approval.js";
import { leaseTtlFor, RunLease } from "./adapters/store/run-lease.js";
import { AuditLog } from "./adapters/store/audit.js";
import { connectRedis, redisOptions, type SentinelTarget } from "./adapters/store/redis.js";
import { RenewalStore } from "./adapters/store/renewals.js";
import { Store } from "./adapters/store/store.js";
import { Metrics, serveMetrics, type Check, type MetricsServer } from "./adapters/http/metrics.js";

export type Role = "serve" | "worker";

export interface ServiceOptions {
  role: Role;
  config: Config;
  redisUrl: string;
  /** The CA for a rediss:// `redisUrl` (REDIS_TLS_CA_FILE); default: Node's trusted CAs. */
  redisCa?: Buffer;
  /** REDIS_SENTINELS: the master is found through these, and `redisUrl`'s host and port are not used. */
  redisSentinel?: SentinelTarget;
  /** Redis key prefix (CERTS_BOT_REDIS_PREFIX); BullMQ queues live under `<prefix>:bull`. */
  prefix: string;
  slack: SlackEnvironment;
  /** `/certs` and App Home (role `serve` only); none when the environment asks for none. */
  slackSurface?: SlackSurface | null;
  logger: Logger;
  /** How long running jobs may take to finish at shutdown (CERTS_BOT_SHUTDOWN_MS). */
  graceMs?: number;
  scanDependencies?: ScanDependencies;
  /** Where /metrics, /healthz and /readyz listen (METRICS_PORT); 0 or none: no listener. */
  metricsPort?: number;
  /** `serve` scans at start the clusters whose report is missing or a scan period old (default true). */
  catchUp?: boolean;
}

/** Only one process registers the schedules (BullMQ misbehaves when several upsert at once). */
const SCHEDULES_LEASE_MS = 60_000;
/** Schedules are re-asserted this often by `serve`, so a Redis that lost its data gets them back. */
const SCHEDULES_REFRESH_MS = 5 * 60_000;
/** What a stop left behind: jobs still running at the deadline, connections that did not close. */
export interface Shutdown {
  abandoned: RunningJob[];
  /** False when workers or connections had to be dropped (Redis not answering): handles may linger. */
  clean: boolean;
}

/** Past the jobs' deadline, closing the connections gets this long before they are dropped. */
const TEARDOWN_MS = 2000;

/** How long `serve` waits at start for Redis before it starts without it. */
const REDIS_AT_START_MS = 3000;

/** The longest a stop can take: past this something is stuck, and the process should just end. */
export function stopLimitMs(graceMs: number): number {
  return graceMs + TEARDOWN_MS + 3000;
}
/** How often `serve` expires renewal requests nobody approved in time (and updates their cards). */
export const EXPIRY_SWEEP_MS = 60_000;

export class Service {
  private readonly redis;
  private readonly store: Store;
  /** The subscription that lets the scan cache answer with no Redis call while nothing is saved. */
  private saves?: ReturnType<Store["followSaves"]>;
  private readonly queues: Queues;
  private readonly poster: SlackPoster;
  private readonly scanDeps: ScanDependencies;
  /** A fresh scan of one cluster, stored: scan jobs and renewal plans both start here. */
  private readonly scanning: FreshScanDependencies;
  private workers?: Workers;
  private readonly chat?: { backend: ServiceBackend; app: SlackApp };
  private readonly desk: RenewalDesk;
  private refresh?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;
  /** Set by stop(): nothing new touches the queues once they are closing. */
  private stopping = false;
  private stopped?: Promise<Shutdown>;
  private readonly reassert = (): void => void this.assertSchedules();
  private readonly id = randomUUID();
  private readonly metrics: Metrics;
  private metricsServer?: MetricsServer;
  /** For /readyz: whether `serve` has put its schedules in Redis (or another `serve` holds that lease). */
  private schedulesAsserted = false;
  /** Whether this process has queued its start-up catch-up scans. */
  private caughtUp = false;

  constructor(private readonly options: ServiceOptions) {
    const { config, prefix, logger } = options;
    const target = {
      url: options.redisUrl,
      ...(options.redisCa ? { ca: options.redisCa } : {}),
      ...(options.redisSentinel ? { sentinel: options.redisSentinel } : {}),
    };
    this.redis = connectRedis(target);
    let troubled = false;
    this.redis.on("error", (err: Error) => {
      troubled = true;
      logger.warn({ err: err.message }, "redis connection problem; retrying");
    });
    this.redis.on("ready", () => {
      if (troubled) logger.info("Redis answers again");
      troubled = false;
    });
    this.store = new Store(this.redis, prefix);
    const connection = redisOptions(target);
    this.queues = new Queues(connection, `${prefix}:bull`, logger);
    this.poster = new SlackPoster(webClient(options.slack, logger), this.store);
    this.scanDeps = options.scanDependencies ?? defaultDependencies(logger);
    this.metrics = this.serviceMetrics();
    this.scanning = {
      scan: (cluster) => scanClusters(config, [cluster], this.scanDeps),
      archive: {
        saveScan: async (scan) => {
          await this.store.saveScan(scan);
          this.metrics.scanned(scan);
        },
      },
    };
    const renewals = new RenewalStore(this.redis, prefix);
    const audit = new AuditLog(this.redis, prefix, logger);
    const interactive = webClient(options.slack, logger, INTERACTIVE_CALLS);
    this.desk = new RenewalDesk({
      config,
      records: renewals,
      audit,
      scan: async (cluster) => (await freshScan(cluster, this.scanning)).report,
      channelFor: (cluster) => clusterChannel(config, cluster),
      cards: {
        post: async (message, requestId) => ({
          channel: message.channel,
          ts: await this.poster.postOnce(`renewal:${requestId}:card`, message),
        }),
        update: (card, message) => this.poster.update(card, message),
      },
      groupsNow: (userId, groups) => groupsNow(interactive, userId, groups),
      startRun: async (request) => void (await this.queues.requestRun(request.id)),
      dropRun: (request) => this.dropRun(request, renewals),
      promoteRun: (request) => this.queues.promoteRun(request.id),
      now: () => new Date(),
    });
    const renewal = this.renewalJob(renewals, audit);
    const { store, poster } = this;
    const policy = this.policyClerk(renewals, audit);
    this.workers = new Workers(
      connection,
      `${prefix}:bull`,
      this.queues,
      config,
      {
        scanCluster: (_data, job) =>
          runScanJob(job, { ...this.scanning, config, alerts: store, poster, policy }),
        digest: (job) =>
          runDigestJob(job, { config, archive: store, alerts: store, poster, now: () => new Date() }),
        renew: (_data, job) => this.counted(runRenewalAttempt(job, renewal)),
      },
      logger,
      workerTuning(),
    );
    if (options.role === "serve" && options.slackSurface) {
      this.chat = this.slackChat(options.slackSurface, connection, interactive, audit);
    }
  }

  /** Removes a cancelled request's waiting run, and tells its checklist in the thread. */
  private async dropRun(request: RenewalRequest, records: RenewalStore): Promise<void> {
    const state = await this.queues.dropRun(request.id);
    const cancelled = request.cancellation;
    const card = state && cancelled ? await records.card(request.id) : null;
    if (!state || !cancelled || !card) return;
    const by = { by: cancelled.user, at: cancelled.at.toISOString() };
    const postedTs = (actionId: string) => this.store.postedTs(actionId);
    await showCancelledRun(
      this.poster,
      postedTs,
      card,
      { ...state, cancelled: by },
      this.options.config.timezone,
    );
  }

  /** Files the requests of the clusters' renewal policies after their scans. */
  private policyClerk(records: RenewalStore, audit: AuditLog): PolicyClerk {
    const { config } = this.options;
    const { store, poster, desk } = this;
    const posted = async (actionId: string) => (await store.postedTs(actionId)) !== null;
    return new PolicyClerk({ config, desk, records, audit, poster, posted });
  }

  /** Resolves once this service's Redis connection is ready (at once when it is). */
  redisReady(): Promise<void> {
    if (this.redis.status === "ready") return Promise.resolve();
    return new Promise((resolve) => this.redis.once("ready", () => resolve()));
  }

  get queue(): Queues {
    return this.queues;
  }

  async start(): Promise<void> {
    const { metricsPort, logger } = this.options;
    this.saves = this.store.followSaves();
    if (metricsPort) this.metricsServer = await this.listen(metricsPort, logger);
    if (this.options.role !== "serve") return;
    // With Redis down, start does not wait for it: the schedules go in when it is ready (below).
    if (await settlesWithin(this.redisReady(), REDIS_AT_START_MS)) {
      await this.assertSchedules();
    } else {
      logger.warn("Redis is not reachable: schedules are registered once it answers; /readyz says not ready");
    }
    this.refresh = setInterval(() => void this.assertSchedules(), SCHEDULES_REFRESH_MS);
    // A Redis restart without persistence loses the schedules: put them back once it is ready.
    this.redis.on("ready", this.reassert);
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

  /** `/certs` and App Home: the Slack surface of `serve`. */
  private slackChat(
    surface: SlackSurface,
    connection: ReturnType<typeof redisOptions>,
    interactive: WebClient,
    audit: AuditLog,
  ): { backend: ServiceBackend; app: SlackApp } {
    const { config, slack, logger } = this.options;
    const backend = new ServiceBackend({
      store: this.store,
      queues: this.queues,
      connection,
      client: interactive,
      poster: this.poster,
      logger,
      desk: this.desk,
      audit,
    });
    const app = new SlackApp({
      surface,
      slack,
      config,
      backend,
      store: this.store,
      poster: this.poster,
      logger,
    });
    return { backend, app };
  }

  private async assertSchedules(): Promise<void> {
    if (this.stopping) return;
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
        await this.catchUpOnce();
      }
      this.schedulesAsserted = true;
    } catch (err) {
      this.schedulesAsserted = false;
      this.options.logger.warn({ err: (err as Error).message }, "could not register schedules; will retry");
    }
  }

  /** Once per process, by the `serve` that registers the schedules: scans for reports a tick missed. */
  private async catchUpOnce(): Promise<void> {
    const { config, logger, catchUp = true } = this.options;
    if (this.caughtUp || !catchUp) return;
    const latest = await this.store.latestAll(config.clusters.map((c) => c.name));
    const behind = clustersBehind(config, latest, new Date());
    await Promise.all(behind.map((cluster) => this.queues.requestScan(cluster, "catch-up")));
    this.caughtUp = true;
    if (behind.length) {
      logger.info(
        { clusters: behind.length, first: behind.slice(0, 10) },
        "scanning now the clusters whose report is missing or older than one scan period",
      );
    }
  }

  /**
   * The metrics listener. A port already taken (a second process on one host, on the default port)
   * costs this process its endpoint, not its work: it warns and runs on.
   */
  private async listen(port: number, logger: Logger): Promise<MetricsServer | undefined> {
    try {
      return await serveMetrics(this.metrics, port, logger);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
      logger.warn({ port }, "METRICS_PORT is taken: this process serves no /metrics, /healthz, /readyz");
      return undefined;
    }
  }

  /** The metrics registry over this service's stores, and what /readyz checks. */
  private serviceMetrics(): Metrics {
    const { config, role, logger } = this.options;
    const queues = [this.queues.scan, this.queues.digest, this.queues.renewal];
    const readiness: Record<string, Check> = {
      redis: async () =>
        this.redis.status === "ready" && (await this.redis.ping()) === "PONG"
          ? null
          : `Redis connection is ${this.redis.status}`,
    };
    if (role === "serve") {
      readiness.schedules = async () => (this.schedulesAsserted ? null : "schedules are not registered yet");
    }
    if (role === "serve" && this.options.slackSurface) {
      readiness.slack = async () => (this.chat?.app.connected ? null : "the Slack surface is not connected");
    }
    return new Metrics({
      scans: async () =>
        [...(await this.store.latestAll(config.clusters.map((c) => c.name))).values()].filter(
          (s) => s !== null,
        ),
      jobCounts: async () =>
        Object.fromEntries(
          await Promise.all(queues.map(async (q) => [q.name, await q.getJobCounts()] as const)),
        ),
      readiness,
      logger,
    });
  }

  /** A renewal attempt, counted by its result (`error`: the attempt threw; BullMQ may retry it). */
  private async counted(attempt: ReturnType<typeof runRenewalAttempt>): ReturnType<typeof runRenewalAttempt> {
    try {
      const result = await attempt;
      // Waiting for its window is no result: the same run goes on later.
      if (result.outcome !== "waiting") this.metrics.renewalFinished(result.outcome);
      return result;
    } catch (err) {
      this.metrics.renewalFinished("error");
      throw err;
    }
  }

  /** What the renewal job needs: this process's stores, the cluster's nodes, the card's thread in Slack. */
  private renewalJob(records: RenewalStore, audit: AuditLog): RenewalJobHandlerDependencies {
    const { config, prefix, logger } = this.options;
    return {
      config,
      records,
      audit,
      lease: new RunLease(this.redis, prefix, {
        logger,
        ttlMs: leaseTtlFor(workerTuning().renewalLockDuration),
      }),
      nodes: (cluster) => nodeAccess(cluster, this.scanDeps),
      threadReporter: (card, requestId, onFinished) =>
        new SlackThreadReporter({
          poster: this.poster,
          card,
          requestId,
          timeZone: config.timezone,
          logger,
          onFinished,
        }),
      refreshCard: (request) => this.desk.refreshCard(request),
      requestScan: (cluster) => this.queues.requestScan(cluster, "manual"),
      logger,
      now: () => new Date(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    };
  }

  /**
   * Stops taking jobs, lets running ones finish within `graceMs`, closes connections. Bounded even
   * with Redis gone: what is still running at the deadline is abandoned (and reported), and
   * connections that do not close in time are dropped. A second call gets the first one's result.
   */
  stop(graceMs = this.options.graceMs ?? 30_000): Promise<Shutdown> {
    this.stopped ??= this.shutDown(graceMs);
    return this.stopped;
  }

  private async shutDown(graceMs: number): Promise<Shutdown> {
    const deadline = Date.now() + graceMs;
    this.stopping = true;
    // A reconnect during the stop must not register schedules on queues that are closing.
    this.redis.off("ready", this.reassert);
    clearInterval(this.refresh);
    clearInterval(this.sweeper);
    // Slack first: no new commands while the workers finish.
    const slackStopped = this.chat?.app
      .stop()
      .catch((err: Error) =>
        this.options.logger.warn({ err: err.message }, "Slack surface did not stop cleanly"),
      );
    if (slackStopped) await settlesWithin(slackStopped, deadline - Date.now());
    const { abandoned, closed } = (await this.workers?.close(deadline - Date.now())) ?? {
      abandoned: [],
      closed: true,
    };
    this.workers = undefined;
    // The listener is local and closes at once, whatever Redis does: a hung teardown must not keep it.
    await this.metricsServer?.close();
    const teardown = (async () => {
      await this.chat?.backend.close();
      await this.saves?.close();
      await this.queues.close();
      await this.redis.quit();
    })();
    const clean = await settlesWithin(teardown, Math.max(deadline - Date.now(), TEARDOWN_MS));
    if (!clean) {
      this.chat?.backend.disconnect();
      this.saves?.disconnect();
      this.queues.disconnect();
      this.redis.disconnect();
    }
    return { abandoned, clean: clean && closed };
  }
}
