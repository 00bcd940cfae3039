// The store's cache of parsed scans (adapters/store/scan-cache.ts) on the shared Redis, each test
// on a prefix of its own: what another process saves is seen on the next read, an unchanged report
// is answered from memory (Redis MONITOR shows what each read asks), a flushed prefix reads as
// nothing, a scan older than the report's TTL counts as absent, and an entry is read again after
// REFETCH_AFTER_MS whatever the versions say (a writer that does not bump them); while saves are
// followed (pub/sub), a read asks nothing until another process announces a save.
import { after, afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { connectRedis } from "../../src/adapters/store/redis.js";
import { Store } from "../../src/adapters/store/store.js";
import { REFETCH_AFTER_MS } from "../../src/adapters/store/scan-cache.js";
import type { StoredScan } from "../../src/core/report/types.js";
import { dropKeys, startRedis } from "../lab/redis.js";
import { scanWith } from "../fixtures/stored-scan.js";
import { until } from "../lab/wait.js";
import { monitorRedis } from "../lab/redis-monitor.js";

const REDIS_URL = "redis://127.0.0.1:6379";
const DAY_MS = 86_400_000;
const NOW = Date.parse("2026-11-28T09:00:00Z");
/** Two connections: each Store on its own, as two certs-bot processes would be. */
const redis = connectRedis(REDIS_URL);
const other = connectRedis(REDIS_URL);
const prefixes: string[] = [];

afterEach(async () => {
  for (const prefix of prefixes.splice(0)) await dropKeys(REDIS_URL, prefix);
});

after(() => {
  redis.disconnect();
  other.disconnect();
});

function newPrefix(): string {
  const prefix = `scan-cache-${process.pid}-${prefixes.length + 1}-${Date.now()}`;
  prefixes.push(prefix);
  return prefix;
}

/** A scan of `cluster` whose apiserver certificate has `daysLeft`, scanned two hours before `at`. */
const scan = (cluster: string, daysLeft: number, at = Date.now()): StoredScan =>
  scanWith(cluster, daysLeft, new Date(at));

/**
 * Two processes' stores on a fresh prefix, with `a` (20 days left) and `b` (40) saved by the other
 * process, scanned two hours before `at`.
 */
async function savedByTheOther(options?: ConstructorParameters<typeof Store>[2], at = Date.now()) {
  const prefix = newPrefix();
  const mine = new Store(redis, prefix, options);
  const theirs = new Store(other, prefix);
  await theirs.saveScan(scan("a", 20, at));
  await theirs.saveScan(scan("b", 40, at));
  return { prefix, mine, theirs };
}

const daysLeftOf = (stored: StoredScan | null | undefined) =>
  stored?.report.nodes[0]?.certificates[0]?.daysLeft;

/** The commands sent to Redis under `prefix`, as MONITOR sees them on a socket of its own. */
async function monitorOf(prefix: string): Promise<{ commands(): Promise<string[]>; stop(): void }> {
  const monitor = await monitorRedis("127.0.0.1", 6379, (args) =>
    args.some((arg) => arg.startsWith(`${prefix}:`)),
  );
  const seen: string[] = [];
  let marks = 0;
  return {
    /** What was seen since the last call: a marker GET is sent last and awaited (5 s at most). */
    async commands() {
      const marker = `get ${prefix}:monitor-mark-${++marks}`;
      await redis.get(`${prefix}:monitor-mark-${marks}`);
      const deadline = Date.now() + 5000;
      for (;;) {
        seen.push(...monitor.take());
        if (seen.includes(marker)) break;
        assert.ok(Date.now() < deadline, "MONITOR did not show the marker within 5 s");
        await new Promise((r) => setTimeout(r, 10));
      }
      return seen.splice(0).filter((c) => c !== marker);
    },
    stop: () => monitor.stop(),
  };
}

test("a scan saved by another process is what the next latest and latestAll return", async () => {
  const prefix = newPrefix();
  const mine = new Store(redis, prefix);
  const theirs = new Store(other, prefix);
  await mine.saveScan(scan("a", 40));
  assert.equal(daysLeftOf(await mine.latest("a")), 40);
  assert.deepEqual(
    [...(await mine.latestAll(["a", "b"])).entries()].map(([c, s]) => [c, daysLeftOf(s)]),
    [
      ["a", 40],
      ["b", undefined],
    ],
  );

  await theirs.saveScan(scan("a", 5));
  assert.equal(daysLeftOf(await mine.latest("b")), undefined, "b read at the new generation");
  assert.equal(daysLeftOf(await mine.latest("a")), 5, "latest: the other process's scan");
  await theirs.saveScan(scan("a", 3));
  await theirs.saveScan(scan("b", 60));
  const all = await mine.latestAll(["a", "b"]);
  assert.deepEqual([daysLeftOf(all.get("a")), daysLeftOf(all.get("b"))], [3, 60], "latestAll: both new");
  // Each save leaves a token of its own: b's, saved last, is the generation too.
  const [a, b] = await redis.hmget(`${prefix}:report-versions`, "a", "b");
  assert.match(a!, /^[0-9a-f-]{36}$/);
  assert.notEqual(a, b);
  assert.equal(await redis.get(`${prefix}:reports-generation`), b);
  const ttl = await redis.ttl(`${prefix}:report-versions`);
  assert.ok(ttl > 89 * 86_400 && ttl <= 90 * 86_400, `versions TTL ${ttl}`);
});

test("an unchanged report is answered from memory: one GET of the generation, nothing parsed", async () => {
  const prefix = newPrefix();
  const store = new Store(redis, prefix);
  await Promise.all(["a", "b", "c"].map((c, i) => store.saveScan(scan(c, 10 + i))));
  const first = await store.latestAll(["a", "b", "c"]);
  const monitor = await monitorOf(prefix);
  try {
    const again = await store.latestAll(["a", "b", "c"]);
    const one = await store.latest("b");
    assert.deepEqual(await monitor.commands(), [
      `get ${prefix}:reports-generation`,
      `get ${prefix}:reports-generation`,
    ]);
    for (const c of ["a", "b", "c"]) assert.equal(again.get(c), first.get(c), `${c}: the same parsed scan`);
    assert.equal(one, first.get("b"));

    // Behind the store's back, without a new generation: the cached scan is still the answer.
    await redis.del(`${prefix}:report:b`);
    assert.equal(daysLeftOf(await store.latest("b")), 11);
    // A new generation and b's version moved: only b is read again, and it is gone.
    await redis
      .multi()
      .set(`${prefix}:reports-generation`, "by-hand")
      .hset(`${prefix}:report-versions`, "b", "by-hand")
      .exec();
    await monitor.commands();
    const after = await store.latestAll(["a", "b", "c"]);
    assert.equal(after.get("b"), null);
    assert.equal(after.get("a"), first.get("a"));
    assert.deepEqual(await monitor.commands(), [
      `get ${prefix}:reports-generation`,
      `hmget ${prefix}:report-versions a b c`,
      `mget ${prefix}:report:b`,
    ]);
    // Confirmed at that generation: the next read is the GET again.
    await store.latestAll(["a", "b", "c"]);
    assert.deepEqual(await monitor.commands(), [`get ${prefix}:reports-generation`]);
  } finally {
    monitor.stop();
  }
});

test("concurrent reads of the same uncached clusters share one MGET", async () => {
  const prefix = newPrefix();
  const store = new Store(redis, prefix);
  await Promise.all(["a", "b"].map((c) => store.saveScan(scan(c, 20))));
  const monitor = await monitorOf(prefix);
  try {
    const [all, again, one] = await Promise.all([
      store.latestAll(["a", "b"]),
      store.latestAll(["b", "a"]),
      store.latest("a"),
    ]);
    const reads = (await monitor.commands()).filter((c) => c.startsWith("mget"));
    assert.deepEqual(reads, [`mget ${prefix}:report:a ${prefix}:report:b`]);
    assert.equal(again.get("a"), all.get("a"));
    assert.equal(one, all.get("a"));
  } finally {
    monitor.stop();
  }
});

test("the prefix's keys flushed (report, versions, generation): the next read returns null", async () => {
  const prefix = newPrefix();
  const store = new Store(redis, prefix);
  await store.saveScan(scan("a", 40));
  await store.saveScan(scan("b", 40));
  assert.equal(daysLeftOf(await store.latest("a")), 40);
  assert.equal(daysLeftOf((await store.latestAll(["a", "b"])).get("b")), 40);

  await dropKeys(REDIS_URL, prefix);
  assert.equal(await store.latest("a"), null);
  assert.deepEqual([...(await store.latestAll(["a", "b"])).values()], [null, null]);
  await new Store(other, prefix).saveScan(scan("a", 2));
  assert.equal(daysLeftOf(await store.latest("a")), 2, "saved again after the flush");
});

test("a cached scan older than the report's 90 days counts as absent", async () => {
  const prefix = newPrefix();
  let now = NOW;
  const store = new Store(redis, prefix, { now: () => now });
  const saved = scan("a", 40, NOW);
  await store.saveScan(saved);
  assert.equal(daysLeftOf(await store.latest("a")), 40);
  now = saved.scannedAt.getTime() + 90 * DAY_MS - 1;
  assert.equal(daysLeftOf(await store.latest("a")), 40, "a millisecond before its 90 days");
  now += 1;
  assert.equal(await store.latest("a"), null, "latest: 90 days after the scan");
  assert.deepEqual([...(await store.latestAll(["a"])).values()], [null], "latestAll: likewise");
});

test("a report changed without a new version is read again once its entry is 5 minutes old", async () => {
  const prefix = newPrefix();
  let now = NOW;
  const store = new Store(redis, prefix, { now: () => now });
  await store.saveScan(scan("a", 40, NOW));
  assert.equal(daysLeftOf(await store.latest("a")), 40);
  // An older certs-bot saves the report and bumps nothing.
  await redis.set(`${prefix}:report:a`, JSON.stringify(scan("a", 6, NOW)));
  now += REFETCH_AFTER_MS;
  assert.equal(daysLeftOf(await store.latest("a")), 40, `cached for ${REFETCH_AFTER_MS} ms`);
  now += 1;
  assert.equal(daysLeftOf(await store.latest("a")), 6, "read again after");
  assert.equal(daysLeftOf((await store.latestAll(["a"])).get("a")), 6);
});

test("dates come back as Dates, read from Redis and from memory", async () => {
  const prefix = newPrefix();
  const store = new Store(redis, prefix);
  const saved = scan("a", 40);
  await store.saveScan(saved);
  const cold = await new Store(other, prefix).latestAll(["a"]);
  assert.deepEqual(cold.get("a"), saved);
  await store.latest("a");
  const warm = await store.latest("a");
  assert.deepEqual(warm, saved);
  assert.ok(warm?.scannedAt instanceof Date);
  assert.ok(warm.report.nodes[0]?.certificates[0]?.notAfter instanceof Date);
});

test("following saves: reads ask Redis nothing until another process saves; down, they ask again", async () => {
  const { prefix, mine, theirs } = await savedByTheOther();
  const saves = mine.followSaves();
  const monitor = await monitorOf(prefix);
  try {
    // Subscribed once the first read after it trusts the generation it read.
    await until("the subscription", async () => {
      await mine.latestAll(["a", "b"]);
      await monitor.commands();
      await mine.latestAll(["a", "b"]);
      return (await monitor.commands()).length === 0;
    });
    assert.deepEqual(
      [...(await mine.latestAll(["a", "b"])).values()].map(daysLeftOf),
      [20, 40],
      "from memory, no command at all",
    );
    assert.equal(daysLeftOf(await mine.latest("a")), 20);
    assert.deepEqual(await monitor.commands(), []);

    await theirs.saveScan(scan("a", 5));
    await until("the announcement", async () => daysLeftOf(await mine.latest("a")) === 5);
    await monitor.commands();
    assert.equal(daysLeftOf(await mine.latest("a")), 5);
    assert.deepEqual(await monitor.commands(), [], "trusted again after one read");

    // The subscription gone (its connection closed): every read asks the generation again.
    await saves.close();
    await mine.latest("a");
    assert.deepEqual(await monitor.commands(), [`get ${prefix}:reports-generation`]);
  } finally {
    monitor.stop();
    await saves.close();
  }
});

test("a Redis user without pub/sub rights still saves; its readers ask the generation and see every save", async () => {
  const lab = await startRedis({ users: [["certs-bot", "on", ">secret", "~*", "resetchannels", "+@all"]] });
  const url = lab.url.replace("redis://", "redis://certs-bot:secret@");
  const [a, b] = [connectRedis(url), connectRedis(url)];
  const mine = new Store(a, "nopubsub");
  const theirs = new Store(b, "nopubsub");
  const saves = mine.followSaves();
  try {
    await theirs.saveScan(scan("a", 20));
    assert.equal(daysLeftOf(await mine.latest("a")), 20);
    await new Promise((r) => setTimeout(r, 300)); // time for a subscription that will not come
    await theirs.saveScan(scan("a", 4));
    assert.equal(daysLeftOf(await mine.latest("a")), 4, "seen at once, through the generation");
    const refused = await b.publish("nopubsub:reports-saved", "a").then(
      () => "published",
      (err: Error) => err.message,
    );
    assert.match(refused, /NOPERM/);
  } finally {
    await saves.close();
    a.disconnect();
    b.disconnect();
    await lab.stop();
  }
});

test("the same question again (the same array of names) gets the same answer until a save or an entry's age", async () => {
  let now = Date.now();
  const { prefix, mine, theirs } = await savedByTheOther({ now: () => now }, now);
  const channel = ["a", "b"] as const;
  const first = await mine.latestAll(channel);
  assert.equal(await mine.latestAll(channel), first, "the very same answer");
  assert.notEqual(await mine.latestAll(["a", "b"]), first, "another array is another question");
  await mine.latestAll(["a"]);
  assert.equal(await mine.latestAll(channel), first, "other questions in between (a status) push it out not");
  await theirs.saveScan(scan("b", 3, now));
  const after = await mine.latestAll(channel);
  assert.notEqual(after, first);
  assert.equal(daysLeftOf(after.get("b")), 3, "a save is seen");
  // A report rewritten by hand, no token changed: the answer stands until its entries are due.
  await redis.set(`${prefix}:report:a`, JSON.stringify(scan("a", 7, now)));
  now += REFETCH_AFTER_MS / 2;
  assert.equal(await mine.latestAll(channel), after);
  now += REFETCH_AFTER_MS;
  assert.equal(daysLeftOf((await mine.latestAll(channel)).get("a")), 7, "read again once due");
});

test("latestAllNow answers from memory only while the cache may vouch for it, and asks Redis nothing", async () => {
  const { prefix, mine, theirs } = await savedByTheOther();
  assert.equal(mine.latestAllNow(["a"]), undefined, "saves not followed: only latestAll knows");
  const saves = mine.followSaves();
  const monitor = await monitorOf(prefix);
  try {
    await until("the subscription", async () => {
      await mine.latestAll(["a", "b"]);
      return mine.latestAllNow(["a", "b"]) !== undefined;
    });
    await monitor.commands();
    const now = mine.latestAllNow(["a", "b"])!;
    assert.deepEqual([...now.values()].map(daysLeftOf), [20, 40]);
    assert.deepEqual(now, await mine.latestAll(["a", "b"]), "what latestAll answers");
    assert.equal(mine.latestAllNow(["c"]), undefined, "a cluster never read");
    assert.deepEqual(await monitor.commands(), [], "no command at all");

    await theirs.saveScan(scan("a", 5));
    await until("the announcement", async () => mine.latestAllNow(["a"]) === undefined);
    assert.equal(daysLeftOf((await mine.latestAll(["a"])).get("a")), 5, "read once more");
    assert.equal(daysLeftOf(mine.latestAllNow(["a"])?.get("a")), 5, "then at hand again");

    await saves.close();
    assert.equal(mine.latestAllNow(["a"]), undefined, "no longer following: not vouched for");
  } finally {
    monitor.stop();
    await saves.close();
  }
});
