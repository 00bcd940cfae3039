// The renewal queue's edge for maintenance windows, on real BullMQ and Redis: an attempt that must
// wait for its window goes back to the queue as a delayed job due when the window opens (kept in
// Redis, so a restart waits too), is not left counted as running, and runs again once due. The
// handler is a stand-in for the run (renew-run.test.ts shows the run deciding to wait on a lab).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { pino } from "pino";
import { Queues, Workers } from "../../src/adapters/queue/queues.js";
import type { RenewalJobData, RenewalJobResult } from "../../src/app/renew/job.js";
import { config } from "../fixtures/prod-cluster.js";
import { dropKeys } from "../lab/redis.js";
import { until } from "../lab/wait.js";

const URL = "redis://127.0.0.1:6379";
const PREFIX = `renewal-window-${process.pid}`;
const connection = { url: URL, protocol: 2 as const, maxRetriesPerRequest: null };
const queues = new Queues(connection, `${PREFIX}:bull`);

after(async () => {
  await queues.close();
  await dropKeys(URL, PREFIX);
});

test("a run that waits for its window is a delayed job due at the window, then runs again", async () => {
  const calls: RenewalJobData[] = [];
  const resumesAt = new Date(Date.now() + 2_000);
  const renew = async (data: RenewalJobData): Promise<RenewalJobResult> => {
    calls.push(data);
    return calls.length === 1
      ? { requestId: data.requestId, outcome: "waiting", resumesAt: resumesAt.toISOString() }
      : { requestId: data.requestId, outcome: "done", attempts: 1 };
  };
  const workers = new Workers(
    connection,
    `${PREFIX}:bull`,
    queues,
    config(),
    { scanCluster: async () => undefined, digest: async () => undefined, renew },
    pino({ level: "silent" }),
  );
  try {
    const job = await queues.requestRun("prod-20261129-0001");
    await until("the first attempt to wait", async () => (await job.getState()) === "delayed");
    // BullMQ keeps a delayed job in a sorted set scored by its due time (ms × 4096 + a counter).
    const client = new Redis(URL);
    const score = Number(await client.zscore(queues.renewal.toKey("delayed"), job.id!));
    client.disconnect();
    assert.equal(Math.floor(score / 0x1000), resumesAt.getTime(), "due when the window opens");
    assert.equal((await queues.renewal.getJob(job.id!))!.attemptsMade, 0, "waiting is not a failed attempt");
    assert.equal(calls.length, 1);
    await until("the second attempt, once due", async () => (await job.getState()) === "completed");
    assert.equal(calls.length, 2);
    assert.ok(Date.now() >= resumesAt.getTime());
    assert.deepEqual((await queues.renewal.getJob(job.id!))!.returnvalue, {
      requestId: "prod-20261129-0001",
      outcome: "done",
      attempts: 1,
    });
  } finally {
    assert.deepEqual(await workers.close(5_000), { abandoned: [], closed: true });
  }
});
