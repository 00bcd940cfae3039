// What an adapter (Bolt in Slack, the terminal console) needs from the rest of certs-bot to
// answer a person: stored reports, a way to queue a scan and hear when it is done, and the user
// groups a user belongs to. The service implements it on Redis + BullMQ + the Web API; the
// console in memory, scanning in-process. The router and views stay pure.
import type { StoredScan } from "../store/store.js";

export interface ScanTicket {
  /** Resolves with the stored scan once it is done, or rejects with why it failed. */
  done: Promise<StoredScan>;
}

export interface ChatBackend {
  /** Latest stored scans of these clusters, in one round trip (null: never scanned). */
  latest(clusters: readonly string[]): Promise<Map<string, StoredScan | null>>;
  /** Queues a scan (joining one already waiting or running). */
  requestScan(cluster: string): Promise<ScanTicket>;
  /** Which of `groups` (S…) the user is a member of; resolved through Slack, cached briefly. */
  groupsOf(userId: string, groups: readonly string[]): Promise<string[]>;
}
