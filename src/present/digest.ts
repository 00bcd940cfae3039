// The daily digest: every cluster's certificate state as one Slack post in `digestChannel`. Pure:
// the latest report per cluster goes in, messages come out, so `certs-bot digest --print` shows
// exactly what would be posted, and a test renders 500 clusters in milliseconds.
//
// Why it looks like this:
//   - It is read by someone deciding what to do today. So: counts first, then the clusters that need
//     something, worst first (STATUS_ORDER, then the soonest expiry, then the name), each with its
//     worst certificate, the time left and how old the scan is (an old scan is a problem of its own);
//     clusters that are fine fold into one line, because 400 green names help nobody.
//   - Snoozed and acknowledged subjects (core/alerts/quiet.ts) are never dropped: they leave the
//     attention list for a section of their own, saying who quieted them and until when, and
//     their clusters still count in the header by their worst status, so nothing hides. A
//     cluster whose every concern is quieted is listed only there; one with others keeps a line
//     naming its worst unquieted concern.
//   - It must read the same at 3 clusters and at 500. Many clusters share one mrkdwn section (lines
//     packed up to the 3000-character limit) instead of one block each, and messages stay under the
//     50-block limit and under the ~12k characters of block text Slack takes per message (see
//     BLOCK_LIMITS.totalBlockText). When it does not fit, it continues in replies.
//
// Convention: renderDigest returns [top-level post, ...replies]. messages[0] goes to the channel;
// every later message is posted with thread_ts = messages[0]'s ts, in order. Replies say so in
// their text ("continued 2/3") and first block, and messages[0] says how many follow.
//
// Buckets of the header (a cluster counts once, by its worst status):
//   ok, warning, critical as they are; expired includes not-yet-valid (a certificate that is not
//   valid now breaks TLS just the same); unreachable includes unreadable and missing files (we
//   cannot tell when they expire: something to look at, as an unreachable node; the exit code
//   folds them the same way); and "not scanned yet" for a cluster without a report.
import type { ClusterReport, Status } from "../core/report/types.js";
import { duration, formatDate, localDay, timeLeft } from "./time.js";
import {
  STATUS_EMOJI,
  STATUS_LABEL,
  code,
  context,
  divider,
  fieldsSection,
  header,
  plain,
  section,
  truncate,
} from "./format.js";
import { BLOCK_LIMITS, TEXT_BUDGET, blockTextLength, type Block, type SlackMessage } from "./slack-types.js";
import { clusterStatus, compareClusters, rankConcerns, type Concern } from "../core/alerts/rank.js";
import type { ActiveQuiet } from "../core/alerts/quiet.js";
import { quietPhrase } from "./snooze.js";

export interface DigestCluster {
  name: string;
  /** The latest report; null when the cluster was never scanned. */
  report: ClusterReport | null;
  scannedAt: Date | null;
  /** Its subjects snoozed or acknowledged now (quiet.ts `activeQuiets`); absent: none. */
  quiets?: readonly ActiveQuiet[];
}

export interface DigestInput {
  channel: string;
  clusters: readonly DigestCluster[];
  now: Date;
  timeZone: string;
}

export type DigestBucket = "ok" | "warning" | "critical" | "expired" | "unreachable" | "not-scanned";

/** Which header bucket a cluster's worst status counts in. */
export const DIGEST_BUCKET: Record<Status, Exclude<DigestBucket, "not-scanned">> = {
  ok: "ok",
  superseded: "ok",
  warning: "warning",
  critical: "critical",
  expired: "expired",
  "not-yet-valid": "expired",
  missing: "unreachable",
  unreadable: "unreachable",
  unreachable: "unreachable",
};

const NOT_SCANNED_EMOJI = ":hourglass_flowing_sand:";
const QUIET_EMOJI = ":zzz:";

const BUCKETS: readonly { bucket: DigestBucket; emoji: string; label: string }[] = [
  { bucket: "ok", emoji: STATUS_EMOJI.ok, label: "ok" },
  { bucket: "warning", emoji: STATUS_EMOJI.warning, label: "warning" },
  { bucket: "critical", emoji: STATUS_EMOJI.critical, label: "critical" },
  { bucket: "expired", emoji: STATUS_EMOJI.expired, label: "expired" },
  { bucket: "unreachable", emoji: STATUS_EMOJI.unreachable, label: "unreachable" },
  { bucket: "not-scanned", emoji: NOT_SCANNED_EMOJI, label: "not scanned yet" },
];

/** The notification text's order: worst first, as STATUS_ORDER ranks the buckets' statuses. */
const SUMMARY_ORDER: readonly DigestBucket[] = [
  "expired",
  "critical",
  "unreachable",
  "warning",
  "not-scanned",
];

/** Names listed in the folded "all fine" line before "… and N more". */
const OK_NAMES_CHARS = 600;
/** Room kept for the "continued" notes, whose numbers are known only after packing. */
const NOTE_RESERVE = { blocks: 1, chars: 200 };

interface Row {
  name: string;
  /** The attention line's status: the worst of what is not quieted. */
  status: Status;
  /** The header's bucket: the cluster's worst status, quieted or not. */
  bucket: DigestBucket;
  scannedAt: Date | null;
  worst?: Concern;
  /** Other non-ok certificates and nodes in the cluster, not quieted. */
  others: number;
  /** Every concern is snoozed or acknowledged: listed in the quiet section only. */
  allQuiet: boolean;
  quiets: QuietItem[];
}

/** A quiet subject, with what the latest scan says of it (absent: the scan does not name it). */
interface QuietItem {
  cluster: string;
  quiet: ActiveQuiet;
  concern?: Concern;
}

function row(cluster: DigestCluster): Row {
  const { name, report, scannedAt } = cluster;
  const quiets = (cluster.quiets ?? []).map((quiet) => ({ cluster: name, quiet }));
  if (!report) {
    return { name, status: "ok", bucket: "not-scanned", scannedAt, others: 0, allQuiet: false, quiets };
  }
  const found = rankConcerns(report, { includeOk: false });
  const status = clusterStatus(report, found[0]);
  const quietKeys = new Set(quiets.map((q) => q.quiet.key));
  const loud = found.filter((c) => !quietKeys.has(c.label));
  return {
    name,
    status: loud.length < found.length && loud[0] ? loud[0].status : status,
    bucket: DIGEST_BUCKET[status],
    scannedAt,
    ...(loud[0] ? { worst: loud[0] } : {}),
    others: Math.max(0, loud.length - 1),
    allQuiet: found.length > 0 && loud.length === 0,
    quiets: quiets.map((q) => {
      const concern = found.find((c) => c.label === q.quiet.key);
      return concern ? { ...q, concern } : q;
    }),
  };
}

/** Worst first, as the attention list (a subject the scan does not name ranks by its level). */
function compareQuiet(a: QuietItem, b: QuietItem): number {
  const rank = (q: QuietItem) => ({
    name: q.cluster,
    status: q.concern?.status ?? q.quiet.level,
    ...(q.concern ? { worst: q.concern } : {}),
  });
  return compareClusters(rank(a), rank(b)) || a.quiet.key.localeCompare(b.quiet.key);
}

function quietLine(q: QuietItem, now: Date, timeZone: string): string {
  const status = q.concern?.status ?? q.quiet.level;
  const what = q.concern ? detail(q.concern, now) : STATUS_LABEL[status];
  return (
    `${STATUS_EMOJI[status]} *${plain(q.cluster, 80)}* — ${code(q.quiet.key, 140)} ${what} · ` +
    quietPhrase(q.quiet, timeZone)
  );
}

function detail(worst: Concern, now: Date): string {
  switch (worst.status) {
    case "unreachable":
      return `unreachable${worst.error ? `: ${plain(worst.error, 100)}` : ""}`;
    case "unreadable":
      return `unreadable${worst.error ? `: ${plain(worst.error, 100)}` : ""}`;
    case "missing":
      return "missing";
    default: {
      return worst.notAfter ? timeLeft(worst, now) : STATUS_LABEL[worst.status];
    }
  }
}

function problemLine(r: Row, now: Date): string {
  const scanned = r.scannedAt
    ? `scanned ${duration(now.getTime() - r.scannedAt.getTime(), "ago")}`
    : "scan time unknown";
  const what = r.worst
    ? `${code(r.worst.label, 140)} ${detail(r.worst, now)}${r.others ? ` (+${r.others} more)` : ""}`
    : STATUS_LABEL[r.status];
  return `${STATUS_EMOJI[r.status]} *${plain(r.name, 80)}* — ${what} · ${scanned}`;
}

/** `a, b, c … and 400 more`, the names within `max` characters. */
function someNames(names: readonly string[], max: number): string {
  const shown: string[] = [];
  let length = 0;
  for (const name of names) {
    const item = plain(name, 80);
    if (shown.length > 0 && length + item.length + 2 > max) break;
    shown.push(item);
    length += item.length + 2;
  }
  const rest = names.length - shown.length;
  return shown.join(", ") + (rest > 0 ? ` … and ${rest} more` : "");
}

/** Every name, over as many lines as the section limit needs. */
function allNames(prefix: string, names: readonly string[]): string[] {
  const lines: string[] = [];
  let current = "";
  for (const name of names) {
    const item = plain(name, 80);
    if (current && current.length + 2 + item.length > BLOCK_LIMITS.sectionText - 100) {
      lines.push(current);
      current = "";
    }
    current = current ? `${current}, ${item}` : `${lines.length ? `${prefix} (continued)` : prefix} ${item}`;
  }
  if (current) lines.push(current);
  return lines;
}

interface Line {
  text: string;
  /** Start a new section (a visual break) before this line. */
  breakBefore?: boolean;
}

/**
 * Lines into pages of sections: a section holds lines up to the section limit, a page holds
 * sections up to the block limit and the text budget, given what each page already carries
 * (`fixed[i]`, the last entry for every later page).
 */
function paginate(lines: readonly Line[], fixed: readonly { blocks: number; chars: number }[]): string[][] {
  const pages: string[][] = [];
  let sections: string[] = [];
  let current = "";
  let chars = 0;
  for (const line of lines) {
    const text = truncate(line.text, BLOCK_LIMITS.sectionText);
    const joins =
      current !== "" && !line.breakBefore && current.length + 1 + text.length <= BLOCK_LIMITS.sectionText;
    const blocks = sections.length + (current ? 1 : 0) + (joins ? 0 : 1);
    const added = joins ? 1 + text.length : text.length;
    const page = fixed[Math.min(pages.length, fixed.length - 1)]!;
    const fits = page.blocks + blocks <= BLOCK_LIMITS.maxBlocks && page.chars + chars + added <= TEXT_BUDGET;
    if (!fits && current !== "") {
      pages.push([...sections, current]);
      sections = [];
      current = text;
      chars = text.length;
    } else if (joins) {
      current = `${current}\n${text}`;
      chars += added;
    } else {
      if (current) sections.push(current);
      current = text;
      chars += added;
    }
  }
  pages.push(current ? [...sections, current] : sections);
  return pages;
}

/** The body's lines: what needs attention, the quiet section, the never-scanned, the fine. */
function bodyLines(rows: readonly Row[], now: Date, timeZone: string): Line[] {
  const problemRows = rows
    .filter((r) => r.bucket !== "ok" && r.bucket !== "not-scanned" && !r.allQuiet)
    .sort(compareClusters);
  const quiets = rows.flatMap((r) => r.quiets).sort(compareQuiet);
  const okNames = rows.filter((r) => r.bucket === "ok").map((r) => r.name);
  const unscanned = rows.filter((r) => r.bucket === "not-scanned").map((r) => r.name);
  okNames.sort((a, b) => a.localeCompare(b));
  unscanned.sort((a, b) => a.localeCompare(b));

  const lines: Line[] = problemRows.map((r) => ({ text: problemLine(r, now) }));
  if (quiets.length > 0) {
    lines.push({ text: `${QUIET_EMOJI} *Snoozed and acknowledged (${quiets.length}):*`, breakBefore: true });
    for (const q of quiets) lines.push({ text: quietLine(q, now, timeZone) });
  }
  if (unscanned.length > 0) {
    const prefix = `${NOT_SCANNED_EMOJI} *${unscanned.length} not scanned yet:*`;
    allNames(prefix, unscanned).forEach((text, i) => lines.push({ text, breakBefore: i === 0 }));
  }
  if (okNames.length > 0) {
    const label = okNames.length === 1 ? "1 cluster fine:" : `${okNames.length} clusters all fine:`;
    lines.push({
      text: `${STATUS_EMOJI.ok} *${label}* ${someNames(okNames, OK_NAMES_CHARS)}`,
      breakBefore: true,
    });
  }
  if (rows.length === 0) lines.push({ text: "No clusters are configured." });
  return lines;
}

export function renderDigest(input: DigestInput): SlackMessage[] {
  const { channel, clusters, now, timeZone } = input;
  const rows = clusters.map(row);
  const count = (bucket: DigestBucket) => rows.filter((r) => r.bucket === bucket).length;
  const day = localDay(now, timeZone);
  const lines = bodyLines(rows, now, timeZone);
  const quietCount = rows.reduce((n, r) => n + r.quiets.length, 0);

  const shown = BUCKETS.filter((b) => b.bucket !== "not-scanned" || count("not-scanned") > 0);
  const oldest = rows
    .map((r) => r.scannedAt?.getTime())
    .filter((t): t is number => t !== undefined)
    .sort((a, b) => a - b)[0];
  const head: Block[] = [
    header(`Certificate digest — ${day}`),
    fieldsSection([
      `*Clusters*\n${rows.length}`,
      ...shown.map((b) => `${b.emoji} *${b.label}*\n${count(b.bucket)}`),
    ]),
    context(
      `as of ${formatDate(now, timeZone)}` +
        (oldest !== undefined ? ` · oldest scan ${duration(now.getTime() - oldest, "ago")}` : "") +
        " · _expired_ includes not-yet-valid, _unreachable_ includes unreadable and missing files",
    ),
    divider(),
  ];
  const reply = (i: number, n: number): Block =>
    context(`Certificate digest — ${day} · continued (${i + 1}/${n})`);
  const pages = paginate(lines, [
    { blocks: head.length + NOTE_RESERVE.blocks, chars: blockTextLength(head) + NOTE_RESERVE.chars },
    { blocks: 1 + NOTE_RESERVE.blocks, chars: NOTE_RESERVE.chars },
  ]);

  const n = pages.length;
  const summary = SUMMARY_ORDER.filter((bucket) => count(bucket) > 0).map(
    (bucket) => `${count(bucket)} ${BUCKETS.find((b) => b.bucket === bucket)!.label}`,
  );
  const headline =
    summary.length === 0
      ? `all ${rows.length} ${rows.length === 1 ? "cluster" : "clusters"} fine`
      : [...summary, `${count("ok")} ok`].join(", ");
  const quietNote = quietCount > 0 ? ` · ${quietCount} snoozed or acknowledged` : "";
  return pages.map((sections, i): SlackMessage => {
    const body = sections.map(section);
    if (i === 0) {
      const more =
        n > 1 ? [context(`Continued in the thread: ${n - 1} more ${n === 2 ? "message" : "messages"}.`)] : [];
      return {
        channel,
        text: `Certificate digest ${day}: ${headline}${quietNote}`,
        blocks: [...head, ...body, ...more],
      };
    }
    return {
      channel,
      text: `Certificate digest ${day} (continued ${i + 1}/${n})`,
      blocks: [reply(i, n), ...body],
    };
  });
}

/** The header's counts, for callers that log or test them. */
export function digestCounts(clusters: readonly DigestCluster[]): Record<DigestBucket, number> {
  const counts: Record<DigestBucket, number> = {
    ok: 0,
    warning: 0,
    critical: 0,
    expired: 0,
    unreachable: 0,
    "not-scanned": 0,
  };
  for (const cluster of clusters) counts[row(cluster).bucket] += 1;
  return counts;
}
