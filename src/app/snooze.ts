// `/certs snooze` and `/certs unsnooze` once the router has allowed them, and a warning's
// Acknowledge and Snooze buttons once the edge has checked the clicker operates the cluster: the
// change is decided on the cluster's alert state as stored (core/alerts/quiet.ts), saved by
// compare-and-set so a scan posting meanwhile loses nothing, and audited in the cluster's stream.
// A command is told to the channel; a click adds a note to the warning (the edge updates it). A
// refusal (nothing open by that name, nothing snoozed, too long) goes to the asker only.
import type { Config } from "../config/load.js";
import type { ChatBackend } from "../core/chat/backend.js";
import { acknowledge, snooze, unsnooze, type QuietResult, type QuietTarget } from "../core/alerts/quiet.js";
import type { AlertState } from "../core/alerts/state.js";
import type { ClusterConfig } from "../config/load.js";
import type { ContextBlock } from "../present/slack-types.js";
import { quietNote, renderNothingOpenHere, renderQuieted, renderQuietRefused } from "../present/snooze.js";
import { formatDate } from "../present/time.js";
import type { ChatReply } from "../present/slack-types.js";

/** A snooze or unsnooze the router allowed. */
export type QuietChange =
  | {
      kind: "snooze";
      cluster: string;
      userId: string;
      target: QuietTarget;
      until: Date;
      maxDays: number;
      reason?: string;
    }
  | { kind: "unsnooze"; cluster: string; userId: string; target: QuietTarget }
  | { kind: "acknowledge"; cluster: string; userId: string; target: QuietTarget };

/** What a warning's button asks for. */
export type QuietButton = { kind: "acknowledge" } | { kind: "snooze"; days: number };

const DAY_MS = 86_400_000;

const KIND = { snooze: "snoozed", unsnooze: "unsnoozed", acknowledge: "acknowledged" } as const;

function decide(state: AlertState, change: QuietChange, now: Date): QuietResult {
  const { userId: by, target } = change;
  switch (change.kind) {
    case "snooze": {
      const { until, maxDays } = change;
      const why = change.reason !== undefined ? { reason: change.reason } : {};
      return snooze(state, target, { by, until, now, maxDays, ...why });
    }
    case "acknowledge":
      return acknowledge(state, target, by, now);
    case "unsnooze":
      return unsnooze(state, target);
  }
}

export interface QuietAnswer {
  reply: ChatReply;
  /** A refusal: only the asker sees it. */
  ephemeral: boolean;
  /** The threads of the warnings it quieted or lifted (each once). */
  threads?: { channel: string; ts: string }[];
}

export async function applyQuiet(
  backend: Pick<ChatBackend, "updateAlerts" | "appendAudit">,
  config: Config,
  change: QuietChange,
  now: Date,
): Promise<QuietAnswer> {
  const { cluster, userId } = change;
  let before: AlertState | undefined;
  const result = await backend.updateAlerts<QuietResult>(cluster, (state) => {
    before = state;
    const decided = decide(state, change, now);
    return decided.ok ? { next: decided.state, value: decided } : { value: decided };
  });
  if (!result.ok) return { reply: renderQuietRefused(cluster, result), ephemeral: true };
  const threads = warningThreads(before, result.keys);
  const snoozed = change.kind === "snooze";
  const detail =
    result.keys.join(", ") +
    (snoozed ? ` until ${formatDate(change.until, config.timezone)}` : "") +
    (snoozed && change.reason ? `: ${change.reason}` : "");
  await backend.appendAudit(cluster, { kind: KIND[change.kind], actor: userId, detail }, now);
  const reply = renderQuieted({
    cluster,
    userId,
    kind: KIND[change.kind],
    keys: result.keys,
    skipped: result.skipped,
    ...(snoozed ? { until: change.until } : {}),
    ...(snoozed && change.reason ? { reason: change.reason } : {}),
    timeZone: config.timezone,
  });
  return { reply, ephemeral: false, threads };
}

/** The threads of the warnings about `keys` (a warning about several subjects counted once). */
function warningThreads(
  state: AlertState | undefined,
  keys: readonly string[],
): { channel: string; ts: string }[] {
  const seen = new Map<string, { channel: string; ts: string }>();
  for (const key of keys) {
    const record = state?.alerts[key];
    if (record?.threadTs)
      seen.set(`${record.channel} ${record.threadTs}`, { channel: record.channel, ts: record.threadTs });
  }
  return [...seen.values()];
}

/** Where a warning's button was clicked: the message, whose thread its subjects' records name. */
export interface ClickedWarning {
  channel: string;
  ts: string;
}

/**
 * A warning's Acknowledge or Snooze by an operator (the edge checked): the message's subjects still
 * open are quieted. `note` is what the warning shows from now on; absent when nothing changed.
 */
export async function answerQuietClick(
  backend: Pick<ChatBackend, "alertStates" | "updateAlerts" | "appendAudit">,
  config: Config,
  click: { cluster: ClusterConfig; userId: string; how: QuietButton; message: ClickedWarning },
  now: Date,
): Promise<QuietAnswer & { note?: ContextBlock }> {
  const { cluster, userId, how, message } = click;
  const state = (await backend.alertStates([cluster.name])).get(cluster.name);
  const keys = Object.entries(state?.alerts ?? {})
    .filter(([, record]) => record.threadTs === message.ts && record.channel === message.channel)
    .map(([key]) => key);
  if (keys.length === 0) return { reply: renderNothingOpenHere(cluster.name), ephemeral: true };
  const target = { keys };
  const base = { cluster: cluster.name, userId, target };
  const until = how.kind === "snooze" ? new Date(now.getTime() + how.days * DAY_MS) : undefined;
  const change: QuietChange = until
    ? { kind: "snooze", ...base, until, maxDays: cluster.alerts.maxSnoozeDays }
    : { kind: "acknowledge", ...base };
  const answer = await applyQuiet(backend, config, change, now);
  if (answer.ephemeral) return answer;
  const kind = until ? "snoozed" : "acknowledged";
  const note = quietNote({ kind, by: userId, at: now, ...(until ? { until } : {}) }, config.timezone);
  return { reply: answer.reply, ephemeral: true, note };
}
