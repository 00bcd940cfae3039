// The request side of renewals (requesting and approving), the same for Slack and the
// console: a request builds a plan from a fresh scan, is saved with that plan (one active request
// per cluster), and is shown as an approval card; each click is decided atomically by the records,
// audited, and shown on the card; the click that completes the approvals starts the run (the run's
// job id derives from the request, so nothing starts twice). A request nobody approves is expired
// by `sweep`. Access to *request* is the router's check (operators); clicks are checked here.
//
// A click is judged with today's rights: the clicker's user groups are asked of Slack at the click
// (no cache; when Slack cannot answer, the click is refused and nothing is recorded), and the
// approval rules are the loaded config's, not those in force when the request was made. The card
// shows the rules of the config that drew it last; it is redrawn at every click, expiry and run end.
import { findCluster, type ClusterConfig, type Config } from "../../config/load.js";
import { groupsToCheck, mention } from "../../core/access/access.js";
import { admission } from "../../core/renew/admission.js";
import type { SlackMessage } from "../../present/slack-types.js";
import type { ClusterReport } from "../../core/report/types.js";
import {
  countedApprovals,
  isDue,
  runNowNeeded,
  newRequest,
  type Click,
  type DecideContext,
  type RenewalRequest,
} from "../../core/renew/approval.js";
import { planRenewal, type PlanResult, type RenewalPlan } from "../../core/renew/plan.js";
import { POLICY_REQUESTER, type PolicyCertificate } from "../../core/renew/policy.js";
import type {
  AskOutcome,
  AuditTrail,
  CardLocation,
  ClickOutcome,
  RenewalAsk,
  RenewalRecords,
} from "../../core/renew/ports.js";
import { renderApprovalCard, renderClusterHeld } from "../../present/thread.js";
import { formatDate } from "../../present/time.js";
import { listUpTo } from "../../present/format.js";

export interface RenewalDeskDependencies {
  config: Config;
  records: RenewalRecords;
  audit: AuditTrail;
  /** A fresh scan of the cluster (what the plan is built from). */
  scan(cluster: ClusterConfig): Promise<ClusterReport>;
  /** Where a cluster's approval cards go; null when it has no channel. */
  channelFor(cluster: ClusterConfig): string | null;
  cards: {
    post(message: SlackMessage, requestId: string): Promise<CardLocation>;
    update(card: CardLocation, message: SlackMessage): Promise<void>;
  };
  /**
   * Which of `groups` (S…) the user is a member of, asked now and never from a cache, so an approver
   * removed from a group loses the right at once. Throws when it cannot say (the click is refused).
   */
  groupsNow(userId: string, groups: readonly string[]): Promise<string[]>;
  /** Starts (or joins) the run of an approved request. */
  startRun(request: RenewalRequest): Promise<void>;
  /**
   * Drops the queued run of a cancelled request (a job delayed until its window), best effort: a
   * run that starts anyway finds the request cancelled and touches nothing. The run's checklist in
   * the card's thread is then told it was cancelled.
   */
  dropRun?(request: RenewalRequest): Promise<void>;
  /** Starts now the queued run of a request whose windows were waived ("Run now"), best effort. */
  promoteRun?(request: RenewalRequest): Promise<void>;
  now(): Date;
}

/** What a click did, for the audit and the refusals. */
const PAST = { approve: "approved", reject: "rejected", cancel: "cancelled", runNow: "approved" } as const;

/** The audit's line for a click that counted. */
function clickDetail(click: Click, request: RenewalRequest, rules: Config["renewal"]): string {
  switch (click.action) {
    case "approve":
      return `approval ${countedApprovals(request, rules).length} of ${rules.requiredApprovals}`;
    case "cancel":
      return `cancelled by ${mention(click.user)} before its first node; nothing was run`;
    case "runNow":
      return (
        `run now: approval ${request.runNow?.length ?? 0} of ${runNowNeeded(rules)}` +
        (request.windowsWaived ? "; the run starts now, outside its maintenance windows" : "")
      );
    case "reject":
      return `rejected${request.rejection?.reason ? `: ${request.rejection.reason}` : ""}`;
  }
}

/** What a policy's filing did: filed a request, or why not. */
export type PolicyFiling =
  | { filed: true; request: RenewalRequest }
  | { filed: false; why: "nothing due" | "already filed" }
  | { filed: false; why: "held"; holder: RenewalRequest }
  | { filed: false; why: "refused"; reason: string };

const noChannel = (cluster: ClusterConfig): string =>
  `${cluster.name} has no channel for approval cards (set its \`channel\`).`;

export class RenewalDesk {
  constructor(private readonly deps: RenewalDeskDependencies) {}

  /** An operator's `/certs renew`: plan from a fresh scan, save, post the card. */
  async request(ask: RenewalAsk): Promise<AskOutcome> {
    const { config, records, audit } = this.deps;
    const { cluster, userId } = ask;
    const refuse = async (reason: string): Promise<AskOutcome> => {
      await audit.append(cluster.name, {
        kind: "refused",
        actor: userId,
        detail: `request refused: ${reason}`,
      });
      return { ok: false, reason };
    };
    const held = (holder: RenewalRequest) => refuse(renderClusterHeld(holder, config.timezone));
    const channel = this.deps.channelFor(cluster);
    if (!channel) return refuse(noChannel(cluster));
    // Early and cheap: no scan while another request holds the cluster (create checks it again).
    const early = admission(await records.active(cluster.name), this.deps.now());
    if (early.verdict === "held") return held(early.holder);
    const planned = await this.plan(ask, userId);
    if (!planned.ok) return refuse(planned.reason);
    const request = newRequest({
      cluster: cluster.name,
      requestedBy: userId,
      now: planned.plan.createdAt,
      settings: config.renewal,
      ...(ask.node ? { node: ask.node } : {}),
      ...(ask.certs?.length ? { certs: ask.certs } : {}),
    });
    const filed = await this.file(request, planned.plan, channel, { actor: userId });
    if (filed.ok) return filed;
    return filed.held ? held(filed.held) : refuse(`request ${request.id} already exists.`);
  }

  /**
   * The cluster's renewal policy files a request (all renewable certificates, from the scan that
   * found `due`), once per certificate generation; a pre-approved one is saved approved and its run
   * queued (it waits for its window). Nothing is filed when the plan is refused, the cluster is held
   * by another request, or every generation in `due` had its request already.
   */
  async fileByPolicy(
    cluster: ClusterConfig,
    report: ClusterReport,
    due: readonly PolicyCertificate[],
  ): Promise<PolicyFiling> {
    const policy = cluster.renewal.policy;
    if (!policy || !due.length) return { filed: false, why: "nothing due" };
    const channel = this.deps.channelFor(cluster);
    if (!channel) return { filed: false, why: "refused", reason: noChannel(cluster) };
    const early = admission(await this.deps.records.active(cluster.name), this.deps.now());
    if (early.verdict === "held") return { filed: false, why: "held", holder: early.holder };
    const planned = this.planFrom(report, { cluster, userId: POLICY_REQUESTER }, POLICY_REQUESTER);
    if (!planned.ok) return { filed: false, why: "refused", reason: planned.reason };
    const request = newRequest({
      cluster: cluster.name,
      requestedBy: POLICY_REQUESTER,
      now: planned.plan.createdAt,
      settings: this.deps.config.renewal,
      policy: { source: policy.source, preApproved: policy.preApproved },
    });
    const why = listUpTo(
      due.map((c) => `${c.node}/${c.name} ${c.daysLeft < 0 ? "expired" : `has ${c.daysLeft} days left`}`),
      5,
    );
    const filed = await this.file(request, planned.plan, channel, {
      because: `filed by policy (${policy.source}): ${why}`,
      generations: due.map((c) => c.generation),
    });
    if (!filed.ok) {
      return filed.held
        ? { filed: false, why: "held", holder: filed.held }
        : { filed: false, why: "already filed" };
    }
    if (request.state === "approved") {
      await this.deps.audit.append(cluster.name, {
        kind: "approved",
        requestId: request.id,
        detail: `approved by policy (${policy.source}); runs in its next maintenance window`,
      });
      await this.deps.startRun(request);
    }
    return { filed: true, request };
  }

  /**
   * Saves a request with its plan, audits it and posts its card. A card that cannot be posted
   * withdraws the request (nobody could approve it) and throws.
   */
  private async file(
    request: RenewalRequest,
    plan: RenewalPlan,
    channel: string,
    by: { actor?: string; because?: string; generations?: readonly string[] },
  ): Promise<
    | { ok: true; request: RenewalRequest; plan: RenewalPlan; card: CardLocation }
    | { ok: false; held?: RenewalRequest }
  > {
    const { config, records, audit } = this.deps;
    const created = await records.create(request, {
      plan,
      now: plan.createdAt,
      ...(by.generations ? { generations: by.generations } : {}),
    });
    for (const expired of created.expired) await this.expired(expired);
    if (!created.ok) return created.active ? { ok: false, held: created.active } : { ok: false };
    const scope = plan.scope === "all" ? "all renewable certificates" : plan.scope.join(", ");
    await audit.append(request.cluster, {
      kind: "requested",
      ...(by.actor ? { actor: by.actor } : {}),
      requestId: request.id,
      detail:
        `${scope} on ${plan.nodes.map((n) => n.node).join(", ")}; ` +
        (request.policy?.preApproved
          ? "pre-approved by policy"
          : `needs ${config.renewal.requiredApprovals} approval(s)`) +
        (by.because ? `; ${by.because}` : ""),
    });
    let card: CardLocation;
    try {
      card = await this.deps.cards.post(this.card(plan, request, channel), request.id);
    } catch (err) {
      // Nobody could approve a request without its card: withdraw it so the cluster is not blocked.
      await this.withdraw(request, `the approval card could not be posted: ${(err as Error).message}`);
      throw err;
    }
    await records.setCard(request.id, card);
    return { ok: true, request, plan, card };
  }

  /**
   * The plan a request would be approved on, from a fresh scan, with nothing saved, audited or
   * posted (a console that may not renew shows it instead of a card).
   */
  preview(ask: RenewalAsk): Promise<PlanResult> {
    return this.plan(ask);
  }

  private async plan(ask: RenewalAsk, requestedBy?: string): Promise<PlanResult> {
    return this.planFrom(await this.deps.scan(ask.cluster), ask, requestedBy);
  }

  /** The plan of `ask` on a scan of its cluster, under today's renewal settings. */
  private planFrom(report: ClusterReport, ask: RenewalAsk, requestedBy?: string): PlanResult {
    return planRenewal({
      cluster: ask.cluster,
      report,
      renewal: this.deps.config.renewal,
      now: this.deps.now(),
      ...(requestedBy ? { requestedBy } : {}),
      ...(ask.node ? { node: ask.node } : {}),
      ...(ask.certs?.length ? { certs: ask.certs } : {}),
    });
  }

  /** An Approve, Reject or Cancel click: the clicker's groups are looked up now, the rules are today's. */
  async click(requestId: string, click: Click): Promise<ClickOutcome> {
    const { config, records, audit } = this.deps;
    const stored = await records.get(requestId);
    const cluster = stored && findCluster(config, stored.cluster);
    if (!stored || !cluster) {
      return {
        ok: false,
        reason: "this renewal request no longer exists (or its cluster is no longer configured).",
        cluster: stored?.cluster ?? "unknown",
      };
    }
    const refuse = async (reason: string, why = reason): Promise<ClickOutcome> => {
      await audit.append(cluster.name, {
        kind: "refused",
        actor: click.user,
        requestId,
        detail: `${click.action} refused: ${why}`,
      });
      return { ok: false, reason, cluster: cluster.name };
    };
    // The requester may always withdraw or cancel; everyone else's right depends on the approvers list.
    const withdraws = click.action !== "approve" && click.user === stored.requestedBy;
    let userGroups: string[];
    try {
      userGroups = withdraws
        ? []
        : await this.deps.groupsNow(click.user, groupsToCheck(cluster.approvers, click.user));
    } catch (err) {
      const reason =
        "could not check your approver rights with Slack; " + `nothing was ${PAST[click.action]}, try again.`;
      return refuse(reason, `${reason} (${(err as Error).message})`);
    }
    const rules = config.renewal;
    const result = await records.applyClick(
      requestId,
      { ...click, userGroups },
      this.decideContext(cluster, rules),
    );
    if (!result.ok) {
      if (result.request?.state === "expired") await this.expired(result.request);
      return refuse(result.reason);
    }
    const { request, startRun } = result;
    await audit.append(cluster.name, {
      kind: PAST[click.action],
      actor: click.user,
      requestId,
      detail: clickDetail(click, request, rules),
    });
    if (click.action === "cancel") await this.deps.dropRun?.(request);
    if (click.action === "runNow" && request.windowsWaived) await this.deps.promoteRun?.(request);
    await this.refreshCard(request);
    if (startRun) await this.deps.startRun(request);
    return { ok: true, request, started: startRun };
  }

  /**
   * Expires every request past its approval window (returns how many), and starts again the run of
   * any approved request: if starting it failed after the approval was saved (Redis or the queue
   * down for a moment), the run still happens, and starting a run that exists joins it. A run told
   * to run now that went back to wait anyway (its attempt was deciding to wait at that moment) is
   * started now here.
   */
  async sweep(): Promise<number> {
    let count = 0;
    for (const cluster of this.deps.config.clusters) {
      const active = await this.deps.records.active(cluster.name);
      if (active?.state === "approved") await this.deps.startRun(active);
      if (active?.windowsWaived && !active.nodeStartedAt) await this.deps.promoteRun?.(active);
      if (!active || !isDue(active, this.deps.now())) continue;
      const expired = await this.deps.records.expire(active.id, this.deps.now());
      if (expired?.state === "expired") {
        await this.expired(expired);
        count++;
      }
    }
    return count;
  }

  /** Shows the request's current state on its card (after a click, an expiry or the run's end). */
  async refreshCard(request: RenewalRequest): Promise<void> {
    const [plan, card] = await Promise.all([
      this.deps.records.loadPlan(request.id),
      this.deps.records.card(request.id),
    ]);
    if (plan && card) await this.deps.cards.update(card, this.card(plan, request, card.channel));
  }

  /** A click is decided with today's rules, and its refusals name times in the configured zone. */
  private decideContext(cluster: ClusterConfig, rules: Config["renewal"]): DecideContext {
    const { timezone } = this.deps.config;
    return { cluster, rules, now: this.deps.now(), formatTime: (date) => formatDate(date, timezone) };
  }

  private card(plan: RenewalPlan, request: RenewalRequest, channel: string): SlackMessage {
    const cluster = findCluster(this.deps.config, plan.cluster);
    return renderApprovalCard(plan, request, {
      channel,
      timeZone: this.deps.config.timezone,
      now: this.deps.now(),
      rules: this.deps.config.renewal,
      ...(cluster ? { windows: cluster.renewal } : {}),
    });
  }

  private async expired(request: RenewalRequest): Promise<void> {
    await this.deps.audit.append(request.cluster, {
      kind: "expired",
      requestId: request.id,
      detail: `no ${this.deps.config.renewal.requiredApprovals} approval(s) by ${formatDate(request.expiresAt, this.deps.config.timezone)}`,
    });
    await this.refreshCard(request);
  }

  /** Ends a request whose card could not be posted; a policy may file for its certificates again. */
  private async withdraw(request: RenewalRequest, reason: string): Promise<void> {
    await this.deps.records.withdraw(request.id, reason, this.deps.now());
    await this.deps.audit.append(request.cluster, {
      kind: "rejected",
      requestId: request.id,
      detail: reason,
    });
  }
}
