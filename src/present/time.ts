// Dates and durations as people read them, in one place: every message that says when or how
// long uses these words, so the same time never reads two ways. Pure.

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * Building an Intl.DateTimeFormat costs far more than using one, and a rendered message formats
 * hundreds of dates in one time zone: each formatter is made once per locale, zone and kind.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(
  locale: string,
  timeZone: string,
  kind: "zone" | "date" | "day" | "weekday",
): Intl.DateTimeFormat {
  const key = `${locale}\0${timeZone}\0${kind}`;
  let made = formatters.get(key);
  if (!made) {
    const day = { timeZone, year: "numeric", month: "2-digit", day: "2-digit" } as const;
    const clock = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" } as const;
    made = new Intl.DateTimeFormat(
      locale,
      kind === "zone"
        ? { timeZone, timeZoneName: "short" }
        : kind === "day"
          ? day
          : kind === "weekday"
            ? { timeZone, weekday: "short", day: "numeric", month: "short", ...clock }
            : { ...day, ...clock },
    );
    formatters.set(key, made);
  }
  return made;
}

/** Abbreviation where one exists in some English locale (CET, EST), else the offset (GMT+9). */
function zoneName(date: Date, timeZone: string): string {
  const names = ["en-GB", "en-US"].map(
    (locale) =>
      formatter(locale, timeZone, "zone")
        .formatToParts(date)
        .find((p) => p.type === "timeZoneName")?.value ?? timeZone,
  );
  return names.find((n) => !n.startsWith("GMT")) ?? names[0]!;
}

/** formatDate's answers by minute and zone: the same certificates' dates are shown over and over. */
const formattedDates = new Map<string, string>();
const FORMATTED_DATES_KEPT = 10_000;

/** `2027-11-28 10:38 CET`: unambiguous in every team's locale, in the configured time zone. */
export function formatDate(date: Date, timeZone: string): string {
  const key = `${Math.floor(date.getTime() / 60_000)} ${timeZone}`;
  let text = formattedDates.get(key);
  if (text === undefined) {
    if (formattedDates.size >= FORMATTED_DATES_KEPT) formattedDates.clear();
    text = formatDateNow(date, timeZone);
    formattedDates.set(key, text);
  }
  return text;
}

function formatDateNow(date: Date, timeZone: string): string {
  const parts = formatter("en-CA", timeZone, "date").formatToParts(date);
  const part = (type: string): string => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")} ${zoneName(date, timeZone)}`;
}

/** `Tue 2 Dec` and `02:00` in `timeZone`. */
function dayAndClock(date: Date, timeZone: string): { day: string; clock: string } {
  const parts = formatter("en-GB", timeZone, "weekday").formatToParts(date);
  const part = (type: string): string => parts.find((p) => p.type === type)?.value ?? "";
  return {
    day: `${part("weekday")} ${part("day")} ${part("month")}`,
    clock: `${part("hour")}:${part("minute")}`,
  };
}

/** `Tue 2 Dec 02:00 CET`: a time someone plans around in the coming days (a run's scheduled start). */
export function formatWhen(date: Date, timeZone: string): string {
  const { day, clock } = dayAndClock(date, timeZone);
  return `${day} ${clock} ${zoneName(date, timeZone)}`;
}

/**
 * A maintenance window's opening: `Tue 2 Dec 02:00–05:00 CET`; across midnight
 * `Fri 4 Dec 23:00 – Sat 5 Dec 02:00 CET`; when the clock changes inside it
 * `Sun 25 Oct 02:30 CEST – 05:30 CET`.
 */
export function formatWindow(window: { start: Date; end: Date }, timeZone: string): string {
  const from = dayAndClock(window.start, timeZone);
  const to = dayAndClock(window.end, timeZone);
  const fromZone = zoneName(window.start, timeZone);
  const toZone = zoneName(window.end, timeZone);
  if (from.day === to.day && fromZone === toZone) return `${from.day} ${from.clock}–${to.clock} ${toZone}`;
  const start = `${from.day} ${from.clock}${fromZone === toZone ? "" : ` ${fromZone}`}`;
  return `${start} – ${from.day === to.day ? "" : `${to.day} `}${to.clock} ${toZone}`;
}

/** `2026-11-28` in `timeZone`: the calendar day there, which is what "once a day" counts in. */
export function localDay(date: Date, timeZone: string): string {
  return formatter("en-CA", timeZone, "day").format(date);
}

/**
 * How a length of time reads, by what the reader does with it:
 * - `precise`: `1.2s`, `5m 0s`, `3h 59m`, `2d 4h`, the two largest units (a renewal's checklist);
 * - `coarse`: `5h`, `3d`, hours under a day, else days (a certificate's validity, in days);
 * - `ago`: `just now`, `12m ago`, `3h ago`, `4d ago`, hours up to two days (a scan's age);
 * - `seconds`: `75.0s`, seconds only (how long a scan or one step took, comparable across runs).
 * A negative length reads as 0.
 */
export function duration(ms: number, style: "precise" | "coarse" | "ago" | "seconds"): string {
  const t = Math.max(0, ms);
  switch (style) {
    case "precise": {
      const tenths = Math.floor(t / 100);
      if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
      const seconds = Math.floor(tenths / 10);
      if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
      const minutes = Math.floor(seconds / 60);
      if (minutes < 1440) return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
      return `${Math.floor(minutes / 1440)}d ${Math.floor(minutes / 60) % 24}h`;
    }
    case "coarse":
      return t >= DAY_MS ? `${Math.floor(t / DAY_MS)}d` : `${Math.floor(t / HOUR_MS)}h`;
    case "ago": {
      const minutes = Math.floor(t / MINUTE_MS);
      if (minutes < 1) return "just now";
      if (minutes < 60) return `${minutes}m ago`;
      const hours = Math.floor(minutes / 60);
      return hours < 48 ? `${hours}h ago` : `${Math.floor(hours / 24)}d ago`;
    }
    case "seconds":
      return `${(t / 1000).toFixed(1)}s`;
  }
}

interface Validity {
  /** Null when unknown: the certificate counts as valid since ever. */
  notBefore: Date | null;
  notAfter: Date | null;
}

/**
 * Where `now` sits in a certificate's validity, coarsely: `expired 3d ago`, `valid in 2d`, or the
 * time left. `phrase` says `12d left` (and `no expiry known`) for a sentence; `column` says `12d`
 * (and `-`) under a RESIDUAL TIME header that already says "left".
 */
export function timeLeft(cert: Validity, now: Date, style: "phrase" | "column" = "phrase"): string {
  if (!cert.notAfter) return style === "phrase" ? "no expiry known" : "-";
  const left = cert.notAfter.getTime() - now.getTime();
  if (left <= 0) return `expired ${duration(-left, "coarse")} ago`;
  if (cert.notBefore && cert.notBefore > now) {
    return `valid in ${duration(cert.notBefore.getTime() - now.getTime(), "coarse")}`;
  }
  return style === "phrase" ? `${duration(left, "coarse")} left` : duration(left, "coarse");
}

/**
 * A certificate's end (or, when it is not valid yet, its start) with the time to it, in a
 * warning: `expires 2026-12-01 10:00 CET (3d left)`, `expired 2026-11-27 10:00 CET (1d ago)`,
 * `valid from 2026-12-01 10:00 CET (valid in 2d)`.
 */
export function expiry(cert: Validity, now: Date, timeZone: string, notYetValid: boolean): string {
  const { notBefore, notAfter } = cert;
  if (!notAfter) return "";
  if (notYetValid && notBefore)
    return `valid from ${formatDate(notBefore, timeZone)} (${timeLeft(cert, now)})`;
  if (notAfter.getTime() <= now.getTime()) {
    return `expired ${formatDate(notAfter, timeZone)} (${duration(now.getTime() - notAfter.getTime(), "coarse")} ago)`;
  }
  return `expires ${formatDate(notAfter, timeZone)} (${timeLeft(cert, now)})`;
}
