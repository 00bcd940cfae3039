// Acknowledge and snooze: an operator's word that an open subject need not be repeated. Pure: the
// state and the clock go in, the new state (or why not) comes out; plan.ts and actions.ts apply the
// rules below to what is posted.
//
// Rules:
//   - Only an open subject (one with an AlertRecord: warned about and not resolved) can be quieted.
//     Several keys at once (the subjects of one message, or every open one): those open are
//     quieted, the others are named in `skipped`; none open is a refusal.
//   - Acknowledged: no reminder while the record keeps the level and fingerprint it had when it
//     was acknowledged. Snoozed: no reminder before `until` either.
//   - Neither hides anything new: a worse level or a new fingerprint posts as without them and
//     clears the quiet (applyAlert on the warning), a resolution clears it too.
//   - A snooze that ended speaks once: the next scan that sees the subject replies in its thread
//     that the snooze ended and what it is now, at any level (a warning never reminds otherwise,
//     so without it a snoozed warning would stay silent forever). That reply clears the snooze
//     and counts as the subject's reminder.
//   - A new acknowledgement or snooze replaces the one before; unsnooze lifts either.
import {
  nameOf,
  nodeOf,
  withQuiet,
  type AlertLevel,
  type AlertRecord,
  type AlertState,
  type Quiet,
} from "./state.js";

const DAY_MS = 86_400_000;

/** Which subjects: these keys (`node/certificate`, or `node` for the node itself), or every open one. */
export type QuietTarget = { keys: readonly string[] } | { all: true };

export type QuietRefusal =
  /** None of the keys is open; `open` lists those that are, for the refusal to suggest. */
  | { ok: false; reason: "not-open"; keys: string[]; open: string[] }
  /** `{ all: true }` and nothing is open. */
  | { ok: false; reason: "nothing-open" }
  /** unsnooze: none of the keys is acknowledged or snoozed. */
  | { ok: false; reason: "not-quiet"; keys: string[] }
  /** A snooze ending at or before now. */
  | { ok: false; reason: "not-future" }
  /** A snooze longer than the cluster's `alerts.maxSnoozeDays`. */
  | { ok: false; reason: "too-long"; maxDays: number };

export interface QuietDone {
  ok: true;
  state: AlertState;
  /** The keys quieted (or lifted), sorted. */
  keys: string[];
  /** Keys asked for that were not open (or, for unsnooze, not quiet). */
  skipped: string[];
}

export type QuietResult = QuietDone | QuietRefusal;

export interface SnoozeRequest {
  /** Slack user id. */
  by: string;
  until: Date;
  now: Date;
  /** The cluster's `alerts.maxSnoozeDays`. */
  maxDays: number;
  reason?: string;
}

/** A quiet subject as `/certs snoozes` lists it. */
export interface ActiveQuiet extends Quiet {
  key: string;
  node: string;
  /** null: the node itself. */
  certificate: string | null;
}

const quietOf = (state: AlertState): Record<string, Quiet> => state.quiet ?? {};

/** Keys with an open alert, sorted. */
export const openKeys = (state: AlertState): string[] => Object.keys(state.alerts).sort();

/** Does `quiet` still silence reminders for `record` at `now`? */
export function silences(quiet: Quiet, record: AlertRecord, now: number): boolean {
  if (quiet.level !== record.level || quiet.sha256 !== record.sha256) return false;
  return quiet.kind === "acknowledged" || (quiet.until !== undefined && Date.parse(quiet.until) > now);
}

/** A snooze of this record whose time has passed: the next scan says so. */
export const snoozeEnded = (quiet: Quiet | undefined, record: AlertRecord, now: number): boolean =>
  quiet?.kind === "snoozed" &&
  quiet.level === record.level &&
  quiet.sha256 === record.sha256 &&
  quiet.until !== undefined &&
  Date.parse(quiet.until) <= now;

/** The quiet in force for a key at `now`, if any (what a message shows: who, until when). */
export function quietFor(state: AlertState, key: string, now: Date): Quiet | undefined {
  const quiet = quietOf(state)[key];
  const record = state.alerts[key];
  return quiet && record && silences(quiet, record, now.getTime()) ? quiet : undefined;
}

/** Every subject quiet at `now`, by key: who, what, until when and why. */
export function activeQuiets(state: AlertState, now: Date): ActiveQuiet[] {
  return Object.keys(quietOf(state))
    .sort()
    .flatMap((key) => {
      const quiet = quietFor(state, key, now);
      return quiet ? [{ ...quiet, key, node: nodeOf(key), certificate: nameOf(key) }] : [];
    });
}

/** The open keys a target names, and those it names that are not open. */
function targeted(
  state: AlertState,
  target: QuietTarget,
): { keys: string[]; skipped: string[] } | QuietRefusal {
  const open = openKeys(state);
  if ("all" in target)
    return open.length > 0 ? { keys: open, skipped: [] } : { ok: false, reason: "nothing-open" };
  const asked = [...new Set(target.keys)].sort();
  const keys = asked.filter((k) => state.alerts[k] !== undefined);
  const skipped = asked.filter((k) => state.alerts[k] === undefined);
  return keys.length > 0 ? { keys, skipped } : { ok: false, reason: "not-open", keys: asked, open };
}

function quietKeys(
  state: AlertState,
  target: QuietTarget,
  make: (level: AlertLevel, sha256: string | null) => Quiet,
): QuietResult {
  const found = targeted(state, target);
  if ("ok" in found) return found;
  const quiet = { ...quietOf(state) };
  for (const key of found.keys) {
    const record = state.alerts[key]!;
    quiet[key] = make(record.level, record.sha256);
  }
  return { ok: true, state: withQuiet(state, quiet), ...found };
}

/** No reminders for these subjects while they keep their level and certificate. */
export function acknowledge(state: AlertState, target: QuietTarget, by: string, now: Date): QuietResult {
  const at = now.toISOString();
  return quietKeys(state, target, (level, sha256) => ({ kind: "acknowledged", by, at, level, sha256 }));
}

/** No reminders for these subjects until `until` (at most `maxDays` from now), nor while they keep their level and certificate. */
export function snooze(state: AlertState, target: QuietTarget, request: SnoozeRequest): QuietResult {
  const { by, until, now, maxDays, reason } = request;
  if (until.getTime() <= now.getTime()) return { ok: false, reason: "not-future" };
  if (until.getTime() - now.getTime() > maxDays * DAY_MS) return { ok: false, reason: "too-long", maxDays };
  const at = now.toISOString();
  const end = until.toISOString();
  const why = reason?.trim() ? { reason: reason.trim() } : {};
  return quietKeys(state, target, (level, sha256) => ({
    kind: "snoozed",
    by,
    at,
    until: end,
    level,
    sha256,
    ...why,
  }));
}

/** Lifts acknowledgements and snoozes: reminders resume on the reminder clock. */
export function unsnooze(state: AlertState, target: QuietTarget): QuietResult {
  const quiet = { ...quietOf(state) };
  const asked = "all" in target ? Object.keys(quiet) : [...new Set(target.keys)];
  const keys = asked.filter((k) => quiet[k] !== undefined).sort();
  const skipped = asked.filter((k) => quiet[k] === undefined).sort();
  if (keys.length === 0) return { ok: false, reason: "not-quiet", keys: asked.sort() };
  for (const key of keys) delete quiet[key];
  return { ok: true, state: withQuiet(state, quiet), keys, skipped };
}
