// /metrics, /healthz and /readyz on one HTTP listener (METRICS_PORT), in `serve` and `worker` alike.
// The certificate series are read from the latest stored scans at each scrape, so every instance
// answers the same and a restart does not blank them; the scan durations and renewal counts are
// what this process saw.
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { OperatorError } from "../../config/operator-error.js";
import type { StoredScan } from "../../core/report/types.js";
import { SCAN_GAUGES, scanSamples, type ScanGauge, type ScanSamples } from "../../present/metrics.js";

const DEFAULT_METRICS_PORT = 9464;

/** METRICS_PORT: a TCP port, 0 for no listener; default 9464. */
export function metricsPort(env: NodeJS.ProcessEnv): number {
  const text = env.METRICS_PORT;
  if (text === undefined || text === "") return DEFAULT_METRICS_PORT;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new OperatorError(`METRICS_PORT must be a TCP port (1-65535) or 0 for none, not "${text}"`);
  }
  return port;
}

/** One readiness check: why it is not ready, or null when it is. */
export type Check = () => Promise<string | null>;

export interface MetricsSources {
  /** The latest stored scans (Store.latestAll over the configured clusters). */
  scans(): Promise<StoredScan[]>;
  /** BullMQ job counts per queue. */
  jobCounts(): Promise<Record<string, Record<string, number>>>;
  /** What /readyz checks, by name (the JSON body names each). */
  readiness: Record<string, Check>;
  logger: Logger;
}

/** What a scrape may wait for Redis; past it the stored series are left out of that scrape. */
const SOURCE_TIMEOUT_MS = 2000;
/** What a readiness check may take: a probe waits for /readyz only so long. */
const CHECK_TIMEOUT_MS = 1000;

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  // An unref'd timer: a scrape that got its answer leaves nothing holding the process open.
  const late = sleep(ms, undefined, { ref: false }).then(() => {
    throw new Error(`${what}: no answer within ${ms} ms`);
  });
  return Promise.race([promise, late]);
}

const packageVersion = (): string =>
  (createRequire(import.meta.url)("../../../package.json") as { version: string }).version;

/** A run's outcome, or `error` when the attempt threw (BullMQ may retry it). */
const RENEWAL_RESULTS = ["done", "failed", "not-run", "error"] as const;
export type RenewalResult = (typeof RENEWAL_RESULTS)[number];

export class Metrics {
  readonly registry = new Registry();
  private readonly scanDuration: Histogram;
  private readonly renewals: Counter;
  /** One read of the stored scans per scrape, shared by every gauge it fills. */
  private pending?: Promise<ScanSamples | null>;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.scanDuration = new Histogram({
      name: "certs_bot_scan_duration_seconds",
      help: "How long scanning a cluster took (scans run by this process)",
      labelNames: ["cluster"],
      buckets: [1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.renewals = new Counter({
      name: "certs_bot_renewals_total",
      help: `Renewal runs finished by this process, by result (${RENEWAL_RESULTS.join(", ")})`,
      labelNames: ["result"],
      registers,
    });
    // Every result from 0, so the first failure is an increase() and not a series appearing at 1.
    for (const result of RENEWAL_RESULTS) this.renewals.inc({ result }, 0);
    new Gauge({
      name: "certs_bot_build_info",
      help: "certs-bot's version",
      labelNames: ["version"],
      registers,
    }).set({ version: packageVersion() }, 1);
    for (const gauge of SCAN_GAUGES) this.storedGauge(gauge);
    this.jobsGauge();
  }

  scanned(scan: StoredScan): void {
    this.scanDuration.observe({ cluster: scan.cluster }, scan.durationMs / 1000);
  }

  renewalFinished(result: RenewalResult): void {
    this.renewals.inc({ result });
  }

  private samples(): Promise<ScanSamples | null> {
    this.pending ??= within(this.sources.scans(), SOURCE_TIMEOUT_MS, "stored scans")
      .then((scans) => scanSamples(scans, new Date()))
      .catch((err: Error) => {
        this.sources.logger.warn({ err: err.message }, "metrics: stored scans unavailable for this scrape");
        return null;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** A gauge filled at each scrape from the latest stored scans. */
  private storedGauge({ name, help, labels, pick }: ScanGauge): void {
    const samples = () => this.samples();
    new Gauge({
      name,
      help,
      labelNames: labels,
      registers: [this.registry],
      async collect() {
        this.reset();
        const all = await samples();
        for (const { labels, value } of all ? pick(all) : []) this.set(labels, value);
      },
    });
  }

  private jobsGauge(): void {
    const { jobCounts, logger } = this.sources;
    new Gauge({
      name: "certs_bot_jobs",
      help: "BullMQ jobs per queue and state",
      labelNames: ["queue", "state"],
      registers: [this.registry],
      async collect() {
        this.reset();
        const counts = await within(jobCounts(), SOURCE_TIMEOUT_MS, "job counts").catch((err: Error) => {
          logger.warn({ err: err.message }, "metrics: job counts unavailable for this scrape");
          return {};
        });
        for (const [queue, states] of Object.entries(counts)) {
          for (const [state, value] of Object.entries(states)) this.set({ queue, state }, value);
        }
      },
    });
  }

  /** Every check, by name: "ok" or why not; ready when all are ok. */
  async readiness(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const entries = await Promise.all(
      Object.entries(this.sources.readiness).map(async ([name, check]) => {
        const problem = await within(check(), CHECK_TIMEOUT_MS, name).catch((err: Error) => err.message);
        return [name, problem ?? "ok"] as const;
      }),
    );
    return { ready: entries.every(([, result]) => result === "ok"), checks: Object.fromEntries(entries) };
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type }).end(body);
}

async function route(metrics: Metrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "GET only\n");
  switch (path) {
    case "/metrics":
      return send(res, 200, metrics.registry.contentType, await metrics.registry.metrics());
    case "/healthz":
      // Answering at all is the check: the event loop is not stuck.
      return send(res, 200, "application/json", JSON.stringify({ status: "ok" }));
    case "/readyz": {
      const { ready, checks } = await metrics.readiness();
      const body = JSON.stringify({ status: ready ? "ok" : "not ready", checks });
      return send(res, ready ? 200 : 503, "application/json", body);
    }
    default:
      return send(res, 404, "text/plain", "not found: /metrics, /healthz, /readyz\n");
  }
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Listens on `port` (every interface: Prometheus scrapes from elsewhere). */
export async function serveMetrics(metrics: Metrics, port: number, logger: Logger): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    route(metrics, req, res).catch((err: Error) => {
      logger.warn({ err: err.message, url: req.url }, "metrics endpoint failed");
      if (!res.headersSent) send(res, 500, "text/plain", "internal error\n");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  logger.info({ port: bound, paths: ["/metrics", "/healthz", "/readyz"] }, "metrics listening");
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
