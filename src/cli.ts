#!/usr/bin/env node
// certs-bot's command line. stdout carries only the result; logs (pino) go to stderr.
// Exit codes follow monitoring plugins: 0 ok, 1 warning, 2 critical, 3 unknown (incl. bad usage).
import { Command, CommanderError, Option } from "commander";
import { pino } from "pino";
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from "./config/load.js";
import { EXIT, exitCode, renderJson, renderTable } from "./report/render.js";
import { defaultDependencies, scanClusters, selectClusters, UnknownClusterError } from "./scan/scan.js";

const logger = pino({ level: process.env.LOG_LEVEL ?? "warn", base: undefined }, pino.destination(2));

const configOption = (): Option =>
  new Option("--config <file>", "configuration file").default(
    process.env.CERTS_BOT_CONFIG ?? DEFAULT_CONFIG_PATH,
    "$CERTS_BOT_CONFIG, else config/clusters.yaml",
  );

async function scanCommand(options: { config: string; cluster?: string[]; json?: boolean }): Promise<number> {
  const config = loadConfig(options.config);
  const clusters = selectClusters(config, options.cluster ?? []);
  const report = await scanClusters(config, clusters, defaultDependencies(logger));
  process.stdout.write(`${options.json ? renderJson(report) : renderTable(report, config.timezone)}\n`);
  return exitCode(report);
}

function buildProgram(): Command {
  const program = new Command("certs-bot")
    .description("Keeps kubeadm clusters from dying of expired certificates")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program
    .command("scan")
    .description("read every kubeadm certificate of every configured control-plane node and judge it")
    .addOption(configOption())
    .option("--cluster <name...>", "only these clusters (repeatable)")
    .option("--json", "one JSON document on stdout instead of the table")
    .action(async (options) => {
      process.exitCode = await scanCommand(options);
    });
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
    if (err instanceof ConfigError || err instanceof UnknownClusterError) {
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
