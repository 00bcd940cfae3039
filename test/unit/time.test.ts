import { test } from "node:test";
import assert from "node:assert/strict";
import { duration, expiry, formatDate, localDay, timeLeft } from "../../src/present/time.js";

const now = new Date("2026-11-28T09:00:00Z");
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

test("dates read in the configured time zone", () => {
  assert.equal(formatDate(now, "Europe/Berlin"), "2026-11-28 10:00 CET");
  assert.equal(formatDate(new Date("2026-07-01T09:00:00Z"), "Europe/Berlin"), "2026-07-01 11:00 CEST");
  assert.equal(formatDate(now, "UTC"), "2026-11-28 09:00 UTC");
  assert.equal(formatDate(now, "Asia/Tokyo"), "2026-11-28 18:00 GMT+9");
  assert.equal(formatDate(new Date("2026-11-28T23:59:00Z"), "UTC"), "2026-11-28 23:59 UTC", "24-hour clock");
  assert.equal(formatDate(new Date("2026-11-28T00:05:00Z"), "UTC"), "2026-11-28 00:05 UTC", "midnight is 00");
});

test("the local day is the calendar day in that zone, across a DST change", () => {
  assert.equal(localDay(new Date("2026-11-28T23:30:00Z"), "UTC"), "2026-11-28");
  assert.equal(localDay(new Date("2026-11-28T23:30:00Z"), "Europe/Berlin"), "2026-11-29");
  assert.equal(localDay(new Date("2026-11-28T04:30:00Z"), "America/New_York"), "2026-11-27");
  // Berlin leaves summer time at 03:00 CEST on 2026-10-25 (01:00 UTC): 23:30 UTC on the 24th is
  // 01:30 CEST on the 25th, 22:30 UTC on the 25th is 23:30 CET still on the 25th.
  assert.equal(localDay(new Date("2026-10-24T21:59:00Z"), "Europe/Berlin"), "2026-10-24");
  assert.equal(localDay(new Date("2026-10-24T23:30:00Z"), "Europe/Berlin"), "2026-10-25");
  assert.equal(localDay(new Date("2026-10-25T22:30:00Z"), "Europe/Berlin"), "2026-10-25");
  assert.equal(localDay(new Date("2026-10-25T23:00:00Z"), "Europe/Berlin"), "2026-10-26");
  // And into summer time (2026-03-29, 02:00 CET becomes 03:00 CEST).
  assert.equal(localDay(new Date("2026-03-28T23:00:00Z"), "Europe/Berlin"), "2026-03-29");
  assert.equal(localDay(new Date("2026-03-29T21:59:00Z"), "Europe/Berlin"), "2026-03-29");
  assert.equal(localDay(new Date("2026-03-29T22:00:00Z"), "Europe/Berlin"), "2026-03-30");
});

test("formatters are per time zone: one zone's cached formatter never serves another", () => {
  const at = new Date("2026-11-28T23:30:00Z");
  assert.equal(localDay(at, "Asia/Tokyo"), "2026-11-29");
  assert.equal(localDay(at, "America/Los_Angeles"), "2026-11-28");
  assert.equal(localDay(at, "Asia/Tokyo"), "2026-11-29");
  assert.equal(formatDate(at, "America/Los_Angeles"), "2026-11-28 15:30 PST");
  assert.equal(formatDate(at, "Asia/Tokyo"), "2026-11-29 08:30 GMT+9");
});

test("precise durations: tenths under a minute, then the two largest units", () => {
  const cases: [number, string][] = [
    [0, "0.0s"],
    [-5 * SECOND, "0.0s"],
    [99, "0.0s"],
    [1_250, "1.2s"],
    [59_999, "59.9s"],
    [MINUTE, "1m 0s"],
    [5 * MINUTE + 7 * SECOND, "5m 7s"],
    [HOUR - 1, "59m 59s"],
    [HOUR, "1h 0m"],
    [4 * HOUR - MINUTE, "3h 59m"],
    [DAY - 1, "23h 59m"],
    [DAY, "1d 0h"],
    [2 * DAY + 4 * HOUR + 59 * MINUTE, "2d 4h"],
  ];
  for (const [ms, text] of cases) assert.equal(duration(ms, "precise"), text, `${ms} ms`);
});

test("coarse durations: hours under a day, else whole days", () => {
  const cases: [number, string][] = [
    [0, "0h"],
    [-3 * DAY, "0h"],
    [30 * SECOND, "0h"],
    [59 * MINUTE, "0h"],
    [5 * HOUR + 59 * MINUTE, "5h"],
    [DAY - 1, "23h"],
    [DAY, "1d"],
    [400 * DAY + 23 * HOUR, "400d"],
  ];
  for (const [ms, text] of cases) assert.equal(duration(ms, "coarse"), text, `${ms} ms`);
});

test("ago: just now under a minute, hours up to two days, then days", () => {
  const cases: [number, string][] = [
    [0, "just now"],
    [-HOUR, "just now"],
    [59 * SECOND, "just now"],
    [MINUTE, "1m ago"],
    [59 * MINUTE, "59m ago"],
    [HOUR, "1h ago"],
    [47 * HOUR + 59 * MINUTE, "47h ago"],
    [48 * HOUR, "2d ago"],
    [10 * DAY + 23 * HOUR, "10d ago"],
  ];
  for (const [ms, text] of cases) assert.equal(duration(ms, "ago"), text, `${ms} ms`);
});

test("seconds: tenths of a second, however long", () => {
  assert.equal(duration(0, "seconds"), "0.0s");
  assert.equal(duration(400, "seconds"), "0.4s");
  assert.equal(duration(75_000, "seconds"), "75.0s");
  assert.equal(duration(-1, "seconds"), "0.0s");
});

test("time left, as a column like kubeadm's and as a phrase, honest about the past", () => {
  const nb = new Date("2025-01-01T00:00:00Z");
  const cert = (notAfter: string, notBefore: Date | null = nb) => ({
    notBefore,
    notAfter: new Date(notAfter),
  });
  const cases: [ReturnType<typeof cert>, string, string][] = [
    [cert("2026-12-01T09:00:00Z"), "3d", "3d left"],
    [cert("2026-11-28T14:00:00Z"), "5h", "5h left"],
    [cert("2026-11-28T09:00:30Z"), "0h", "0h left"],
    [cert("2026-11-28T09:00:00Z"), "expired 0h ago", "expired 0h ago"],
    [cert("2026-11-25T09:00:00Z"), "expired 3d ago", "expired 3d ago"],
    [cert("2027-11-30T09:00:00Z", new Date("2026-11-30T09:00:00Z")), "valid in 2d", "valid in 2d"],
    [cert("2026-12-01T09:00:00Z", null), "3d", "3d left"],
  ];
  for (const [c, column, phrase] of cases) {
    assert.equal(timeLeft(c, now, "column"), column);
    assert.equal(timeLeft(c, now), phrase);
  }
  assert.equal(timeLeft({ notBefore: null, notAfter: null }, now, "column"), "-");
  assert.equal(timeLeft({ notBefore: null, notAfter: null }, now), "no expiry known");
});

test("expiry: the date that matters with the time to it", () => {
  const tz = "Europe/Berlin";
  const nb = new Date("2025-01-01T00:00:00Z");
  assert.equal(
    expiry({ notBefore: nb, notAfter: new Date("2026-12-01T09:00:00Z") }, now, tz, false),
    "expires 2026-12-01 10:00 CET (3d left)",
  );
  assert.equal(
    expiry({ notBefore: null, notAfter: new Date("2026-12-01T09:00:00Z") }, now, tz, false),
    "expires 2026-12-01 10:00 CET (3d left)",
    "a served certificate has no start we know",
  );
  assert.equal(
    expiry({ notBefore: nb, notAfter: new Date("2026-11-27T09:00:00Z") }, now, tz, false),
    "expired 2026-11-27 10:00 CET (1d ago)",
  );
  assert.equal(
    expiry(
      { notBefore: new Date("2026-11-30T09:00:00Z"), notAfter: new Date("2027-11-30T09:00:00Z") },
      now,
      tz,
      true,
    ),
    "valid from 2026-11-30 10:00 CET (valid in 2d)",
  );
  assert.equal(expiry({ notBefore: nb, notAfter: null }, now, tz, false), "");
});
