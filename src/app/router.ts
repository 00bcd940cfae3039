// `/certs TEXT` from a user in a channel → what to answer and whether to queue a scan. handleCommand
// is pure: the edge (Bolt, the console) fetches the latest reports and user groups it needs
// (decideCommand does that through any ChatBackend), then acks, posts `reply` in order (ephemeral
// or in the channel) and queues `enqueueScan`. Nothing but decideCommand waits.
//
// Order of checks, each answering alone:
//   1. the text parses (length, shell characters, subcommand, arguments, flags);
//   2. the cluster exists and is shown in this channel: an unknown name gets suggestions among the
//      clusters of this channel only; a cluster that exists but is not shown here gets a refusal
//      (the user typed its exact name, so that says nothing they did not know);
//   3. `scan`, `renew`, `snooze` and `unsnooze` need an operator; `audit`, `snoozes` and `policy`
//      are shown to whoever may see the cluster here;
//   4. `status --node` and `renew --node` name a node of that cluster (suggestions among its nodes);
//      `snooze` takes a duration within the cluster's `alerts.maxSnoozeDays`.
// Errors and refusals are ephemeral (only the user sees them) and never enqueue anything. `help`,
// `audit`, `snoozes` and `renew`'s answers are ephemeral too (the plan itself goes to the cluster's
// channel as the approval card); `list`, `status`, `policy` and `scan` answer in the channel, where
// the team can see them (the channel is a viewer of every cluster shown), except a `list` with
// nothing to show (no cluster matches, a page past the end); and so do a snooze and an unsnooze
// once done (decideCommand does them: app/snooze.ts; what is not open is refused there).
import { findCluster, type ClusterConfig, type Config } from "../config/load.js";
import type { AuditEntry } from "../core/renew/ports.js";
import type { StoredScan } from "../core/report/types.js";
import { allAsOf, asOf } from "../core/scan/as-of.js";
import { renderAudit } from "../present/thread.js";
import type { ChatBackend } from "../core/chat/backend.js";
import { suggestNames } from "../config/suggest.js";
import { canOperate, canView, groupsToCheck, visibleClusters, visibleNames } from "../core/access/access.js";
import { checkCluster, parseCommand, type ClusterCommand, type ParseResult } from "../present/command.js";
import {
  renderCommandError,
  renderHelp,
  renderNoReport,
  renderRefusal,
  renderRenewalPlanning,
  renderScanQueued,
  renderStatus,
  renderUnknownNode,
} from "../present/views.js";
import type { ChatReply } from "../present/slack-types.js";
import { renderList, type ListCluster } from "../present/list.js";
import type { AlertState } from "../core/alerts/state.js";
import { activeQuiets } from "../core/alerts/quiet.js";
import { parseSnoozeDuration, renderSnoozes } from "../present/snooze.js";
import { applyQuiet, type QuietChange } from "./snooze.js";
import { renderPolicy, type PolicyRecords } from "../present/policy.js";

export interface CommandRequest {
  /** What follows `/certs`, as Slack sends it. */
  text: string;
  userId: string;
  channelId: string;
  /** The user groups (S…) the user belongs to, resolved by the edge. */
  userGroups: readonly string[];
  /** The text already parsed (decideCommand parses it once for every question below). */
  parsed?: ParseResult;
}

/** What the questions below read of a request: its text, or that text already parsed. */
type Asked = Pick<CommandRequest, "text" | "channelId" | "parsed">;

const parsedOf = (request: Pick<CommandRequest, "text" | "parsed">): ParseResult =>
  request.parsed ?? parseCommand(request.text);

export interface RouterDeps {
  config: Config;
  /** The latest stored scan of a cluster, already fetched (see reportsNeeded). */
  latest: (cluster: string) => StoredScan | null;
  /** The newest audit entries of a cluster, already fetched (see auditNeeded). */
  audit?: (cluster: string) => AuditEntry[];
  /** The alert state of a cluster, already fetched (see alertsNeeded). */
  alerts?: (cluster: string) => AlertState | null;
  /** What the renewal records say of a cluster, already fetched (see policyNeeded). */
  renewals?: (cluster: string) => PolicyRecords | null;
  /** The clusters a list shows with their scans (by default each cluster's `latest`). */
  listed?: (clusters: readonly ClusterConfig[]) => readonly ListCluster[];
  now: Date;
}

/** What a command has read of what it did not need. */
const NOTHING = {
  reports: new Map<string, StoredScan | null>(),
  groups: [] as string[],
  audit: [] as AuditEntry[],
  alerts: new Map<string, AlertState>(),
} as const;

/** A snooze of many warnings notes it in this many of their threads at most (Slack's pace). */
const MAX_THREAD_NOTES = 10;

/** How many audit entries `/certs audit` reads (the view shows the newest that fit). */
export const AUDIT_ENTRIES = 50;

export interface RouterDecision {
  /** Messages to post, in order. */
  reply: ChatReply[];
  /** Only the user sees the reply. */
  ephemeral: boolean;
  /** Queue a scan of this cluster; the edge answers with renderScanDone when it is stored. */
  enqueueScan?: string;
  /** Ask for a renewal (RenewalDesk.request); the edge answers with its outcome. */
  requestRenewal?: { cluster: string; node?: string; certs?: string[] };
  /** A snooze or unsnooze to do; decideCommand does it and answers with its outcome in `reply`. */
  quiet?: QuietChange;
}

const ephemeral = (reply: ChatReply): RouterDecision => ({ reply: [reply], ephemeral: true });

/**
 * The clusters whose latest report handleCommand will ask for, so the edge can fetch exactly those
 * (in one round trip) before calling it.
 */
export function reportsNeeded(request: Asked, config: Config): readonly string[] {
  const parsed = parsedOf(request);
  if (!parsed.ok) return [];
  const { command } = parsed;
  if (command.kind === "list") return visibleNames(config, request.channelId);
  if (command.kind === "status" || command.kind === "policy") {
    return shownHere(command.cluster, request.channelId, config);
  }
  return [];
}

/** The cluster whose audit entries handleCommand will show (`/certs audit` of a cluster shown here). */
export function auditNeeded(request: Asked, config: Config): string[] {
  const parsed = parsedOf(request);
  if (!parsed.ok || parsed.command.kind !== "audit") return [];
  return shownHere(parsed.command.cluster, request.channelId, config);
}

/** The cluster whose renewal records `/certs policy` reads (one shown here). */
export function policyNeeded(request: Asked, config: Config): string[] {
  const parsed = parsedOf(request);
  if (!parsed.ok || parsed.command.kind !== "policy") return [];
  return shownHere(parsed.command.cluster, request.channelId, config);
}

/** The clusters whose alert states `/certs snoozes` lists (one named, else those shown here). */
export function alertsNeeded(request: Asked, config: Config): string[] {
  const parsed = parsedOf(request);
  if (!parsed.ok || parsed.command.kind !== "snoozes") return [];
  const { cluster } = parsed.command;
  if (cluster !== undefined) return shownHere(cluster, request.channelId, config);
  return visibleClusters(config, request.channelId).map((c) => c.name);
}

const OPERATED = new Set(["scan", "renew", "snooze", "unsnooze"]);

const shownHere = (name: string, channelId: string, config: Config): string[] => {
  const cluster = findCluster(config, name);
  return cluster && canView(cluster, channelId).allowed ? [cluster.name] : [];
};

/**
 * The user groups whose membership handleCommand's answer depends on: only `scan` and `renew` of a
 * cluster shown here ask, and only when the user is not an operator by name.
 */
export function groupsNeeded(request: Asked & Pick<CommandRequest, "userId">, config: Config): string[] {
  const parsed = parsedOf(request);
  if (!parsed.ok || !OPERATED.has(parsed.command.kind) || !("cluster" in parsed.command)) return [];
  const [name] = shownHere(parsed.command.cluster ?? "", request.channelId, config);
  const cluster = name === undefined ? undefined : findCluster(config, name);
  return cluster ? groupsToCheck(cluster.operators, request.userId) : [];
}

/** What handleCommand will read for this request: nothing at all for help, a usage error or a refusal. */
function readsOf(request: Asked & Pick<CommandRequest, "userId">, config: Config) {
  const reads = {
    reports: reportsNeeded(request, config),
    groups: groupsNeeded(request, config),
    alerts: alertsNeeded(request, config),
    audited: auditNeeded(request, config)[0],
    policed: policyNeeded(request, config)[0],
  };
  const others = reads.groups.length || reads.alerts.length || reads.audited || reads.policed;
  return { ...reads, none: !reads.reports.length && !others, scansOnly: reads.reports.length > 0 && !others };
}

/**
 * What every edge does with `/certs TEXT`: fetch the reports and user groups the answer needs (in
 * parallel, one store round trip), then decide. What reads nothing (help, a usage error, a refusal),
 * or only scans the backend has at hand (status and list, while the scans kept in memory are known
 * current), is decided at once, with no promise in between. Slack's deadline is the edge's business.
 */
export function decideCommand(
  backend: ChatBackend,
  config: Config,
  typed: Omit<CommandRequest, "userGroups" | "parsed">,
  now: Date,
): RouterDecision | Promise<RouterDecision> {
  const request = { ...typed, parsed: parseCommand(typed.text) };
  const needs = readsOf(request, config);
  if (needs.none) return decide(backend, config, request, needs, READ_NOTHING, now);
  // Scans alone, and the backend has them at hand: answered in this turn too.
  const reports = needs.scansOnly ? backend.latestNow?.(needs.reports) : undefined;
  if (reports) return decide(backend, config, request, needs, { ...READ_NOTHING, reports }, now);
  return readThenDecide(backend, config, request, needs, now);
}

/** What a command has read, for handleCommand. */
interface Read {
  reports: ReadonlyMap<string, StoredScan | null>;
  userGroups: readonly string[];
  audit: AuditEntry[];
  alerts: ReadonlyMap<string, AlertState>;
  renewals: PolicyRecords | null;
}

/** What a command that reads nothing is handed in place of what it did not read. */
const READ_NOTHING: Read = {
  reports: NOTHING.reports,
  userGroups: NOTHING.groups,
  audit: NOTHING.audit,
  alerts: NOTHING.alerts,
  renewals: null,
};

async function readThenDecide(
  backend: ChatBackend,
  config: Config,
  request: Omit<CommandRequest, "userGroups">,
  needs: ReturnType<typeof readsOf>,
  now: Date,
): Promise<RouterDecision> {
  // Most commands read one thing or nothing (help, a refusal): only what is needed is asked for.
  const [reports, userGroups, audit, alerts, renewals] = await Promise.all([
    needs.reports.length ? backend.latest(needs.reports) : NOTHING.reports,
    needs.groups.length ? backend.groupsOf(request.userId, needs.groups) : NOTHING.groups,
    needs.audited ? backend.auditEntries(needs.audited, AUDIT_ENTRIES) : NOTHING.audit,
    needs.alerts.length ? backend.alertStates(needs.alerts) : NOTHING.alerts,
    needs.policed ? policyRecords(backend, needs.policed) : null,
  ]);
  return decide(backend, config, request, needs, { reports, userGroups, audit, alerts, renewals }, now);
}

/** handleCommand on what was read; a snooze or unsnooze it decides is then done. */
function decide(
  backend: ChatBackend,
  config: Config,
  request: Omit<CommandRequest, "userGroups">,
  needs: ReturnType<typeof readsOf>,
  read: Read,
  now: Date,
): RouterDecision | Promise<RouterDecision> {
  const decision = handleCommand(
    { ...request, userGroups: read.userGroups },
    {
      config,
      // As of now: a certificate that expired since its scan is shown expired (core/scan/as-of.ts).
      latest: (name) => {
        const scan = read.reports.get(name);
        return scan ? asOf(scan, now) : null;
      },
      audit: () => read.audit,
      alerts: (name) => read.alerts.get(name) ?? null,
      renewals: (name) => (name === needs.policed ? read.renewals : null),
      listed: (clusters) => listedAsOf(clusters, read.reports, now),
      now,
    },
  );
  return decision.quiet ? applyQuietChange(backend, config, decision.quiet, now) : decision;
}

/**
 * Each channel's last list: its clusters with their scans as of a moment, the same array while the
 * same scans are read (the store hands out the same map while nothing was saved) and no certificate
 * in them expired since. A list of 500 clusters then looks at none of them one by one, and the
 * list's ranking (present/list.ts) recognises the array. Keyed by the channel's clusters (one array
 * per channel, kept with the config).
 */
const lastListed = new WeakMap<
  readonly ClusterConfig[],
  {
    reports: ReadonlyMap<string, StoredScan | null>;
    from: number;
    until: number;
    listed: readonly ListCluster[];
  }
>();

function listedAsOf(
  clusters: readonly ClusterConfig[],
  reports: ReadonlyMap<string, StoredScan | null>,
  now: Date,
): readonly ListCluster[] {
  const at = now.getTime();
  const last = lastListed.get(clusters);
  if (last?.reports === reports && last.from <= at && at < last.until) return last.listed;
  const current = allAsOf(
    clusters.map((c) => reports.get(c.name) ?? null),
    now,
  );
  const listed = clusters.map((c, i) => ({ name: c.name, latest: current.scans[i]! }));
  lastListed.set(clusters, { reports, from: at, until: current.until, listed });
  return listed;
}

/** A snooze or unsnooze, done (app/snooze.ts); its answer is the decision. */
async function applyQuietChange(
  backend: ChatBackend,
  config: Config,
  quiet: QuietChange,
  now: Date,
): Promise<RouterDecision> {
  const answer = await applyQuiet(backend, config, quiet, now);
  // The warnings themselves say it too, in their threads: not awaited, the answer must not wait.
  for (const thread of answer.threads?.slice(0, MAX_THREAD_NOTES) ?? []) {
    void backend.replyInThread?.(thread, answer.reply).catch(() => undefined);
  }
  return { reply: [answer.reply], ephemeral: answer.ephemeral };
}

async function policyRecords(backend: ChatBackend, cluster: string): Promise<PolicyRecords> {
  const [filings, active] = await Promise.all([
    backend.records.filings(cluster),
    backend.records.active(cluster),
  ]);
  return { filings, active };
}

export function handleCommand(request: CommandRequest, deps: RouterDeps): RouterDecision {
  const { config, latest, now } = deps;
  const visible = visibleClusters(config, request.channelId);
  const parsed = parsedOf(request);
  if (!parsed.ok) return ephemeral(renderCommandError(parsed.error));
  const command = parsed.command;

  if (command.kind === "help") return ephemeral(renderHelp(command.topic, visible[0]?.name));
  if (command.kind === "list") {
    const clusters = deps.listed?.(visible) ?? visible.map((c) => ({ name: c.name, latest: latest(c.name) }));
    const answer = renderList({ clusters, query: command, now, timeZone: config.timezone });
    return { reply: [answer.reply], ephemeral: answer.ephemeral };
  }
  if (command.kind === "snoozes" && command.cluster === undefined) {
    return snoozesOf(
      visible.map((c) => c.name),
      deps,
    );
  }
  const scoped: Scoped =
    command.kind === "snoozes" ? { kind: "snoozes", cluster: command.cluster! } : command;
  return clusterCommand(
    scoped,
    request,
    deps,
    visible.map((c) => c.name),
  );
}

/** A command about one cluster; `snoozes` is one when it names its cluster. */
type Scoped = ClusterCommand | { kind: "snoozes"; cluster: string };

/** `/certs snoozes`: what is quiet in these clusters, to the asker only (it mentions people). */
function snoozesOf(clusters: readonly string[], deps: RouterDeps): RouterDecision {
  const { config, now } = deps;
  const quiets = clusters.map((cluster) => {
    const state = deps.alerts?.(cluster);
    return { cluster, quiets: state ? activeQuiets(state, now) : [] };
  });
  return ephemeral(renderSnoozes(quiets, { timeZone: config.timezone, now }));
}

/** `snooze` and `unsnooze` of a cluster shown here: an operator, and a duration within the bound. */
function quietCommand(
  command: Extract<ClusterCommand, { kind: "snooze" | "unsnooze" }>,
  cluster: ClusterConfig,
  request: CommandRequest,
  now: Date,
): RouterDecision {
  const operate = canOperate(cluster, request.userId, request.userGroups, "snooze warnings");
  if (!operate.allowed) return ephemeral(renderRefusal(cluster.name, operate.reason));
  const { userId } = request;
  if (command.kind === "unsnooze") {
    return {
      reply: [],
      ephemeral: false,
      quiet: { kind: "unsnooze", cluster: cluster.name, userId, target: command.target },
    };
  }
  const maxDays = cluster.alerts.maxSnoozeDays;
  const duration = parseSnoozeDuration(command.duration, maxDays);
  if (!duration.ok) return ephemeral(renderRefusal(cluster.name, duration.error));
  const until = new Date(now.getTime() + duration.ms);
  const reason = command.reason !== undefined ? { reason: command.reason } : {};
  return {
    reply: [],
    ephemeral: false,
    quiet: {
      kind: "snooze",
      cluster: cluster.name,
      userId,
      target: command.target,
      until,
      maxDays,
      ...reason,
    },
  };
}

/** `renew` of a cluster shown here: an operator, and a node of that cluster if one is named. */
function renewCommand(
  command: Extract<ClusterCommand, { kind: "renew" }>,
  cluster: ClusterConfig,
  request: CommandRequest,
): RouterDecision {
  const operate = canOperate(cluster, request.userId, request.userGroups, "request renewals");
  if (!operate.allowed) return ephemeral(renderRefusal(cluster.name, operate.reason));
  if (command.node !== undefined && !cluster.nodes.some((n) => n.name === command.node)) {
    const known = cluster.nodes.map((n) => n.name);
    return ephemeral(renderUnknownNode(cluster.name, command.node, suggestNames(command.node, known)));
  }
  return {
    ...ephemeral(renderRenewalPlanning(cluster.name)),
    requestRenewal: {
      cluster: cluster.name,
      ...(command.node !== undefined ? { node: command.node } : {}),
      ...(command.certs ? { certs: command.certs } : {}),
    },
  };
}

/** `policy` of a cluster shown here: its policy, and what it does now or next, for the channel to see. */
function policyCommand(cluster: ClusterConfig, deps: RouterDeps): RouterDecision {
  const records = deps.renewals?.(cluster.name);
  const reply = renderPolicy({
    cluster: cluster.name,
    policy: cluster.renewal.policy,
    windows: cluster.renewal,
    timeZone: deps.config.timezone,
    now: deps.now,
    scan: deps.latest(cluster.name),
    filings: records?.filings ?? new Map(),
    active: records?.active ?? null,
  });
  return { reply: [reply], ephemeral: false };
}

function clusterCommand(
  command: Scoped,
  request: CommandRequest,
  deps: RouterDeps,
  visible: readonly string[],
): RouterDecision {
  const { config, latest, now } = deps;
  const cluster = findCluster(config, command.cluster);
  if (!cluster) {
    const error = checkCluster(command.cluster, visible);
    // checkCluster cannot pass a name that is not configured, since visible ⊆ configured.
    return ephemeral(renderCommandError(error!));
  }
  const view = canView(cluster, request.channelId);
  if (!view.allowed) return ephemeral(renderRefusal(cluster.name, view.reason));

  switch (command.kind) {
    case "snoozes":
      return snoozesOf([cluster.name], deps);
    case "snooze":
    case "unsnooze":
      return quietCommand(command, cluster, request, now);
    case "audit":
      // Only the asker sees it: the entries mention people, and a mention in the channel pings them.
      return ephemeral(
        renderAudit(cluster.name, deps.audit?.(cluster.name) ?? [], { timeZone: config.timezone, now }),
      );
    case "renew":
      return renewCommand(command, cluster, request);
    case "policy":
      return policyCommand(cluster, deps);
    case "scan": {
      const operate = canOperate(cluster, request.userId, request.userGroups, "request scans");
      if (!operate.allowed) return ephemeral(renderRefusal(cluster.name, operate.reason));
      return {
        reply: [renderScanQueued(cluster.name, request.userId)],
        ephemeral: false,
        enqueueScan: cluster.name,
      };
    }
    case "status": {
      const scan = latest(cluster.name);
      if (command.node !== undefined) {
        const known = [
          ...new Set([...cluster.nodes.map((n) => n.name), ...(scan?.report.nodes.map((n) => n.name) ?? [])]),
        ];
        if (!known.includes(command.node)) {
          return ephemeral(renderUnknownNode(cluster.name, command.node, suggestNames(command.node, known)));
        }
      }
      // No report yet: say so and start one. Anyone who may see the cluster may cause this first
      // scan (it is read-only, and the queue deduplicates scans per cluster); later scans need an
      // operator.
      if (!scan) {
        return { reply: [renderNoReport(cluster.name, true)], ephemeral: false, enqueueScan: cluster.name };
      }
      return {
        reply: renderStatus({
          cluster: cluster.name,
          scan,
          now,
          timeZone: config.timezone,
          ...(command.node !== undefined ? { node: command.node } : {}),
          all: command.all,
        }),
        ephemeral: false,
      };
    }
  }
}
