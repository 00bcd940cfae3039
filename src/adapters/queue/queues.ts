// BullMQ queues, schedules and workers: one class per concept, settings chosen on purpose.
//
// Queues: `scan` (jobs "scan-all", the scheduled fan-out, and "scan-cluster", one per cluster),
// `digest` (job "digest") and `renewal` (job "renew", one per approved request). A scan-cluster job
// is deduplicated by cluster while it waits or runs, so a manual scan of a cluster already being
// scanned joins that scan; a renew job's id derives from its request, so a run starts once.
import { DelayedError, Queue, Worker, type ConnectionOptions, type Job, type JobsOptions } from "bullmq";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { Config } from "../../config/load.js";
import { runJobId } from "../../core/renew/approval.js";
import type { RunState } from "../../core/renew/run-state.js";
import { RENEW_JOB, type RenewalJobData, type RenewalJobResult } from "../../app/renew/job.js";
import type { ScanClusterData, ScannedProgress, ScanReason } from "../../app/scan-job.js";

export const SCAN_QUEUE = "scan";
export const DIGEST_QUEUE = "digest";
export const RENEWAL_QUEUE = "renewal";
export const SCAN_SCHEDULER_ID = "scan-all";
export const DIGEST_SCHEDULER_ID = "digest";

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
  // A renewal restarts a control plane: one at a time per process. A false stall (a live worker
  // whose lock lapsed) would start a second run of the same request next to the first, so the lock
  // is generous: BullMQ renews it every lockDuration/2, and only a blocked event loop or Redis gone
  // for two minutes lets it lapse. A dead worker's run resumes within lockDuration + stalledInterval.
  // Each stall reruns the job from its saved state (BullMQ fails it after maxStalledCount): three
  // crashes cover rolling restarts and an OOM; a run that kills its worker every time is left to people.
  renewal: { concurrency: 1, lockDuration: 120_000, stalledInterval: 30_000, maxStalledCount: 3 },
} as const;

const JOB_DEFAULTS: Record<typeof SCAN_QUEUE | typeof DIGEST_QUEUE | typeof RENEWAL_QUEUE, JobsOptions> = {
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
  // A failed renewal is an outcome (rolled back, reported) and the job completes: it is never renewed
  // again unattended on a cluster where something is wrong. The job itself fails only on an
  // infrastructure error (Redis or the audit unwritable); it is retried a few times, resuming from
  // its saved state as safely as after a crash, and after the last attempt the request is marked
  // failed (app/renewal-job.ts) so the cluster is not held. Kept by age only: the job holds the
  // run's final state, and while it exists a replayed start joins it.
  [RENEWAL_QUEUE]: {
    attempts: 3,
    backoff: { type: "exponential", delay: 30_000 },
    removeOnComplete: { age: 30 * 24 * 3600 },
    removeOnFail: { age: 90 * 24 * 3600 },
  },
};

/** Whether `work` settles within `ms` (it keeps running either way). */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(ms, 0))));
  const settled = work.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

export class Queues {
  readonly scan: Queue;
  readonly digest: Queue;
  readonly renewal: Queue<RenewalJobData>;

  constructor(
    connection: ConnectionOptions,
    readonly prefix: string,
    logger?: Logger,
  ) {
    this.scan = new Queue(SCAN_QUEUE, { connection, prefix, defaultJobOptions: JOB_DEFAULTS[SCAN_QUEUE] });
    this.digest = new Queue(DIGEST_QUEUE, {
      connection,
      prefix,
      defaultJobOptions: JOB_DEFAULTS[DIGEST_QUEUE],
    });
    this.renewal = new Queue<RenewalJobData>(RENEWAL_QUEUE, {
      connection,
      prefix,
      defaultJobOptions: JOB_DEFAULTS[RENEWAL_QUEUE],
    });
    // Without a listener BullMQ prints a queue's errors to the console, stack and all, around pino.
    for (const queue of this.all) {
      if (logger)
        queue.on("error", (err) =>
          logger.warn({ queue: queue.name, err: err.message }, "queue connection problem"),
        );
    }
  }

  private get all(): Queue[] {
    return [this.scan, this.digest, this.renewal];
  }

  /** Queues a scan of one cluster, or joins the one already waiting or running. */
  requestScan(cluster: string, reason: ScanReason): Promise<Job<ScanClusterData>> {
    return this.scan.add("scan-cluster", { cluster, reason }, { deduplication: { id: `scan-${cluster}` } });
  }

  /**
   * Starts the run of an approved request. The job id derives from the request, so a double click,
   * a replayed action or a second caller gets the same single job back.
   */
  requestRun(requestId: string): Promise<Job<RenewalJobData>> {
    return this.renewal.add(RENEW_JOB, { requestId }, { jobId: runJobId({ id: requestId }) });
  }

  /**
   * Removes the job of a cancelled request while it waits (delayed until its window, or queued).
   * A job a worker holds is locked and stays: its run finds the request cancelled and does nothing.
   * Returns the run state the job had saved (its checklist in the thread), if any.
   */
  async dropRun(requestId: string): Promise<RunState | null> {
    const job = await this.renewal.getJob(runJobId({ id: requestId }));
    await job?.remove().catch(() => undefined);
    return (job?.data as RenewalJobData | undefined)?.state ?? null;
  }

  /** Runs now a job delayed until its window ("Run now"); a job in any other state is left as it is. */
  async promoteRun(requestId: string): Promise<void> {
    const job = await this.renewal.getJob(runJobId({ id: requestId }));
    if (job && (await job.getState()) === "delayed") await job.promote().catch(() => undefined);
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
    await Promise.all(this.all.map((queue) => queue.close()));
  }

  /** Drops the connections without waiting for Redis (for a shutdown past its deadline). */
  disconnect(): void {
    for (const queue of this.all) void queue.disconnect().catch(() => undefined);
  }
}

/**
 * Operators may tune crash detection of scans and digests (CERTS_BOT_LOCK_DURATION_MS,
 * CERTS_BOT_STALLED_INTERVAL_MS) and, separately, of renewals (CERTS_BOT_RENEWAL_LOCK_DURATION_MS,
 * CERTS_BOT_RENEWAL_STALLED_INTERVAL_MS), each at least 1000; and how many clusters one process scans
 * at once (CERTS_BOT_SCAN_JOBS, 1–64). A renewal restarts control planes, so a setting meant to make
 * scans recover faster never shortens a renewal's lock.
 */
export interface WorkerTuning {
  lockDuration?: number;
  stalledInterval?: number;
  renewalLockDuration?: number;
  renewalStalledInterval?: number;
  scanJobs?: number;
}

/** Within Kubernetes' default 30 s grace period and docker-compose.yml's stop_grace_period (40 s). */
export const DEFAULT_SHUTDOWN_MS = 30_000;

export function workerTuning(env: NodeJS.ProcessEnv = process.env): WorkerTuning {
  const int = (name: string, min: number, max: number): number | undefined => {
    const value = Number(env[name]);
    return Number.isInteger(value) && value >= min && value <= max ? value : undefined;
  };
  const tuning: WorkerTuning = {
    lockDuration: int("CERTS_BOT_LOCK_DURATION_MS", 1000, 3_600_000),
    stalledInterval: int("CERTS_BOT_STALLED_INTERVAL_MS", 1000, 3_600_000),
    renewalLockDuration: int("CERTS_BOT_RENEWAL_LOCK_DURATION_MS", 1000, 3_600_000),
    renewalStalledInterval: int("CERTS_BOT_RENEWAL_STALLED_INTERVAL_MS", 1000, 3_600_000),
    scanJobs: int("CERTS_BOT_SCAN_JOBS", 1, 64),
  };
  return Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined)) as WorkerTuning;
}

/** How long a stopping process waits for its running jobs (CERTS_BOT_SHUTDOWN_MS, 1000–3600000). */
export function shutdownGraceMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.CERTS_BOT_SHUTDOWN_MS);
  return Number.isInteger(value) && value >= 1000 && value <= 3_600_000 ? value : DEFAULT_SHUTDOWN_MS;
}

export interface JobHandlers {
  scanCluster(data: ScanClusterData, job: Job): Promise<unknown>;
  digest(job: Job): Promise<unknown>;
  /** Runs renewals; a process without it takes no renewal job. */
  renew?(data: RenewalJobData, job: Job<RenewalJobData>): Promise<RenewalJobResult>;
}

/**
 * A renewal attempt; one that waits for its maintenance window goes back to the queue, delayed until
 * the window opens. The delayed job is in Redis, so the wait survives restarts.
 */
async function runOrWait(
  job: Job<RenewalJobData>,
  token: string | undefined,
  renew: NonNullable<JobHandlers["renew"]>,
): Promise<RenewalJobResult> {
  const result = await renew(job.data, job);
  if (result.outcome !== "waiting") return result;
  await job.moveToDelayed(Date.parse(result.resumesAt), token);
  throw new DelayedError();
}

/** A job this process took and had not finished (its outcome not yet recorded in Redis). */
export interface RunningJob {
  queue: string;
  name: string;
  id: string | undefined;
}

/** The workers of one process; `close` lets running jobs finish (bounded) and stops taking new ones. */
export class Workers {
  private readonly workers: Worker[];
  /** From "active" until BullMQ has recorded the outcome ("completed", "failed"). */
  private readonly running = new Map<Job, RunningJob>();

  constructor(
    connection: ConnectionOptions,
    prefix: string,
    queues: Queues,
    config: Config,
    handlers: JobHandlers,
    logger: Logger,
    { scanJobs, renewalLockDuration, renewalStalledInterval, ...locks }: WorkerTuning = {},
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
    const renew = handlers.renew;
    if (renew) {
      this.workers.push(
        new Worker(
          RENEWAL_QUEUE,
          (job: Job<RenewalJobData>, token?: string) =>
            runOrWait(job, token, renew).catch((err: unknown) => {
              // Back to the queue, not finished: no "completed" or "failed" will say it left.
              if (err instanceof DelayedError) this.running.delete(job);
              throw err;
            }),
          {
            connection,
            prefix,
            name,
            ...WORKER_SETTINGS.renewal,
            ...(renewalLockDuration ? { lockDuration: renewalLockDuration } : {}),
            ...(renewalStalledInterval ? { stalledInterval: renewalStalledInterval } : {}),
          },
        ),
      );
    }
    for (const worker of this.workers) {
      worker.on("failed", (job, err) =>
        logger.warn(
          { queue: worker.name, job: job?.name, id: job?.id, attempts: job?.attemptsMade, err: err.message },
          "job failed",
        ),
      );
      worker.on("error", (err) => logger.error({ queue: worker.name, err: err.message }, "worker error"));
      worker.on("active", (job) => {
        logger.debug({ queue: worker.name, job: job.name, id: job.id }, "job started");
        this.running.set(job, { queue: worker.name, name: job.name, id: job.id });
      });
      worker.on("completed", (job) => this.running.delete(job));
      worker.on("failed", (job) => job && this.running.delete(job));
    }
  }

  /**
   * Stops taking jobs and waits for running ones, at most `graceMs`. Past it the connections are
   * dropped (`close(true)` would only join the graceful close, which waits for Redis) and the jobs
   * still running are returned: BullMQ reruns them once their lock lapses. `closed` is false then:
   * a dropped worker may keep retrying timers, so the process has to exit on its own.
   */
  async close(graceMs: number): Promise<{ abandoned: RunningJob[]; closed: boolean }> {
    if (await settlesWithin(Promise.all(this.workers.map((w) => w.close())), graceMs)) {
      return { abandoned: [], closed: true };
    }
    const abandoned = [...this.running.values()];
    for (const worker of this.workers) void worker.disconnect().catch(() => undefined);
    return { abandoned, closed: false };
  }
}
