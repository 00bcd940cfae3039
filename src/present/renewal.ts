// A renewal plan as terminal text (`certs-bot renew --dry-run`) and as the body of a Slack approval
// card (Block Kit; present/thread.ts adds the request's state and the buttons). Pure. The card always
// fits Block Kit's limits: it is rendered at the most detailed level that fits, the full commands
// first, then only the renew commands, then a count, then a node a line (the thread and --dry-run
// carry the rest).
import { formatDate, formatWhen, formatWindow, timeLeft } from "./time.js";
import { code, context, divider, fitsBudget, header, packLines, person, plain, section } from "./format.js";
import type { Block, SlackMessage } from "./slack-types.js";
import type { LeftOutNode, NodePlan, RenewalPlan } from "../core/renew/plan.js";
import type { ClusterWindows, MaintenanceWindow } from "../config/load.js";
import { nextNodeStart, windowAt, type WindowTimes } from "../core/renew/windows.js";

const scopeText = (plan: RenewalPlan): string =>
  plan.scope === "all" ? "every certificate kubeadm manages" : plan.scope.join(", ");

function approvalText(plan: RenewalPlan, timeZone: string): string {
  const who =
    plan.approval.requiredApprovals === 1
      ? "1 approver"
      : `${plan.approval.requiredApprovals} different approvers`;
  const self = plan.approval.allowSelfApproval ? "" : ", not the requester";
  return `${who}${self}; the request expires ${formatDate(plan.approval.expiresAt, timeZone)}`;
}

const expiry = (c: Pick<NodePlan["renew"][number], "notAfter">, now: Date, timeZone: string): string =>
  c.notAfter
    ? `${formatDate(c.notAfter, timeZone)} (${timeLeft({ notBefore: null, notAfter: c.notAfter }, now, "column")})`
    : "-";

// --- maintenance windows -----------------------------------------------------------------------

/** The cluster's windows and the moment they are read at (a run approved then keeps to them). */
export interface RunWindows extends ClusterWindows {
  now: Date;
}

const clock = (minute: number): string =>
  `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
const length = (minutes: number): string =>
  `${minutes >= 60 ? `${Math.floor(minutes / 60)}h` : ""}${minutes % 60 ? `${minutes % 60}m` : ""}`;

/** `mon, tue 02:00 for 3h; sat 00:00 for 24h`: the windows as the config writes them. */
export const describeWindows = (windows: readonly MaintenanceWindow[]): string =>
  windows
    .map((w) => `${w.days.join(", ")} ${clock(w.startMinute)} for ${length(w.durationMinutes)}`)
    .join("; ");

/**
 * When a run approved at `now` starts its first node, and in which window; null without windows (any
 * time). `window` is null when no window with the margin left opens within a week.
 */
export function runWindow(
  w: RunWindows,
  timeZone: string,
): { startsAt: Date; window: WindowTimes } | { startsAt: null; window: null } | null {
  if (w.windows.length === 0) return null;
  const schedule = { windows: w.windows, timeZone };
  const startsAt = nextNodeStart(schedule, w.now, w.windowMarginMinutes * 60_000);
  const window = startsAt && windowAt(schedule, startsAt);
  return startsAt && window ? { startsAt, window } : { startsAt: null, window: null };
}

/** The window the run will use, in a sentence; null when the cluster has no windows. */
export function windowText(w: RunWindows, timeZone: string): string | null {
  const at = runWindow(w, timeZone);
  if (!at) return null;
  const rule =
    `windows: ${describeWindows(w.windows)} (${timeZone}); a node is not started with less than ` +
    `${w.windowMarginMinutes} min of its window left`;
  if (!at.window) return `No maintenance window opens within a week, so the run would not start (${rule}).`;
  const open = at.startsAt.getTime() <= w.now.getTime() ? ", open now" : "";
  return `Runs in the maintenance window ${formatWindow(at.window, timeZone)}${open} (${rule}).`;
}

/** `Tue 2 Dec 02:00 CET` when a run approved at `w.now` waits for its window; null when it starts at once. */
export function scheduledFor(w: RunWindows, timeZone: string): string | null {
  const at = runWindow(w, timeZone);
  if (!at?.startsAt || at.startsAt.getTime() <= w.now.getTime()) return null;
  return formatWhen(at.startsAt, timeZone);
}

// --- terminal ------------------------------------------------------------------------------------

function nodeText(node: NodePlan, index: number, plan: RenewalPlan, timeZone: string): string[] {
  const lines = [
    `node ${index + 1}/${plan.nodes.length}: ${node.node} (${node.host}) — kubeadm ${node.kubeadmVersion}, ` +
      `row ${node.versionRule} (${node.method === "renew" ? "renew in place" : "phases, old pair moved aside"})`,
    "  renews:",
  ];
  const width = Math.max(...node.renew.map((c) => c.name.length));
  for (const c of node.renew) {
    lines.push(
      `    ${c.name.padEnd(width)}   ${c.status.toUpperCase().padEnd(9)}   expires ${expiry(c, plan.createdAt, timeZone)}`,
    );
  }
  const conf = node.kubeletConf;
  if (conf)
    lines.push(
      `    ${"kubelet.conf".padEnd(width)}   ${conf.status.toUpperCase().padEnd(9)}   expires ` +
        `${expiry(conf, plan.createdAt, timeZone)} (its own step: kubelet-conf)`,
    );
  for (const s of node.skipped) lines.push(`  skips ${s.name}: ${s.why}`);
  lines.push(`  backup: ${node.backup}`, `  restart: ${node.restart}`, `  health: ${node.healthUrl}`);
  node.steps.forEach((step, i) => {
    lines.push(`  ${i + 1}. ${step.title}: ${step.run}`);
    step.commands.forEach((c, j) => {
      if (step.wait?.before === j) lines.push(`       … wait ${step.wait.what}`);
      lines.push(`       $ ${c.line}`);
    });
    lines.push(`     verify: ${step.verify}`);
    lines.push(`     undo: ${step.undo}`);
    for (const c of step.undoCommands) lines.push(`       $ ${c.line}`);
  });
  lines.push("  rollback when:");
  for (const t of node.rollbackTriggers) lines.push(`    - ${t}`);
  for (const n of node.notRenewed) {
    lines.push(`  not renewed (${n.status}): ${n.name}: ${n.why}.`, `    → ${n.repair}`);
  }
  return lines;
}

/** The left-out nodes by role (each role's why and repair is the same for all its nodes), in plan order. */
function leftOutByRole(plan: RenewalPlan): LeftOutNode[][] {
  const byRole = new Map<string, LeftOutNode[]>();
  for (const left of plan.leftOut ?? []) byRole.set(left.role, [...(byRole.get(left.role) ?? []), left]);
  return [...byRole.values()];
}

const roleNodes = (nodes: readonly LeftOutNode[]): string =>
  `${nodes.length} ${nodes[0]!.role} node${nodes.length === 1 ? "" : "s"}`;

function leftOutText(plan: RenewalPlan): string[] {
  return leftOutByRole(plan).flatMap((nodes) => [
    `left out, ${roleNodes(nodes)} (${nodes.map((n) => `${n.node} (${n.host})`).join(", ")}): ` +
      `each is ${nodes[0]!.why}.`,
    `  → ${nodes[0]!.repair}`,
    ...nodes.flatMap((n) =>
      n.notRenewed.flatMap((f) => [
        `  ${n.node}: not renewed (${f.status}): ${f.name}: ${f.why}.`,
        `    → ${f.repair}`,
      ]),
    ),
    "",
  ]);
}

export function renderPlanText(plan: RenewalPlan, timeZone: string, windows?: RunWindows): string {
  const window = windows && windowText(windows, timeZone);
  return [
    `renewal plan for cluster ${plan.cluster} at ${formatDate(plan.createdAt, timeZone)}` +
      (plan.requestedBy ? `, requested by ${plan.requestedBy}` : ""),
    `renews: ${scopeText(plan)}, on ${plan.nodes.length} node${plan.nodes.length === 1 ? "" : "s"}, one at a time`,
    `renewed leaves valid until about ${formatDate(plan.renewedUntil, timeZone)}; backups stamped ${plan.timestamp}`,
    `approval: ${approvalText(plan, timeZone)}`,
    ...(window ? [`window: ${window}`] : []),
    "",
    ...plan.nodes.flatMap((node, i) => [...nodeText(node, i, plan, timeZone), ""]),
    ...leftOutText(plan),
    ...plan.notes.map((n) => `note: ${n}`),
  ].join("\n");
}

export function renderRefusalText(cluster: string, reason: string): string {
  return [`certs-bot cannot renew cluster ${cluster}:`, ...reason.split("\n").map((l) => `  - ${l}`)].join(
    "\n",
  );
}

// --- Block Kit -----------------------------------------------------------------------------------

/** How much of each node's commands the card shows; "one-line" is a node a line, for very large plans. */
type Detail = "all-commands" | "renew-commands" | "counts" | "one-line";

/** Lines as a ``` block: escaped, and a ``` inside cannot end the block early. */
export const codeBlock = (lines: string[]): string =>
  "```\n" +
  lines
    .map((l) => l.replace(/```/g, "'''").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"))
    .join("\n") +
  "\n```";

function nodeBlocks(
  node: NodePlan,
  index: number,
  plan: RenewalPlan,
  timeZone: string,
  detail: Detail,
): Block[] {
  const renews = [
    ...node.renew.map(
      (c) => `• ${code(c.name)} ${plain(c.status)}, expires ${plain(expiry(c, plan.createdAt, timeZone))}`,
    ),
    ...(node.kubeletConf
      ? [
          `• ${code("kubelet.conf")} ${plain(node.kubeletConf.status)}, expires ` +
            `${plain(expiry(node.kubeletConf, plan.createdAt, timeZone))} (its own step: kubelet-conf)`,
        ]
      : []),
  ];
  const blocks: Block[] = [
    divider(),
    section(
      [
        `*${index + 1}/${plan.nodes.length} · ${plain(node.node, 80)}* (${plain(node.host, 80)}) — kubeadm ${code(node.kubeadmVersion, 40)}, ${plain(node.versionRule)}`,
        ...renews,
      ].join("\n"),
    ),
  ];
  const steps = detail === "renew-commands" ? node.steps.filter((s) => s.id === "renew") : node.steps;
  if (detail !== "counts") {
    const lines = steps.flatMap((s) => [
      `# ${s.title}`,
      ...s.commands.flatMap((c, j) => [
        ...(s.wait?.before === j ? [`# … wait ${s.wait.what}`] : []),
        `$ ${c.line}`,
      ]),
    ]);
    for (const text of packLines(lines, 2900)) blocks.push(section(codeBlock(text.split("\n"))));
  } else {
    const count = node.steps.reduce((n, s) => n + s.commands.length, 0);
    blocks.push(
      section(
        `${count} commands in ${node.steps.length} steps (see the thread or \`certs-bot renew --dry-run\`).`,
      ),
    );
  }
  blocks.push(
    context(
      `backup ${code(node.backup, 300)}`,
      `restart: ${plain(node.restart)}`,
      `verify: ${plain(node.healthUrl, 200)}, served certificate, rescan`,
    ),
  );
  if (node.notRenewed.length) {
    const names = node.notRenewed.map((n) => `${code(n.name)} (${plain(n.status)})`).join(", ");
    blocks.push(context(`:warning: not renewed by kubeadm: ${names}; see below`));
  }
  return blocks;
}

/** Each never-renewed file that needs a look on some node (left-out nodes too), once, with its repair. */
function repairs(plan: RenewalPlan): NodePlan["notRenewed"] {
  const seen = new Map<string, NodePlan["notRenewed"][number]>();
  for (const node of [...plan.nodes, ...(plan.leftOut ?? [])])
    for (const n of node.notRenewed) if (!seen.has(n.name)) seen.set(n.name, n);
  return [...seen.values()];
}

/** One context a role: which nodes the run leaves out, why, and the documented repair. */
const leftOutBlocks = (plan: RenewalPlan): Block[] =>
  leftOutByRole(plan).map((nodes) =>
    context(
      `:no_entry_sign: Left out, ${roleNodes(nodes)} (${plain(nodes.map((n) => n.node).join(", "), 300)}): ` +
        `${plain(nodes[0]!.why)}. ${plain(nodes[0]!.repair, 1200)}`,
    ),
  );

/** A node on one line: the last detail level, when even the counts do not fit. */
const nodeLine = (node: NodePlan, index: number, plan: RenewalPlan): string =>
  `${index + 1}/${plan.nodes.length} · *${plain(node.node, 80)}* (${plain(node.host, 80)}) — kubeadm ` +
  `${code(node.kubeadmVersion, 40)}, renews ${node.renew.length}` +
  (node.notRenewed.length ? `, :warning: ${node.notRenewed.length} not renewed by kubeadm` : "");

/** Where the card goes and how it tells time; `windows` when the cluster keeps to maintenance windows. */
export interface PlanCardOptions {
  channel: string;
  timeZone: string;
  windows?: RunWindows;
  /** The `file:line` of the policy that approved the request: it needs no approval. */
  preApprovedBy?: string;
}

function planMessage(plan: RenewalPlan, opts: PlanCardOptions, detail: Detail): SlackMessage {
  const { channel, timeZone } = opts;
  const window = opts.windows && windowText(opts.windows, timeZone);
  const nodes =
    detail === "one-line"
      ? packLines(plan.nodes.map((node, i) => nodeLine(node, i, plan))).map(section)
      : plan.nodes.flatMap((node, i) => nodeBlocks(node, i, plan, timeZone, detail));
  const blocks: Block[] = [
    header(`Renewal plan: ${plan.cluster}`),
    section(
      [
        `Renews ${plain(scopeText(plan))} on ${plan.nodes.length} node${plan.nodes.length === 1 ? "" : "s"}, one at a time, ` +
          `restart by ${plain(plan.restartStrategy)}.`,
        `Renewed leaves are valid until about ${plain(formatDate(plan.renewedUntil, timeZone))}.`,
        opts.preApprovedBy
          ? `Pre-approved by the renewal policy (${code(opts.preApprovedBy, 300)}): it needs no click.`
          : `Needs ${plain(approvalText(plan, timeZone))}.`,
        ...(window ? [plain(window, 1000)] : []),
        ...(plan.requestedBy ? [`Requested by ${person(plan.requestedBy)}.`] : []),
      ].join("\n"),
    ),
    ...nodes,
    divider(),
    ...leftOutBlocks(plan),
    ...repairs(plan).map((r) =>
      context(`:warning: ${code(r.name)}: ${plain(r.why)}. ${plain(r.repair, 1200)}`),
    ),
    context(
      "A step that fails its check rolls that node back (restore the backup, restart, verify the old state) and stops the run.",
      ...plan.notes.slice(0, 2).map((n) => plain(n, 600)),
    ),
  ];
  return {
    channel,
    text: `Renewal plan for ${plan.cluster}: ${scopeText(plan)} on ${plan.nodes.length} node(s), awaiting approval`,
    blocks,
  };
}

function fitPlan(
  plan: RenewalPlan,
  opts: PlanCardOptions,
  extra: readonly Block[],
  details: readonly Detail[],
): SlackMessage {
  let message: SlackMessage | undefined;
  for (const detail of details) {
    const body = planMessage(plan, opts, detail);
    message = { ...body, blocks: [...body.blocks, ...extra] };
    if (fitsBudget(message)) return message;
  }
  return message!;
}

/** The approval card's body (buttons come with the approval flow), at the most detail that fits. */
export function renderPlanBlocks(plan: RenewalPlan, opts: PlanCardOptions): SlackMessage {
  return fitPlan(plan, opts, [], ["all-commands", "renew-commands", "counts"]);
}

/**
 * The plan with `extra` blocks after it (the approval state and buttons), at the most detail that
 * fits with them; the last level, a node a line, fits any plan of up to a hundred or so nodes.
 */
export function renderPlanCard(
  plan: RenewalPlan,
  opts: PlanCardOptions,
  extra: readonly Block[],
): SlackMessage {
  return fitPlan(plan, opts, extra, ["all-commands", "renew-commands", "counts", "one-line"]);
}
