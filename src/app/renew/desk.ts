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
   * run that starts anyway finds the request cancelled and touches nothing.
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
    if (!channel) return refuse(`${cluster.name} has no channel for approval cards (set its \`channel\`).`);
    // Early and cheap: no scan while another request holds the cluster (create checks it again).
    const early = admission(await records.active(cluster.name), this.deps.now());
    if (early.verdict === "held") return held(early.holder);
    const planned = await this.plan(ask, userId);
    if (!planned.ok) return refuse(planned.reason);
    const now = planned.plan.createdAt;
    const request = newRequest({
      cluster: cluster.name,
      requestedBy: userId,
      now,
      settings: config.renewal,
      ...(ask.node ? { node: ask.node } : {}),
      ...(ask.certs?.length ? { certs: ask.certs } : {}),
    });
    const created = await records.create(request, { plan: planned.plan, now });
    for (const expired of created.expired) await this.expired(expired);
    if (!created.ok) {
      return created.active ? held(created.active) : refuse(`request ${request.id} already exists.`);
    }

    const plan = planned.plan;
    const scope = plan.scope === "all" ? "all renewable certificates" : plan.scope.join(", ");
    await audit.append(cluster.name, {
      kind: "requested",
      actor: userId,
      requestId: request.id,
      detail: `${scope} on ${plan.nodes.map((n) => n.node).join(", ")}; needs ${config.renewal.requiredApprovals} approval(s)`,
    });
    let card: CardLocation;
    try {
      card = await this.deps.cards.post(this.card(plan, request, channel), request.id);
    } catch (err) {
      // Nobody could approve a request without its card: withdraw it so the cluster is not blocked.
      await this.withdraw(
        request,
        cluster,
        `the approval card could not be posted: ${(err as Error).message}`,
      );
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
    const report = await this.deps.scan(ask.cluster);
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

  private async withdraw(request: RenewalRequest, cluster: ClusterConfig, reason: string): Promise<void> {
    await this.deps.records.applyClick(
      request.id,
      { user: request.requestedBy, userGroups: [], action: "reject", reason },
      this.decideContext(cluster, this.deps.config.renewal),
    );
    await this.deps.audit.append(cluster.name, { kind: "rejected", requestId: request.id, detail: reason });
  }
}
