import { test } from "node:test";
import assert from "node:assert/strict";
import type { MaintenanceWindow } from "../../src/config/load.js";
import {
  canStartNode,
  nextNodeStart,
  nextWindow,
  windowAt,
  type WindowSchedule,
  type WindowTimes,
} from "../../src/core/renew/windows.js";
import { formatWhen, formatWindow } from "../../src/present/time.js";

const MINUTE = 60_000;
const BERLIN = "Europe/Berlin";
const NEW_YORK = "America/New_York";

/** A schedule of windows written as in the config: `["tue"], "02:00", 180`. */
function schedule(
  timeZone: string,
  ...windows: [MaintenanceWindow["days"], string, number][]
): WindowSchedule {
  return {
    timeZone,
    windows: windows.map(([days, start, durationMinutes]) => {
      const [h, m] = start.split(":").map(Number);
      return { days, startMinute: h! * 60 + m!, durationMinutes };
    }),
  };
}

/** A window as UTC instants, and as the card would name it. */
function read(w: WindowTimes | null, timeZone: string): [string, string, string] | null {
  return w && [w.start.toISOString(), w.end.toISOString(), formatWindow(w, timeZone)];
}

// Tuesday 2026-12-01, 02:00–05:00 CET is 01:00–04:00 UTC.
const nightly = schedule(BERLIN, [["tue", "thu"], "02:00", 180]);
const TUESDAY = ["2026-12-01T01:00:00.000Z", "2026-12-01T04:00:00.000Z", "Tue 1 Dec 02:00–05:00 CET"];

test("the next window from before, inside and just before the end of one, and after it", () => {
  const before = new Date("2026-11-29T21:30:00Z"); // Sunday evening
  assert.equal(windowAt(nightly, before), null);
  assert.deepEqual(read(nextWindow(nightly, before), BERLIN), TUESDAY);
  assert.equal(formatWhen(nextWindow(nightly, before)!.start, BERLIN), "Tue 1 Dec 02:00 CET");

  const inside = new Date("2026-12-01T02:00:00Z");
  assert.deepEqual(read(windowAt(nightly, inside), BERLIN), TUESDAY);
  assert.deepEqual(read(nextWindow(nightly, inside), BERLIN), TUESDAY, "inside one: that one");
  assert.deepEqual(
    read(windowAt(nightly, new Date("2026-12-01T01:00:00Z")), BERLIN),
    TUESDAY,
    "opens on time",
  );

  const lastMinute = new Date("2026-12-01T03:59:00Z");
  assert.deepEqual(read(nextWindow(nightly, lastMinute), BERLIN), TUESDAY);
  const closed = new Date("2026-12-01T04:00:00Z");
  assert.equal(windowAt(nightly, closed), null, "the end is outside");
  assert.deepEqual(read(nextWindow(nightly, closed), BERLIN), [
    "2026-12-03T01:00:00.000Z",
    "2026-12-03T04:00:00.000Z",
    "Thu 3 Dec 02:00–05:00 CET",
  ]);
});

test("a node starts only inside a window with the margin left", () => {
  const margin = 20 * MINUTE;
  assert.equal(canStartNode(nightly, new Date("2026-12-01T00:59:00Z"), margin), false, "before it");
  assert.equal(canStartNode(nightly, new Date("2026-12-01T01:00:00Z"), margin), true);
  assert.equal(
    canStartNode(nightly, new Date("2026-12-01T03:40:00Z"), margin),
    true,
    "exactly the margin left",
  );
  assert.equal(
    canStartNode(nightly, new Date("2026-12-01T03:41:00Z"), margin),
    false,
    "less than the margin",
  );
  assert.equal(canStartNode(nightly, new Date("2026-12-01T03:41:00Z"), 0), true);
  assert.equal(canStartNode(nightly, new Date("2026-12-01T04:00:00Z"), 0), false, "closed");
  const anyTime = schedule(BERLIN);
  assert.equal(canStartNode(anyTime, new Date("2026-12-01T12:00:00Z"), margin), true, "no windows: any time");
  assert.equal(nextWindow(anyTime, new Date("2026-12-01T12:00:00Z")), null);
});

test("a window crossing midnight belongs to the day it starts on", () => {
  const late = schedule(BERLIN, [["fri"], "23:00", 180]);
  const friday = [
    "2026-12-04T22:00:00.000Z",
    "2026-12-05T01:00:00.000Z",
    "Fri 4 Dec 23:00 – Sat 5 Dec 02:00 CET",
  ];
  assert.deepEqual(read(nextWindow(late, new Date("2026-12-01T12:00:00Z")), BERLIN), friday);
  const saturdayNight = new Date("2026-12-05T00:30:00Z"); // Sat 01:30 CET
  assert.deepEqual(read(windowAt(late, saturdayNight), BERLIN), friday);
  assert.equal(canStartNode(late, saturdayNight, 20 * MINUTE), true);
  assert.equal(canStartNode(late, saturdayNight, 40 * MINUTE), false);
});

test("the week wraps: Sunday night into Monday, and Sunday's window seen from Monday", () => {
  const sunday = schedule(BERLIN, [["sun"], "22:00", 240]);
  const window = [
    "2026-12-06T21:00:00.000Z",
    "2026-12-07T01:00:00.000Z",
    "Sun 6 Dec 22:00 – Mon 7 Dec 02:00 CET",
  ];
  assert.deepEqual(read(windowAt(sunday, new Date("2026-12-07T00:00:00Z")), BERLIN), window, "Mon 01:00");
  assert.deepEqual(read(nextWindow(sunday, new Date("2026-12-07T02:00:00Z")), BERLIN), [
    "2026-12-13T21:00:00.000Z",
    "2026-12-14T01:00:00.000Z",
    "Sun 13 Dec 22:00 – Mon 14 Dec 02:00 CET",
  ]);
});

test("windows that touch are one window: the margin counts to the end of the last", () => {
  const weekend = schedule(BERLIN, [["sat", "sun"], "00:00", 1440]);
  const sundayNight = new Date("2026-12-06T22:30:00Z"); // Sun 23:30 CET
  assert.deepEqual(read(windowAt(weekend, new Date("2026-12-05T12:00:00Z")), BERLIN), [
    "2026-12-04T23:00:00.000Z",
    "2026-12-06T23:00:00.000Z",
    "Sat 5 Dec 00:00 – Mon 7 Dec 00:00 CET",
  ]);
  assert.equal(canStartNode(weekend, new Date("2026-12-05T22:50:00Z"), 20 * MINUTE), true, "Sat 23:50");
  assert.equal(canStartNode(weekend, sundayNight, 20 * MINUTE), true, "Sun 23:30: 30m left");
  assert.equal(canStartNode(weekend, new Date("2026-12-06T22:45:00Z"), 20 * MINUTE), false);
});

test("Europe/Berlin spring forward: a start in the gap opens when the gap ends, the end stays", () => {
  // 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC).
  const from = new Date("2026-03-28T12:00:00Z");
  assert.deepEqual(read(nextWindow(schedule(BERLIN, [["sun"], "02:30", 180]), from), BERLIN), [
    "2026-03-29T01:00:00.000Z", // 03:00 CEST, the first instant after the gap
    "2026-03-29T03:30:00.000Z", // 05:30 CEST, as every Sunday
    "Sun 29 Mar 03:00–05:30 CEST",
  ]);
  // 01:00 for 3h: 01:00 CET to 04:00 CEST, two hours that day.
  assert.deepEqual(read(nextWindow(schedule(BERLIN, [["sun"], "01:00", 180]), from), BERLIN), [
    "2026-03-29T00:00:00.000Z",
    "2026-03-29T02:00:00.000Z",
    "Sun 29 Mar 01:00 CET – 04:00 CEST",
  ]);
  // Wholly in the gap: no window that day, the next Sunday's instead.
  assert.deepEqual(read(nextWindow(schedule(BERLIN, [["sun"], "02:00", 60]), from), BERLIN), [
    "2026-04-05T00:00:00.000Z",
    "2026-04-05T01:00:00.000Z",
    "Sun 5 Apr 02:00–03:00 CEST",
  ]);
});

test("Europe/Berlin fall back: a start in the repeated hour is its first occurrence", () => {
  // 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:30 happens at 00:30 and 01:30 UTC.
  const fallBack = schedule(BERLIN, [["sun"], "02:30", 180]);
  const window = [
    "2026-10-25T00:30:00.000Z",
    "2026-10-25T04:30:00.000Z",
    "Sun 25 Oct 02:30 CEST – 05:30 CET",
  ];
  assert.deepEqual(read(nextWindow(fallBack, new Date("2026-10-24T12:00:00Z")), BERLIN), window);
  assert.deepEqual(read(windowAt(fallBack, new Date("2026-10-25T01:15:00Z")), BERLIN), window, "02:15 CET");
  // 00:00 for 2h30m ends at the first 02:30 (CEST): two and a half hours, not three and a half.
  assert.deepEqual(
    read(nextWindow(schedule(BERLIN, [["sun"], "00:00", 150]), new Date("2026-10-24T12:00:00Z")), BERLIN),
    ["2026-10-24T22:00:00.000Z", "2026-10-25T00:30:00.000Z", "Sun 25 Oct 00:00–02:30 CEST"],
  );
});

test("America/New_York: spring forward and fall back alike", () => {
  // 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00 UTC).
  assert.deepEqual(
    read(nextWindow(schedule(NEW_YORK, [["sun"], "02:30", 60]), new Date("2026-03-07T12:00:00Z")), NEW_YORK),
    ["2026-03-08T07:00:00.000Z", "2026-03-08T07:30:00.000Z", "Sun 8 Mar 03:00–03:30 EDT"],
  );
  // 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00 UTC); 01:30 happens at 05:30 and 06:30 UTC.
  const fallBack = schedule(NEW_YORK, [["sun"], "01:30", 60]);
  const window = ["2026-11-01T05:30:00.000Z", "2026-11-01T07:30:00.000Z", "Sun 1 Nov 01:30 EDT – 02:30 EST"];
  assert.deepEqual(read(nextWindow(fallBack, new Date("2026-10-31T12:00:00Z")), NEW_YORK), window);
  assert.equal(
    canStartNode(fallBack, new Date("2026-11-01T06:45:00Z"), 20 * MINUTE),
    true,
    "01:45 EST, the hour's second time: still inside",
  );
  assert.equal(canStartNode(fallBack, new Date("2026-11-01T07:15:00Z"), 20 * MINUTE), false);
});

test("when a node may next start: now inside with the margin left, else the next opening", () => {
  const margin = 20 * MINUTE;
  const at = (iso: string) => nextNodeStart(nightly, new Date(iso), margin)?.toISOString();
  assert.equal(at("2026-12-01T02:00:00.000Z"), "2026-12-01T02:00:00.000Z", "inside: now");
  assert.equal(at("2026-12-01T03:40:00.000Z"), "2026-12-01T03:40:00.000Z", "exactly the margin left");
  assert.equal(at("2026-12-01T03:41:00.000Z"), "2026-12-03T01:00:00.000Z", "too little left: Thursday's");
  assert.equal(at("2026-11-30T12:00:00.000Z"), "2026-12-01T01:00:00.000Z", "before: Tuesday's opening");
  assert.equal(at("2026-12-03T05:00:00.000Z"), "2026-12-08T01:00:00.000Z", "after Thursday's: next week");
  const any = schedule(BERLIN);
  assert.equal(
    nextNodeStart(any, new Date("2026-12-01T12:00:00Z"), margin)?.toISOString(),
    "2026-12-01T12:00:00.000Z",
  );
});
