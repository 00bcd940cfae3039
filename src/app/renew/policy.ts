// After each scan of a cluster with a renewal policy: the renewable certificates at or past
// `requestWhenDaysLeft` that no request was filed for get one (the desk files it, once per
// certificate generation, atomically with the request). When the plan is refused, the cluster's
// approvers are told by mention instead, once per set of certificates and reason; the policy tries
// again at each scan, so fixing the cause is enough.
import { createHash } from "node:crypto";
import { clusterChannel, type ClusterConfig, type Config } from "../../config/load.js";
import type { SlackMessage } from "../../present/slack-types.js";
import type { ClusterReport } from "../../core/report/types.js";
import { dueCertificates, unfiled, type PolicyCertificate } from "../../core/renew/policy.js";
import type { AuditTrail, RenewalRecords } from "../../core/renew/ports.js";
import { renderPolicyEscalation } from "../../present/escalation.js";
import type { PolicyFiling, RenewalDesk } from "./desk.js";

export interface PolicyClerkDependencies {
  config: Config;
  desk: Pick<RenewalDesk, "fileByPolicy">;
  records: Pick<RenewalRecords, "filings">;
  audit: AuditTrail;
  /** Posts once per action id (SlackPoster; the screen in the console). */
  poster: { postOnce(actionId: string, message: SlackMessage): Promise<string> };
  /** Whether a message of that action id was posted already (an escalation is told once). */
  posted(actionId: string): Promise<boolean>;
}

/** What the policy did after a scan (the scan job logs it). */
export type PolicyOutcome = PolicyFiling | { filed: false; why: "no policy" };

export class PolicyClerk {
  constructor(private readonly deps: PolicyClerkDependencies) {}

  async afterScan(cluster: ClusterConfig, report: ClusterReport): Promise<PolicyOutcome> {
    const policy = cluster.renewal.policy;
    if (!policy) return { filed: false, why: "no policy" };
    const due = dueCertificates(report, policy);
    const fresh = unfiled(due, new Set((await this.deps.records.filings(cluster.name)).keys()));
    if (!fresh.length) return { filed: false, why: due.length ? "already filed" : "nothing due" };
    const outcome = await this.deps.desk.fileByPolicy(cluster, report, due);
    if (!outcome.filed && outcome.why === "refused")
      await this.escalate(cluster, policy.source, outcome.reason, fresh);
    return outcome;
  }

  /** Tells the approvers, once for these certificates and this reason. */
  private async escalate(
    cluster: ClusterConfig,
    source: string,
    reason: string,
    due: PolicyCertificate[],
  ): Promise<void> {
    const { config } = this.deps;
    const channel = clusterChannel(config, cluster);
    if (!channel) return;
    // Keyed on the reason without its days: a refusal can name one that moves with the clock (the
    // CA check names the day renewed leaves would end), and tomorrow it is the same refusal.
    const key = createHash("sha256")
      .update([reason.replace(/\d{4}-\d{2}-\d{2}/g, "…"), ...due.map((c) => c.generation)].join("\0"))
      .digest("hex")
      .slice(0, 16);
    const message = renderPolicyEscalation({
      cluster: cluster.name,
      channel,
      approvers: cluster.approvers,
      reason,
      source,
      due,
      timeZone: config.timezone,
    });
    const actionId = `policy:${cluster.name}:escalation:${key}`;
    if (await this.deps.posted(actionId)) return;
    await this.deps.poster.postOnce(actionId, message);
    await this.deps.audit.append(cluster.name, {
      kind: "refused",
      detail: `the renewal policy could not file a request: ${reason}; the approvers were told`,
    });
  }
}
