// What certs-bot keeps in Redis, all under one prefix:
//   <p>:report:<cluster>     latest scan (JSON)                                   TTL 90 d, refreshed per scan
//   <p>:report-versions      cluster → a random token, new with each report (hash) TTL 90 d, refreshed per scan
//   <p>:reports-generation   a random token, new with each report of any cluster  no TTL
//   <p>:reports-saved        pub/sub channel: each report's cluster, as it is saved
//   <p>:history:<cluster>    newest-first summaries, capped at HISTORY_LENGTH     TTL 90 d
//   <p>:alerts:<cluster>     what has been warned about (AlertState JSON)         TTL 90 d (compare-and-set)
//   <p>:posted:<action id>   Slack ts of a message already posted                 TTL 35 d
//   <p>:slack-pace:<channel> next free posting slot for a channel (ms)            TTL 10 s
//   <p>:lock:<name>          short leases (e.g. who upserts the schedules)
//   <p>:home:opened          who opened App Home lately: user id → when (sorted set)  TTL = window
// The two tokens change with each report, in its MULTI: they let every process's ScanCache
// (scan-cache.ts) tell which parsed reports it holds are still current in one cheap round trip.
// Random rather than counters, so a flushed Redis never hands out a token a process has cached.
// Nothing secret is stored: reports hold certificate metadata and fingerprints, never key bytes.
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { worstOf, type Status, type StoredScan } from "../../core/report/types.js";
import { emptyAlertState, type AlertState } from "../../core/alerts/state.js";
import type { AlertChange } from "../../core/ports.js";
import { ScanCache } from "./scan-cache.js";

const DAY_S = 86_400;
export const HISTORY_LENGTH = 120; // 30 days of 6-hourly scans
const REPORT_TTL_S = 90 * DAY_S;
const POSTED_TTL_S = 35 * DAY_S;
/** Compare-and-set rounds before giving up (each lost round means another writer succeeded). */
const MAX_ATTEMPTS = 100;

// Compare-and-set on the whole document: saves ARGV[2] only if the key still holds ARGV[1] ('' for
// absent). A script rather than WATCH/MULTI, which belongs to a connection that the service shares
// between concurrent jobs and clicks. KEYS: the key. ARGV: expected text, new text, ttl.
const CAS = `
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1`;

export interface HistoryEntry {
  scannedAt: Date;
  status: Status;
  /** The certificate closest to expiry, if any was read. */
  soonest?: { node: string; certificate: string; daysLeft: number };
}

const DATE_KEYS = new Set(["scannedAt", "notBefore", "notAfter", "postedAt"]);

/** JSON.parse that turns our ISO date fields back into Dates. */
function parse<T>(text: string): T {
  return JSON.parse(text, (key, value) =>
    DATE_KEYS.has(key) && typeof value === "string" ? new Date(value) : value,
  ) as T;
}

export function summarize(scan: StoredScan): HistoryEntry {
  let soonest: HistoryEntry["soonest"];
  for (const node of scan.report.nodes) {
    for (const cert of node.certificates) {
      if (cert.daysLeft !== null && (!soonest || cert.daysLeft < soonest.daysLeft)) {
        soonest = { node: node.name, certificate: cert.name, daysLeft: cert.daysLeft };
      }
    }
  }
  return {
    scannedAt: scan.scannedAt,
    status: worstOf(scan.report.nodes.map((n) => n.status)),
    ...(soonest ? { soonest } : {}),
  };
}

/** `<prefix>:<part>:<part>`: every record certs-bot keeps, whichever class writes it. */
export function redisKey(prefix: string, ...parts: string[]): string {
  return [prefix, ...parts].join(":");
}

export interface StoreOptions {
  /** The clock (ms) the scan cache judges ages by. */
  now?: () => number;
}

export class Store {
  private readonly scans: ScanCache;

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    options: StoreOptions = {},
  ) {
    const versions = this.key("report-versions");
    this.scans = new ScanCache(
      {
        generation: () => this.redis.get(this.key("reports-generation")),
        versions: (clusters) => this.redis.hmget(versions, ...clusters),
        scans: async (clusters) =>
          (await this.redis.mget(clusters.map((c) => this.key("report", c)))).map((text) =>
            text ? parse<StoredScan>(text) : null,
          ),
      },
      REPORT_TTL_S * 1000,
      options.now,
    );
  }

  key(...parts: string[]): string {
    return redisKey(this.prefix, ...parts);
  }

  async saveScan(scan: StoredScan): Promise<void> {
    const history = this.key("history", scan.cluster);
    const versions = this.key("report-versions");
    const token = randomUUID();
    await this.redis
      .multi()
      .set(this.key("report", scan.cluster), JSON.stringify(scan), "EX", REPORT_TTL_S)
      .hset(versions, scan.cluster, token)
      .expire(versions, REPORT_TTL_S)
      .set(this.key("reports-generation"), token)
      .lpush(history, JSON.stringify(summarize(scan)))
      .ltrim(history, 0, HISTORY_LENGTH - 1)
      .expire(history, REPORT_TTL_S)
      .exec();
    // This process reads its own save at once; the others once the announcement reaches them.
    this.scans.saved();
    // Outside the MULTI: a Redis user without pub/sub rights (no `&*`) must still save its scans.
    // The followers then learn nothing, and neither can they subscribe: they ask the generation.
    await this.redis.publish(this.key("reports-saved"), scan.cluster).catch(() => undefined);
  }

  /**
   * Follows every process's saves on a connection of its own (a duplicate of this one), so that
   * while nothing is saved a read of the stored scans asks Redis nothing at all. While that
   * connection is down, reads ask the generation as usual. Returns what closes it.
   */
  followSaves(): { close(): Promise<void>; disconnect(): void } {
    const channel = this.key("reports-saved");
    // Subscribed by hand on every "ready", so the cache trusts only a subscription it saw succeed.
    const subscriber = this.redis.duplicate({ autoResubscribe: false, lazyConnect: false });
    subscriber.on("error", () => undefined); // the main connection logs Redis trouble
    subscriber.on("ready", () => {
      subscriber.subscribe(channel).then(
        () => this.scans.follow(true),
        () => this.scans.follow(false),
      );
    });
    subscriber.on("close", () => this.scans.follow(false));
    subscriber.on("message", (from: string) => {
      if (from === channel) this.scans.saved();
    });
    return {
      close: async () => {
        this.scans.follow(false);
        await subscriber.quit().catch(() => subscriber.disconnect());
      },
      disconnect: () => {
        this.scans.follow(false);
        subscriber.disconnect();
      },
    };
  }

  /** The cluster's latest scan, shared with other callers (never change it in place). */
  async latest(cluster: string): Promise<StoredScan | null> {
    return (await this.scans.latest([cluster])).get(cluster) ?? null;
  }

  /**
   * The latest scans of these clusters, shared with other callers (never change one in place); only
   * those saved since this process last read them are read from Redis and parsed.
   */
  async latestAll(clusters: readonly string[]): Promise<Map<string, StoredScan | null>> {
    return this.scans.latest(clusters);
  }

  /** latestAll(), when memory can answer alone (saves followed, nothing announced since), else undefined. */
  latestAllNow(clusters: readonly string[]): Map<string, StoredScan | null> | undefined {
    return this.scans.latestNow(clusters);
  }

  async history(cluster: string, limit = HISTORY_LENGTH): Promise<HistoryEntry[]> {
    const texts = await this.redis.lrange(this.key("history", cluster), 0, limit - 1);
    return texts.map((t) => parse<HistoryEntry>(t));
  }

  /** The alert states of these clusters (empty: nothing said yet), in one MGET. */
  async alertStates(clusters: readonly string[]): Promise<Map<string, AlertState>> {
    if (clusters.length === 0) return new Map();
    const texts = await this.redis.mget(clusters.map((c) => this.key("alerts", c)));
    return new Map(clusters.map((c, i) => [c, texts[i] ? parse<AlertState>(texts[i]!) : emptyAlertState()]));
  }

  async loadJson<T>(kind: "alerts", cluster: string): Promise<T | null> {
    const text = await this.redis.get(this.key(kind, cluster));
    return text ? parse<T>(text) : null;
  }

  /**
   * The cluster's alert state changed atomically: `change` decides on what is stored now, and its
   * `next` is saved only if nobody wrote in between (else it decides again on the newer state).
   */
  async updateAlerts<T>(cluster: string, change: (current: AlertState) => AlertChange<T>): Promise<T> {
    const key = this.key("alerts", cluster);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const text = (await this.redis.get(key)) ?? "";
      const { next, value } = change(text ? parse<AlertState>(text) : emptyAlertState());
      if (!next) return value;
      if ((await this.redis.eval(CAS, 1, key, text, JSON.stringify(next), REPORT_TTL_S)) === 1) return value;
    }
    throw new Error(`alerts of ${cluster}: gave up after ${MAX_ATTEMPTS} conflicting writes`);
  }

  /** The Slack ts of an action already posted, so a retried job never posts it twice. */
  async postedTs(actionId: string): Promise<string | null> {
    return this.redis.get(this.key("posted", actionId));
  }

  async markPosted(actionId: string, ts: string): Promise<void> {
    await this.redis.set(this.key("posted", actionId), ts, "EX", POSTED_TTL_S);
  }

  /**
   * Reserves the next posting slot for a channel, `spacingMs` after the previous one, across every
   * certs-bot process sharing this Redis. Returns how long to wait before posting.
   */
  async reserveSlot(channel: string, spacingMs: number, now = Date.now()): Promise<number> {
    const slot = (await this.redis.eval(
      `local next = tonumber(redis.call('GET', KEYS[1]) or '0')
       local now = tonumber(ARGV[1])
       if next < now then next = now end
       redis.call('SET', KEYS[1], next + tonumber(ARGV[2]), 'PX', 10000)
       return next`,
      1,
      this.key("slack-pace", channel),
      now,
      spacingMs,
    )) as number;
    return Math.max(0, slot - now);
  }

  /**
   * Remembers that `userId` opened App Home at `at`, so scans can refresh it while they may be
   * looking. Entries older than `windowMs` are dropped on the way, and the key expires with them.
   */
  async noteHomeOpened(userId: string, windowMs: number, at = Date.now()): Promise<void> {
    const key = this.key("home", "opened");
    await this.redis
      .multi()
      .zadd(key, at, userId)
      .zremrangebyscore(key, "-inf", at - windowMs)
      .pexpire(key, windowMs)
      .exec();
  }

  /** The users who opened App Home within `windowMs`. */
  async homeOpenedWithin(windowMs: number, now = Date.now()): Promise<string[]> {
    return this.redis.zrangebyscore(this.key("home", "opened"), now - windowMs, "+inf");
  }

  /** A lease: true for the one caller that gets it until it expires. */
  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.key("lock", name), holder, "PX", ttlMs, "NX")) === "OK";
  }
}
