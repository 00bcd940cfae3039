// `/certs list` for any fleet: the clusters shown in a channel counted by status, then one page of
// them, worst first, narrowed by a name filter and statuses, and a closing line that says how to
// reach the rest. One message whatever the fleet's size: a page holds LIST_PAGE clusters, which fit
// Slack's limits even when every line is as long as a line can be. App Home shows the first page's
// worth the same way (present/home.ts).
//
// A row (a cluster's status and worst concern) depends only on its stored scan, so it is computed
// once per scan object: the store hands out the same object until the cluster is scanned again,
// and a list of 500 clusters then ranks nothing that has not changed.
import { STATUS_ORDER, type Status, type StoredScan } from "../core/report/types.js";
import { clusterStatus, compareClusters, rankConcerns, type Concern } from "../core/alerts/rank.js";
import {
  STATUS_EMOJI,
  STATUS_LABEL,
  code,
  context,
  header,
  packLines,
  plain,
  plural,
  section,
} from "./format.js";
import { duration, formatDate, timeLeft } from "./time.js";
import type { Block, ChatReply } from "./slack-types.js";
import type { ListQuery, ListStatus } from "./command.js";

export const NOT_SCANNED_EMOJI = ":hourglass_flowing_sand:";

/** Clusters on one page of `/certs list`, and in App Home. */
export const LIST_PAGE = 20;

export const scanAge = (scan: StoredScan | null, now: Date): string =>
  scan ? `scanned ${duration(now.getTime() - scan.scannedAt.getTime(), "ago")}` : "not scanned yet";

/** The worst thing about a cluster (list, scan-done). */
export function worstDetail(worst: Concern, now: Date): string {
  const what = code(worst.label, 140);
  switch (worst.status) {
    case "unreachable":
    case "unreadable":
      return `${what} ${worst.status}${worst.error ? `: ${plain(worst.error, 100)}` : ""}`;
    case "missing":
      return `${what} missing`;
    default:
      return worst.notAfter ? `${what} ${timeLeft(worst, now)}` : `${what} ${STATUS_LABEL[worst.status]}`;
  }
}

export interface ListCluster {
  name: string;
  /** The latest scan, or null when the cluster was never scanned. */
  latest: StoredScan | null;
}

export interface ListRow {
  name: string;
  status: Status | null;
  worst?: Concern;
  scan: StoredScan | null;
}

const rowsOfScans = new WeakMap<StoredScan, ListRow>();

function listRow(cluster: ListCluster): ListRow {
  const { latest } = cluster;
  if (!latest) return { name: cluster.name, status: null, scan: null };
  let row = rowsOfScans.get(latest);
  if (!row || row.name !== cluster.name) {
    const worst = rankConcerns(latest.report, { includeOk: true })[0];
    row = {
      name: cluster.name,
      status: clusterStatus(latest.report, worst),
      ...(worst ? { worst } : {}),
      scan: latest,
    };
    rowsOfScans.set(latest, row);
  }
  return row;
}

/**
 * The clusters' rows worst first, as `/certs list` and App Home show them, kept per list of
 * clusters: the same list (the router keeps it while nothing changed) is not looked at again, and
 * while no cluster was scanned again the same rows come back (the same objects) and are not sorted
 * again.
 */
const orders = new WeakMap<readonly ListCluster[], readonly ListRow[]>();
let lastOrder: { rows: readonly ListRow[]; sorted: readonly ListRow[] } | undefined;

export function rankedRows(clusters: readonly ListCluster[]): readonly ListRow[] {
  const kept = orders.get(clusters);
  if (kept) return kept;
  const rows = clusters.map(listRow);
  const last = lastOrder;
  const same =
    last !== undefined &&
    last.rows.length === rows.length &&
    rows.every(
      (row, i) =>
        row === last.rows[i] ||
        (row.scan === null && last.rows[i]!.scan === null && row.name === last.rows[i]!.name),
    );
  const sorted = same ? last.sorted : [...rows].sort(compareClusters);
  lastOrder = { rows, sorted };
  orders.set(clusters, sorted);
  return sorted;
}

/** One cluster on one line: status, worst certificate, time left, scan age. */
export function listLine(row: ListRow, now: Date): string {
  const name = `*${plain(row.name, 80)}*`;
  if (row.status === null) return `${NOT_SCANNED_EMOJI} ${name} — not scanned yet`;
  const worst = row.worst ? ` · ${worstDetail(row.worst, now)}` : "";
  return `${STATUS_EMOJI[row.status]} ${name} — ${STATUS_LABEL[row.status]}${worst} · ${scanAge(row.scan, now)}`;
}

/** Worst first, as every list orders clusters; never-scanned ones last. */
const COUNT_ORDER: readonly (Status | null)[] = [...[...STATUS_ORDER].reverse(), null];

/** Counts kept per array of rows: a whole channel's, unfiltered, come as one array (rankedRows). */
const counted = new WeakMap<readonly ListRow[], string>();

/** `2 expired, 1 warning, 40 ok`: the rows counted by status, worst first. */
export function countRows(rows: readonly ListRow[]): string {
  let text = counted.get(rows);
  if (text === undefined) counted.set(rows, (text = countOf(rows)));
  return text;
}

function countOf(rows: readonly ListRow[]): string {
  const counts = new Map<Status | null, number>();
  for (const row of rows) counts.set(row.status, (counts.get(row.status) ?? 0) + 1);
  return COUNT_ORDER.filter((status) => counts.has(status))
    .map((status) => `${counts.get(status)} ${status === null ? "not scanned yet" : STATUS_LABEL[status]}`)
    .join(", ");
}

const listStatusOf = (row: ListRow): ListStatus | "other" =>
  row.status === null ? "not-scanned" : row.status === "superseded" ? "other" : row.status;

/** A name filter: the start of the name, or with `*` a pattern of the whole name. */
function nameMatcher(filter: string): (name: string) => boolean {
  if (!filter.includes("*")) return (name) => name.startsWith(filter);
  const pattern = new RegExp(`^${filter.split("*").join(".*")}$`);
  return (name) => pattern.test(name);
}

/** `/certs list prod- --status critical --page 3`, as the person would type it. */
function listCommand(query: ListQuery, page: number): string {
  const words = ["/certs list"];
  if (query.name !== undefined) words.push(query.name);
  if (query.statuses?.length) words.push(`--status ${query.statuses.join(",")}`);
  if (page > 1) words.push(`--page ${page}`);
  return `\`${words.join(" ")}\``;
}

/** What the filters keep, in words: `names starting with \`prod-\` · critical or expired`. */
function filterWords(query: ListQuery): string {
  const parts: string[] = [];
  if (query.name !== undefined) {
    parts.push(
      query.name.includes("*")
        ? `names like ${code(query.name, 70)}`
        : `names starting with ${code(query.name, 70)}`,
    );
  }
  if (query.statuses?.length) parts.push(query.statuses.join(" or "));
  return parts.join(" · ");
}

export interface ListInput {
  /** The clusters visible in this channel (the router filters them; this renders what it gets). */
  clusters: readonly ListCluster[];
  query: ListQuery;
  now: Date;
  timeZone: string;
}

/** The answer, and whether only the asker should see it (nothing to show: a typo, or past the end). */
export interface ListAnswer {
  reply: ChatReply;
  ephemeral: boolean;
}

const NONE_SHOWN: ChatReply = {
  text: "No clusters are shown in this channel.",
  blocks: [
    section(
      "No clusters are shown in this channel. An admin can add this channel to a cluster's " +
        "`viewers` in the config.",
    ),
  ],
};

export function renderList(input: ListInput): ListAnswer {
  const { query, now, timeZone } = input;
  if (input.clusters.length === 0) return { reply: NONE_SHOWN, ephemeral: false };
  // Sorted once for the whole channel (and kept while nothing changed); the filters keep that order.
  const sorted = rankedRows(input.clusters);
  const matches = query.name === undefined ? undefined : nameMatcher(query.name);
  const rows = matches ? sorted.filter((row) => matches(row.name)) : sorted;
  const { statuses } = query;
  const picked = statuses ? rows.filter((row) => statuses.includes(listStatusOf(row) as ListStatus)) : rows;
  const all = plural(input.clusters.length, "cluster");
  const title =
    query.name === undefined ? `${all} in this channel` : `${rows.length} of ${all} in this channel`;
  const counts = countRows(rows);
  if (picked.length === 0) return { reply: nothingPicked(query, title, counts), ephemeral: true };
  const pages = Math.ceil(picked.length / LIST_PAGE);
  if (query.page > pages) return { reply: pastTheEnd(query, picked.length, pages), ephemeral: true };
  const first = (query.page - 1) * LIST_PAGE;
  const shown = picked.slice(first, first + LIST_PAGE);
  const blocks: Block[] = [
    header(`Certificates — ${title}`),
    context(`${counts} · as of ${formatDate(now, timeZone)}`),
  ];
  if (statuses?.length || query.name !== undefined) {
    blocks.push(context(`Showing ${filterWords(query)}: ${plural(picked.length, "cluster")}, worst first`));
  }
  blocks.push(...packLines(shown.map((row) => listLine(row, now))).map(section));
  blocks.push(context(pageNote(query, first, shown.length, picked.length, pages)));
  return { reply: { text: `${title}: ${counts}`, blocks }, ephemeral: false };
}

/** Where this page sits, and the commands that reach the rest or narrow the list. */
function pageNote(query: ListQuery, first: number, count: number, total: number, pages: number): string {
  if (pages === 1) return total === 1 ? "That is the only one." : `All ${total} shown, worst first.`;
  const place = `Clusters ${first + 1}–${first + count} of ${total}, worst first (page ${query.page} of ${pages}).`;
  const more =
    query.page < pages
      ? ` ${listCommand(query, query.page + 1)} shows the following ${Math.min(LIST_PAGE, total - first - count)}.`
      : ` ${listCommand(query, 1)} shows the first page again.`;
  const narrow =
    query.statuses === undefined && query.name === undefined
      ? " Narrow it with `--status expired|critical|warning|unreachable|ok` or the start of a name: `/certs list prod-`."
      : "";
  return place + more + narrow;
}

function nothingPicked(query: ListQuery, title: string, counts: string): ChatReply {
  const what = filterWords(query);
  const text =
    `No cluster in this channel matches: ${what}.` +
    (counts ? ` ${title}: ${counts}.` : "") +
    " `/certs list` shows them all.";
  return { text: "No cluster in this channel matches", blocks: [section(text)] };
}

function pastTheEnd(query: ListQuery, total: number, pages: number): ChatReply {
  const text =
    `There is no page ${query.page}: ${plural(total, "cluster")} make ${plural(pages, "page")} of ` +
    `${LIST_PAGE}. ${listCommand(query, pages)} shows the last.`;
  return { text: `No page ${query.page} of the list`, blocks: [section(text)] };
}
