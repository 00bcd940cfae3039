// The renewal job as the service runs it (runRenewalAttempt) on the real RenewalStore, AuditLog and
// RunLease in Redis: the run reported in the approval card's thread and the card redrawn at its end,
// a rescan after a run, and a request that ends failed when the last attempt fails on infrastructure.
// The runs here never reach a node: another request holds the cluster, or the lease cannot be taken.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { pino } from "pino";
import { newRequest, type RenewalRequest } from "../../src/core/renew/approval.js";
import type { CardLocation, ExecutionLease } from "../../src/core/renew/ports.js";
import {
  runRenewalAttempt,
  type RenewalAttempt,
  type RenewalJobHandlerDependencies,
} from "../../src/app/renewal-job.js";
import { AuditLog } from "../../src/adapters/store/audit.js";
import { connectRedis } from "../../src/adapters/store/redis.js";
import { RenewalStore } from "../../src/adapters/store/renewals.js";
import { RunLease } from "../../src/adapters/store/run-lease.js";
import { dropKeys } from "../lab/redis.js";
import { approvedRequest, RecordingReporter } from "../lab/renewal-cluster.js";
import { config, planOf } from "../fixtures/prod-cluster.js";

const REDIS_URL = "redis://127.0.0.1:6379";
const PREFIX = `renewal-job-${process.pid}`;
const redis = connectRedis(REDIS_URL);
const CONFIG = config();
const CARD: CardLocation = { channel: "C0CARDS", ts: "1700000000.000100" };
let runs = 0;

interface Harness {
  deps: RenewalJobHandlerDependencies;
  records: RenewalStore;
  audit: AuditLog;
  reporters: { card: CardLocation; requestId: string; reporter: RecordingReporter }[];
  refreshed: RenewalRequest[];
  scans: string[];
  logs: string[];
}

/** Fresh keys; `lease` defaults to the real RunLease on them. */
function harness(lease?: ExecutionLease): Harness {
  const prefix = `${PREFIX}-${++runs}`;
  const records = new RenewalStore(redis, prefix);
  const audit = new AuditLog(redis, prefix);
  const logs: string[] = [];
  const h: Omit<Harness, "deps"> = { records, audit, reporters: [], refreshed: [], scans: [], logs };
  const sink = new Writable({ write: (chunk, _enc, done) => done(void logs.push(String(chunk))) });
  const deps: RenewalJobHandlerDependencies = {
    config: CONFIG,
    records,
    audit,
    lease: lease ?? new RunLease(redis, prefix),
    nodes: () => ({
      transportFor: () => assert.fail("no node is reached"),
      rescan: () => assert.fail("no node is rescanned"),
      probe: () => assert.fail("no apiserver is probed"),
      health: () => assert.fail("no apiserver is asked"),
    }),
    threadReporter: (card, requestId, onFinished) => {
      const reporter = new RecordingReporter();
      const finished = reporter.finished.bind(reporter);
      reporter.finished = async (state) => {
        await finished(state);
        await onFinished();
      };
      h.reporters.push({ card, requestId, reporter });
      return reporter;
    },
    refreshCard: async (request) => void h.refreshed.push(request),
    requestScan: async (cluster) => void h.scans.push(cluster),
    logger: pino({ level: "warn" }, sink),
    now: () => new Date(),
    sleep: async () => undefined,
  };
  return { ...h, deps };
}

/** A request of `cluster` that was never saved. */
const unsaved = (cluster: string): RenewalRequest =>
  newRequest({ cluster, requestedBy: "U0OPERATOR", now: new Date(), settings: { approvalTtlMinutes: 240 } });

const attempt = (requestId: string, attemptsMade = 0, attempts = 3): RenewalAttempt => ({
  data: { requestId },
  attemptsMade,
  opts: { attempts },
  updateData: async () => undefined,
});

/** Another request's run holds the cluster: the run is refused at its first preflight, and fails. */
async function heldCluster(h: Harness): Promise<() => Promise<void>> {
  const taken = await (h.deps.lease as RunLease).acquire("prod", "prod-another-request");
  assert.ok(taken.ok);
  return () => taken.lease.release();
}

after(async () => {
  for (let i = 1; i <= runs; i++) await dropKeys(REDIS_URL, `${PREFIX}-${i}`);
  await redis.quit();
});

describe("runRenewalAttempt", () => {
  test("reports in the card's thread, redraws the card when the run ends, then rescans", async () => {
    const h = harness();
    const request = await approvedRequest(h.records, planOf());
    await h.records.setCard(request.id, CARD);
    const release = await heldCluster(h);
    try {
      const result = await runRenewalAttempt(attempt(request.id), h.deps);
      assert.deepEqual(result, { requestId: request.id, outcome: "failed", attempts: 1 });
    } finally {
      await release();
    }
    assert.equal(h.reporters.length, 1);
    assert.deepEqual(h.reporters[0]!.card, CARD);
    assert.equal(h.reporters[0]!.requestId, request.id);
    assert.equal(h.reporters[0]!.reporter.summaries.length, 1);
    assert.deepEqual(
      h.refreshed.map((r) => [r.id, r.state]),
      [[request.id, "failed"]],
    );
    assert.deepEqual(h.scans, ["prod"]);
  });

  test("a request whose card was never recorded runs, told only to the logs", async () => {
    const h = harness();
    const request = await approvedRequest(h.records, planOf());
    const release = await heldCluster(h);
    try {
      assert.equal((await runRenewalAttempt(attempt(request.id), h.deps)).outcome, "failed");
    } finally {
      await release();
    }
    assert.deepEqual(h.reporters, []);
    assert.deepEqual(h.refreshed, []);
    assert.match(h.logs.join(""), /renewal ended; no approval card to report to/);
    assert.deepEqual(h.scans, ["prod"]);
  });

  test("a request that is gone runs nothing and rescans nothing", async () => {
    const h = harness();
    const gone = unsaved("prod");
    const result = await runRenewalAttempt(attempt(gone.id), h.deps);
    assert.equal(result.outcome, "not-run");
    assert.deepEqual(h.scans, []);
  });

  test("infrastructure failing: earlier attempts only fail; the last ends the request failed, audited", async () => {
    const broken: ExecutionLease = {
      acquire: async () => {
        throw new Error("Redis went away");
      },
    };
    const h = harness(broken);
    const request = await approvedRequest(h.records, planOf());
    await assert.rejects(runRenewalAttempt(attempt(request.id, 0, 3), h.deps), /Redis went away/);
    assert.equal((await h.records.get(request.id))?.state, "running");
    assert.equal(h.refreshed.length, 0, "the card is not redrawn while attempts are left");

    await assert.rejects(runRenewalAttempt(attempt(request.id, 2, 3), h.deps), /Redis went away/);
    assert.equal((await h.records.get(request.id))?.state, "failed");
    assert.deepEqual(
      h.refreshed.map((r) => [r.id, r.state]),
      [[request.id, "failed"]],
    );
    const [latest] = await h.audit.latest("prod", 1);
    assert.equal(latest?.kind, "result");
    assert.equal(
      latest?.detail,
      "failed: the run could not go on (Redis went away); check the nodes before a new request",
    );
    assert.deepEqual(h.scans, []);
  });

  test("a request of a cluster no longer configured fails the job", async () => {
    const h = harness();
    const elsewhere = unsaved("elsewhere");
    await assert.rejects(
      runRenewalAttempt(attempt(elsewhere.id), h.deps),
      /cluster elsewhere is not in the configuration/,
    );
  });
});
