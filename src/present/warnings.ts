// Warnings in Slack: the alert plan of one cluster after a scan (core/alerts decides what to say)
// rendered as the messages to post. Pure: no clock, no Redis, no Slack client.
//
// The scan job (app/scan-job.ts) posts the actions in order through the poster, saving the state
// after each (applyAlert), so a retried job carries on where it stopped.
//
// Decisions:
//   - One post per cluster and scan, not per certificate. kubeadm issues a node's certificates in
//     the same second, so they cross a threshold together: per-certificate posts would be 15–50
//     messages at once. A warn action lists every subject that is new or worse, grouped by node,
//     each with cluster, node, certificate, path, expiry (in `timeZone`), residual time, level and
//     what to do; it splits into several top-level posts only when Slack's limits require.
//     Dedup state stays per subject: all subjects of one post share its thread.
//   - Each line is rendered once; a post is measured as its lines are added (packLine, the same
//     packing as the sections) and rendered once it is full.
import {
  ACKNOWLEDGE_ACTION,
  REQUEST_RENEWAL_ACTION,
  SNOOZE_DAY_ACTION,
  SNOOZE_WEEK_ACTION,
} from "./actions.js";
import { QUIET_NOTE_MAX, WARN_BUTTONS_BLOCK } from "./snooze.js";
import {
  severity,
  worstOf,
  hasApiserverDrift,
  isControlPlane,
  type ClusterReport,
  type NodeReport,
  type Status,
} from "../core/report/types.js";
import {
  bySeverityDesc,
  decideAlerts,
  type Reminder,
  type ReminderThread,
  type Resolution,
  type ResolutionThread,
  type Warning,
} from "../core/alerts/plan.js";
import {
  reminderAction,
  resolvedActions,
  warnAction,
  type ActionOrigin,
  type AlertAction,
  type ReminderAction,
  type ResolvedAction,
  type WarnAction,
} from "../core/alerts/actions.js";
import { SERVED_BY_APISERVER } from "../core/kubeadm/catalogue.js";
import { SERVED, nameOf, type AlertState, type Quiet } from "../core/alerts/state.js";
import type { Seen, ServedSeen } from "../core/alerts/seen.js";
import { expiry, formatDate, localDay } from "./time.js";
import { nodeWhere } from "../core/transport/address.js";
import { adviceFor, renewalFixes } from "./advice.js";
import {
  NOTHING_PACKED,
  NO_SIZE,
  STATUS_EMOJI,
  STATUS_LABEL,
  byUser,
  chunkGrowing,
  code,
  context,
  header,
  packLine,
  packLines,
  packedSize,
  plain,
  plus,
  section,
  sizeOf,
  withinBudget,
  type Packed,
  type Size,
} from "./format.js";
import type { ActionsBlock, Block, SlackMessage } from "./slack-types.js";

export interface PlanInput {
  cluster: string;
  /** The cluster's channel: where new warnings go (replies go where their thread is). */
  channel: string;
  report: ClusterReport;
  state: AlertState;
  /** The scan's time (ScanReport.scannedAt): "now" for every rule, and the scan's identity. */
  scannedAt: Date;
  timeZone: string;
  /** The cluster's `alerts.maxSnoozeDays`: no Snooze button offers longer. */
  maxSnoozeDays: number;
}

interface AlertPlan {
  /** Resolutions first, then warnings, then reminders: execute in this order. */
  actions: AlertAction<SlackMessage>[];
  /** Save this before posting: streaks counted and the scan marked as planned. */
  state: AlertState;
}

export function planAlerts(input: PlanInput): AlertPlan {
  const { cluster, channel, report, scannedAt, timeZone, maxSnoozeDays } = input;
  const decisions = decideAlerts(input);
  const ctx: RenderContext = { cluster, timeZone, now: scannedAt, maxSnoozeDays };
  const origin: ActionOrigin = { cluster, at: scannedAt.toISOString() };
  const actions: AlertAction<SlackMessage>[] = [
    ...decisions.resolutions.flatMap((thread) => resolvedPosts(thread, origin, ctx)),
    ...warnPosts(decisions.warnings, report, channel, origin, ctx),
    ...decisions.reminders.flatMap((thread) => reminderPosts(thread, origin, ctx)),
  ];
  return { actions, state: decisions.state };
}

// ---------------------------------------------------------------------------------------------
// Lines

interface RenderContext {
  cluster: string;
  timeZone: string;
  now: Date;
  maxSnoozeDays: number;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): [T, ...T[]][] {
  const groups = new Map<string, [T, ...T[]]>();
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

const servedExpiry = (seen: ServedSeen, ctx: RenderContext): string =>
  seen.served.notAfter ? when(null, seen.served.notAfter, seen.level, ctx) : "";

/** One subject as a line: emoji, level, what, when, and for a file its path on a second line. */
function subjectLine(seen: Seen, ctx: RenderContext, note = ""): string {
  const mark = `${STATUS_EMOJI[seen.level]} *${STATUS_LABEL[seen.level].toUpperCase()}*`;
  switch (seen.kind) {
    case "node": {
      const error = seen.node.error ? `: ${plain(seen.node.error)}` : "";
      const scans = seen.streak ? ` on ${seen.streak} scans in a row` : "";
      return `${mark} node ${code(seen.node.name, 80)} did not answer${scans}${error}${note}`;
    }
    case "served":
      return `${mark} the apiserver on :${seen.served.port} serves a certificate that is not apiserver.crt on disk; it ${servedExpiry(seen, ctx)}${note}`;
    case "certificate": {
      const cert = seen.certificate;
      const what =
        seen.level === "unreadable"
          ? `unreadable: ${plain(cert.error ?? "unknown reason")}`
          : seen.level === "missing"
            ? "is missing"
            : when(cert.notBefore, cert.notAfter, seen.level, ctx);
      return `${mark} ${code(cert.name, 80)} ${what}${note}\n        ${code(cert.path, 300)}`;
    }
  }
}

function subjectLabel(seen: Seen): string {
  switch (seen.kind) {
    case "node":
      return `node ${seen.node.name}`;
    case "served":
      return `the certificate served on ${seen.node.name}`;
    case "certificate":
      return `${seen.certificate.name} on ${seen.node.name}`;
  }
}

/** How many subjects at each level, worst first. */
type Tally = ReadonlyMap<Status, number>;
const tallied = (tally: Tally, level: Status): Tally =>
  new Map(tally).set(level, (tally.get(level) ?? 0) + 1);
const counts = (tally: Tally): string =>
  [...tally.entries()]
    .sort(([a], [b]) => bySeverityDesc(a, b))
    .map(([level, count]) => `${count} ${STATUS_LABEL[level]}`)
    .join(", ");

const more = (items: readonly unknown[]): string => (items.length > 1 ? ` and ${items.length - 1} more` : "");

// ---------------------------------------------------------------------------------------------
// Warnings: one top-level post per chunk of subjects, grouped by node

/** Something to post about with its line, rendered once. */
type Lined<T> = T & { line: string };

/** A warning's line, and its node's heading (rendered once per node). */
type WarnLine = Lined<Warning> & { heading: string };

/** A warn post as it fills: what its blocks weigh, node groups closed and the open one. */
interface WarnMeasure {
  tally: Tally;
  worse: boolean;
  renewable: boolean;
  closed: Size;
  group?: { node: string; seen: Seen[]; packed: Packed; size: Size };
}

const EMPTY_WARN: WarnMeasure = { tally: new Map(), worse: false, renewable: false, closed: NO_SIZE };

const isWorse = ({ subject, seen }: Warning): boolean =>
  subject.previous !== undefined && severity(seen.level) > severity(subject.previous);
// Critical or expired, on a control-plane node (a renewal leaves etcd and worker nodes out), and
// something a renewal fixes: Request renewal (operators only, checked on click).
const isRenewable = (seen: Seen): boolean =>
  seen.kind !== "node" &&
  isControlPlane(seen.node) &&
  (seen.level === "critical" || seen.level === "expired") &&
  renewalFixes(seen);

const adviceLines = (seen: readonly Seen[]): string[] => adviceFor(seen).map((a) => `→ ${a}`);

function addWarning(measure: WarnMeasure, item: WarnLine): WarnMeasure {
  const { seen } = item;
  const open = measure.group?.node === seen.node.name ? measure.group : undefined;
  const closed = open || !measure.group ? measure.closed : plus(measure.closed, measure.group.size);
  const start = open ?? { seen: [], packed: packLine(NOTHING_PACKED, item.heading) };
  const packed = packLine(start.packed, item.line);
  const groupSeen = [...start.seen, seen];
  const size = packedSize(adviceLines(groupSeen).reduce((p, line) => packLine(p, line), packed));
  return {
    tally: tallied(measure.tally, seen.level),
    worse: measure.worse || isWorse(item),
    renewable: measure.renewable || isRenewable(seen),
    closed,
    group: { node: seen.node.name, seen: groupSeen, packed, size },
  };
}

const warnHeader = (measure: WarnMeasure, ctx: RenderContext): Block =>
  header(
    `${STATUS_EMOJI[worstOf(measure.tally.keys())]} ${ctx.cluster}: ${counts(measure.tally)}${measure.worse ? " (worse)" : ""}`,
  );

const button = (text: string, actionId: string, cluster: string) => ({
  type: "button" as const,
  text: { type: "plain_text" as const, text },
  action_id: actionId,
  value: cluster,
});

/**
 * Every warning's buttons (operators only, checked at the click); Request renewal where it helps; no
 * snooze longer than the cluster allows.
 */
export const warnButtons = (cluster: string, renewable: boolean, maxSnoozeDays: number): ActionsBlock => ({
  type: "actions",
  block_id: WARN_BUTTONS_BLOCK,
  elements: [
    ...(renewable ? [button("Request renewal", REQUEST_RENEWAL_ACTION, cluster)] : []),
    button("Acknowledge", ACKNOWLEDGE_ACTION, cluster),
    button("Snooze 1 day", SNOOZE_DAY_ACTION, cluster),
    ...(maxSnoozeDays >= 7 ? [button("Snooze 7 days", SNOOZE_WEEK_ACTION, cluster)] : []),
  ],
});

const nodeHeading = (node: NodeReport): string => {
  const where = nodeWhere(node);
  return `*Node ${code(node.name, 80)}* (${plain(where, 120)})`;
};

function warnLines(warnings: readonly Warning[], ctx: RenderContext): WarnLine[] {
  const headings = new Map<string, string>();
  return warnings.map((warning) => {
    const { subject, seen } = warning;
    const note = subject.replaced
      ? " _(a new certificate, renewed but not fine either)_"
      : subject.previous
        ? ` _(was ${STATUS_LABEL[subject.previous]})_`
        : "";
    let heading = headings.get(seen.node.name);
    if (heading === undefined) headings.set(seen.node.name, (heading = nodeHeading(seen.node)));
    return { ...warning, line: `• ${subjectLine(seen, ctx, note)}`, heading };
  });
}

function warnPosts(
  warnings: readonly Warning[],
  report: ClusterReport,
  channel: string,
  origin: ActionOrigin,
  ctx: RenderContext,
): WarnAction<SlackMessage>[] {
  const footer = context(
    `${plain(report.name, 80)} · scan of ${formatDate(ctx.now, ctx.timeZone)} · ` +
      "reminders and the all-clear follow in this thread",
  );
  // Room for the note an acknowledgement or a snooze adds above the buttons (chat.update).
  const buttons = (renewable: boolean) => [
    context("x".repeat(QUIET_NOTE_MAX)),
    warnButtons(ctx.cluster, renewable, ctx.maxSnoozeDays),
  ];
  const fits = (m: WarnMeasure): boolean =>
    withinBudget(
      plus(sizeOf([warnHeader(m, ctx), footer, ...buttons(m.renewable)]), m.closed, m.group?.size ?? NO_SIZE),
    );
  const chunks = chunkGrowing(warnLines(warnings, ctx), EMPTY_WARN, addWarning, fits);
  return chunks.map(({ items, measure }) => {
    const blocks: Block[] = [warnHeader(measure, ctx)];
    for (const group of groupBy(items, (i) => i.seen.node.name)) {
      const lines = [group[0].heading, ...group.map((i) => i.line), ...adviceLines(group.map((i) => i.seen))];
      blocks.push(...packLines(lines).map(section));
    }
    blocks.push(footer);
    blocks.push(warnButtons(ctx.cluster, measure.renewable, ctx.maxSnoozeDays));
    const [first] = items;
    const headline = first.seen.kind === "node" ? "unreachable" : STATUS_LABEL[first.seen.level];
    const was = first.subject.previous ? ` (was ${STATUS_LABEL[first.subject.previous]})` : "";
    const text = `${ctx.cluster}: ${subjectLabel(first.seen)} is ${headline}${was}${more(items)}`;
    return warnAction(origin, items, { channel, text: plain(text, 500), blocks });
  });
}

// ---------------------------------------------------------------------------------------------
// Resolutions and reminders: replies in a thread, one per chunk

const scanFooter = (ctx: RenderContext) => context(`scan of ${formatDate(ctx.now, ctx.timeZone)}`);

/** A fixed subject (renewed, or ok again) as it is now. */
function fixedLine(
  r: Extract<Resolution, { reason: "renewed" | "ok" }>,
  what: string,
  ctx: RenderContext,
): string {
  const { seen } = r;
  const node = code(r.node, 80);
  if (seen.kind === "served") {
    const expiry = servedExpiry(seen, ctx);
    return seen.drifted
      ? `the apiserver on ${node} now serves a certificate that is fine: it ${expiry}.`
      : `the apiserver on ${node} now serves apiserver.crt from disk: it ${expiry}.`;
  }
  const cert = seen.certificate;
  const expiry = cert.notAfter ? when(cert.notBefore, cert.notAfter, seen.level, ctx) : "";
  if (r.reason === "renewed" && seen.level !== "ok") {
    return `${what} was replaced by a new certificate that is ${STATUS_LABEL[seen.level]} too: it ${expiry}. See the new warning.`;
  }
  const drift =
    cert.name === SERVED_BY_APISERVER && hasApiserverDrift(seen.node)
      ? " The apiserver still serves the old one until kube-apiserver restarts."
      : "";
  const verb = r.reason === "renewed" ? "was renewed" : "is fine now";
  return `${what} ${verb}: it ${expiry}.${drift}`;
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
    case "ok":
      return fixedLine(r, what, ctx);
  }
}

const CLOSING = "_Nothing in this thread is open any more._";

function resolvedPosts(
  thread: ResolutionThread,
  origin: ActionOrigin,
  ctx: RenderContext,
): ResolvedAction<SlackMessage>[] {
  const { channel } = thread.record;
  const title = `:white_check_mark: *${plain(ctx.cluster, 80)}*`;
  const footer = scanFooter(ctx);
  const items: Lined<Resolution>[] = thread.items.map((r) => ({ ...r, line: `• ${resolvedLine(r, ctx)}` }));
  // Measured as if each chunk closed the thread: the closing line fits whichever one does.
  const fits = (packed: Packed): boolean =>
    withinBudget(plus(packedSize(packLine(packed, CLOSING)), sizeOf([footer])));
  const chunks = chunkGrowing(items, packLine(NOTHING_PACKED, title), (p, r) => packLine(p, r.line), fits);
  return resolvedActions(
    origin,
    thread,
    chunks.map((chunk) => chunk.items),
    (chunk, closes) => {
      const lines = [title, ...chunk.map((r) => r.line), ...(closes ? [CLOSING] : [])];
      const [first] = chunk;
      const what = nameOf(first.key) ?? `node ${first.node}`;
      return {
        channel,
        text: plain(`${ctx.cluster}: resolved: ${what} on ${first.node}${more(chunk)}`, 500),
        blocks: [...packLines(lines).map(section), footer],
      };
    },
  );
}

/** Why a subject speaks again: its snooze ended. Mentions only a user id. */
function snoozeEndNote(quiet: Quiet, ctx: RenderContext): string {
  const by = byUser(quiet.by);
  const until = quiet.until ? ` until ${formatDate(new Date(quiet.until), ctx.timeZone)}` : "";
  return ` (snoozed${by}${until}; the snooze has ended)`;
}

/** A reminder reply as it fills. Its title counts the subjects, so it changes as they come. */
interface ReminderMeasure {
  tally: Tally;
  title: string;
  lines: string[];
  packed: Packed;
}

function reminderPosts(
  thread: ReminderThread,
  origin: ActionOrigin,
  ctx: RenderContext,
): ReminderAction<SlackMessage>[] {
  const { channel } = thread.record;
  const footer = scanFooter(ctx);
  const day = localDay(ctx.now, ctx.timeZone);
  const title = (tally: Tally): string =>
    `:alarm_clock: *Reminder — ${plain(ctx.cluster, 80)}:* still ${counts(tally)}. ` +
    "What to do is in the first message of this thread.";
  const add = (m: ReminderMeasure, item: Lined<Reminder>): ReminderMeasure => {
    const tally = tallied(m.tally, item.seen.level);
    const next = { tally, title: title(tally), lines: [...m.lines, item.line] };
    // The title heads the first section: a longer or shorter one packs everything anew.
    const packed =
      next.title.length === m.title.length
        ? packLine(m.packed, item.line)
        : next.lines.reduce((p, line) => packLine(p, line), packLine(NOTHING_PACKED, next.title));
    return { ...next, packed };
  };
  const empty: ReminderMeasure = { tally: new Map(), title: "", lines: [], packed: NOTHING_PACKED };
  const fits = (m: ReminderMeasure): boolean => withinBudget(plus(packedSize(m.packed), sizeOf([footer])));
  const items = thread.items.map((r) => ({
    ...r,
    line: `• ${code(r.seen.node.name, 80)}: ${subjectLine(r.seen, ctx, r.snoozeEnded ? snoozeEndNote(r.snoozeEnded, ctx) : "")}`,
  }));
  return chunkGrowing(items, empty, add, fits).map(({ items: chunk, measure }) => {
    const [first] = chunk;
    const text = `Reminder: ${ctx.cluster}: ${subjectLabel(first.seen)} is still ${STATUS_LABEL[first.seen.level]}${more(chunk)}`;
    return reminderAction(origin, thread, chunk, day, {
      channel,
      text: plain(text, 500),
      blocks: [...packLines([measure.title, ...measure.lines]).map(section), footer],
    });
  });
}
