import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.js";
import { scanPeriodMs } from "../../src/config/schedule.js";
import { clustersBehind } from "../../src/app/scan-job.js";
import type { StoredScan } from "../../src/core/report/types.js";

const HOUR = 3_600_000;

function config(scanCron: string, timezone = "UTC") {
  return parseConfig(
    [
      `scanCron: "${scanCron}"`,
      `timezone: ${timezone}`,
      "clusters:",
      ...["fresh", "stale", "never"].flatMap((name) => [
        `  - name: ${name}`,
        "    nodes: [{ host: 10.0.0.1 }]",
      ]),
    ].join("\n"),
    "clusters.yaml",
  );
}

test("a scan period is the gap between the schedule's last two ticks", () => {
  const now = new Date("2026-11-25T13:10:00Z"); // a Wednesday
  assert.equal(scanPeriodMs(config("0 */6 * * *"), now), 6 * HOUR);
  assert.equal(scanPeriodMs(config("*/30 * * * *"), now), HOUR / 2);
  // Weekdays at 09:00: Tuesday to Wednesday is a day; from Monday, the weekend counts.
  assert.equal(scanPeriodMs(config("0 9 * * 1-5"), now), 24 * HOUR);
  assert.equal(scanPeriodMs(config("0 9 * * 1-5"), new Date("2026-11-23T10:00:00Z")), 72 * HOUR);
  // In the configured time zone: 09:00 in Tokyo is 00:00 UTC.
  const tokyo = config("0 9 * * 1-5", "Asia/Tokyo");
  assert.equal(scanPeriodMs(tokyo, new Date("2026-11-23T01:00:00Z")), 72 * HOUR);
});

test("behind: never scanned, or scanned longer than one period ago; in config order", () => {
  const c = config("0 */6 * * *");
  const now = new Date("2026-11-25T13:10:00Z");
  const scan = (cluster: string, hoursAgo: number) =>
    ({ cluster, scannedAt: new Date(now.getTime() - hoursAgo * HOUR) }) as StoredScan;
  const latest = new Map([
    ["fresh", scan("fresh", 5.9)],
    ["stale", scan("stale", 6.1)],
    ["never", null],
  ]);
  assert.deepEqual(clustersBehind(c, latest, now), ["stale", "never"]);
  assert.deepEqual(clustersBehind(c, new Map(), now), ["fresh", "stale", "never"], "nothing stored yet");
  latest.set("stale", scan("stale", 1));
  latest.set("never", scan("never", 0));
  assert.deepEqual(clustersBehind(c, latest, now), [], "all current: nothing to catch up");
});
