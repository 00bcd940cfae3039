// The alert state machine: what to say about one cluster after a scan, given what was already
// said. Pure: the scan report and the saved AlertState go in, decisions come out. No clock, no
// Redis, no Slack, so every dedup rule is a millisecond unit test. present/warnings.ts turns the
// decisions into Slack posts (actions.ts names them and applies them to the state).
//
// Decisions:
//   - Subjects. A certificate of a node (key `${node}/${name}`), the certificate a node's apiserver
//     serves when it is not the one on disk (key `${node}/apiserver (served)`: "renewed but not
//     restarted" must not read as resolved), and a node (key `${node}`: unreachable twice in a row).
//   - Same fingerprint, same level: nothing. Worse level (STATUS_ORDER): a new top-level post that
//     says what it was; its thread becomes the subject's thread. Better level but not ok (thresholds
//     changed): nothing, and the record keeps the worse level, so flapping across a threshold does
//     not post twice. Back to ok with the same fingerprint (a not-yet-valid one became valid,
//     thresholds lowered): resolved.
//   - New fingerprint (renewed): the old one is resolved in its thread ("renewed: now expires …");
//     if the new one is bad too, it is warned about from scratch, after the resolution.
//   - `missing` and `unreadable` have no fingerprint; they dedupe on (key, level). A change between
//     a fingerprint and none (readable ⇄ missing/unreadable) is a new subject state: a new post that
//     says what it was, or a resolution when it is ok now.
//   - Not seen (node unreachable, apiserver probe failed): unknown, not fixed. State unchanged, and
//     no reminder for it. Seen gone (a reachable node no longer has that file, the probe was turned
//     off): resolved. Node removed from the configuration: resolved ("no longer watched").
//   - Resolutions reply in the subject's thread. They are broadcast to the channel
//     (reply_broadcast) when they close the thread, i.e. nothing else in it is still open, so the
//     channel that saw the warning sees the all-clear, and partial progress stays in the thread.
//   - Reminders for subjects seen critical or expired now: one reply per thread, in slots of 24 h
//     anchored on the post, each slot opening an hour early, so a daily scan that runs a few minutes
//     earlier than yesterday's still reminds, and hourly scans do not make reminders creep. Never
//     two within 12 h (after an outage of scans).
//   - Acknowledged or snoozed (quiet.ts): no reminder while the record keeps the level and
//     fingerprint it had then, and for a snooze before its end. A worse level, a new fingerprint or a
//     resolution decides as without it, and posting that clears it (actions.ts). A snooze that has
//     ended gets one reply in the thread at the next scan that sees the subject, at any level, even
//     `warning` (which never reminds otherwise): the reminder, saying the snooze ended. Posting it
//     clears the snooze and counts as the subject's reminder.
//   - `scannedAt` identifies the scan: planning the same scan again (a retried job) does not count
//     an unreachable node twice, and a scan older than the last one planned is ignored.
import { severity, type ClusterReport, type Status } from "../report/types.js";
import {
  nodeSeen,
  seenOnNode,
  type CertificateSeen,
  type NodeSeen,
  type Seen,
  type ServedSeen,
} from "./seen.js";
import {
  REMINDING_LEVELS,
  SERVED,
  UNREACHABLE_SCANS,
  nameOf,
  nodeOf,
  reminderDue,
  reminderSlot,
  withQuiet,
  type AlertLevel,
  type AlertRecord,
  type AlertState,
  type Quiet,
} from "./state.js";
import { silences, snoozeEnded } from "./quiet.js";

/** One subject of a warning. */
export interface WarnSubject {
  key: string;
  node: string;
  /** null when the subject is the node itself (unreachable). */
  certificate: string | null;
  level: AlertLevel;
  sha256: string | null;
  /** The level posted before for it, when this one is worse or follows a readable ⇄ unreadable change. */
  previous?: AlertLevel;
  /** A new certificate (renewed) that is bad too; the old one is resolved by an earlier action. */
  replaced?: boolean;
}

export type ResolvedReason =
  | "renewed" // new fingerprint, ok (or bad: then a warning follows)
  | "ok" // same fingerprint, or readable again, and ok now
  | "gone" // a reachable node no longer has that file (or its apiserver is no longer probed)
  | "reachable" // the node answered again
  | "removed"; // the node is no longer in the configuration

/** New or worse: goes into a top-level post. */
export interface Warning {
  subject: WarnSubject;
  seen: Seen;
}

/** Fixed or no longer watched: a reply in the record's thread, with what this scan sees of it. */
export type Resolution = { key: string; record: AlertRecord; node: string } & (
  | { reason: "reachable"; seen: NodeSeen }
  | { reason: "renewed" | "ok"; seen: CertificateSeen | ServedSeen }
  | { reason: "gone" | "removed"; seen?: undefined }
);

/** Still critical or expired, or a snooze that ended: a reply in the record's thread. */
export interface Reminder {
  key: string;
  record: AlertRecord;
  seen: Seen;
  /** The snooze that ended, when that is why this reminder is posted (at any level). */
  snoozeEnded?: Quiet;
}

/** Replies to one thread, the one of `record` (the first item's). */
interface Thread<T> {
  record: AlertRecord;
  items: T[];
}

export interface ResolutionThread extends Thread<Resolution> {
  /** The thread's subjects open before these resolutions (one warned again moves to a new thread). */
  open: ReadonlySet<string>;
}

export interface ReminderThread extends Thread<Reminder> {
  /** The reminder slot of the thread's post that this scan falls in. */
  slot: number;
}

interface DecideInput {
  report: ClusterReport;
  state: AlertState;
  /** The scan's time (ScanReport.scannedAt): "now" for every rule, and the scan's identity. */
  scannedAt: Date;
}

/** What to post, in this order: resolutions, warnings, reminders. */
interface AlertDecisions {
  /** Save this before posting: streaks counted and the scan marked as planned. */
  state: AlertState;
  /** Per thread, by key. */
  resolutions: ResolutionThread[];
  /** By node (in the report's order), worst first, then by key. */
  warnings: Warning[];
  /** Per thread, worst first, then by key. */
  reminders: ReminderThread[];
}

export const bySeverityDesc = (a: Status, b: Status): number => severity(b) - severity(a);

const threadKey = (record: AlertRecord): string => `${record.channel}\u0000${record.threadTs ?? ""}`;

function byThread<T extends { record: AlertRecord }>(items: readonly T[]): Thread<T>[] {
  const threads = new Map<string, Thread<T>>();
  for (const item of items) {
    const key = threadKey(item.record);
    const thread = threads.get(key);
    if (thread) thread.items.push(item);
    else threads.set(key, { record: item.record, items: [item] });
  }
  return [...threads.values()];
}

interface Verdicts {
  resolutions: Resolution[];
  warnings: Warning[];
  reminders: Reminder[];
}

/** Still bad, neither worse nor new: a reminder, if due and not quiet. */
function remind(seen: Seen, record: AlertRecord, quiet: Quiet | undefined, now: number, out: Verdicts): void {
  const { key } = seen;
  if (quiet && silences(quiet, record, now)) return;
  if (quiet && snoozeEnded(quiet, record, now)) out.reminders.push({ key, record, seen, snoozeEnded: quiet });
  else if (REMINDING_LEVELS.has(seen.level as AlertLevel) && reminderDue(record, now))
    out.reminders.push({ key, record, seen });
}

/** One subject as seen now against what was said about it (and whether it was quieted). */
function judge(seen: Seen, base: AlertState, now: number, out: Verdicts): void {
  const record = base.alerts[seen.key];
  const { key, level, sha256 } = seen;
  const node = seen.node.name;
  const renewed = record?.sha256 != null && sha256 !== null && record.sha256 !== sha256;
  if (level === "ok") {
    if (!record) return;
    if (seen.kind === "node") out.resolutions.push({ key, record, reason: "reachable", node, seen });
    else out.resolutions.push({ key, record, reason: renewed ? "renewed" : "ok", node, seen });
    return;
  }
  const certificate = seen.kind === "node" ? null : (nameOf(key) ?? key);
  const subject: WarnSubject = { key, node, certificate, level, sha256 };
  if (!record) {
    out.warnings.push({ subject, seen });
  } else if (renewed) {
    out.resolutions.push({ key, record, reason: "renewed", node, seen });
    out.warnings.push({ subject: { ...subject, replaced: true }, seen });
  } else if (record.sha256 !== sha256 || severity(level) > severity(record.level)) {
    out.warnings.push({ subject: { ...subject, previous: record.level }, seen });
  } else {
    remind(seen, record, base.quiet?.[key], now, out);
  }
}

/** Every subject of the report judged; records of nodes or files no longer there resolved. */
function judgeReport(report: ClusterReport, base: AlertState, now: number): Verdicts {
  const out: Verdicts = { resolutions: [], warnings: [], reminders: [] };
  const records = Object.entries(base.alerts);
  for (const node of report.nodes) {
    const self = nodeSeen(node, base.unreachableStreak[node.name] ?? 0);
    if (!node.reachable) {
      if (self.streak >= UNREACHABLE_SCANS) judge(self, base, now, out);
      continue; // its certificates: unknown, not fixed
    }
    judge(self, base, now, out);
    const { seen, probed } = seenOnNode(node);
    for (const s of seen) judge(s, base, now, out);
    const seenKeys = new Set(seen.map((s) => s.key));
    for (const [key, record] of records) {
      if (nodeOf(key) !== node.name || key === node.name || seenKeys.has(key)) continue;
      if (nameOf(key) === SERVED && !probed) continue;
      out.resolutions.push({ key, record, reason: "gone", node: node.name });
    }
  }
  const inReport = new Set(report.nodes.map((n) => n.name));
  for (const [key, record] of records) {
    if (!inReport.has(nodeOf(key)))
      out.resolutions.push({ key, record, reason: "removed", node: nodeOf(key) });
  }
  return out;
}

/** The state before any post: this scan's unreachable streaks, and the scan marked as planned. */
function countStreaks(
  report: ClusterReport,
  state: AlertState,
  scannedAt: Date,
  replay: boolean,
): AlertState {
  const streaks: Record<string, number> = {};
  for (const node of report.nodes) {
    if (node.reachable) continue;
    const before = state.unreachableStreak[node.name] ?? 0;
    streaks[node.name] = replay ? Math.max(before, 1) : before + 1;
  }
  // A quiet subject no longer open (a document edited by hand) is dropped.
  const quiet = Object.fromEntries(Object.entries(state.quiet ?? {}).filter(([key]) => state.alerts[key]));
  const next = {
    alerts: { ...state.alerts },
    unreachableStreak: streaks,
    lastScanAt: scannedAt.toISOString(),
  };
  return withQuiet(next, quiet);
}

export function decideAlerts({ report, state, scannedAt }: DecideInput): AlertDecisions {
  const now = scannedAt.getTime();
  const last = state.lastScanAt ? Date.parse(state.lastScanAt) : undefined;
  if (last !== undefined && last > now) return { state, resolutions: [], warnings: [], reminders: [] };
  const base = countStreaks(report, state, scannedAt, last === now);
  const verdicts = judgeReport(report, base, now);

  const warned = new Set(verdicts.warnings.map((w) => w.subject.key));
  const resolutions = byThread([...verdicts.resolutions].sort((a, b) => a.key.localeCompare(b.key))).map(
    (thread) => ({
      ...thread,
      open: new Set(
        Object.entries(base.alerts)
          .filter(([k, r]) => threadKey(r) === threadKey(thread.record) && !warned.has(k))
          .map(([k]) => k),
      ),
    }),
  );
  const nodeOrder = new Map(report.nodes.map((n, i) => [n.name, i]));
  const warnings = [...verdicts.warnings].sort(
    (a, b) =>
      (nodeOrder.get(a.seen.node.name) ?? 0) - (nodeOrder.get(b.seen.node.name) ?? 0) ||
      bySeverityDesc(a.seen.level, b.seen.level) ||
      a.subject.key.localeCompare(b.subject.key),
  );
  const reminders = byThread(
    [...verdicts.reminders].sort(
      (a, b) => bySeverityDesc(a.seen.level, b.seen.level) || a.key.localeCompare(b.key),
    ),
  ).map((thread) => ({ ...thread, slot: reminderSlot(thread.record, now) }));
  return { state: base, resolutions, warnings, reminders };
}
