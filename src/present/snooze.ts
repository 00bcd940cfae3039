// The words of acknowledge and snooze: the duration `/certs snooze` takes, why an
// acknowledgement, a snooze or an unsnooze was refused (core/alerts/quiet.ts decides), what the
// channel is told when one is done, and the `/certs snoozes` list. Pure.
import type { ActiveQuiet, QuietRefusal } from "../core/alerts/quiet.js";
import { typedKey } from "../core/alerts/state.js";
import type { Block, ChatReply, ContextBlock } from "./slack-types.js";
import { code, context, fitsBudget, header, listUpTo, packLines, person, plain, section } from "./format.js";
import { formatWhen } from "./time.js";

/** block_id of a warning's buttons (present/warnings.ts): a quiet note goes right above them. */
export const WARN_BUTTONS_BLOCK = "warning-buttons";
/** block_id of the note saying who acknowledged or snoozed a warning. */
export const QUIET_NOTE_BLOCK = "quiet-note";
/** The longest such note, in characters: warnings keep room for it. */
export const QUIET_NOTE_MAX = 300;

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

const keyList = (keys: readonly string[]): string =>
  listUpTo(
    keys.map((k) => code(typedKey(k), 120)),
    10,
  );

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

/** A snooze or an unsnooze that was done, as the channel is told it. */
export interface QuietedInput {
  cluster: string;
  userId: string;
  kind: "snoozed" | "unsnoozed" | "acknowledged";
  keys: readonly string[];
  /** Asked for, but not open (snooze) or not quiet (unsnooze). */
  skipped: readonly string[];
  until?: Date;
  reason?: string;
  timeZone: string;
}

/** `<@U…> snoozed lab-a a-1/apiserver until Tue 2 Dec 14:00 CET: reason`, in the channel. */
export function renderQuieted(input: QuietedInput): ChatReply {
  const { cluster, userId, kind, keys, skipped, until, reason, timeZone } = input;
  const what = `*${cluster}* ${keyList(keys)}`;
  const line = {
    snoozed:
      `:zzz: ${person(userId)} snoozed ${what}` +
      (until ? ` until ${formatWhen(until, timeZone)}` : "") +
      (reason ? `: ${plain(reason, 300)}` : "") +
      ". A worse level or a new certificate is still posted.",
    acknowledged: `:white_check_mark: ${person(userId)} acknowledged ${what}: no reminders until it gets worse or changes.`,
    unsnoozed: `:bell: ${person(userId)} lifted the snooze of ${what}: reminders resume.`,
  }[kind];
  const left = kind === "unsnoozed" ? "neither snoozed nor acknowledged" : "not open";
  const notes = skipped.length ? [context(`Left alone, ${left}: ${keyList(skipped)}.`)] : [];
  const done = { snoozed: "Snoozed", acknowledged: "Acknowledged", unsnoozed: "Unsnoozed" }[kind];
  return {
    text: `${done} in ${cluster}: ${keys.join(", ")}`,
    blocks: [section(line), ...notes],
  };
}

/** A warning's button when none of its subjects is open any more: only the clicker sees it. */
export function renderNothingOpenHere(cluster: string): ChatReply {
  return {
    text: `/certs: nothing open in this warning of ${cluster}`,
    blocks: [
      section(
        `:no_entry: Nothing in this warning of *${cluster}* is open any more: it was resolved, or ` +
          "warned about again in a later message.",
      ),
      context("Nothing was changed."),
    ],
  };
}

/** A snooze, an unsnooze or an acknowledgement refused: only the asker sees it. */
export function renderQuietRefused(cluster: string, refusal: QuietRefusal): ChatReply {
  return {
    text: `/certs: refused for ${cluster}`,
    blocks: [section(`:no_entry: ${quietRefusalText(refusal, cluster)}`), context("Nothing was changed.")],
  };
}

/**
 * Who quieted a subject, compactly, as the digest and App Home list it: `snoozed by <@U…> until
 * Tue 2 Dec 14:00 CET: reason` or `acknowledged by <@U…> at critical`.
 */
export function quietPhrase(quiet: ActiveQuiet, timeZone: string, reasonMax = 200): string {
  if (quiet.kind === "snoozed" && quiet.until) {
    const why = quiet.reason ? `: ${plain(quiet.reason, reasonMax)}` : "";
    return `snoozed by ${person(quiet.by)} until ${formatWhen(new Date(quiet.until), timeZone)}${why}`;
  }
  return `acknowledged by ${person(quiet.by)} at ${quiet.level}`;
}

function quietLine(cluster: string, quiet: ActiveQuiet, timeZone: string): string {
  const when =
    quiet.kind === "snoozed" && quiet.until
      ? `snoozed by ${person(quiet.by)} until ${formatWhen(new Date(quiet.until), timeZone)}`
      : `acknowledged by ${person(quiet.by)} on ${formatWhen(new Date(quiet.at), timeZone)}, until it gets worse or changes`;
  return `*${cluster}* ${code(quiet.key, 120)} (${quiet.level}) · ${when}${quiet.reason ? ` · ${plain(quiet.reason, 300)}` : ""}`;
}

/** `/certs snoozes`: per cluster, who snoozed or acknowledged what, until when and why. */
export function renderSnoozes(
  clusters: readonly { cluster: string; quiets: readonly ActiveQuiet[] }[],
  opts: { timeZone: string; now: Date },
): ChatReply {
  const lines = clusters.flatMap(({ cluster, quiets }) =>
    quiets.map((q) => quietLine(cluster, q, opts.timeZone)),
  );
  const names = clusters.map((c) => c.cluster);
  const where = names.length === 1 ? `*${names[0]}*` : "the clusters of this channel";
  if (lines.length === 0) {
    return {
      text: `Nothing is snoozed or acknowledged in ${names.join(", ") || "this channel"}.`,
      blocks: [section(`Nothing is snoozed or acknowledged in ${where}.`)],
    };
  }
  const head: Block[] = [
    header(names.length === 1 ? `Snoozed and acknowledged: ${names[0]}` : "Snoozed and acknowledged"),
  ];
  const build = (n: number): Block[] => [
    ...head,
    ...packLines(lines.slice(0, n)).map(section),
    context(
      (n < lines.length ? `showing ${n} of ${lines.length}` : `${lines.length} in all`) +
        ` · as of ${formatWhen(opts.now, opts.timeZone)}`,
    ),
  ];
  let n = lines.length;
  while (n > 0 && !fitsBudget({ channel: "-", text: "-", blocks: build(n) })) n -= 1;
  return { text: `Snoozed and acknowledged: ${lines.length}`, blocks: build(n) };
}

/** Who acknowledged or snoozed a warning, and until when, as the warning shows it. */
export function quietNote(
  quiet: { kind: "acknowledged" | "snoozed"; by: string; at: Date; until?: Date },
  timeZone: string,
): ContextBlock {
  const text =
    quiet.kind === "snoozed" && quiet.until
      ? `:zzz: Snoozed by ${person(quiet.by)} until ${formatWhen(quiet.until, timeZone)}: no reminders before then.`
      : `:white_check_mark: Acknowledged by ${person(quiet.by)} on ${formatWhen(quiet.at, timeZone)}: ` +
        "no reminders until it gets worse or changes.";
  return { ...context(text.slice(0, QUIET_NOTE_MAX)), block_id: QUIET_NOTE_BLOCK };
}

/** A warning's blocks with `note` above its buttons, in place of an earlier note. */
export function withQuietNote(blocks: readonly Block[], note: ContextBlock): Block[] {
  const kept = blocks.filter((b) => b.block_id !== QUIET_NOTE_BLOCK);
  const at = kept.findIndex((b) => b.block_id === WARN_BUTTONS_BLOCK);
  return at < 0 ? [...kept, note] : [...kept.slice(0, at), note, ...kept.slice(at)];
}
