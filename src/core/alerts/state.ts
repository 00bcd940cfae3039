// What has been said about one cluster's subjects: the alert state the store keeps as one JSON
// document per cluster, its keys, and the reminder clock. Pure.
import type { Status } from "../report/types.js";

export type AlertLevel = Exclude<Status, "ok">;

/** What has been said about one subject. JSON-safe (the store keeps AlertState as JSON). */
export interface AlertRecord {
  /** The worst level posted for this fingerprint. */
  level: AlertLevel;
  /** The certificate's fingerprint; null for a node, a missing or an unreadable file. */
  sha256: string | null;
  /** ISO time of the scan whose plan posted the current level (reminders are anchored on it). */
  postedAt: string;
  /** ts of that top-level post: its thread gets reminders and the resolution. */
  threadTs?: string;
  channel: string;
  /** ISO time of the scan whose plan posted the last reminder. */
  lastReminderAt?: string;
}

/**
 * An operator's word that a subject need not be repeated (see quiet.ts). JSON-safe. It only ever
 * silences reminders: a worse level or a new certificate posts, and clears it.
 */
export interface Quiet {
  /** acknowledged: until the subject gets worse or changes; snoozed: until `until` too. */
  kind: "acknowledged" | "snoozed";
  /** Slack user id of who said so. */
  by: string;
  /** ISO time it was said. */
  at: string;
  /** ISO end of a snooze (kind "snoozed" only). */
  until?: string;
  /** The record's level when it was said. */
  level: AlertLevel;
  /** The record's fingerprint when it was said (null: a node, a missing or unreadable file). */
  sha256: string | null;
  reason?: string;
}

/** Everything said about one cluster. The store persists it as one JSON document per cluster. */
export interface AlertState {
  alerts: Record<string, AlertRecord>;
  /** Subjects acknowledged or snoozed, by key. Absent in documents older than snoozes: none. */
  quiet?: Record<string, Quiet>;
  /** Consecutive scans in which the node was unreachable (absent: reachable). */
  unreachableStreak: Record<string, number>;
  /** ISO scannedAt of the last scan planned, so a retried job is not counted twice. */
  lastScanAt?: string;
}

export const emptyAlertState = (): AlertState => ({ alerts: {}, unreachableStreak: {} });

/** `state` with these quiet subjects; the field is left out when there are none, as before snoozes. */
export function withQuiet(state: AlertState, quiet: Record<string, Quiet>): AlertState {
  const { quiet: _old, ...rest } = state;
  return Object.keys(quiet).length > 0 ? { ...rest, quiet } : rest;
}

/** Levels that are repeated daily as a reminder in the thread. */
export const REMINDING_LEVELS: ReadonlySet<AlertLevel> = new Set<AlertLevel>(["critical", "expired"]);
/** Unreachable on this many consecutive scans makes a warning. */
export const UNREACHABLE_SCANS = 2;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** A reminder slot opens this early: a daily scan may run a little earlier than yesterday's. */
export const REMINDER_EARLY_MS = HOUR_MS;
/** Never two reminders closer than this (scans resuming after an outage). */
export const REMINDER_MIN_GAP_MS = 12 * HOUR_MS;

/** Key of the certificate an apiserver serves when it differs from apiserver.crt on disk. */
export const SERVED = "apiserver (served)";
/** How that subject is typed in `/certs snooze` (a key with a space is not one word). */
const SERVED_TYPED = "apiserver-served";
/** A typed `NODE/apiserver-served` as the key it names; any other word as it is. */
export const keyOfTyped = (typed: string): string =>
  typed.endsWith(`/${SERVED_TYPED}`) ? `${typed.slice(0, -SERVED_TYPED.length)}${SERVED}` : typed;
/** A key as it is typed (the inverse of keyOfTyped). */
export const typedKey = (key: string): string =>
  key.endsWith(`/${SERVED}`) ? `${key.slice(0, -SERVED.length)}${SERVED_TYPED}` : key;
export const alertKey = (node: string, certificate?: string): string =>
  certificate === undefined ? node : `${node}/${certificate}`;
/** The node a key is about. */
export const nodeOf = (key: string): string => key.split("/", 1)[0] ?? key;
/** The certificate a key is about; null for a node. */
export const nameOf = (key: string): string | null =>
  key.includes("/") ? key.slice(key.indexOf("/") + 1) : null;

/** Reminder slots: 24 h each, anchored on the post, each opening REMINDER_EARLY_MS early. */
export function reminderSlot(record: AlertRecord, at: number): number {
  return Math.floor((at - Date.parse(record.postedAt) + REMINDER_EARLY_MS) / DAY_MS);
}

export function reminderDue(record: AlertRecord, now: number): boolean {
  const last = record.lastReminderAt ? Date.parse(record.lastReminderAt) : Date.parse(record.postedAt);
  return reminderSlot(record, now) > reminderSlot(record, last) && now - last >= REMINDER_MIN_GAP_MS;
}
