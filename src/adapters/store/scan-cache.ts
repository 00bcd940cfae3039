// The latest scans this process has parsed, kept so that a read parses only what was saved since
// (a `/certs list`, a `/metrics` scrape or App Home over 500 clusters would otherwise parse 500
// reports each time). Every save gives the reports' generation and the cluster's version new tokens, in the
// same MULTI as the report (Store.saveScan), from whichever process saves it. A read asks the
// generation first: unchanged since every asked cluster was last confirmed, the answer is in memory.
// Otherwise it asks the asked clusters' versions and reads only the reports whose version moved.
// While the process follows the saves (Store.followSaves: every save is also published), the
// generation it last read stays trusted until a save is announced, and a read asks Redis nothing
// (latestNow then answers without a promise).
import type { StoredScan } from "../../core/report/types.js";

/** What the cache reads of Redis, each in one round trip. */
export interface ScanSource {
  /** Changes with every saved scan; null when none was saved (or the keys were flushed). */
  generation(): Promise<string | null>;
  /** Each cluster's report version (null: none), in the order asked. */
  versions(clusters: readonly string[]): Promise<(string | null)[]>;
  /** Each cluster's stored scan, parsed (null: none), in the order asked. */
  scans(clusters: readonly string[]): Promise<(StoredScan | null)[]>;
}

/**
 * An entry fetched longer ago than this is read again whatever the versions say: a writer that does
 * not change them (an older certs-bot during a rolling upgrade, a hand edit in Redis) goes unseen for
 * at most this long.
 */
export const REFETCH_AFTER_MS = 5 * 60_000;

interface Entry {
  scan: StoredScan | null;
  /** The cluster's version when the scan was read. */
  version: string | null;
  /** The generation at which `version` was last found current. */
  generation: string | null;
  fetchedAt: number;
}

type Batch = Promise<ReadonlyMap<string, Entry>>;

export class ScanCache {
  private readonly entries = new Map<string, Entry>();
  /** Whether saves are followed now (subscribed): then `trusted` may stand in for a GET. */
  private following = false;
  /** The generation read while following, with no save announced since. */
  private trusted: { generation: string | null } | undefined;
  /** Counts announcements and changes of following, so a GET that raced one is not trusted. */
  private epoch = 0;
  /**
   * The last answer to each question of many clusters (the very same array of names: a channel's
   * visible clusters come as one), at the generation it was given, until its first entry is due to
   * be read again or drops out of Redis: a `/certs list` of 500 clusters then checks nothing one by
   * one, and the same map comes back, which what is worked out from it recognises. A question of
   * one cluster (a status) is answered anew and pushes no list's answer out.
   */
  private readonly answers = new WeakMap<
    readonly string[],
    { generation: string | null; until: number; answer: Map<string, StoredScan | null> }
  >();
  /** Reports being read, by cluster: a read that wants the same version waits for that batch. */
  private readonly inFlight = new Map<string, { version: string | null; batch: Batch }>();

  /**
   * @param ttlMs how long Redis keeps a report: a cached scan older than that counts as absent.
   * @param now the clock, in ms.
   */
  constructor(
    private readonly source: ScanSource,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The latest scan of each cluster (null: none). The scans are shared with every other caller:
   * never change one in place.
   */
  async latest(clusters: readonly string[]): Promise<Map<string, StoredScan | null>> {
    if (clusters.length === 0) return new Map();
    const generation = await this.generation();
    return (
      this.fromMemory(clusters, generation) ??
      this.answer(clusters, await this.sync([...new Set(clusters)], generation), generation)
    );
  }

  /**
   * latest(), when it would ask Redis nothing: saves are followed, none was announced since the
   * generation was last read, and every cluster was confirmed at that generation. Otherwise
   * undefined, and latest() is the way. A command can then be answered without waiting.
   */
  latestNow(clusters: readonly string[]): Map<string, StoredScan | null> | undefined {
    if (clusters.length === 0) return new Map();
    if (!this.following || !this.trusted) return undefined;
    return this.fromMemory(clusters, this.trusted.generation);
  }

  /** The answer from the entries as they are, when each is current at `generation`. */
  private fromMemory(
    clusters: readonly string[],
    generation: string | null,
  ): Map<string, StoredScan | null> | undefined {
    const asked = this.now();
    const last = clusters.length > 1 ? this.answers.get(clusters) : undefined;
    if (last && last.generation === generation && asked < last.until) return last.answer;
    const current = (name: string) => {
      const entry = this.entries.get(name);
      return entry !== undefined && entry.generation === generation && this.recent(entry, asked);
    };
    // The usual case, nothing saved since: answered from the entries as they are, nothing copied.
    return clusters.every(current) ? this.answer(clusters, this.entries, generation) : undefined;
  }

  /** Each cluster's live scan from `entries`, kept as the last answer until its first is due. */
  private answer(
    clusters: readonly string[],
    entries: ReadonlyMap<string, Entry>,
    generation: string | null,
  ): Map<string, StoredScan | null> {
    const at = this.now();
    let until = Infinity;
    const answer = new Map<string, StoredScan | null>();
    for (const name of clusters) {
      const entry = entries.get(name)!;
      const scan = this.live(entry, at);
      answer.set(name, scan);
      until = Math.min(
        until,
        entry.fetchedAt + REFETCH_AFTER_MS,
        scan ? scan.scannedAt.getTime() + this.ttlMs : Infinity,
      );
    }
    if (clusters.length > 1) this.answers.set(clusters, { generation, until, answer });
    return answer;
  }

  /** Saves are followed (true), or may go unannounced (false: the subscription is down). */
  follow(following: boolean): void {
    this.following = following;
    this.forget();
  }

  /** A save was announced: the following read asks the generation again. */
  saved(): void {
    this.forget();
  }

  private forget(): void {
    this.epoch += 1;
    this.trusted = undefined;
  }

  private async generation(): Promise<string | null> {
    if (this.following && this.trusted) return this.trusted.generation;
    const epoch = this.epoch;
    const generation = await this.source.generation();
    if (this.following && epoch === this.epoch) this.trusted = { generation };
    return generation;
  }

  /** Confirms the entries whose version has not moved; reads the others. */
  private async sync(names: string[], generation: string | null): Promise<ReadonlyMap<string, Entry>> {
    const versions = await this.source.versions(names);
    const entries = new Map<string, Entry>();
    const stale: { name: string; version: string | null }[] = [];
    const now = this.now();
    names.forEach((name, i) => {
      const version = versions[i] ?? null;
      const entry = this.entries.get(name);
      if (entry && entry.version === version && this.recent(entry, now)) {
        const confirmed = { ...entry, generation };
        this.entries.set(name, confirmed);
        entries.set(name, confirmed);
      } else stale.push({ name, version });
    });
    for (const read of await this.read(stale, generation)) for (const [name, e] of read) entries.set(name, e);
    return entries;
  }

  /** The batches that read these versions: one started now for those no other read is fetching. */
  private read(wanted: { name: string; version: string | null }[], generation: string | null) {
    const batches = new Set<Batch>();
    const own = wanted.filter(({ name, version }) => {
      const pending = this.inFlight.get(name);
      if (pending?.version !== version) return true;
      batches.add(pending.batch);
      return false;
    });
    if (own.length > 0) {
      const batch = this.fetch(own, generation);
      for (const { name, version } of own) this.inFlight.set(name, { version, batch });
      const settled = () => {
        for (const { name } of own) if (this.inFlight.get(name)?.batch === batch) this.inFlight.delete(name);
      };
      batch.then(settled, settled);
      batches.add(batch);
    }
    return Promise.all(batches);
  }

  private async fetch(wanted: { name: string; version: string | null }[], generation: string | null): Batch {
    const fetchedAt = this.now();
    const scans = await this.source.scans(wanted.map((w) => w.name));
    const entries = new Map<string, Entry>();
    wanted.forEach(({ name, version }, i) => {
      const entry = { scan: scans[i] ?? null, version, generation, fetchedAt };
      this.entries.set(name, entry);
      entries.set(name, entry);
    });
    return entries;
  }

  private recent(entry: Entry, now: number): boolean {
    return now - entry.fetchedAt <= REFETCH_AFTER_MS;
  }

  /** The entry's scan, unless Redis has dropped it by now (its key expires `ttlMs` after the scan). */
  private live(entry: Entry, now: number): StoredScan | null {
    const scan = entry.scan;
    return scan && now - scan.scannedAt.getTime() < this.ttlMs ? scan : null;
  }
}
