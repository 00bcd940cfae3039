// Warnings: what to post about one cluster after a scan, given what was already said. Pure: the
// scan report and the saved AlertState go in, Slack messages to post and the state changes come
// out. No clock, no Redis, no Slack client, so every dedup rule is a millisecond unit test.
//
// Why a planner and a reducer instead of "post and remember": a post is a side effect that can
// fail half-way (Slack down, worker killed). So the poster executes the plan one action at a time
// and saves `applyAlert(state, action, ts)` after each successful post. Everything the planner
// decides is a function of (state, report), hence:
//   - re-planning after any prefix of the actions was applied yields exactly the rest (same ids);
//   - re-planning after all of them were applied yields nothing.
// Each action's `id` names its content (not the scan), so the same post planned twice, by a retry
// or by two jobs racing on one cluster, has the same id: a poster can claim it (Redis SET NX
// `posted:<id>`) before posting, or look up the ts it got. chat.postMessage itself has no
// idempotency key, so the window between "Slack took it" and "state saved" cannot be closed here;
// saving after every single post keeps it to one message.
//
// Usage (the poster, per cluster, after each scan):
//   const plan = planAlerts({ cluster, channel, report, state: await load(cluster), scannedAt, timeZone });
//   let state = plan.state;               // streaks counted, this scan marked as planned
//   await save(cluster, state);
//   for (const action of plan.actions) {  // in order: resolutions, warnings, reminders
//     const { ts } = await chat.postMessage({ ...action.message,
//       thread_ts: action.threadTs, reply_broadcast: action.broadcast });
//     state = applyAlert(state, action, ts);
//     await save(cluster, state);
//   }
//
// Decisions:
//   - Subjects. A certificate of a node (key `${node}/${name}`), the certificate a node's apiserver
//     serves when it is not the one on disk (key `${node}/apiserver (served)`: "renewed but not
//     restarted" must not read as resolved), and a node (key `${node}`: unreachable twice in a row).
//   - One post per cluster and scan, not per certificate. kubeadm issues a node's certificates in
//     the same second, so they cross a threshold together: per-certificate posts would be 15–50
//     messages at once. A warn action lists every subject that is new or worse, grouped by node,
//     each with cluster, node, certificate, path, expiry (in `timeZone`), residual time, level and
//     what to do; it splits into several top-level posts only when Slack's limits require.
//     Dedup state stays per subject: all subjects of one post share its thread.
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
//   - `scannedAt` identifies the scan: planning the same scan again (a retried job) does not count
//     an unreachable node twice, and a scan older than the last one planned is ignored.
import { REQUEST_RENEWAL_ACTION } from "./actions.js";
import {
  severity,
  type CertificateReport,
  type ClusterReport,
  type NodeReport,
  type ServedCertificate,
  type Status,
} from "../core/report/types.js";
import { expiry, formatDate, localDay } from "./time.js";
import { nodeAddress } from "../core/transport/address.js";
import { adviceFor, type AdviceSubject } from "./advice.js";
import {
  STATUS_EMOJI,
  STATUS_LABEL,
  chunkToFit,
  code,
  context,
  header,
  packLines,
  plain,
  section,
  shortHash,
} from "./format.js";
import type { Block, SlackMessage } from "./slack-types.js";

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

/** Everything said about one cluster. The store persists it as one JSON document per cluster. */
export interface AlertState {
  alerts: Record<string, AlertRecord>;
  /** Consecutive scans in which the node was unreachable (absent: reachable). */
  unreachableStreak: Record<string, number>;
  /** ISO scannedAt of the last scan planned, so a retried job is not counted twice. */
  lastScanAt?: string;
}

export const emptyAlertState = (): AlertState => ({ alerts: {}, unreachableStreak: {} });

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
export const alertKey = (node: string, certificate?: string): string =>
  certificate === undefined ? node : `${node}/${certificate}`;

/** One subject of a warn action. */
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
  | "renewed" // new fingerprint, ok (or bad: then a warn action follows)
  | "ok" // same fingerprint, or readable again, and ok now
  | "gone" // a reachable node no longer has that file (or its apiserver is no longer probed)
  | "reachable" // the node answered again
  | "removed"; // the node is no longer in the configuration

interface ActionBase {
  /** Names the content: the same id is the same post. See the ids below. */
  id: string;
  cluster: string;
  /** ISO scannedAt of the plan: what applyAlert records, so applying is deterministic. */
  at: string;
  message: SlackMessage;
  /** Post as a reply in this thread (chat.postMessage thread_ts); absent: top-level. */
  threadTs?: string;
  /** chat.postMessage reply_broadcast. */
  broadcast?: boolean;
}

/** New or worse: a top-level post. id `warn:<cluster>:<worst level>:<n subjects>:<hash of key@sha:level…>`. */
export interface WarnAction extends ActionBase {
  kind: "warn";
  /** The worst level among the subjects. */
  level: AlertLevel;
  subjects: WarnSubject[];
}

/** Fixed or no longer watched: a reply in the subjects' thread. id `resolved:<cluster>:<thread>:<hash of key@sha:level…>`. */
export interface ResolvedAction extends ActionBase {
  kind: "resolved";
  broadcast: boolean;
  resolved: { key: string; record: AlertRecord; reason: ResolvedReason }[];
}

/** Still critical or expired a day later: a reply in the thread. id `remind:<cluster>:<thread>:<YYYY-MM-DD>:d<slot>:<hash of keys>`. */
export interface ReminderAction extends ActionBase {
  kind: "reminder";
  keys: string[];
}

export type AlertAction = WarnAction | ResolvedAction | ReminderAction;

export interface PlanInput {
  cluster: string;
  /** The cluster's channel: where new warnings go (replies go where their thread is). */
  channel: string;
  report: ClusterReport;
  state: AlertState;
  /** The scan's time (ScanReport.scannedAt): "now" for every rule, and the scan's identity. */
  scannedAt: Date;
  timeZone: string;
}

export interface AlertPlan {
  /** Resolutions first, then warnings, then reminders: execute in this order. */
  actions: AlertAction[];
  /** Save this before posting: streaks counted and the scan marked as planned. */
  state: AlertState;
}

/** A subject as this scan sees it. */
interface Seen {
  key: string;
  node: NodeReport;
  kind: "certificate" | "served" | "node";
  certificate?: CertificateReport;
  served?: ServedCertificate;
  level: Status;
  sha256: string | null;
  /** For a node: consecutive unreachable scans. */
  streak?: number;
}

interface Resolution {
  key: string;
  record: AlertRecord;
  reason: ResolvedReason;
  node: string;
  seen?: Seen;
}

interface Warning {
  subject: WarnSubject;
  seen: Seen;
}

const nodeOf = (key: string): string => key.split("/", 1)[0] ?? key;
const nameOf = (key: string): string | null => (key.includes("/") ? key.slice(key.indexOf("/") + 1) : null);

/** What this scan tells about each subject of a reachable node. */
function seenOnNode(node: NodeReport): { seen: Seen[]; probed: boolean } {
  const seen: Seen[] = node.certificates.map((certificate) => ({
    key: alertKey(node.name, certificate.name),
    node,
    kind: "certificate",
    certificate,
    level: certificate.status,
    sha256: certificate.sha256,
  }));
  const served = node.apiserver;
  if (served?.sha256 && served.status) {
    const onDisk = node.certificates.find((c) => c.name === "apiserver")?.sha256;
    // The same certificate as on disk is that subject already; only a drifted one is a subject.
    const drifted = served.sha256 !== onDisk && served.status !== "ok";
    seen.push({
      key: alertKey(node.name, SERVED),
      node,
      kind: "served",
      served,
      level: drifted ? served.status : "ok",
      sha256: served.sha256,
    });
  }
  // Probe turned off: the served subject is gone. Probe failed: unknown.
  return { seen, probed: node.apiserver === undefined || Boolean(served?.sha256) };
}

function reminderSlot(record: AlertRecord, at: number): number {
  return Math.floor((at - Date.parse(record.postedAt) + REMINDER_EARLY_MS) / DAY_MS);
}

function reminderDue(record: AlertRecord, now: number): boolean {
  const last = record.lastReminderAt ? Date.parse(record.lastReminderAt) : Date.parse(record.postedAt);
  return reminderSlot(record, now) > reminderSlot(record, last) && now - last >= REMINDER_MIN_GAP_MS;
}

const sameRecord = (a: AlertRecord, b: AlertRecord): boolean =>
  a.level === b.level && a.sha256 === b.sha256 && a.threadTs === b.threadTs && a.channel === b.channel;

const bySeverityDesc = (a: Status, b: Status): number => severity(b) - severity(a);

export function planAlerts(input: PlanInput): AlertPlan {
  const { cluster, channel, report, state, scannedAt, timeZone } = input;
  const now = scannedAt.getTime();
  const at = scannedAt.toISOString();
  const last = state.lastScanAt ? Date.parse(state.lastScanAt) : undefined;
  if (last !== undefined && last > now) return { actions: [], state };
  const replay = last === now;

  const streaks: Record<string, number> = {};
  for (const node of report.nodes) {
    if (node.reachable) continue;
    const before = state.unreachableStreak[node.name] ?? 0;
    streaks[node.name] = replay ? Math.max(before, 1) : before + 1;
  }
  const base: AlertState = { alerts: { ...state.alerts }, unreachableStreak: streaks, lastScanAt: at };

  const resolutions: Resolution[] = [];
  const warnings: Warning[] = [];
  const reminders: { key: string; record: AlertRecord; seen: Seen }[] = [];
  const records = Object.entries(base.alerts);

  const judge = (seen: Seen): void => {
    const record = base.alerts[seen.key];
    const level = seen.level;
    const subject = (extra: Partial<WarnSubject> = {}): WarnSubject => ({
      key: seen.key,
      node: seen.node.name,
      certificate: seen.kind === "node" ? null : (nameOf(seen.key) ?? seen.key),
      level: level as AlertLevel,
      sha256: seen.sha256,
      ...extra,
    });
    if (level === "ok") {
      if (!record) return;
      const renewed = record.sha256 !== null && seen.sha256 !== null && record.sha256 !== seen.sha256;
      const reason: ResolvedReason = seen.kind === "node" ? "reachable" : renewed ? "renewed" : "ok";
      resolutions.push({ key: seen.key, record, reason, node: seen.node.name, seen });
      return;
    }
    if (!record) {
      warnings.push({ subject: subject(), seen });
    } else if (record.sha256 !== null && seen.sha256 !== null && record.sha256 !== seen.sha256) {
      resolutions.push({ key: seen.key, record, reason: "renewed", node: seen.node.name, seen });
      warnings.push({ subject: subject({ replaced: true }), seen });
    } else if (record.sha256 !== seen.sha256 || severity(level) > severity(record.level)) {
      warnings.push({ subject: subject({ previous: record.level }), seen });
    } else if (REMINDING_LEVELS.has(level as AlertLevel) && reminderDue(record, now)) {
      reminders.push({ key: seen.key, record, seen });
    }
  };

  const inReport = new Set(report.nodes.map((n) => n.name));
  for (const node of report.nodes) {
    const nodeSeen: Seen = {
      key: alertKey(node.name),
      node,
      kind: "node",
      level: node.reachable ? "ok" : "unreachable",
      sha256: null,
      streak: streaks[node.name] ?? 0,
    };
    if (!node.reachable) {
      if ((streaks[node.name] ?? 0) >= UNREACHABLE_SCANS) judge(nodeSeen);
      continue; // its certificates: unknown, not fixed
    }
    judge(nodeSeen);
    const { seen, probed } = seenOnNode(node);
    for (const s of seen) judge(s);
    const seenKeys = new Set(seen.map((s) => s.key));
    for (const [key, record] of records) {
      if (nodeOf(key) !== node.name || key === node.name || seenKeys.has(key)) continue;
      if (nameOf(key) === SERVED && !probed) continue;
      resolutions.push({ key, record, reason: "gone", node: node.name });
    }
  }
  for (const [key, record] of records) {
    if (!inReport.has(nodeOf(key))) resolutions.push({ key, record, reason: "removed", node: nodeOf(key) });
  }

  const ctx: RenderContext = { cluster, timeZone, now: scannedAt, lines: new WeakMap() };
  const actions: AlertAction[] = [
    ...resolvedActions(resolutions, new Set(warnings.map((w) => w.subject.key)), base, ctx, at),
    ...warnActions(warnings, report, channel, ctx, at),
    ...reminderActions(reminders, ctx, at),
  ];
  return { actions, state: base };
}

/**
 * The state after `action` was posted; `ts` is the posted message's ts (a warn's ts becomes the
 * thread of its subjects). Pure and deterministic: times come from the action.
 */
export function applyAlert(state: AlertState, action: AlertAction, ts?: string): AlertState {
  const alerts = { ...state.alerts };
  switch (action.kind) {
    case "warn":
      for (const s of action.subjects) {
        alerts[s.key] = {
          level: s.level,
          sha256: s.sha256,
          postedAt: action.at,
          channel: action.message.channel,
          ...(ts ? { threadTs: ts } : {}),
        };
      }
      break;
    case "reminder":
      for (const key of action.keys) {
        const record = alerts[key];
        if (record && record.threadTs === action.threadTs)
          alerts[key] = { ...record, lastReminderAt: action.at };
      }
      break;
    case "resolved":
      for (const { key, record } of action.resolved) {
        const current = alerts[key];
        if (current && sameRecord(current, record)) delete alerts[key];
      }
      break;
  }
  return { ...state, alerts };
}

// ---------------------------------------------------------------------------------------------
// Grouping and rendering

interface RenderContext {
  cluster: string;
  timeZone: string;
  now: Date;
  /** Lines already rendered: chunkToFit renders growing chunks, and dates cost Intl formatters. */
  lines: WeakMap<object, string>;
}

function cached(ctx: RenderContext, of: object, render: () => string): string {
  let line = ctx.lines.get(of);
  if (line === undefined) {
    line = render();
    ctx.lines.set(of, line);
  }
  return line;
}

const threadKey = (record: AlertRecord): string => `${record.channel}\u0000${record.threadTs ?? ""}`;

function groupBy<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.values()];
}

const when = (notBefore: Date | null, notAfter: Date | null, level: Status, ctx: RenderContext): string =>
  expiry({ notBefore, notAfter }, ctx.now, ctx.timeZone, level === "not-yet-valid");

/** One subject as a line: emoji, level, what, when, and for a file its path on a second line. */
function subjectLine(seen: Seen, ctx: RenderContext, note = ""): string {
  const mark = `${STATUS_EMOJI[seen.level]} *${STATUS_LABEL[seen.level].toUpperCase()}*`;
  if (seen.kind === "node") {
    const error = seen.node.error ? `: ${plain(seen.node.error)}` : "";
    const scans = seen.streak ? ` on ${seen.streak} scans in a row` : "";
    return `${mark} node ${code(seen.node.name, 80)} did not answer${scans}${error}${note}`;
  }
  if (seen.kind === "served" && seen.served) {
    const s = seen.served;
    const expiry = s.notAfter ? when(null, s.notAfter, seen.level, ctx) : "";
    return `${mark} the apiserver on :${s.port} serves a certificate that is not apiserver.crt on disk; it ${expiry}${note}`;
  }
  const cert = seen.certificate!;
  const what =
    seen.level === "unreadable"
      ? `unreadable: ${plain(cert.error ?? "unknown reason")}`
      : seen.level === "missing"
        ? "is missing"
        : when(cert.notBefore, cert.notAfter, seen.level, ctx);
  return `${mark} ${code(cert.name, 80)} ${what}${note}\n        ${code(cert.path, 300)}`;
}

const adviceSubject = (seen: Seen): AdviceSubject =>
  seen.kind === "certificate"
    ? { kind: "certificate", node: seen.node, certificate: seen.certificate!, level: seen.level }
    : { kind: seen.kind, node: seen.node, level: seen.level };

const counts = (levels: readonly Status[]): string => {
  const n = new Map<Status, number>();
  for (const level of levels) n.set(level, (n.get(level) ?? 0) + 1);
  return [...n.entries()]
    .sort(([a], [b]) => bySeverityDesc(a, b))
    .map(([level, count]) => `${count} ${STATUS_LABEL[level]}`)
    .join(", ");
};

function subjectLabel(seen: Seen): string {
  if (seen.kind === "node") return `node ${seen.node.name}`;
  if (seen.kind === "served") return `the certificate served on ${seen.node.name}`;
  return `${seen.certificate!.name} on ${seen.node.name}`;
}

function renderWarn(
  items: readonly Warning[],
  report: ClusterReport,
  channel: string,
  ctx: RenderContext,
): SlackMessage {
  const worst = items.map((w) => w.seen.level).sort(bySeverityDesc)[0] ?? "warning";
  const worse = items.some(
    (w) => w.subject.previous && severity(w.seen.level) > severity(w.subject.previous),
  );
  const blocks: Block[] = [
    header(
      `${STATUS_EMOJI[worst]} ${ctx.cluster}: ${counts(items.map((w) => w.seen.level))}${worse ? " (worse)" : ""}`,
    ),
  ];
  for (const group of groupBy(items, (w) => w.seen.node.name)) {
    const node = group[0]!.seen.node;
    const where = node.port ? nodeAddress(node.host, node.port) : `${node.host}, local`;
    const lines = [`*Node ${code(node.name, 80)}* (${plain(where, 120)})`];
    for (const warning of group) {
      const { subject, seen } = warning;
      const note = subject.replaced
        ? " _(a new certificate, renewed but not fine either)_"
        : subject.previous
          ? ` _(was ${STATUS_LABEL[subject.previous]})_`
          : "";
      lines.push(cached(ctx, warning, () => `• ${subjectLine(seen, ctx, note)}`));
    }
    lines.push(...adviceFor(group.map((w) => adviceSubject(w.seen))).map((a) => `→ ${a}`));
    blocks.push(...packLines(lines).map(section));
  }
  blocks.push(
    context(
      `${plain(report.name, 80)} · scan of ${formatDate(ctx.now, ctx.timeZone)} · ` +
        "reminders and the all-clear follow in this thread",
    ),
  );
  // A certificate that is critical or expired can be renewed from here (operators only, checked on click).
  if (
    items.some((w) => w.seen.kind !== "node" && (w.seen.level === "critical" || w.seen.level === "expired"))
  ) {
    blocks.push({
      type: "actions",
      elements: [
        {
          type: "button",
          text: { type: "plain_text", text: "Request renewal" },
          action_id: REQUEST_RENEWAL_ACTION,
          value: ctx.cluster,
        },
      ],
    });
  }
  const first = items[0]!;
  const more = items.length > 1 ? ` and ${items.length - 1} more` : "";
  const headline = first.seen.kind === "node" ? "unreachable" : STATUS_LABEL[first.seen.level];
  const was = first.subject.previous ? ` (was ${STATUS_LABEL[first.subject.previous]})` : "";
  const text = `${ctx.cluster}: ${subjectLabel(first.seen)} is ${headline}${was}${more}`;
  return { channel, text: plain(text, 500), blocks };
}

function warnActions(
  warnings: Warning[],
  report: ClusterReport,
  channel: string,
  ctx: RenderContext,
  at: string,
): WarnAction[] {
  const nodeOrder = new Map(report.nodes.map((n, i) => [n.name, i]));
  const sorted = [...warnings].sort(
    (a, b) =>
      (nodeOrder.get(a.seen.node.name) ?? 0) - (nodeOrder.get(b.seen.node.name) ?? 0) ||
      bySeverityDesc(a.seen.level, b.seen.level) ||
      a.subject.key.localeCompare(b.subject.key),
  );
  return chunkToFit(sorted, (chunk) => renderWarn(chunk, report, channel, ctx)).map((chunk) => {
    const subjects = chunk.map((w) => w.subject);
    const level = subjects.map((s) => s.level).sort(bySeverityDesc)[0]!;
    return {
      kind: "warn",
      id: `warn:${ctx.cluster}:${level}:${subjects.length}:${shortHash(
        subjects.map((s) => `${s.key}@${s.sha256 ?? "-"}:${s.level}`),
      )}`,
      cluster: ctx.cluster,
      at,
      level,
      subjects,
      message: renderWarn(chunk, report, channel, ctx),
    };
  });
}

function resolvedLine(r: Resolution, ctx: RenderContext): string {
  const node = code(r.node, 80);
  const name = nameOf(r.key);
  const what =
    name === null
      ? `node ${node}`
      : name === SERVED
        ? `the apiserver on ${node}`
        : `${code(name, 80)} on ${node}`;
  const seen = r.seen;
  const cert = seen?.certificate;
  switch (r.reason) {
    case "reachable":
      return `node ${node} answers again.`;
    case "removed":
      return `${what} is no longer in the configuration: certs-bot stopped watching it.`;
    case "gone":
      return name === SERVED
        ? `the apiserver on ${node} is no longer probed.`
        : `${what} is no longer on the node.`;
    case "renewed":
    case "ok": {
      let expiry = "";
      if (cert?.notAfter) expiry = when(cert.notBefore, cert.notAfter, seen!.level, ctx);
      else if (seen?.served?.notAfter) expiry = when(null, seen.served.notAfter, seen.level, ctx);
      if (seen?.kind === "served") {
        const onDisk = seen.node.certificates.find((c) => c.name === "apiserver")?.sha256;
        return seen.served?.sha256 === onDisk
          ? `the apiserver on ${node} now serves apiserver.crt from disk: it ${expiry}.`
          : `the apiserver on ${node} now serves a certificate that is fine: it ${expiry}.`;
      }
      const stillBad = seen && seen.level !== "ok";
      if (r.reason === "renewed" && stillBad) {
        return `${what} was replaced by a new certificate that is ${STATUS_LABEL[seen.level]} too: it ${expiry}. See the new warning.`;
      }
      const served = seen?.node.apiserver;
      const drift =
        name === "apiserver" && served?.sha256 && cert?.sha256 && served.sha256 !== cert.sha256
          ? " The apiserver still serves the old one until kube-apiserver restarts."
          : "";
      const verb = r.reason === "renewed" ? "was renewed" : "is fine now";
      return `${what} ${verb}: it ${expiry}.${drift}`;
    }
  }
}

function renderResolved(
  items: readonly Resolution[],
  channel: string,
  closes: boolean,
  ctx: RenderContext,
): SlackMessage {
  const lines = [
    `:white_check_mark: *${plain(ctx.cluster, 80)}*`,
    ...items.map((r) => cached(ctx, r, () => `• ${resolvedLine(r, ctx)}`)),
  ];
  if (closes) lines.push("_Nothing in this thread is open any more._");
  const first = items[0]!;
  const what = nameOf(first.key) ?? `node ${first.node}`;
  const more = items.length > 1 ? ` and ${items.length - 1} more` : "";
  return {
    channel,
    text: plain(`${ctx.cluster}: resolved: ${what} on ${first.node}${more}`, 500),
    blocks: [...packLines(lines).map(section), context(`scan of ${formatDate(ctx.now, ctx.timeZone)}`)],
  };
}

function resolvedActions(
  resolutions: Resolution[],
  warned: ReadonlySet<string>,
  base: AlertState,
  ctx: RenderContext,
  at: string,
): ResolvedAction[] {
  const actions: ResolvedAction[] = [];
  const sorted = [...resolutions].sort((a, b) => a.key.localeCompare(b.key));
  for (const group of groupBy(sorted, (r) => threadKey(r.record))) {
    const record = group[0]!.record;
    const channel = record.channel;
    // Closing the thread: nothing else in it stays open after the chunks up to this one (a subject
    // warned again in this plan moves to the new post's thread).
    const open = new Set(
      Object.entries(base.alerts)
        .filter(([k, r]) => threadKey(r) === threadKey(record) && !warned.has(k))
        .map(([k]) => k),
    );
    const chunks = chunkToFit(group, (chunk) => renderResolved(chunk, channel, true, ctx));
    for (const chunk of chunks) {
      for (const r of chunk) open.delete(r.key);
      const closes = open.size === 0 && record.threadTs !== undefined;
      actions.push({
        kind: "resolved",
        id: `resolved:${ctx.cluster}:${record.threadTs ?? "top"}:${shortHash(
          chunk.map((r) => `${r.key}@${r.record.sha256 ?? "-"}:${r.record.level}`),
        )}`,
        cluster: ctx.cluster,
        at,
        ...(record.threadTs ? { threadTs: record.threadTs } : {}),
        broadcast: closes,
        resolved: chunk.map(({ key, record: rec, reason }) => ({ key, record: rec, reason })),
        message: renderResolved(chunk, channel, closes, ctx),
      });
    }
  }
  return actions;
}

function renderReminder(
  items: readonly { key: string; seen: Seen }[],
  channel: string,
  ctx: RenderContext,
): SlackMessage {
  const lines = [
    `:alarm_clock: *Reminder — ${plain(ctx.cluster, 80)}:* still ${counts(items.map((i) => i.seen.level))}. ` +
      "What to do is in the first message of this thread.",
    ...items.map((item) =>
      cached(ctx, item, () => `• ${code(item.seen.node.name, 80)}: ${subjectLine(item.seen, ctx)}`),
    ),
  ];
  const first = items[0]!;
  const more = items.length > 1 ? ` and ${items.length - 1} more` : "";
  return {
    channel,
    text: plain(
      `Reminder: ${ctx.cluster}: ${subjectLabel(first.seen)} is still ${STATUS_LABEL[first.seen.level]}${more}`,
      500,
    ),
    blocks: [...packLines(lines).map(section), context(`scan of ${formatDate(ctx.now, ctx.timeZone)}`)],
  };
}

function reminderActions(
  reminders: { key: string; record: AlertRecord; seen: Seen }[],
  ctx: RenderContext,
  at: string,
): ReminderAction[] {
  const actions: ReminderAction[] = [];
  const sorted = [...reminders].sort(
    (a, b) => bySeverityDesc(a.seen.level, b.seen.level) || a.key.localeCompare(b.key),
  );
  for (const group of groupBy(sorted, (r) => threadKey(r.record))) {
    const record = group[0]!.record;
    const slot = reminderSlot(record, ctx.now.getTime());
    for (const chunk of chunkToFit(group, (c) => renderReminder(c, record.channel, ctx))) {
      const keys = chunk.map((r) => r.key);
      actions.push({
        kind: "reminder",
        id: `remind:${ctx.cluster}:${record.threadTs ?? "top"}:${localDay(ctx.now, ctx.timeZone)}:d${slot}:${shortHash(keys)}`,
        cluster: ctx.cluster,
        at,
        ...(record.threadTs ? { threadTs: record.threadTs } : {}),
        keys,
        message: renderReminder(chunk, record.channel, ctx),
      });
    }
  }
  return actions;
}
