// What the configured scan schedule means in time: how long one scan period is, so `serve` can tell
// a stored report that is merely from the last tick from one that a missed tick left behind.
import { CronExpressionParser } from "cron-parser";
import type { Config } from "./load.js";

/**
 * The gap between the last two `scanCron` ticks before `now`, in the configured time zone: one scan
 * period as it applies right now (a weekday-only schedule has a longer one over the weekend).
 */
export function scanPeriodMs(config: Pick<Config, "scanCron" | "timezone">, now: Date): number {
  const ticks = CronExpressionParser.parse(config.scanCron, { currentDate: now, tz: config.timezone });
  const last = ticks.prev().getTime();
  return last - ticks.prev().getTime();
}
