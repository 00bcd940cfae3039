// What a renewal shows in Slack: the approval card with its state and buttons, the run's
// checklist in the card's thread (one message, updated), a reply per finished step, the final
// summary, `/certs audit`, and the short answers to the requester and to a refused click. Pure:
// data and the clock in, Block Kit out; the edges (Slack, the console) post it.
//
// The rules of present/views.ts hold here too: every reply names its cluster; text that came from a
// node, a user or the audit log goes through `plain`/`code` (escaped, bounded) and a step's output
// through a code block it cannot end; and every message fits Block Kit's limits. A message that
// would not fit (50 nodes, 1000 audit entries) is folded to less detail, then cut with a note
// saying how much is not shown.
import type { AuditEntry } from "../core/renew/ports.js";
import type { ClusterWindows } from "../config/load.js";
import { MENTION, SLACK_ID } from "../config/slack-ids.js";
import { duration, formatDate, formatWhen } from "./time.js";
import {
  code,
  context,
  escapeMrkdwn,
  fitsBudget,
  header,
  listUpTo,
  packLines,
  person,
  plain,
  plural,
  section,
  truncate,
} from "./format.js";
import { APPROVE_ACTION, CANCEL_ACTION, REJECT_ACTION, RUN_NOW_ACTION } from "./actions.js";
import type { ActionsBlock, Block, ButtonElement, ChatReply, SlackMessage } from "./slack-types.js";
import {
  clusterOfRequest,
  countedApprovals,
  runNowNeeded,
  type ApprovalRules,
  type RenewalRequest,
  type RequestState,
} from "../core/renew/approval.js";
import type { ProgressEvent } from "../core/renew/progress.js";
import type { RenewalPlan } from "../core/renew/plan.js";
import {
  codeBlock,
  renderPlanCard,
  renderRefusalText,
  scheduledFor,
  type PlanCardOptions,
} from "./renewal.js";
import type { NodeRun, RenewedCertificate, RunState, StepLine, StepState } from "../core/renew/run-state.js";

// --- small pieces ------------------------------------------------------------------------------

/** A channel id as a channel link, anything else as code. */
const channelLink = (id: string): string => (SLACK_ID.conversation.test(id) ? `<#${id}>` : code(id, 80));

const isoDate = (iso: string | null | undefined, timeZone: string): string =>
  iso ? formatDate(new Date(iso), timeZone) : "-";

/** At most `max` names, escaped, then `and N more`. */
function names(list: readonly string[], max = 20): string {
  return listUpTo(
    list.map((n) => `*${plain(n, 80)}*`),
    max,
  );
}

// Our own rule texts (approval.ts, access.ts) mention people; everything else in them is escaped.

/** Foreign prose escaped for mrkdwn, except the user and group mentions our rule texts contain. */
function escapeKeepingMentions(text: string): string {
  return text
    .split(MENTION)
    .map((part, i) => (i % 2 === 1 ? part : escapeMrkdwn(part)))
    .join("");
}

const measure = (blocks: readonly Block[]): SlackMessage => ({
  channel: "-",
  text: "-",
  blocks: [...blocks],
});

/**
 * `head`, then as many of `lines` as fit (packed into sections), then `tail(left)`: the real
 * message is the measure. Fitting is monotone in the number of lines, so a binary search finds it.
 */
function fitLines(
  head: readonly Block[],
  lines: readonly string[],
  tail: (left: number) => Block[],
): { blocks: Block[]; left: number } {
  const build = (n: number): Block[] => [
    ...head,
    ...packLines(lines.slice(0, n)).map(section),
    ...tail(lines.length - n),
  ];
  const fits = (n: number): boolean => fitsBudget(measure(build(n)));
  if (fits(lines.length)) return { blocks: build(lines.length), left: 0 };
  let lo = 0;
  let hi = lines.length;
  while (lo + 1 < hi) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return { blocks: build(lo), left: lines.length - lo };
}

/** The first level of detail whose lines all fit; the last level is cut to fit. */
function fold(
  head: readonly Block[],
  levels: readonly (readonly string[])[],
  tail: (left: number) => Block[],
): Block[] {
  for (const lines of levels.slice(0, -1)) {
    const fit = fitLines(head, lines, tail);
    if (fit.left === 0) return fit.blocks;
  }
  return fitLines(head, levels[levels.length - 1] ?? [], tail).blocks;
}

const moreLines = (left: number): Block[] =>
  left > 0 ? [context(`… ${plural(left, "more line")} not shown (Slack's message size).`)] : [];

// --- the approval card --------------------------------------------------------------------------

const STATE_WORDS: Record<RequestState, string> = {
  pending: "waiting for approval",
  approved: "approved, starting",
  rejected: "rejected",
  expired: "expired",
  cancelled: "cancelled",
  running: "running",
  done: "renewed",
  failed: "failed",
};

function approvalsText(request: RenewalRequest, timeZone: string): string {
  const byPolicy = request.policy?.preApproved ? [`policy (${code(request.policy.source, 300)})`] : [];
  return [
    ...byPolicy,
    ...request.approvals.map((a) => `${person(a.user)} (${formatDate(a.at, timeZone)})`),
  ].join(", ");
}

interface CardContext {
  cluster: string;
  timeZone: string;
  now: Date;
  /** Today's rules (the config that draws the card), not those of the time of the request. */
  rules: ApprovalRules;
  /** When the approved run starts its first node, when that waits for a maintenance window. */
  scheduled: string | null;
}

function pendingLines(request: RenewalRequest, { cluster, timeZone, now, rules }: CardContext): string[] {
  const needed = Math.max(1, rules.requiredApprovals);
  const who = needed === 1 ? "1 approval" : `${needed} approvals from different approvers`;
  const self = rules.allowSelfApproval ? "the requester may approve too" : "not the requester";
  const counted = countedApprovals(request, rules).length;
  return [
    `:hourglass_flowing_sand: *Waiting for approval*: ${counted} of ${needed} so far.`,
    `Needs ${who} of *${cluster}* (${self}).`,
    ...(request.approvals.length ? [`Approved so far by ${approvalsText(request, timeZone)}.`] : []),
    ...(counted < request.approvals.length
      ? ["The requester's own approval does not count: self-approval is off now."]
      : []),
    `Expires at ${formatDate(request.expiresAt, timeZone)} (in ${duration(request.expiresAt.getTime() - now.getTime(), "precise")}).`,
  ];
}

function rejectedLine(request: RenewalRequest, timeZone: string): string {
  const r = request.rejection;
  if (!r) return ":no_entry: *Rejected*.";
  const verb = r.user === request.requestedBy ? "Withdrawn" : "Rejected";
  return `:no_entry: *${verb}* by ${person(r.user)} at ${formatDate(r.at, timeZone)}${r.reason ? `: ${plain(r.reason, 500)}` : "."}`;
}

const runNowBy = (request: RenewalRequest): string =>
  (request.runNow ?? []).map((a) => person(a.user)).join(", ");

/** An approved run that waits for its window: when it starts, and what Cancel and Run now do. */
function scheduledLines(
  request: RenewalRequest,
  approved: string,
  scheduled: string,
  card: CardContext,
): string[] {
  const votes = request.runNow?.length ?? 0;
  return [
    `:white_check_mark: *Approved* by ${approved} — scheduled for ${scheduled}, in its maintenance window; ` +
      "progress in the thread.",
    "*Cancel* stops it before it starts (the requester or an approver). *Run now* starts it at once " +
      `with ${runNowNeeded(card.rules)} approvals from approvers other than the requester and those who approved` +
      (votes ? ` (${votes} so far: ${runNowBy(request)}).` : "."),
  ];
}

/** What the card says about the request now, a line each. */
function stateLines(request: RenewalRequest, card: CardContext): string[] {
  const { cluster, timeZone, now, rules, scheduled } = card;
  const at = (d: Date | undefined): string => (d ? formatDate(d, timeZone) : "-");
  const approved = approvalsText(request, timeZone);
  const requested = request.policy
    ? `Filed by certs-bot's renewal policy (${code(request.policy.source, 300)}) at ${at(request.requestedAt)}.`
    : `Requested by ${person(request.requestedBy)} at ${at(request.requestedAt)}.`;
  if (scheduled) return [...scheduledLines(request, approved, scheduled, card), requested];
  switch (shownState(request, now)) {
    case "pending":
      return [...pendingLines(request, card), requested];
    case "expired":
      return [
        `:alarm_clock: *Expired* at ${at(request.expiresAt)} with ${countedApprovals(request, rules).length} of ` +
          `${rules.requiredApprovals} approvals; \`/certs renew ${cluster}\` makes a new request.`,
        requested,
      ];
    case "rejected":
      return [rejectedLine(request, timeZone), requested];
    case "cancelled": {
      const c = request.cancellation;
      const by = c ? ` by ${person(c.user)} at ${formatDate(c.at, timeZone)}` : "";
      return [
        `:no_entry_sign: *Cancelled*${by} before it started (approved by ${approved}); nothing was run. ` +
          `\`/certs renew ${cluster}\` makes a new request.`,
        requested,
      ];
    }
    case "approved":
      return [
        `:white_check_mark: *Approved* by ${approved}` +
          (request.windowsWaived ? `; *Run now* approved by ${runNowBy(request)}, outside its window` : "") +
          "; starting — progress in the thread.",
        requested,
      ];
    case "running":
      return [
        `⏳ *Running* since ${at(request.startedAt)}, approved by ${approved} — progress in the thread.`,
        requested,
      ];
    case "done":
      return [
        `:white_check_mark: *Renewed*: ran ${at(request.startedAt)} to ${at(request.endedAt)}, approved by ` +
          `${approved}; the summary is in the thread.`,
        requested,
      ];
    case "failed":
      return [
        `:x: *Failed* at ${at(request.endedAt)} (approved by ${approved}); the thread says what happened ` +
          "and what to do now.",
        ...(request.outcome ? [plain(request.outcome, 600)] : []),
        requested,
      ];
  }
}

/** A pending request past its window already shows as expired (a click would only close it). */
export const shownState = (request: RenewalRequest, now: Date): RequestState =>
  request.state === "pending" && now.getTime() >= request.expiresAt.getTime() ? "expired" : request.state;

/**
 * `Tue 2 Dec 02:00 CET` when the approved run waits for its maintenance window (none: it does not).
 * A run whose first attempt found itself outside its window is "running" but has started nothing.
 */
export function scheduledStart(
  request: RenewalRequest,
  windows: ClusterWindows | undefined,
  now: Date,
  timeZone: string,
): string | null {
  const state = shownState(request, now);
  const waiting = state === "approved" || (state === "running" && !request.nodeStartedAt);
  return windows && waiting && !request.windowsWaived ? scheduledFor({ ...windows, now }, timeZone) : null;
}

const button = (
  text: string,
  style: "primary" | "danger",
  actionId: string,
  value: string,
): ButtonElement => ({
  type: "button",
  text: { type: "plain_text", text },
  style,
  action_id: actionId,
  value,
});

/** Run now and Cancel, while an approved run waits for its maintenance window. */
const waitingButtons = (request: RenewalRequest): ActionsBlock => ({
  type: "actions",
  elements: [
    button("Run now", "primary", RUN_NOW_ACTION, request.id),
    button("Cancel", "danger", CANCEL_ACTION, request.id),
  ],
});

const buttons = (request: RenewalRequest): ActionsBlock => ({
  type: "actions",
  elements: [
    button("Approve", "primary", APPROVE_ACTION, request.id),
    button("Reject", "danger", REJECT_ACTION, request.id),
  ],
});

/**
 * The plan, the request's state and, only while it can be approved, Approve and Reject. Both the
 * plan's "Needs …" and the state show `opts.rules` (today's), never the rules the plan was made with.
 */
export function renderApprovalCard(
  plan: RenewalPlan,
  request: RenewalRequest,
  opts: {
    channel: string;
    timeZone: string;
    now: Date;
    rules: ApprovalRules;
    /** The cluster's maintenance windows (none: any time). */
    windows?: ClusterWindows;
  },
): SlackMessage {
  const { rules, now, timeZone } = opts;
  const state = shownState(request, now);
  const windows = opts.windows && { ...opts.windows, now };
  const scheduled = scheduledStart(request, opts.windows, now, timeZone);
  const extra: Block[] = [
    section(stateLines(request, { ...opts, cluster: plan.cluster, scheduled }).join("\n")),
    context(`request ${code(request.id, 120)}`),
    ...(state === "pending" ? [buttons(request)] : scheduled ? [waitingButtons(request)] : []),
  ];
  const approval = {
    ...plan.approval,
    requiredApprovals: rules.requiredApprovals,
    allowSelfApproval: rules.allowSelfApproval,
  };
  const cardOpts: PlanCardOptions = {
    channel: opts.channel,
    timeZone,
    ...(windows ? { windows } : {}),
    ...(request.policy?.preApproved ? { preApprovedBy: request.policy.source } : {}),
  };
  const card = renderPlanCard({ ...plan, approval }, cardOpts, extra);
  const words = scheduled ? `approved — scheduled for ${scheduled}` : STATE_WORDS[state];
  return { ...card, text: `Renewal of ${plan.cluster}: ${words} (request ${request.id})` };
}

// --- the run: checklist, step replies, summary --------------------------------------------------

/**
 * The one place run states become icons: saved states are words (run-state.ts), so an icon can
 * change without changing job data. A node's and a step's states share the words; a node not
 * reached yet is "waiting", a step "pending".
 */
const MARK: Record<NodeRun["state"] | StepState, string> = {
  waiting: "·",
  pending: "·",
  running: "⏳",
  done: "✅",
  failed: "❌",
  skipped: "⏭",
};

const eventMark = (event: ProgressEvent): string => MARK[event.skipped ? "skipped" : event.status];

const INDENT = "      ";

/** A finished step's time; a skipped one says why it did not run. */
function stepTime(step: StepLine): string {
  if (step.state === "skipped") return " (postcondition held)";
  const finished = step.state === "done" || step.state === "failed";
  return finished && step.durationMs !== undefined ? ` ${duration(step.durationMs, "precise")}` : "";
}

const stepLine = (step: StepLine): string =>
  `${INDENT}${MARK[step.state]} ${step.step}${stepTime(step)}${step.error ? ` — ${plain(step.error, 300)}` : ""}`;

const nodeTime = (node: NodeRun): number => node.steps.reduce((sum, s) => sum + (s.durationMs ?? 0), 0);

function nodeStateText(node: NodeRun): string {
  switch (node.state) {
    case "waiting":
      return "waiting";
    case "running":
      return "running";
    case "done":
      return `done in ${duration(nodeTime(node), "precise")}`;
    case "skipped":
      return "not run: an earlier node failed";
    case "failed": {
      const at = node.failure
        ? `failed at ${node.failure.step}: ${plain(node.failure.error, 300)}`
        : "failed";
      if (!node.rollback) return `${at}; it was not changed`;
      return node.rollback.ok
        ? `${at}; rolled back to its old certificates`
        : `${at}; *ROLLBACK FAILED*${node.rollback.error ? `: ${plain(node.rollback.error, 300)}` : ""}`;
    }
  }
}

const nodeHeadline = (node: NodeRun): string =>
  `${MARK[node.state]} *${plain(node.node, 80)}* (${plain(node.host, 80)}) — ${nodeStateText(node)}`;

/** Nodes in one state on one line: the coarsest detail. */
function groupLines(nodes: readonly NodeRun[], state: NodeRun["state"], what: string): string[] {
  const group = nodes.filter((n) => n.state === state).map((n) => n.node);
  return group.length ? [`${MARK[state]} ${what} (${group.length}): ${names(group)}`] : [];
}

/** Running and failed nodes are the ones someone is watching: they keep their steps longest. */
const active = (node: NodeRun): boolean => node.state === "running" || node.state === "failed";

interface Verdict {
  mark: string;
  /** `renewed`, `failed on m2 and was rolled back`, … */
  words: string;
  failed?: NodeRun;
}

function verdict(state: RunState): Verdict {
  if (!state.outcome) return { mark: "⏳", words: "running" };
  if (state.outcome === "done") return { mark: ":white_check_mark:", words: "renewed" };
  const failed = state.nodes.find((n) => n.state === "failed");
  if (!failed) return { mark: ":x:", words: "failed" };
  const on = `failed on ${failed.node}`;
  if (!failed.rollback) return { mark: ":x:", words: `${on} before changing it`, failed };
  return failed.rollback.ok
    ? { mark: ":x:", words: `${on} and was rolled back`, failed }
    : { mark: "🚨", words: `${on} and its ROLLBACK FAILED`, failed };
}

function runTimes(state: RunState, timeZone: string, now?: Date): string {
  const started = `started ${isoDate(state.startedAt, timeZone)}`;
  const since = (end: number): number => end - new Date(state.startedAt).getTime();
  if (state.endedAt)
    return `${started}, took ${duration(since(new Date(state.endedAt).getTime()), "precise")}`;
  return now ? `${started}, ${duration(since(now.getTime()), "precise")} so far` : started;
}

function runContext(state: RunState, timeZone: string, now?: Date): Block {
  const attempt = state.attempts > 1 ? ` · attempt ${state.attempts} (resumed after a restart)` : "";
  return context(`request ${code(state.requestId, 120)} · ${runTimes(state, timeZone, now)}${attempt}`);
}

/** The checklist in the card's thread: one message, updated as the run goes. */
export function renderRunStatus(state: RunState, opts: { timeZone: string; now: Date }): ChatReply {
  if (state.cancelled) return renderRunCancelled(state, state.cancelled, opts.timeZone);
  const { mark, words } =
    state.resumesAt && !state.outcome
      ? {
          mark: "⏸️",
          words: `waiting for its maintenance window, goes on ${formatWhen(new Date(state.resumesAt), opts.timeZone)}`,
        }
      : verdict(state);
  const current = state.nodes.findIndex((n) => n.state === "running");
  const where = current >= 0 && !state.outcome ? ` · node ${current + 1} of ${state.nodes.length}` : "";
  const head = [
    section(`${mark} *Renewal of ${state.cluster}* — ${plain(words)}${where}`),
    runContext(state, opts.timeZone, opts.now),
  ];
  // A node that has not started has nothing to show but its state.
  const started = (n: NodeRun): boolean => n.state !== "waiting" && n.state !== "skipped";
  const full = (n: NodeRun): string[] => [nodeHeadline(n), ...(started(n) ? n.steps.map(stepLine) : [])];
  const levels = [
    state.nodes.flatMap(full),
    state.nodes.flatMap((n) => (active(n) ? full(n) : [nodeHeadline(n)])),
    [
      ...groupLines(state.nodes, "done", "done"),
      ...state.nodes.filter(active).flatMap(full),
      ...groupLines(state.nodes, "waiting", "waiting"),
      ...groupLines(state.nodes, "skipped", "not run, an earlier node failed"),
    ],
  ];
  return {
    text: `Renewal of ${state.cluster}: ${words}${where}`,
    blocks: fold(head, levels, moreLines),
  };
}

/** The checklist of a run cancelled while it waited for its window: nothing ran. */
function renderRunCancelled(state: RunState, by: { by: string; at: string }, timeZone: string): ChatReply {
  const when = formatDate(new Date(by.at), timeZone);
  return {
    text: `Renewal of ${state.cluster}: cancelled before it started; nothing was run`,
    blocks: [
      section(
        `:no_entry_sign: *Renewal of ${state.cluster}* — cancelled by ${person(by.by)} at ${when} ` +
          "before it started; nothing was run.",
      ),
      runContext({ ...state, endedAt: by.at }, timeZone),
    ],
  };
}

const EXCERPT_MAX = 2_900;

/** Characters a raw character takes once escaped for mrkdwn. */
const escapedSize = (ch: string): number => (ch === "&" ? 5 : ch === "<" || ch === ">" ? 4 : 1);

/** The longest tail of `text` whose escaped form fits `max`: the end of a log is what explains it. */
function tailToFit(text: string, max: number): string {
  let size = 0;
  let start = text.length;
  while (start > 0 && size + escapedSize(text[start - 1]!) <= max) size += escapedSize(text[--start]!);
  if (start > 0 && /[\udc00-\udfff]/.test(text[start] ?? "")) start++; // not half a surrogate pair
  return start === 0 ? text : `…${text.slice(start)}`;
}

/** One reply in the thread per finished step, with the tail of its output. */
export function renderStepReply(event: ProgressEvent, cluster: string): ChatReply {
  const mark = eventMark(event);
  const took = event.skipped ? "skipped, its postcondition held" : duration(event.durationMs, "precise");
  const node = plain(event.node, 80);
  const error = event.error ? [`error: ${plain(event.error, 1000)}`] : [];
  const excerpt = event.excerpt.trim();
  return {
    text: `${cluster}: ${mark} ${node} · ${event.step} · ${took}`,
    blocks: [
      section([`${mark} *${node}* · ${event.step} · ${took} · _${cluster}_`, ...error].join("\n")),
      ...(excerpt ? [section(codeBlock(tailToFit(excerpt, EXCERPT_MAX).split("\n")))] : []),
    ],
  };
}

/** The audit's line for a finished step: `cp-2: renew ❌ after 0.4s: …`. */
export function renderStepAudit(event: ProgressEvent): string {
  const mark = eventMark(event);
  if (event.skipped) return `${event.node}: ${event.step} ${mark} ${event.excerpt}`;
  const verb = event.status === "done" ? "in" : "after";
  return `${event.node}: ${event.step} ${mark} ${verb} ${duration(event.durationMs, "seconds")}${event.error ? `: ${event.error}` : ""}`;
}

function certLine(cert: RenewedCertificate, timeZone: string): string {
  const change = `${isoDate(cert.notAfterBefore, timeZone)} → ${isoDate(cert.notAfterAfter, timeZone)}`;
  return `${INDENT}• ${code(cert.name, 80)} ${change}${cert.changed ? "" : " *unchanged*"}`;
}

/** A node's certificates in one phrase: how many changed, the earliest new expiry, which did not. */
function certSummary(node: NodeRun, timeZone: string): string {
  const renewed = node.renewed ?? [];
  if (renewed.length === 0) return "";
  const changed = renewed.filter((c) => c.changed);
  const unchanged = renewed.filter((c) => !c.changed).map((c) => code(c.name, 80));
  const earliest = changed
    .map((c) => c.notAfterAfter)
    .filter((d): d is string => d !== null)
    .sort()[0];
  return (
    ` · ${changed.length} of ${renewed.length} renewed` +
    (earliest ? `, now valid until ${isoDate(earliest, timeZone)} or later` : "") +
    (unchanged.length ? `; *unchanged*: ${unchanged.join(", ")}` : "")
  );
}

/** What happened, and what a person must do now when certs-bot could not put things back. */
function outcomeText(state: RunState): string {
  const { mark, failed } = verdict(state);
  const cluster = state.cluster;
  const renewed = state.nodes.filter((n) => n.state === "done");
  const count = renewed.reduce((sum, n) => sum + (n.renewed ?? []).filter((c) => c.changed).length, 0);
  const kept = renewed.length
    ? ` ${names(renewed.map((n) => n.node))} ${renewed.length === 1 ? "keeps its" : "keep their"} renewed certificates.`
    : "";
  if (!state.outcome) return `${mark} Renewal of *${cluster}* is still running.`;
  if (state.outcome === "done") {
    return `${mark} *${cluster}* renewed: ${plural(count, "certificate")} on ${plural(renewed.length, "node")}.`;
  }
  if (state.refused) return `${mark} Renewal of *${cluster}* ${plain(state.refused, 1200)}`;
  if (!failed) {
    return `${mark} Renewal of *${cluster}* failed before it finished; the replies above say why. \`/certs scan ${cluster}\` shows what the nodes hold now.`;
  }
  const node = `*${plain(failed.node, 80)}*`;
  const cause = failed.failure ? ` at \`${failed.failure.step}\`: ${plain(failed.failure.error, 300)}` : "";
  if (failed.rollback && !failed.rollback.ok) {
    const backup = failed.progress?.backup ? ` ${code(failed.progress.backup, 300)}` : " certs-bot took";
    return (
      `${mark} Renewal of *${cluster}* failed on ${node}${cause}, and the *ROLLBACK FAILED*` +
      `${failed.rollback.error ? `: ${plain(failed.rollback.error, 300)}` : ""}.\n` +
      `*A person must act now: ${node} may be down or half-renewed.* On ${node}: restore the backup${backup} ` +
      "over the kubernetes directory, restart the control plane (its static pods and the kubelet), and " +
      `check that its apiserver answers and serves a valid certificate (the runbook in certs-bot's ` +
      `docs/operations.md, step by step); then \`/certs scan ${cluster}\`. ` +
      `Request no new renewal until ${node} is healthy.${kept}`
    );
  }
  const back = failed.rollback
    ? `${node} was rolled back to its old certificates and verified.`
    : `${node} was not changed.`;
  return (
    `${mark} Renewal of *${cluster}* failed on ${node}${cause}. ${back}${kept} Fix the cause (the replies ` +
    `above show the output), then request a new renewal with \`/certs renew ${cluster}\`.`
  );
}

/** The final reply: the outcome, then per node each certificate's expiry before → after. */
export function renderRunSummary(state: RunState, opts: { timeZone: string }): ChatReply {
  const { timeZone } = opts;
  const { words, failed } = verdict(state);
  const act = failed?.rollback?.ok === false ? " — a person must act now" : "";
  const head = [
    header(`Renewal of ${state.cluster}: ${words}`),
    section(outcomeText(state)),
    runContext(state, timeZone),
  ];
  const ran = state.nodes.filter((n) => n.state === "done" || n.state === "failed");
  const notRun = [
    ...groupLines(
      state.nodes,
      "skipped",
      "not run because an earlier node failed; still on their old certificates",
    ),
    ...groupLines(state.nodes, "waiting", "not reached"),
    ...groupLines(state.nodes, "running", "did not finish"),
  ];
  const brief = (n: NodeRun): string => nodeHeadline(n) + certSummary(n, timeZone);
  const allChanged = (n: NodeRun): boolean => n.state === "done" && (n.renewed ?? []).every((c) => c.changed);
  const levels = [
    [
      ...ran.flatMap((n) => [nodeHeadline(n), ...(n.renewed ?? []).map((c) => certLine(c, timeZone))]),
      ...notRun,
    ],
    [...ran.map(brief), ...notRun],
    [
      ...groupLines(ran.filter(allChanged), "done", "renewed every planned certificate on"),
      ...ran.filter((n) => !allChanged(n)).map(brief),
      ...notRun,
    ],
  ];
  return {
    text: `Renewal of ${state.cluster}: ${words}${act}`,
    blocks: fold(head, levels, moreLines),
  };
}

// --- /certs audit -------------------------------------------------------------------------------

/** `20261128T090000Z-3f2a9c`: the id without its cluster, the hash cut (the full id is on the card). */
function shortRequestId(id: string, cluster: string): string {
  const rest = id.startsWith(`${cluster}-`) ? id.slice(cluster.length + 1) : id;
  return clusterOfRequest(id) === cluster ? rest.slice(0, 23) : rest;
}

function auditLine(entry: AuditEntry, cluster: string, timeZone: string): string {
  return [
    formatDate(entry.at, timeZone),
    `*${plain(entry.kind, 40)}*`,
    entry.actor ? person(entry.actor) : "certs-bot",
    ...(entry.requestId ? [code(shortRequestId(entry.requestId, cluster), 80)] : []),
    plain(entry.detail, 1000),
  ].join(" · ");
}

/** `/certs audit CLUSTER`: the newest entries that fit, and how many more there are. */
export function renderAudit(
  cluster: string,
  entries: readonly AuditEntry[],
  opts: { timeZone: string; now: Date },
): ChatReply {
  if (entries.length === 0) {
    const text = `No renewals or snoozes recorded for ${cluster} yet.`;
    return { text, blocks: [section(`No renewals or snoozes recorded for *${cluster}* yet.`)] };
  }
  const newest = [...entries].sort((a, b) => b.at.getTime() - a.at.getTime());
  const head = [header(`Audit: ${cluster}`)];
  const total = newest.length;
  const tail = (left: number): Block[] => [
    context(
      (left
        ? `showing the newest ${total - left} of ${total} entries`
        : `${plural(total, "entry", "entries")}, newest first`) +
        ` · as of ${formatDate(opts.now, opts.timeZone)}`,
    ),
  ];
  const lines = newest.map((e) => auditLine(e, cluster, opts.timeZone));
  return {
    text: `Audit of ${cluster}: ${plural(total, "entry", "entries")}`,
    blocks: fitLines(head, lines, tail).blocks,
  };
}

// --- short answers ----------------------------------------------------------------------------

/** To the requester: where the card is. */
export function renderRenewalRequested(cluster: string, requestId: string, channel: string): ChatReply {
  return {
    text: `Renewal plan for ${cluster} posted for approval (request ${requestId})`,
    blocks: [
      section(
        `:white_check_mark: Renewal plan for *${cluster}* posted in ${channelLink(channel)} for approval ` +
          `(request ${code(requestId, 120)}).`,
      ),
    ],
  };
}

/** To the requester: no plan, with every reason (they come from the planner and the desk). */
/**
 * The console's word on an approved run outside its windows: serve keeps such a run as a delayed
 * job, a console session keeps it only while it lasts.
 */
export function renderRunWaiting(cluster: string, resumesAt: Date, timeZone: string): ChatReply {
  const when = formatWhen(resumesAt, timeZone);
  return {
    text: `The renewal of ${cluster} waits for its maintenance window, goes on ${when}.`,
    blocks: [
      section(
        `:hourglass_flowing_sand: The renewal of *${cluster}* waits for its maintenance window, goes on *${when}*; ` +
          "nothing was touched. This console keeps the request only while it runs: `serve` keeps it, " +
          "and runs it then.",
      ),
    ],
  };
}

export function renderRenewalRefused(cluster: string, reason: string): ChatReply {
  const reasons = reason.split("\n").filter((l) => l.trim());
  const head = [section(`:no_entry: certs-bot cannot renew *${cluster}*:`)];
  const lines = reasons.map((r) => `• ${escapeKeepingMentions(truncate(r, 1000))}`);
  return {
    text: truncate(renderRefusalText(cluster, reasons.join("\n")), 3000),
    blocks: fitLines(head, lines, (left) => [...moreLines(left), context("Nothing was run.")]).blocks,
  };
}

/**
 * Why a cluster takes no new request (core/renew/admission.ts): its active request, who asked for it
 * and when, and until when it holds the cluster.
 */
export function renderClusterHeld(active: RenewalRequest, timeZone: string): string {
  const until =
    active.state === "pending"
      ? `it expires at ${formatDate(active.expiresAt, timeZone)} unless approved`
      : "it holds the cluster until its run ends";
  return (
    `a renewal of ${active.cluster} is already ${active.state} (request ${active.id}, requested by ` +
    `${person(active.requestedBy)} at ${formatDate(active.requestedAt, timeZone)}; ${until}).`
  );
}

/** To a clicker only: why their Approve or Reject did not count. */
export function renderClickRefused(cluster: string, reason: string): ChatReply {
  return {
    text: `${cluster}: your click was refused: ${truncate(reason, 500)}`,
    blocks: [section(`:lock: *${cluster}*: ${escapeKeepingMentions(truncate(reason, 2000))}`)],
  };
}
