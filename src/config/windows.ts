// Maintenance windows as written in the config (`renewal.windows`): weekly, in the configured time
// zone, `{ days: [mon, tue], start: "02:00", duration: "3h" }`. Parsed and checked here, once, so
// the core gets minutes and never meets a bad window.
import { z } from "zod";
import { suggestNames } from "./suggest.js";

/** Day names as the config writes them, Monday first (index 0 is Monday). */
export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const FULL_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
export const MINUTES_PER_DAY = 24 * 60;
const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;

/** One weekly window, resolved: it opens on each of `days` at `startMinute` (local) for `durationMinutes`. */
export interface MaintenanceWindow {
  days: Weekday[];
  /** Minutes after local midnight, 0–1439. */
  startMinute: number;
  /** 1–1440: a window may cross midnight but not last more than a day. */
  durationMinutes: number;
}

/** "02:00" → 120; anything but a 24-hour "HH:MM" → null. */
export function parseClock(text: string): number | null {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/** "3h" → 180, "90m" → 90, "1h30m" → 90; anything else → null. */
export function parseDuration(text: string): number | null {
  const m = /^(?:(\d{1,4})h)?(?:(\d{1,5})m)?$/.exec(text);
  if (!m || (m[1] === undefined && m[2] === undefined)) return null;
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

/** What someone probably meant by a day name we do not accept. */
function dayHint(text: string): string {
  if (/^[a-z]+\s*-\s*[a-z]+$/i.test(text)) return "; list each day, such as [mon, tue, wed, thu, fri]";
  const lower = text.toLowerCase();
  const full = FULL_NAMES.findIndex((name) => lower.length >= 2 && name.startsWith(lower));
  const guesses = full >= 0 ? [WEEKDAYS[full]!] : suggestNames(lower, WEEKDAYS);
  return guesses.length > 0 ? `; did you mean ${guesses.map((g) => `"${g}"`).join(" or ")}?` : "";
}

const day = z.string().superRefine((text, ctx) => {
  if ((WEEKDAYS as readonly string[]).includes(text)) return;
  ctx.addIssue({
    code: "custom",
    message: `unknown day "${text}": days are ${WEEKDAYS.join(", ")}${dayHint(text)}`,
  });
});

const windowSchema = z
  .strictObject({
    days: z.array(day).min(1, "list at least one day, such as [sat, sun]"),
    start: z
      .string()
      .refine(
        (s) => parseClock(s) !== null,
        'must be a 24-hour time "HH:MM" such as "02:00" (00:00 to 23:59)',
      ),
    duration: z.string().superRefine((text, ctx) => {
      const minutes = parseDuration(text);
      const message =
        minutes === null
          ? 'must be a length such as "3h", "90m" or "1h30m"'
          : minutes === 0
            ? "must be longer than zero"
            : minutes > MINUTES_PER_DAY
              ? "must be at most 24h (list more days for a longer window)"
              : null;
      if (message) ctx.addIssue({ code: "custom", message });
    }),
  })
  .transform((w): MaintenanceWindow => ({
    days: w.days as Weekday[],
    startMinute: parseClock(w.start)!,
    durationMinutes: parseDuration(w.duration)!,
  }));

/**
 * zod still runs a list's checks when one of its windows is wrong, on that window as written: such
 * a window is skipped, its own problems are already reported.
 */
const isResolved = (w: MaintenanceWindow): boolean =>
  Number.isInteger(w.startMinute) &&
  Number.isInteger(w.durationMinutes) &&
  w.durationMinutes > 0 &&
  w.durationMinutes <= MINUTES_PER_DAY &&
  Array.isArray(w.days) &&
  w.days.every((d) => WEEKDAYS.includes(d));

/** Each opening of a window as [start, end) in minutes of the week from Monday 00:00 (end may pass the week). */
export function weeklyOpenings(w: MaintenanceWindow): { day: Weekday; start: number; end: number }[] {
  return w.days.map((d) => {
    const start = WEEKDAYS.indexOf(d) * MINUTES_PER_DAY + w.startMinute;
    return { day: d, start, end: start + w.durationMinutes };
  });
}

/** Do [a, a+la) and [b, b+lb) meet on the week's circle (so sun 23:00 + 3h meets mon 01:00)? */
function overlaps(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  const ahead = (from: number, to: number) =>
    (((to - from) % MINUTES_PER_WEEK) + MINUTES_PER_WEEK) % MINUTES_PER_WEEK;
  return ahead(a.start, b.start) < a.end - a.start || ahead(b.start, a.start) < b.end - b.start;
}

const clock = (minuteOfWeek: number): string => {
  const m = minuteOfWeek % MINUTES_PER_DAY;
  return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
};

/**
 * A list of windows: no window may overlap another or itself on another day (also across midnight
 * and from Sunday into Monday). Windows that merely touch (one ends as the next starts) are one
 * longer window.
 */
export const windowsSchema = z.array(windowSchema).superRefine((windows, ctx) => {
  const seen: { index: number; day: Weekday; start: number; end: number }[] = [];
  windows.forEach((w, index) => {
    if (!isResolved(w)) return; // its own problems are reported
    weeklyOpenings(w).forEach((opening, d) => {
      const other = seen.find((s) => overlaps(s, opening));
      if (other) {
        const what =
          other.index === index && other.day === opening.day
            ? `"${opening.day}" is listed twice`
            : `${opening.day} ${clock(opening.start)} overlaps windows[${other.index}] (${other.day} ${clock(other.start)} for ${other.end - other.start}m)`;
        ctx.addIssue({ code: "custom", path: [index, "days", d], message: what });
      }
      seen.push({ index, ...opening });
    });
  });
});

/** The margin must leave room to start a node in every window, or a window could never start one. */
export function marginProblems(
  windows: readonly MaintenanceWindow[],
  marginMinutes: number,
): { index: number; message: string }[] {
  return windows.flatMap((w, index) =>
    !isResolved(w) || marginMinutes < w.durationMinutes
      ? []
      : [
          {
            index,
            message:
              `is ${w.durationMinutes}m, not longer than windowMarginMinutes (${marginMinutes}): ` +
              "no node could ever start in it",
          },
        ],
  );
}
