// When an approved renewal may run: the configured weekly maintenance windows as instants. Pure: the
// clock is a parameter, the time zone arithmetic is Intl's (Node 20 has no Temporal).
//
// A window is wall-clock time: it opens at its local start and closes at its local start plus its
// length on the local clock (fri 23:00 for 3h closes sat 02:00). On the days the clock changes:
// - a local time that does not exist (Europe/Berlin, last Sunday of March, 02:00–03:00) means the
//   first instant after the gap: a window from 02:30 opens at 03:00 and still closes at its local
//   end; one that lies wholly in the gap does not open that day;
// - a local time that happens twice (last Sunday of October, 02:00–03:00) means its first
//   occurrence, for the start and for the end alike.
// Openings that touch or overlap (sat 00:00 for 24h, then sun 00:00 for 24h) are one window.
import type { MaintenanceWindow } from "../../config/load.js";

/** The windows a cluster's runs keep to, in its configured time zone; no windows: any time. */
export interface WindowSchedule {
  windows: readonly MaintenanceWindow[];
  timeZone: string;
}

/** One opening of a window: from `start` (inclusive) to `end` (exclusive). */
export interface WindowTimes {
  start: Date;
  end: Date;
}

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/** Openings are looked for from two days before `now` to this many days after (a week, and a window's day). */
const DAYS_AHEAD = 9;

const formatters = new Map<string, Intl.DateTimeFormat>();
function wallClock(timeZone: string): Intl.DateTimeFormat {
  let made = formatters.get(timeZone);
  if (!made) {
    made = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, made);
  }
  return made;
}

/** The local wall-clock time at `instant`, as milliseconds of a UTC date that reads the same. */
function localMs(instant: number, timeZone: string): number {
  const parts = wallClock(timeZone).formatToParts(new Date(instant));
  const n = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second"));
}

/** The instant a local wall-clock time means (see the header for gaps and repeats). */
export function localToInstant(local: number, timeZone: string): number {
  const offset = (t: number): number => localMs(t, timeZone) - Math.floor(t / 1000) * 1000;
  const offsets = [offset(local - DAY_MS), offset(local + DAY_MS)];
  const exact = offsets.map((o) => local - o).filter((t) => t + offset(t) === local);
  if (exact.length > 0) return Math.min(...exact);
  // In a gap: the clock reads before `local` at `low` and after it at `high`; find where it jumps.
  let low = local - Math.max(...offsets);
  let high = local - Math.min(...offsets);
  while (high - low > 1000) {
    const mid = low + Math.floor((high - low) / 2000) * 1000;
    if (mid + offset(mid) < local) low = mid;
    else high = mid;
  }
  return high;
}

/** Monday 0 … Sunday 6, as the config's day names. */
const weekdayIndex = (utcDate: number): number => (new Date(utcDate).getUTCDay() + 6) % 7;
const DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

/** Every opening from two local days before `now` on, sorted, touching ones merged. */
function openings(schedule: WindowSchedule, now: Date): WindowTimes[] {
  const today = localMs(now.getTime(), schedule.timeZone);
  const midnight = today - (((today % DAY_MS) + DAY_MS) % DAY_MS);
  const found: { start: number; end: number }[] = [];
  for (let k = -2; k <= DAYS_AHEAD; k++) {
    const day = midnight + k * DAY_MS;
    const name = DAY_NAMES[weekdayIndex(day)]!;
    for (const w of schedule.windows) {
      if (!w.days.includes(name)) continue;
      const local = day + w.startMinute * MINUTE_MS;
      const start = localToInstant(local, schedule.timeZone);
      const end = localToInstant(local + w.durationMinutes * MINUTE_MS, schedule.timeZone);
      if (end > start) found.push({ start, end });
    }
  }
  found.sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number }[] = [];
  for (const o of found) {
    const last = merged[merged.length - 1];
    if (last && o.start <= last.end) last.end = Math.max(last.end, o.end);
    else merged.push({ ...o });
  }
  return merged.map((o) => ({ start: new Date(o.start), end: new Date(o.end) }));
}

/** The window open at `now`, with its end; null outside every window (and when there are none). */
export function windowAt(schedule: WindowSchedule, now: Date): WindowTimes | null {
  const t = now.getTime();
  return openings(schedule, now).find((o) => o.start.getTime() <= t && t < o.end.getTime()) ?? null;
}

/** The window open at `now`, else the next one to open; null when there are no windows (any time). */
export function nextWindow(schedule: WindowSchedule, now: Date): WindowTimes | null {
  const t = now.getTime();
  return openings(schedule, now).find((o) => t < o.end.getTime()) ?? null;
}

/**
 * Whether a node may be started at `now`: inside a window with at least `marginMs` of it left.
 * Without windows, always.
 */
export function canStartNode(schedule: WindowSchedule, now: Date, marginMs: number): boolean {
  if (schedule.windows.length === 0) return true;
  const open = windowAt(schedule, now);
  return open !== null && open.end.getTime() - now.getTime() >= marginMs;
}

/**
 * The first instant from `now` on at which a node may be started: `now` itself when it may, else the
 * opening of the next window with at least `marginMs` in it (a window a clock change shortened below
 * the margin is passed over). Null when nothing within the look-ahead qualifies.
 */
export function nextNodeStart(schedule: WindowSchedule, now: Date, marginMs: number): Date | null {
  let at = now;
  for (let tries = 0; tries < 16; tries++) {
    if (canStartNode(schedule, at, marginMs)) return at;
    const open = windowAt(schedule, at);
    const next = nextWindow(schedule, open ? open.end : at);
    if (!next) return null;
    at = next.start;
  }
  return null;
}
