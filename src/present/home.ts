// App Home: one user's dashboard of the clusters they may see (access.ts `homeClusters` decides
// which), worst first, each with status, worst certificate, time left and scan age, and a "Scan now"
// button where the user is an operator. Pure: the Bolt edge publishes what this returns.
//
// It must read the same at 3 clusters and at 500, within a Home view's 100 blocks. So it counts
// every cluster by status, the worst LIST_PAGE get a row (a section, with its button) each, and
// one line counts the rest and says how `/certs list` reaches them. A cluster with subjects snoozed
// or acknowledged lists them under its row (compact). The whole view stays under TEXT_BUDGET, the
// same budget as a message, since Slack does not document how much text a view may carry.
import { formatDate } from "./time.js";
import { SCAN_NOW_ACTION } from "./actions.js";
import { code, context, divider, header, section } from "./format.js";
import {
  TEXT_BUDGET,
  blockTextLength,
  type Block,
  type ButtonElement,
  type SectionBlock,
} from "./slack-types.js";
import { LIST_PAGE, countRows, listLine, rankedRows, type ListCluster, type ListRow } from "./list.js";
import type { ActiveQuiet } from "../core/alerts/quiet.js";
import { quietPhrase } from "./snooze.js";

/** Room kept for the closing "… and N more" line. */
const MORE_LINE_RESERVE = 300;

export interface HomeInput {
  /** The clusters this user may see, with their latest scans (null: never scanned). */
  clusters: readonly ListCluster[];
  /** Whether the user may request scans of this cluster (decides the button). */
  isOperatorOf: (cluster: string) => boolean;
  now: Date;
  timeZone: string;
  /** Per cluster, its subjects snoozed or acknowledged now (quiet.ts `activeQuiets`); absent: none. */
  quiets?: ReadonlyMap<string, readonly ActiveQuiet[]>;
  /** Shown on top: what came of the user's last click (scan queued, refused, done). */
  notice?: readonly Block[];
}

export interface HomeView {
  type: "home";
  blocks: Block[];
}

const WHO_SEES_WHAT =
  "You see the clusters you operate or approve, and those of the channels you are in. " +
  "`/certs help` in a channel shows the commands.";

function scanButton(cluster: string): ButtonElement {
  return {
    type: "button",
    text: { type: "plain_text", text: "Scan now" },
    action_id: SCAN_NOW_ACTION,
    value: cluster,
  };
}

/** Subjects named in a row's quiet line before "and N more". */
const QUIET_LISTED = 5;

const quietCount = (n: number): string => `:zzz: ${n} snoozed or acknowledged`;

/** `:zzz: 2 snoozed or acknowledged: `m1/apiserver` snoozed by @who until …; `m2` acknowledged …`. */
function quietList(quiets: readonly ActiveQuiet[], timeZone: string): string {
  const listed = quiets
    .slice(0, QUIET_LISTED)
    .map((q) => `${code(q.key, 120)} ${quietPhrase(q, timeZone, 80)}`)
    .join("; ");
  const more = quiets.length > QUIET_LISTED ? `; and ${quiets.length - QUIET_LISTED} more` : "";
  return `${quietCount(quiets.length)}: ${listed}${more}`;
}

function rowBlock(row: ListRow, input: HomeInput): SectionBlock {
  const quiets = input.quiets?.get(row.name) ?? [];
  const line = listLine(row, input.now);
  const block = section(quiets.length > 0 ? `${line}\n${quietList(quiets, input.timeZone)}` : line);
  return input.isOperatorOf(row.name) ? { ...block, accessory: scanButton(row.name) } : block;
}

export function renderHome(input: HomeInput): HomeView {
  const { now, timeZone } = input;
  const head: Block[] = [
    header("certs-bot — your clusters"),
    ...(input.notice?.length ? [...input.notice, divider()] : []),
  ];
  const rows = rankedRows(input.clusters);
  if (rows.length === 0) {
    return {
      type: "home",
      blocks: [
        ...head,
        section(
          "No clusters to show you. A cluster shows here when you are one of its operators or " +
            "approvers, or a member of one of its channels.",
        ),
      ],
    };
  }
  const n = rows.length;
  head.push(
    context(
      `${n} ${n === 1 ? "cluster" : "clusters"}: ${countRows(rows)} · worst first · as of ${formatDate(now, timeZone)}`,
    ),
  );
  const foot = [context(WHO_SEES_WHAT)];
  let chars = blockTextLength([...head, ...foot]) + MORE_LINE_RESERVE;
  const body: Block[] = [];
  let shown = 0;
  for (const row of rows.slice(0, LIST_PAGE)) {
    const block = rowBlock(row, input);
    const size = blockTextLength([block]);
    if (chars + size > TEXT_BUDGET) break;
    body.push(block);
    chars += size;
    shown += 1;
  }
  const unshown = rows.slice(shown);
  if (unshown.length > 0) {
    body.push(
      context(
        `… and ${unshown.length} more: ${countRows(unshown)}. \`/certs list\` in a cluster's channel ` +
          "reaches every one: `--status critical`, the start of a name (`/certs list prod-`), `--page 2`.",
      ),
    );
  }
  return { type: "home", blocks: [...head, ...body, ...foot] };
}
