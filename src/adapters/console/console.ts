// `certs-bot console`: the idea of Hubot's shell adapter. A person types `/certs …` lines as a
// chosen user in a chosen channel and reads the bot's real answers (the same router and views as
// Slack), rendered as text, with no Slack workspace: scans run in this process. Renewals run only
// with --allow-renewals, under serve's run lease and audit when its Redis answers (exclusion.ts);
// without it `/certs renew` shows the plan and nothing more.
//
// Works on a terminal (a prompt naming who types, colour, answers of background scans and renewal
// steps printed above the line being typed) and with piped input (every line in order, each echoed
// after the prompt so the output reads as a transcript; a renewal started by a line finishes before
// the next line is read; at EOF it waits until the scans it started have printed their answers).
// `as USER [GROUPS]` changes who types, so a second person can approve.
import { createInterface } from "node:readline";
import type { ChatReply } from "../../present/slack-types.js";
import type { Logger } from "pino";
import { visibleClusters } from "../../core/access/access.js";
import { findCluster, type Config } from "../../config/load.js";
import type { RenewalRequest } from "../../core/renew/approval.js";
import { runRenewal } from "../../app/renew/run.js";
import {
  renderRunStatus,
  renderRunSummary,
  renderRunWaiting,
  renderStepReply,
} from "../../present/thread.js";
import { defaultDependencies, nodeAccess, type ScanDependencies } from "../nodes/scan.js";
import type { ExecutionLease } from "../../core/renew/ports.js";
import { InMemoryBackend } from "./backend.js";
import type { ConsoleRenewals } from "./exclusion.js";
import { ConsoleSession } from "./session.js";
import { ANSI_STYLE, MARKER, PLAIN_STYLE, type TextStyle } from "../../present/console-text.js";
import { duration } from "../../present/time.js";

export interface ConsoleOptions {
  config: Config;
  userId: string;
  channelId: string;
  /** Simulated user-group membership of `userId`. */
  groups: readonly string[];
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream & { isTTY?: boolean };
  logger?: Logger;
  /** How renewals run (--allow-renewals); absent, `/certs renew` only shows the plan. */
  renewals?: ConsoleRenewals;
}

/** Where the console puts you without --channel: the first viewer channel in config order. */
export function defaultChannel(config: Config): string | undefined {
  return config.clusters.find((cluster) => cluster.viewers.length > 0)?.viewers[0];
}

export async function runConsole(options: ConsoleOptions): Promise<void> {
  const { input, output } = options;
  const terminal = Boolean(input.isTTY && output.isTTY);
  const style = terminal && !process.env.NO_COLOR ? ANSI_STYLE : PLAIN_STYLE;
  const prompt = `${options.userId}> `;
  const lines = createInterface({ input, output, terminal, prompt });
  // Taken now: readline reads from the start, and lines read before an iterator exists are lost
  // (piped input arrives while the first scans run).
  const typed = lines[Symbol.asyncIterator]();
  let busy = true;
  const print = (text: string): void => {
    // A background scan's answer arrives while the prompt waits: print it above, redraw the prompt.
    if (terminal && !busy) output.write("\r\u001b[K");
    output.write(`${text}\n`);
    if (terminal && !busy) lines.prompt(true);
  };
  const { backend, session } = openSession(options, print, style);
  await greet(options, session, print, style);

  // Ctrl-C leaves like quit; readline would otherwise only pause the input.
  lines.on("SIGINT", () => lines.close());
  busy = false;
  if (terminal) lines.prompt();
  for (let next = await typed.next(); !next.done; next = await typed.next()) {
    const line = next.value;
    busy = true;
    if (!terminal) output.write(`${session.userId}> ${line}\n`);
    if (!(await session.handle(line))) break;
    if (!terminal) await settled(backend);
    lines.setPrompt(`${session.userId}> `);
    busy = false;
    if (terminal) lines.prompt();
  }
  busy = true;
  lines.close();
  if (session.running > 0) {
    print(`${MARKER}: waiting for ${session.running} scan${session.running === 1 ? "" : "s"} to finish…`);
    await session.idle();
  }
  if (backend.runs.size > 0) {
    print(`${MARKER}: waiting for the renewal to finish (a control plane is never left half restarted)…`);
    await settled(backend);
  }
}

/** The in-memory chat backend and the session that answers typed lines through it. */
function openSession(
  options: ConsoleOptions,
  print: (text: string) => void,
  style: TextStyle,
): { backend: InMemoryBackend; session: ConsoleSession } {
  const { config, userId, channelId, groups, renewals } = options;
  const scanDependencies = defaultDependencies(options.logger);
  const people = new Map<string, readonly string[]>([[userId, groups]]);
  const backend = new InMemoryBackend({
    config,
    scanDependencies,
    groups: people,
    channelId,
    show: (replies, ephemeral) => session.show(replies, ephemeral),
    ...(renewals
      ? {
          audit: renewals.audit,
          run: (request: RenewalRequest, own: InMemoryBackend) =>
            runInConsole(request, own, renewals.lease, scanDependencies, (replies) =>
              session.show(replies, false),
            ),
        }
      : {}),
  });
  const session: ConsoleSession = new ConsoleSession({
    config,
    backend,
    userId,
    groups: people,
    channelId,
    runsRenewals: renewals !== undefined,
    print,
    style,
  });
  return { backend, session };
}

/** Who you are and where, then a first scan of the clusters shown here, as serve does when it starts. */
async function greet(
  options: ConsoleOptions,
  session: ConsoleSession,
  print: (text: string) => void,
  style: TextStyle,
): Promise<void> {
  const { config, userId, channelId, groups, renewals } = options;
  const shown = visibleClusters(config, channelId).map((c) => c.name);
  print(
    `${style.bold(`${MARKER} console`)}: you are ${userId} in channel ${channelId}` +
      ` (user groups: ${groups.length ? groups.join(", ") : "none"}; --groups simulates them).`,
  );
  if (renewals) print(`${style.bold("Renewals")}: ${renewals.notice}`);
  if (shown.length > 0) {
    print(`Clusters shown here: ${shown.join(", ")}. Scanning them first, as serve does when it starts…`);
    const started = Date.now();
    // What `serve` does when it starts, so the first answers have reports to show.
    await session.scanQuietly(shown);
    print(`Scanned in ${duration(Date.now() - started, "seconds")}.`);
  } else {
    print(`No cluster is shown in ${channelId}; --channel picks another channel.`);
  }
  print(
    "Type /certs help, /certs list or /certs status CLUSTER; the label of a button clicks it; quit leaves.",
  );
}

/** Resolves once no renewal runs. */
async function settled(backend: InMemoryBackend): Promise<void> {
  while (backend.runs.size > 0) await Promise.all(backend.runs);
}

/**
 * An approved renewal, run in this process: each finished step printed as it ends (the console's
 * live status), then the final checklist, the summary and the card's new state; then a rescan, so
 * `/certs status` shows the renewed certificates.
 */
async function runInConsole(
  request: RenewalRequest,
  backend: InMemoryBackend,
  lease: ExecutionLease,
  scanDependencies: ScanDependencies,
  show: (replies: ChatReply[]) => void,
): Promise<void> {
  const { config } = backend;
  const plan = await backend.records.loadPlan(request.id);
  const cluster = findCluster(config, request.cluster);
  if (!plan || !cluster) return;
  const result = await runRenewal(
    { request, plan },
    {
      config: { cluster, renewal: config.renewal, timeZone: config.timezone },
      requests: backend.records,
      audit: backend.audit,
      lease,
      reporter: {
        status: async () => undefined,
        step: async (event, state) => show([renderStepReply(event, state.cluster)]),
        finished: async (state) => {
          show([
            renderRunStatus(state, { timeZone: config.timezone, now: new Date() }),
            renderRunSummary(state, { timeZone: config.timezone }),
          ]);
          const ended = await backend.records.get(request.id);
          if (ended) await backend.desk.refreshCard(ended);
        },
      },
      ...nodeAccess(cluster, scanDependencies),
      save: async () => undefined,
      now: () => new Date(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    },
  );
  if (!result.ran && result.resumesAt) {
    show([renderRunWaiting(cluster.name, result.resumesAt, config.timezone)]);
    return;
  }
  await (
    await backend.requestScan(cluster.name)
  ).done;
}
