// BullMQ queues, schedules and workers: one class per concept, settings chosen on purpose.
//
// Queues: `scan` (jobs "scan-all", the scheduled fan-out, and "scan-cluster", one per cluster)
// and `digest` (job "digest"). A scan-cluster job is deduplicated by cluster while it waits or
// runs, so a manual scan of a cluster already being scanned joins that scan.
import { Queue, Worker, type ConnectionOptions, type Job, type JobsOptions } from "bullmq";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { Config } from "../config/load.js";

export const SCAN_QUEUE = "scan";
export const DIGEST_QUEUE = "digest";
export const SCAN_SCHEDULER_ID = "scan-all";
export const DIGEST_SCHEDULER_ID = "digest";

export type ScanReason = "schedule" | "manual";
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

export function isScanned(progress: unknown): progress is ScannedProgress {
  const p = progress as Partial<ScannedProgress> | null;
  return typeof p === "object" && p !== null && p.stage === "scanned" && typeof p.cluster === "string";
}

/**
 * Worker settings (docs/operations.md explains each):
 * - scans are idempotent, so a job lost with a crashed worker simply runs again: a stalled job
 *   is detected within `stalledInterval` and retried up to `maxStalledCount` times;
 * - the lock outlives the slowest cluster scan we allow (nodes × (connect + command) timeouts
 *   run in parallel, so ~40 s with the defaults) and is renewed every lockDuration/2 anyway;
 * - failures retry with exponential backoff; old jobs are trimmed by age and count.
 */
export const WORKER_SETTINGS = {
  scan: { concurrency: 4, lockDuration: 60_000, stalledInterval: 30_000, maxStalledCount: 2 },
  digest: { concurrency: 1, lockDuration: 120_000, stalledInterval: 30_000, maxStalledCount: 2 },
} as const;

const JOB_DEFAULTS: Record<typeof SCAN_QUEUE | typeof DIGEST_QUEUE, JobsOptions> = {
  [SCAN_QUEUE]: {
    attempts: 3,
    backoff: { type: "exponential", delay: 10_000 },
    removeOnComplete: { age: 24 * 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
  },
  [DIGEST_QUEUE]: {
    attempts: 5,
    backoff: { type: "exponential", delay: 30_000 },
    removeOnComplete: { age: 7 * 24 * 3600, count: 100 },
    removeOnFail: { age: 30 * 24 * 3600, count: 100 },
  },
};

export class Queues {
  readonly scan: Queue;
  readonly digest: Queue;

  constructor(
    connection: ConnectionOptions,
    readonly prefix: string,
  ) {
    this.scan = new Queue(SCAN_QUEUE, { connection, prefix, defaultJobOptions: JOB_DEFAULTS[SCAN_QUEUE] });
    this.digest = new Queue(DIGEST_QUEUE, {
      connection,
      prefix,
      defaultJobOptions: JOB_DEFAULTS[DIGEST_QUEUE],
    });
  }

  /** Queues a scan of one cluster, or joins the one already waiting or running. */
  requestScan(cluster: string, reason: ScanReason): Promise<Job<ScanClusterData>> {
    return this.scan.add("scan-cluster", { cluster, reason }, { deduplication: { id: `scan-${cluster}` } });
  }

  /** Registers (or updates) the scan and digest schedules, in the configured time zone. */
  async upsertSchedules(config: Config): Promise<void> {
    await this.scan.upsertJobScheduler(
      SCAN_SCHEDULER_ID,
      { pattern: config.scanCron, tz: config.timezone },
      { name: "scan-all", data: {} },
    );
    if (config.slack) {
      await this.digest.upsertJobScheduler(
        DIGEST_SCHEDULER_ID,
        { pattern: config.slack.digestCron, tz: config.timezone },
        { name: "digest", data: {} },
      );
    } else {
      await this.digest.removeJobScheduler(DIGEST_SCHEDULER_ID);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.scan.close(), this.digest.close()]);
  }
}

/**
 * Operators may tune crash detection (CERTS_BOT_LOCK_DURATION_MS, CERTS_BOT_STALLED_INTERVAL_MS,
 * at least 1000) and how many clusters one process scans at once (CERTS_BOT_SCAN_JOBS, 1–64).
 */
export interface WorkerTuning {
  lockDuration?: number;
  stalledInterval?: number;
  scanJobs?: number;
}

export function workerTuning(env: NodeJS.ProcessEnv = process.env): WorkerTuning {
  const int = (name: string, min: number, max: number): number | undefined => {
    const value = Number(env[name]);
    return Number.isInteger(value) && value >= min && value <= max ? value : undefined;
  };
  const tuning: WorkerTuning = {
    lockDuration: int("CERTS_BOT_LOCK_DURATION_MS", 1000, 3_600_000),
    stalledInterval: int("CERTS_BOT_STALLED_INTERVAL_MS", 1000, 3_600_000),
    scanJobs: int("CERTS_BOT_SCAN_JOBS", 1, 64),
  };
  return Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined)) as WorkerTuning;
}

export interface JobHandlers {
  scanCluster(data: ScanClusterData, job: Job): Promise<unknown>;
  digest(job: Job): Promise<unknown>;
}

/** The workers of one process; `close` lets running jobs finish (bounded) and stops taking new ones. */
export class Workers {
  private readonly workers: Worker[];

  constructor(
    connection: ConnectionOptions,
    prefix: string,
    queues: Queues,
    config: Config,
    handlers: JobHandlers,
    private readonly logger: Logger,
    { scanJobs, ...locks }: WorkerTuning = {},
  ) {
    // Named, so every job records which process ran it (Job#processedBy).
    const name = `certs-bot@${hostname()}:${process.pid}`;
    const scan = new Worker(
      SCAN_QUEUE,
      async (job: Job) => {
        if (job.name === "scan-all") {
          await Promise.all(config.clusters.map((c) => queues.requestScan(c.name, "schedule")));
          return { queued: config.clusters.length };
        }
        return handlers.scanCluster(job.data as ScanClusterData, job);
      },
      {
        connection,
        prefix,
        name,
        ...WORKER_SETTINGS.scan,
        ...locks,
        ...(scanJobs ? { concurrency: scanJobs } : {}),
      },
    );
    const digest = new Worker(DIGEST_QUEUE, (job: Job) => handlers.digest(job), {
      connection,
      prefix,
      name,
      ...WORKER_SETTINGS.digest,
      ...locks,
    });
    this.workers = [scan, digest];
    for (const worker of this.workers) {
      worker.on("failed", (job, err) =>
        logger.warn(
          { queue: worker.name, job: job?.name, id: job?.id, attempts: job?.attemptsMade, err: err.message },
          "job failed",
        ),
      );
      worker.on("error", (err) => logger.error({ queue: worker.name, err: err.message }, "worker error"));
    }
  }

  /** Stops taking jobs and waits for running ones, at most `graceMs`, then forces the close. */
  async close(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const graceful = Promise.all(this.workers.map((w) => w.close()));
    const deadline = new Promise<"timeout">(
      (resolve) => (timer = setTimeout(() => resolve("timeout"), graceMs)),
    );
    if ((await Promise.race([graceful, deadline])) === "timeout") {
      this.logger.warn({ graceMs }, "jobs still running at shutdown; closing anyway (they will be retried)");
      await Promise.all(this.workers.map((w) => w.close(true)));
    }
    clearTimeout(timer);
  }
}
