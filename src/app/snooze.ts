// `/certs snooze` and `/certs unsnooze` once the router has allowed them: the change is decided on
// the cluster's alert state as stored (core/alerts/quiet.ts), saved by compare-and-set so a scan
// posting meanwhile loses nothing, audited in the cluster's stream, and told to the channel. A
// refusal (nothing open by that name, nothing snoozed) goes to the asker only.
import type { Config } from "../config/load.js";
import type { ChatBackend } from "../core/chat/backend.js";
import { snooze, unsnooze, type QuietResult, type QuietTarget } from "../core/alerts/quiet.js";
import { renderQuieted, renderQuietRefused } from "../present/snooze.js";
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
  | { kind: "unsnooze"; cluster: string; userId: string; target: QuietTarget };

export interface QuietAnswer {
  reply: ChatReply;
  /** A refusal: only the asker sees it. */
  ephemeral: boolean;
}

export async function applyQuiet(
  backend: Pick<ChatBackend, "updateAlerts" | "appendAudit">,
  config: Config,
  change: QuietChange,
  now: Date,
): Promise<QuietAnswer> {
  const { cluster, userId, target } = change;
  const result = await backend.updateAlerts<QuietResult>(cluster, (state) => {
    const decided =
      change.kind === "snooze"
        ? snooze(state, target, {
            by: userId,
            until: change.until,
            now,
            maxDays: change.maxDays,
            ...(change.reason !== undefined ? { reason: change.reason } : {}),
          })
        : unsnooze(state, target);
    return decided.ok ? { next: decided.state, value: decided } : { value: decided };
  });
  if (!result.ok) return { reply: renderQuietRefused(cluster, result), ephemeral: true };
  const snoozed = change.kind === "snooze";
  const detail =
    result.keys.join(", ") +
    (snoozed ? ` until ${formatDate(change.until, config.timezone)}` : "") +
    (snoozed && change.reason ? `: ${change.reason}` : "");
  await backend.appendAudit(cluster, { kind: snoozed ? "snoozed" : "unsnoozed", actor: userId, detail }, now);
  const reply = renderQuieted({
    cluster,
    userId,
    kind: snoozed ? "snoozed" : "unsnoozed",
    keys: result.keys,
    skipped: result.skipped,
    ...(snoozed ? { until: change.until } : {}),
    ...(snoozed && change.reason ? { reason: change.reason } : {}),
    timeZone: config.timezone,
  });
  return { reply, ephemeral: false };
}
