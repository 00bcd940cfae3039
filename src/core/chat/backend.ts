// What an adapter (Bolt in Slack, the terminal console) needs from the rest of certs-bot to
// answer a person: stored reports, a way to queue a scan and hear when it is done, the user
// groups a user belongs to, the renewal desk (requests, clicks, the audit log), and the clusters'
// alert states (what `/certs snooze` changes, by compare-and-set). The service implements it on Redis + BullMQ + the Web API; the
// console in memory, scanning in-process. The router and views stay pure.
import type { AskOutcome, ClickOutcome, RenewalAsk, RenewalRecords } from "../renew/ports.js";
import type { Click } from "../renew/approval.js";
import type { AuditEntry, AuditInput } from "../renew/ports.js";
import type { StoredScan } from "../report/types.js";
import type { AlertState } from "../alerts/state.js";
import type { AlertMemory, OutgoingMessage } from "../ports.js";

export interface ScanTicket {
  /** Resolves with the stored scan once it is done, or rejects with why it failed. */
  done: Promise<StoredScan>;
}

export interface ChatBackend extends Pick<AlertMemory, "updateAlerts"> {
  /** Latest stored scans of these clusters, in one round trip (null: never scanned). */
  latest(clusters: readonly string[]): Promise<Map<string, StoredScan | null>>;
  /**
   * The same, when it is at hand without waiting (kept in memory and known current); otherwise
   * undefined. A command that reads only scans is then answered in the turn it arrived.
   */
  latestNow?(clusters: readonly string[]): Map<string, StoredScan | null> | undefined;
  /** Queues a scan (joining one already waiting or running). */
  requestScan(cluster: string): Promise<ScanTicket>;
  /** Which of `groups` (S…) the user is a member of; resolved through Slack, cached briefly. */
  groupsOf(userId: string, groups: readonly string[]): Promise<string[]>;
  /** The newest `n` audit entries of a cluster. */
  auditEntries(cluster: string, n: number): Promise<AuditEntry[]>;
  /** The alert states of these clusters (empty: nothing said), in one round trip. */
  alertStates(clusters: readonly string[]): Promise<Map<string, AlertState>>;
  /** The renewal records, read by `/certs policy`: what a policy filed, and which request holds a cluster. */
  readonly records: Pick<RenewalRecords, "filings" | "active">;
  /** Appends to a cluster's audit (snoozes; the desk appends the renewals' own). */
  appendAudit(cluster: string, entry: AuditInput, at: Date): Promise<void>;
  /**
   * Replies in a warning's thread (a typed snooze said where the warning is); absent where there
   * are no threads (the console).
   */
  replyInThread?(
    thread: { channel: string; ts: string },
    reply: Omit<OutgoingMessage, "channel">,
  ): Promise<void>;
  /** An operator's renewal request (RenewalDesk.request). */
  requestRenewal(ask: RenewalAsk): Promise<AskOutcome>;
  /** An Approve or Reject click on an approval card (the desk asks Slack for the clicker's groups). */
  clickRenewal(requestId: string, click: Click): Promise<ClickOutcome>;
}
