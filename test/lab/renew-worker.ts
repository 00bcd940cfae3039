// A renewal worker process for the crash tests: the real Queues/Workers with the renew handler, the
// real stores on Redis and a lab cluster's nodes, wired the way the service wires them (the reporter
// stays quiet: Slack is not what these tests are about). Killed with SIGKILL by the tests.
//
// Environment: REDIS_URL (and REDIS_SENTINELS…, as certs-bot reads them), CERTS_BOT_REDIS_PREFIX, LAB_CONFIG (the lab cluster's clusters.yaml),
// LAB_SWITCHES (a directory put first on the nodes' PATH: tool wrappers that pause on purpose; while
// its file `pause-before-probe` exists, the run's TLS probe of the apiserver, used in verify, waits),
// and the usual CERTS_BOT_LOCK_DURATION_MS / CERTS_BOT_STALLED_INTERVAL_MS.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { loadConfig } from "../../src/config/load.js";
import { Queues, Workers, workerTuning } from "../../src/adapters/queue/queues.js";
import { runRenewalJob } from "../../src/app/renew/job.js";
import type { ExecutorDependencies } from "../../src/app/renew/executor.js";
import { AuditLog } from "../../src/adapters/store/audit.js";
import { connectRedis, redisOptions, redisTarget } from "../../src/adapters/store/redis.js";
import { RenewalStore } from "../../src/adapters/store/renewals.js";
import { leaseTtlFor, RunLease } from "../../src/adapters/store/run-lease.js";
import { probeServedCertificate } from "../../src/adapters/nodes/tls-probe.js";
import { labNodeAccess, RecordingReporter } from "./renewal-cluster.js";

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`renew-worker: ${name} is not set`);
  return value;
};

const target = redisTarget({ ...process.env, REDIS_URL: required("REDIS_URL") });
const prefix = required("CERTS_BOT_REDIS_PREFIX");
const switches = required("LAB_SWITCHES");
const config = loadConfig(required("LAB_CONFIG"));
const logger = pino({ level: process.env.LOG_LEVEL ?? "warn" }, pino.destination(2));
const redis = connectRedis(target);
redis.on("error", (err) => logger.warn({ err: err.message }, "redis connection problem"));
const connection = redisOptions(target);
const queues = new Queues(connection, `${prefix}:bull`);
const renewals = new RenewalStore(redis, prefix);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The apiserver probe, paused (marked reached) while the switch file exists. */
const probe: ExecutorDependencies["probe"] = async (host, port, timeoutMs) => {
  const pause = join(switches, "pause-before-probe");
  if (existsSync(pause)) {
    writeFileSync(join(switches, "reached-before-probe"), "");
    while (existsSync(pause)) await sleep(100);
  }
  return probeServedCertificate(host, port, timeoutMs);
};

const onlyRenewals = async (): Promise<never> => {
  throw new Error("this worker only runs renewals");
};

const workers = new Workers(
  connection,
  `${prefix}:bull`,
  queues,
  config,
  {
    scanCluster: onlyRenewals,
    digest: onlyRenewals,
    renew: (_data, job) =>
      runRenewalJob(job, {
        load: async (id) => {
          const [request, plan] = await Promise.all([renewals.get(id), renewals.loadPlan(id)]);
          return request && plan ? { request, plan } : null;
        },
        reporterFor: () => new RecordingReporter(),
        config: { cluster: config.clusters[0]!, renewal: config.renewal, timeZone: config.timezone },
        requests: renewals,
        audit: new AuditLog(redis, prefix),
        lease: new RunLease(redis, prefix, {
          logger,
          ttlMs: leaseTtlFor(workerTuning().renewalLockDuration),
        }),
        ...labNodeAccess(config, { toolsFirst: switches }),
        probe,
        now: () => new Date(),
        sleep,
        waits: { containersGoneMs: 10_000, readyMs: 10_000, pollMs: 100 },
        logger,
      }),
  },
  logger,
  workerTuning(),
);

process.once("SIGTERM", () => {
  void workers
    .close(5_000)
    .then(() => queues.close())
    .finally(() => {
      redis.disconnect();
      process.exit(0);
    });
});
