// The service's ChatBackend: what the Bolt app asks of the rest of certs-bot. Reports come from the
// Redis store (one MGET), scans go through the BullMQ queue (joining one already waiting or
// running), and "is this user in that user group / channel" through the Web API, cached briefly.
//
// A scan counts as done when its report is stored: the job reports progress `scanned` right after
// saveScan, before it posts warnings. So a scan whose warning cannot be posted (bot not invited to
// the channel, Slack down) still answers with its result instead of "failed" after the job's retries.
//
// Membership fails closed: when Slack cannot say who is in a group or channel, nobody is (logged),
// and that answer is kept for FAILED_LOOKUP_TTL_MS so an outage does not slow every command. The
// cache serves what only shows or requests (answers, App Home, scans); an approval decides with
// `groupsNow`, which asks Slack at every click and throws when Slack cannot answer.
import { QueueEvents, type ConnectionOptions } from "bullmq";
import type { WebClient } from "@slack/web-api";
import type { Logger } from "pino";
import type { ChatBackend, ScanTicket } from "../../core/chat/backend.js";
import type { Click } from "../../core/renew/approval.js";
import type { RenewalDesk } from "../../app/renew/desk.js";
import type {
  AskOutcome,
  AuditEntry,
  AuditInput,
  AuditTrail,
  ClickOutcome,
  RenewalAsk,
  RenewalRecords,
} from "../../core/renew/ports.js";
import type { AlertState } from "../../core/alerts/state.js";
import type { AlertChange, OutgoingMessage } from "../../core/ports.js";
import { SCAN_QUEUE, isScanned, type Queues } from "../queue/queues.js";
import type { StoredScan } from "../../core/report/types.js";
import type { Store } from "../store/store.js";
import { RenewalStore } from "../store/renewals.js";
import type { SlackPoster } from "./poster.js";

/** How long a user group's or channel's member list is trusted. */
export const MEMBERS_TTL_MS = 5 * 60_000;
/** How long a failed lookup stands as "no members". */
const FAILED_LOOKUP_TTL_MS = 30_000;
/** A response_url takes replies for 30 minutes; a scan not stored by then is answered as failed. */
export const SCAN_WAIT_MS = 25 * 60_000;

const usergroupMembers = async (client: WebClient, usergroup: string): Promise<string[]> =>
  (await client.usergroups.users.list({ usergroup })).users ?? [];

/**
 * Which of `groups` have `userId` as a member, asked of Slack now (no cache). Rejects when any list
 * cannot be had (an error, a 429, a timeout): the caller must not take that as "not a member" only.
 */
export async function groupsNow(
  client: WebClient,
  userId: string,
  groups: readonly string[],
): Promise<string[]> {
  const lists = await Promise.all(groups.map((group) => usergroupMembers(client, group)));
  return groups.filter((_, i) => lists[i]!.includes(userId));
}

/** Member lists of user groups or channels, cached per id, one request in flight per id. */
class MemberLists {
  private readonly entries = new Map<
    string,
    { members: Promise<ReadonlySet<string> | null>; expires: number }
  >();

  constructor(
    private readonly what: "user group" | "channel",
    private readonly fetch: (id: string) => Promise<string[]>,
    private readonly logger: Logger,
  ) {}

  /** The members of `id`, or null when Slack could not say. */
  private members(id: string): Promise<ReadonlySet<string> | null> {
    const cached = this.entries.get(id);
    if (cached && cached.expires > Date.now()) return cached.members;
    const entry = {
      expires: Date.now() + MEMBERS_TTL_MS,
      members: this.fetch(id).then(
        (ids): ReadonlySet<string> | null => new Set(ids),
        (err: Error) => {
          this.logger.warn(
            { [this.what === "channel" ? "channel" : "usergroup"]: id, err: err.message },
            `could not list the members of ${this.what} ${id}; counting nobody in it`,
          );
          entry.expires = Date.now() + FAILED_LOOKUP_TTL_MS;
          return null;
        },
      ),
    };
    this.entries.set(id, entry);
    return entry.members;
  }

  /** Which of `ids` have `userId` as a member. */
  async containing(userId: string, ids: readonly string[]): Promise<string[]> {
    const lists = await Promise.all(ids.map((id) => this.members(id)));
    return ids.filter((_, i) => lists[i]?.has(userId) ?? false);
  }
}

export interface ServiceBackendOptions {
  store: Store;
  queues: Queues;
  /** For the QueueEvents connection (a blocking reader of the scan queue's event stream). */
  connection: ConnectionOptions;
  /** Bot-token client for lookups; it should give up fast (INTERACTIVE_CALLS). */
  client: WebClient;
  /** Where a note in a warning's thread is posted: the service's one poster (paced, 429 waited out). */
  poster: Pick<SlackPoster, "post">;
  logger: Logger;
  desk: RenewalDesk;
  audit: AuditTrail;
  /** What `/certs policy` reads (default: the renewal records under the store's prefix). */
  records?: Pick<RenewalRecords, "filings" | "active">;
}

export class ServiceBackend implements ChatBackend {
  private readonly events: QueueEvents;
  private readonly groups: MemberLists;
  private readonly channels: MemberLists;
  /** Who waits for which scan job: each settles once, with an error or the stored scan. */
  private readonly waiting = new Map<string, Set<(error?: Error) => void>>();
  readonly records: Pick<RenewalRecords, "filings" | "active">;

  constructor(private readonly options: ServiceBackendOptions) {
    const { queues, connection, client, logger, store } = options;
    this.records = options.records ?? new RenewalStore(store.redis, store.prefix);
    this.events = new QueueEvents(SCAN_QUEUE, { connection, prefix: queues.prefix });
    this.events.on("error", (err) =>
      logger.warn({ err: err.message }, "scan queue events: connection problem"),
    );
    this.events.on("progress", ({ jobId, data }) => {
      if (isScanned(data)) this.settle(jobId);
    });
    this.events.on("completed", ({ jobId }) => this.settle(jobId));
    this.events.on("failed", ({ jobId, failedReason }) => this.settle(jobId, new Error(failedReason)));
    this.groups = new MemberLists("user group", (usergroup) => usergroupMembers(client, usergroup), logger);
    this.channels = new MemberLists(
      "channel",
      async (channel) => {
        const members: string[] = [];
        for await (const page of client.paginate("conversations.members", { channel, limit: 1000 })) {
          members.push(...((page as { members?: string[] }).members ?? []));
        }
        return members;
      },
      logger,
    );
  }

  latest(clusters: readonly string[]): Promise<Map<string, StoredScan | null>> {
    return this.options.store.latestAll(clusters);
  }

  latestNow(clusters: readonly string[]): Map<string, StoredScan | null> | undefined {
    return this.options.store.latestAllNow(clusters);
  }

  groupsOf(userId: string, groups: readonly string[]): Promise<string[]> {
    return this.groups.containing(userId, groups);
  }

  auditEntries(cluster: string, n: number): Promise<AuditEntry[]> {
    return this.options.audit.latest(cluster, n);
  }

  alertStates(clusters: readonly string[]): Promise<Map<string, AlertState>> {
    return this.options.store.alertStates(clusters);
  }

  updateAlerts<T>(cluster: string, change: (current: AlertState) => AlertChange<T>): Promise<T> {
    return this.options.store.updateAlerts(cluster, change);
  }

  async appendAudit(cluster: string, entry: AuditInput, at: Date): Promise<void> {
    await this.options.audit.append(cluster, entry, at);
  }

  async replyInThread(
    thread: { channel: string; ts: string },
    reply: Omit<OutgoingMessage, "channel">,
  ): Promise<void> {
    try {
      await this.options.poster.post({ channel: thread.channel, ...reply }, thread.ts);
    } catch (err) {
      this.options.logger.warn(
        { err: (err as Error).message },
        "could not note the snooze in a warning's thread",
      );
    }
  }

  requestRenewal(ask: RenewalAsk): Promise<AskOutcome> {
    return this.options.desk.request(ask);
  }

  clickRenewal(requestId: string, click: Click): Promise<ClickOutcome> {
    return this.options.desk.click(requestId, click);
  }

  /** Which of `channels` the user is a member of (conversations.members, cached briefly). */
  channelsOf(userId: string, channels: readonly string[]): Promise<string[]> {
    return this.channels.containing(userId, channels);
  }

  /** Calls `listener` for every scan stored by any worker; `eventId` is unique per store. */
  onScanStored(listener: (cluster: string, eventId: string) => void): void {
    this.events.on("progress", ({ data }, eventId) => {
      if (isScanned(data)) listener(data.cluster, eventId);
    });
  }

  async requestScan(cluster: string): Promise<ScanTicket> {
    const job = await this.options.queues.requestScan(cluster, "manual");
    const done = this.stored(job.id!, cluster);
    // The edge handles the outcome; this only keeps a failure nobody awaited from ending the process.
    done.catch(() => undefined);
    return { done };
  }

  private settle(jobId: string, error?: Error): void {
    for (const finish of [...(this.waiting.get(jobId) ?? [])]) finish(error);
  }

  /** Resolves with the stored scan once job `id` has stored it; rejects when the job fails for good. */
  private stored(id: string, cluster: string): Promise<StoredScan> {
    return new Promise<StoredScan>((resolve, reject) => {
      const waiters = this.waiting.get(id) ?? new Set();
      this.waiting.set(id, waiters);
      const timer = setTimeout(
        () =>
          finish(
            new Error(
              `it was not done after ${SCAN_WAIT_MS / 60_000} minutes; \`/certs status ${cluster}\` shows it once it is`,
            ),
          ),
        SCAN_WAIT_MS,
      );
      const finish = (error?: Error) => {
        if (!waiters.delete(finish)) return; // settled already
        if (waiters.size === 0) this.waiting.delete(id);
        clearTimeout(timer);
        if (error) return reject(error);
        this.options.store
          .latest(cluster)
          .then(
            (scan) =>
              scan ? resolve(scan) : reject(new Error("the scan finished, but its report is not stored")),
            reject,
          );
      };
      waiters.add(finish);
      // It may have got there before we listened (a joined scan, a fast one).
      this.storedAlready(id).then((state) => {
        if (state !== "pending") finish(state === "stored" ? undefined : state);
      }, finish);
    });
  }

  private async storedAlready(id: string): Promise<"stored" | "pending" | Error> {
    await this.events.waitUntilReady();
    const job = await this.options.queues.scan.getJob(id);
    if (!job) return "stored"; // finished and trimmed: the store has its report
    const state = await job.getState();
    if (state === "failed") return new Error(job.failedReason);
    return state === "completed" || isScanned(job.progress) ? "stored" : "pending";
  }

  /** Stops listening; scans still awaited are answered as interrupted. */
  async close(): Promise<void> {
    const interrupted = new Error(
      "certs-bot was restarting before it was done; `/certs status` shows it once it is",
    );
    for (const id of [...this.waiting.keys()]) this.settle(id, interrupted);
    await this.events.close();
  }

  /** Drops the event reader's connection without waiting for Redis (a shutdown past its deadline). */
  disconnect(): void {
    void this.events.disconnect().catch(() => undefined);
  }
}
