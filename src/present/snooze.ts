// The words of acknowledge and snooze: the duration `/certs snooze` takes, and why an
// acknowledgement, a snooze or an unsnooze was refused (core/alerts/quiet.ts decides). Pure.
import type { QuietRefusal } from "../core/alerts/quiet.js";
import { code } from "./format.js";

const UNIT_MS = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

export type SnoozeDuration = { ok: true; ms: number } | { ok: false; error: string };

const accepted = (maxDays: number): string =>
  `use a duration like 6h, 3d or 2w (hours, days or weeks), at most ${maxDays} day${maxDays === 1 ? "" : "s"}`;

/**
 * `6h`, `3d`, `2w`: a whole number above zero and one unit (h, d, w), at most `maxDays` (the
 * cluster's `alerts.maxSnoozeDays`). Minutes are refused: a snooze shorter than an hour ends
 * before a scan could notice it.
 */
export function parseSnoozeDuration(text: string, maxDays: number): SnoozeDuration {
  const match = /^(\d{1,6})([hdw])$/i.exec(text.trim());
  const shown = code(text.trim() || text, 40);
  if (!match) return { ok: false, error: `${shown} is not a duration: ${accepted(maxDays)}.` };
  const ms = Number(match[1]) * UNIT_MS[match[2]!.toLowerCase() as keyof typeof UNIT_MS];
  if (ms <= 0) return { ok: false, error: `${shown} is no time at all: ${accepted(maxDays)}.` };
  if (ms > maxDays * UNIT_MS.d) return { ok: false, error: `${shown} is too long: ${accepted(maxDays)}.` };
  return { ok: true, ms };
}

const keyList = (keys: readonly string[]): string => {
  const shown = keys.slice(0, 10).map((k) => code(k, 120));
  return keys.length > 10 ? `${shown.join(", ")} and ${keys.length - 10} more` : shown.join(", ");
};

/** Why it was refused, in one or two sentences of mrkdwn. */
export function quietRefusalText(refusal: QuietRefusal, cluster: string): string {
  const where = code(cluster, 80);
  switch (refusal.reason) {
    case "not-open":
      return (
        `No open warning for ${keyList(refusal.keys)} in ${where}. ` +
        (refusal.open.length > 0 ? `Open now: ${keyList(refusal.open)}.` : "Nothing is open there now.")
      );
    case "nothing-open":
      return `Nothing is open in ${where}: there is no warning to quiet.`;
    case "not-quiet":
      return refusal.keys.length > 0
        ? `${keyList(refusal.keys)} in ${where} is neither acknowledged nor snoozed.`
        : `Nothing in ${where} is acknowledged or snoozed.`;
    case "not-future":
      return "A snooze must end in the future.";
    case "too-long":
      return `A snooze in ${where} lasts at most ${refusal.maxDays} day${refusal.maxDays === 1 ? "" : "s"} (\`alerts.maxSnoozeDays\`).`;
  }
}
