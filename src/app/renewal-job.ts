// The renewal queue's job as the service runs it: the run (runRenewalJob) reported in the approval
// card's thread, the card redrawn at its end; when the last attempt fails on infrastructure, the
// request ends failed so it no longer holds the cluster; and after a run, a rescan of the cluster so
// `/certs status` and the warnings see the renewed certificates.
import type { Logger } from "pino";
import { configuredCluster, type ClusterConfig, type Config } from "../config/load.js";
import { clusterOfRequest, type RenewalRequest } from "../core/renew/approval.js";
import type {
  AuditTrail,
  CardLocation,
  ExecutionLease,
  RenewalRecords,
  RunReporter,
} from "../core/renew/ports.js";
import {
  runRenewalJob,
  type RenewalJobDependencies,
  type RenewalJobLike,
  type RenewalJobResult,
} from "./renew/job.js";
import type { RunDependencies } from "./renew/run.js";

/** What the handler needs of a BullMQ Job: its data, and how many attempts it had and may have. */
export interface RenewalAttempt extends RenewalJobLike {
  readonly attemptsMade: number;
  readonly opts: { attempts?: number };
}

export interface RenewalJobHandlerDependencies {
  config: Config;
  records: RenewalRecords;
  audit: AuditTrail;
  lease: ExecutionLease;
  /** The cluster's nodes as a run reaches them. */
  nodes(cluster: ClusterConfig): Pick<RunDependencies, "transportFor" | "rescan" | "probe" | "health">;
  /** The run's voice in the thread of the approval card at `card`; `onFinished` after its summary. */
  threadReporter(card: CardLocation, requestId: string, onFinished: () => Promise<void>): RunReporter;
  /** Redraws the request's approval card (RenewalDesk.refreshCard). */
  refreshCard(request: RenewalRequest): Promise<void>;
  /** Queues a scan of the cluster. */
  requestScan(cluster: string): Promise<unknown>;
  logger: Logger;
  now(): Date;
  sleep(ms: number): Promise<void>;
}

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

/**
 * One renewal run: resumes from the state the job saved, reports in the approval card's thread,
 * shows the outcome on the card, then rescans the cluster.
 */
export async function runRenewalAttempt(
  job: RenewalAttempt,
  deps: RenewalJobHandlerDependencies,
): Promise<RenewalJobResult> {
  const { requestId } = job.data;
  const cluster = configuredCluster(deps.config, clusterOfRequest(requestId) ?? "");
  const result = await runRenewalJob(job, runDependencies(cluster, deps)).catch(async (err: Error) => {
    if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await giveUp(requestId, cluster, err, deps);
    throw err;
  });
  if (result.outcome === "done" || result.outcome === "failed") await deps.requestScan(cluster.name);
  return result;
}

function runDependencies(
  cluster: ClusterConfig,
  deps: RenewalJobHandlerDependencies,
): RenewalJobDependencies {
  const { config, records, logger } = deps;
  return {
    load: async (id) => {
      const [request, plan] = await Promise.all([records.get(id), records.loadPlan(id)]);
      return request && plan ? { request, plan } : null;
    },
    reporterFor: async (request) => {
      const card = await records.card(request.id);
      if (!card) return unreported(logger, request.id);
      return deps.threadReporter(card, request.id, async () => {
        const ended = await records.get(request.id);
        if (ended) await deps.refreshCard(ended);
      });
    },
    config: { cluster, renewal: config.renewal, timeZone: config.timezone },
    requests: records,
    audit: deps.audit,
    lease: deps.lease,
    ...deps.nodes(cluster),
    now: deps.now,
    sleep: deps.sleep,
    logger,
  };
}

/** The last attempt failed on infrastructure: the request ends failed (best effort), freeing the cluster. */
async function giveUp(
  requestId: string,
  cluster: ClusterConfig,
  err: Error,
  { records, audit, refreshCard, logger, now }: RenewalJobHandlerDependencies,
): Promise<void> {
  try {
    const ended = await records.finish(requestId, false, now());
    await audit.append(cluster.name, {
      kind: "result",
      requestId,
      detail: `failed: the run could not go on (${err.message}); check the nodes before a new request`,
    });
    if (ended) await refreshCard(ended);
  } catch (cause) {
    logger.error({ request: requestId, err: (cause as Error).message }, "could not mark the renewal failed");
  }
}
