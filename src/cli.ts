#!/usr/bin/env node
// certs-bot's command line. stdout carries only the result; logs (pino) go to stderr.
// Exit codes follow monitoring plugins: 0 ok, 1 warning, 2 critical, 3 unknown (incl. bad usage).
//
// Each command imports the modules it uses when it runs (`await import`): a monitoring plugin runs
// `scan` every few minutes, and loading Bolt, BullMQ and ioredis for it would take longer than
// Node's own start. Only commander, the logger (pino), the report renderer (exit codes) and two small
// config modules load up front.
import { createRequire } from "node:module";
import { Command, CommanderError, Option } from "commander";
import { createLogger } from "./adapters/log/logger.js";
import type { ClusterConfig, Config } from "./config/load.js";
import type { ConsoleRenewalsResult } from "./adapters/console/exclusion.js";
import { OperatorError } from "./config/operator-error.js";
import { SLACK_ID } from "./config/slack-ids.js";
import { EXIT, exitCode, renderJson, renderTable } from "./present/report.js";
import type { ScanReport } from "./core/report/types.js";
import type { Role, Service, Shutdown } from "./service.js";

/** A mistake the user can fix: printed as one line, exit 3, no stack trace. */
class UsageError extends OperatorError {}

/** Where `--config` points when neither it nor $CERTS_BOT_CONFIG is given. */
const DEFAULT_CONFIG_PATH = "config/clusters.yaml";

const isService = ["serve", "worker"].includes(process.argv[2] ?? "");
const logger = createLogger(process.env.LOG_LEVEL ?? (isService ? "info" : "warn"));

const configOption = (): Option =>
  new Option("--config <file>", "configuration file").default(
    process.env.CERTS_BOT_CONFIG ?? DEFAULT_CONFIG_PATH,
    `$CERTS_BOT_CONFIG, else ${DEFAULT_CONFIG_PATH}`,
  );

async function readConfig(file: string): Promise<Config> {
  const { loadConfig } = await import("./config/load.js");
  return loadConfig(file);
}

/** A fresh scan of the named clusters (every cluster when none is named). */
async function scan(
  config: Config,
  names: readonly string[],
): Promise<{ clusters: ClusterConfig[]; report: ScanReport }> {
  const { defaultDependencies, scanClusters, selectClusters } = await import("./adapters/nodes/scan.js");
  const clusters = selectClusters(config, names);
  return { clusters, report: await scanClusters(config, clusters, defaultDependencies(logger)) };
}

/** What `scan --output` prints. */
const OUTPUT_FORMATS = ["table", "json", "kubeadm-json", "openmetrics"] as const;
type OutputFormat = (typeof OUTPUT_FORMATS)[number];

interface ScanOptions {
  config: string;
  cluster?: string[];
  json?: boolean;
  output?: OutputFormat;
  out?: string;
}

/** `--json` is `--output json`; with another `--output` it is a contradiction. */
function outputFormat(options: ScanOptions): OutputFormat {
  if (options.json && options.output !== undefined && options.output !== "json")
    throw new UsageError(`--json means --output json; it cannot be combined with --output ${options.output}`);
  return options.json ? "json" : (options.output ?? "table");
}

async function render(format: OutputFormat, report: ScanReport, config: Config): Promise<string> {
  switch (format) {
    case "table":
      return renderTable(report, config.timezone);
    case "json":
      return renderJson(report);
    case "kubeadm-json":
      return (await import("./present/kubeadm-json.js")).renderKubeadmJson(report);
    case "openmetrics":
      return (await import("./present/openmetrics.js")).renderOpenMetrics(report);
  }
}

/** The table and the JSON say why a node was not scanned; these formats cannot, so stderr does. */
function reportNodesNotScanned(report: ScanReport): void {
  for (const cluster of report.clusters) {
    for (const node of cluster.nodes.filter((n) => !n.reachable))
      process.stderr.write(`certs-bot: ${cluster.name}/${node.name} was not scanned: ${node.error}\n`);
  }
}

async function scanCommand(options: ScanOptions): Promise<number> {
  const format = outputFormat(options);
  let write = (text: string): void => void process.stdout.write(text);
  if (options.out !== undefined) {
    const out = options.out;
    const { checkOutputFile, writeFileAtomically } = await import("./adapters/file/atomic.js");
    checkOutputFile(out); // refused before the scan, not after it
    write = (text) => writeFileAtomically(out, text);
  }
  const config = await readConfig(options.config);
  const { report } = await scan(config, options.cluster ?? []);
  write(`${await render(format, report, config)}\n`);
  if (format === "kubeadm-json" || format === "openmetrics") reportNodesNotScanned(report);
  return exitCode(report);
}

async function digestCommand(options: { config: string; print?: boolean }): Promise<number> {
  if (!options.print)
    throw new UsageError("digest posts on its schedule under `serve`; use --print to see it now");
  const config = await readConfig(options.config);
  if (!config.slack) throw new UsageError(`${config.file}: the digest needs slack.digestChannel`);
  const { report } = await scan(config, []);
  const { digestMessages } = await import("./app/digest-job.js");
  const { scannedAt } = report;
  const latest = new Map(report.clusters.map((cluster) => [cluster.name, { report: cluster, scannedAt }]));
  const messages = digestMessages(config, config.slack.digestChannel, latest, scannedAt);
  process.stdout.write(`${JSON.stringify(messages, null, 2)}\n`);
  return EXIT.ok;
}

/**
 * `renew --dry-run`: a fresh scan of the cluster, then the plan (exit 0) or the refusal (exit 2:
 * certs-bot looked and renewing cannot help or is not safe; bad usage and config stay 3).
 */
async function renewCommand(options: {
  config: string;
  cluster: string;
  node?: string;
  certs?: string;
  dryRun?: boolean;
}): Promise<number> {
  if (!options.dryRun) {
    throw new UsageError(
      "renewals are requested and approved in Slack (/certs renew) or in certs-bot console; use --dry-run to see the plan",
    );
  }
  const config = await readConfig(options.config);
  const { clusters, report } = await scan(config, [options.cluster]);
  const [cluster] = clusters;
  const { planRenewal } = await import("./core/renew/plan.js");
  const { renderPlanText, renderRefusalText } = await import("./present/renewal.js");
  const result = planRenewal({
    cluster: cluster!,
    report: report.clusters[0]!,
    renewal: config.renewal,
    ...(options.node !== undefined ? { node: options.node } : {}),
    ...(options.certs !== undefined ? { certs: options.certs.split(",").filter((c) => c.trim()) } : {}),
    now: report.scannedAt,
  });
  if (!result.ok && result.usage) throw new UsageError(result.reason.split("\n").join("; "));
  if (!result.ok) {
    process.stdout.write(`${renderRefusalText(cluster!.name, result.reason)}\n`);
    return EXIT.critical;
  }
  const windows = { ...cluster!.renewal, now: report.scannedAt };
  process.stdout.write(`${renderPlanText(result.plan, config.timezone, windows)}\n`);
  return EXIT.ok;
}

/** The run lease and audit `console --allow-renewals` runs under: serve's in Redis, else see consoleRenewals. */
async function consoleRenewalsFromEnv(): Promise<ConsoleRenewalsResult> {
  const { consoleRenewals } = await import("./adapters/console/exclusion.js");
  const { keyPrefix, redisTarget } = await import("./adapters/store/redis.js");
  return consoleRenewals({
    target: redisTarget(),
    explicit: Boolean(process.env.REDIS_URL || process.env.REDIS_SENTINELS),
    prefix: keyPrefix(),
    logger,
  });
}

async function consoleCommand(options: {
  config: string;
  user: string;
  channel?: string;
  groups?: string;
  allowRenewals?: boolean;
}): Promise<number> {
  const config = await readConfig(options.config);
  const { defaultChannel, runConsole } = await import("./adapters/console/console.js");
  const groups = options.groups?.split(",").filter(Boolean) ?? [];
  const channelId = options.channel ?? defaultChannel(config);
  // Ids as Slack sends them; the console takes nothing else, so what it shows is what Slack would.
  if (!SLACK_ID.user.test(options.user)) {
    throw new UsageError(`--user ${options.user}: not a Slack user id such as U0ALICE01`);
  }
  if (channelId === undefined) {
    throw new UsageError(`${config.file}: no cluster has a viewer channel; pass --channel`);
  }
  if (!SLACK_ID.conversation.test(channelId)) {
    throw new UsageError(`--channel ${channelId}: not a Slack channel id such as C0LABAAAA`);
  }
  const bad = groups.find((group) => !SLACK_ID.usergroup.test(group));
  if (bad !== undefined)
    throw new UsageError(`--groups ${bad}: not a Slack user group id such as S0SREGROUP`);
  const allowed = options.allowRenewals ? await consoleRenewalsFromEnv() : null;
  if (allowed && !allowed.ok) throw new UsageError(allowed.reason);
  const renewals = allowed?.renewals;
  try {
    await runConsole({
      config,
      userId: options.user,
      channelId,
      groups,
      input: process.stdin,
      output: process.stdout,
      logger,
      ...(renewals ? { renewals } : {}),
    });
  } finally {
    await renewals?.close();
  }
  return EXIT.ok;
}

/** SIGTERM or SIGINT: stop the service (a second signal exits at once); resolves with what it left. */
function stopOnSignal(service: Service, graceMs: number, limitMs: number): Promise<Shutdown> {
  return new Promise<Shutdown>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, "second signal: exiting without waiting for running jobs");
        process.exit(EXIT.unknown);
      }
      stopping = true;
      logger.info({ signal, graceMs }, "shutting down: finishing running jobs");
      // Every step of a stop is bounded; this one is for a step that hangs anyway.
      setTimeout(() => {
        logger.error({ limitMs }, "shutdown did not finish in time; exiting");
        process.exit(EXIT.unknown);
      }, limitMs).unref();
      service.stop().then(resolve, (err: Error) => {
        logger.error({ err: err.message }, "unclean shutdown");
        resolve({ abandoned: [], clean: false });
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

async function serviceCommand(role: Role, options: { config: string }): Promise<number> {
  const config = await readConfig(options.config);
  const { slackEnvironment } = await import("./adapters/slack/poster.js");
  const slack = slackEnvironment();
  if (!slack) throw new UsageError("SLACK_BOT_TOKEN is not set (see .env.example)");
  const { slackSurface } = await import("./adapters/slack/app.js");
  const { checkEvictionPolicy, checkRedis, keyPrefix, showRedisTarget, redisTarget } =
    await import("./adapters/store/redis.js");
  const { shutdownGraceMs } = await import("./adapters/queue/queues.js");
  const { Service, stopLimitMs } = await import("./service.js");
  const { metricsPort } = await import("./adapters/http/metrics.js");
  const surface = role === "serve" ? slackSurface(process.env, logger) : null;
  const redis = redisTarget();
  const unreachable = await checkRedis(redis);
  if (unreachable) logger.warn({ redis: unreachable }, "Redis is not reachable yet; certs-bot keeps trying");
  const checkEviction = async () => {
    const eviction = await checkEvictionPolicy(redis, process.env.CERTS_BOT_STRICT_REDIS === "1");
    if (eviction) logger.warn({ redis: eviction }, "Redis may evict keys: set maxmemory-policy noeviction");
  };
  if (!unreachable) await checkEviction();
  const graceMs = shutdownGraceMs();
  const service = new Service({
    role,
    config,
    redisUrl: redis.url,
    ...(redis.ca ? { redisCa: redis.ca } : {}),
    ...(redis.sentinel ? { redisSentinel: redis.sentinel } : {}),
    prefix: keyPrefix(),
    slack,
    slackSurface: surface,
    logger,
    graceMs,
    metricsPort: metricsPort(process.env),
  });
  // Signals are handled from here on, also while start waits (for Slack, or briefly for Redis).
  const stopped = stopOnSignal(service, graceMs, stopLimitMs(graceMs));
  try {
    await service.start();
  } catch (err) {
    await service.stop(); // the workers already run: without this the process would not exit
    throw err;
  }
  logger.info(
    { role, clusters: config.clusters.length, redis: showRedisTarget(redis) },
    "certs-bot is running",
  );
  // A Redis that was down at start gets its eviction check when it answers; strict still refuses it.
  if (unreachable) {
    void service
      .redisReady()
      .then(checkEviction)
      .catch(async (err: Error) => {
        logger.error({ err: err.message }, "refusing this Redis; stopping");
        await service.stop();
        process.exit(EXIT.unknown);
      });
  }
  const { abandoned, clean } = await stopped;
  if (!clean) logger.warn("Redis connections did not close in time; dropped them");
  if (abandoned.length) {
    logger.error(
      { abandoned, graceMs },
      "shutdown deadline passed with jobs still running; abandoned them (BullMQ reruns them once their lock lapses)",
    );
  }
  const code = abandoned.length ? EXIT.unknown : EXIT.ok;
  // An abandoned job's sockets and a dropped connection's retry timers would keep the process up.
  if (!clean || abandoned.length) process.exit(code);
  logger.info("stopped");
  return code;
}

/** package.json sits beside src/ and dist/ alike (and in the image, beside /app/dist). */
function packageVersion(): string {
  return (createRequire(import.meta.url)("../package.json") as { version: string }).version;
}

function addScanCommand(program: Command): void {
  program
    .command("scan")
    .description("read every kubeadm certificate of every configured control-plane node and judge it")
    .addOption(configOption())
    .option("--cluster <name...>", "only these clusters (repeatable)")
    .addOption(
      new Option(
        "--output <format>",
        "table, certs-bot's JSON, kubeadm certs check-expiration's JSON, or metrics for a textfile collector",
      ).choices(OUTPUT_FORMATS),
    )
    .option("--json", "the same as --output json")
    .option("--out <file>", "write the output to this file (replaced atomically, mode 0644), not stdout")
    .action(async (options: ScanOptions) => {
      process.exitCode = await scanCommand(options);
    });
}

function buildProgram(): Command {
  const program = new Command("certs-bot")
    .description("Keeps kubeadm clusters from dying of expired certificates")
    .version(packageVersion(), "--version", "print certs-bot's version")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  addScanCommand(program);
  program
    .command("digest")
    .description("scan now and print the daily digest messages as JSON, without Slack or Redis")
    .addOption(configOption())
    .option("--print", "print the messages ([{channel, text, blocks}]) instead of posting")
    .action(async (options) => {
      process.exitCode = await digestCommand(options);
    });
  program
    .command("renew")
    .description(
      "plan a certificate renewal of one cluster from a fresh scan; --dry-run prints the plan " +
        "(exit 0) or why certs-bot refuses (exit 2). Renewals themselves are requested in Slack",
    )
    .addOption(configOption())
    .requiredOption("--cluster <name>", "the cluster to renew")
    .option("--node <name>", "only this node (default: every node, one at a time, in config order)")
    .option("--certs <names>", "only these certificates, comma-separated (default: all kubeadm renews)")
    .option("--dry-run", "print the plan; change nothing")
    .action(async (options) => {
      process.exitCode = await renewCommand(options);
    });
  program
    .command("console")
    .description(
      "type /certs commands as a Slack user and read the bot's answers, with no Slack. /certs renew " +
        "shows the plan; only with --allow-renewals can an approved renewal change real nodes",
    )
    .addOption(configOption())
    .requiredOption("--user <id>", "the Slack user id you act as (e.g. U0ALICE01)")
    .option("--channel <id>", "the channel you type in (default: the first viewer channel in the config)")
    .option("--groups <ids>", "user groups (S…) you belong to, comma-separated; there is no Slack to ask")
    .option(
      "--allow-renewals",
      "let approved renewals run on the nodes, under serve's run lease and audit in Redis " +
        "(REDIS_URL, CERTS_BOT_REDIS_PREFIX); refused if REDIS_URL is set and does not answer, " +
        "in memory with a warning if it is not set and no Redis is at the default",
    )
    .action(async (options) => {
      process.exitCode = await consoleCommand(options);
    });
  const roles: [Role, string][] = [
    [
      "serve",
      "run everything: schedules, scan, digest and renewal workers, and the Slack surface (/certs, App Home) " +
        "when SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set (needs Redis and SLACK_BOT_TOKEN)",
    ],
    ["worker", "run only workers, to scale out on the same Redis (no schedules)"],
  ];
  for (const [role, description] of roles) {
    program
      .command(role)
      .description(description)
      .addOption(configOption())
      .action(async (options) => {
        process.exitCode = await serviceCommand(role, options);
      });
  }
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return Number(process.exitCode ?? EXIT.ok);
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === "commander.helpDisplayed" || err.code === "commander.version"
        ? EXIT.ok
        : EXIT.unknown;
    }
    if (err instanceof OperatorError) {
      process.stderr.write(`certs-bot: ${err.message}\n`);
      return EXIT.unknown;
    }
    logger.error({ err }, "unexpected failure");
    process.stderr.write(`certs-bot: ${(err as Error).message}\n`);
    return EXIT.unknown;
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
