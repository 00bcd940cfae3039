import { test } from "node:test";
import assert from "node:assert/strict";
import { shutdownGraceMs, workerTuning } from "../../src/adapters/queue/queues.js";
import { leaseTtlFor, RUN_LEASE_TTL_MS } from "../../src/adapters/store/run-lease.js";

test("scan lock settings never reach renewals; renewals have their own", () => {
  assert.deepEqual(
    workerTuning({ CERTS_BOT_LOCK_DURATION_MS: "2000", CERTS_BOT_STALLED_INTERVAL_MS: "1000" }),
    {
      lockDuration: 2000,
      stalledInterval: 1000,
    },
  );
  assert.deepEqual(
    workerTuning({
      CERTS_BOT_RENEWAL_LOCK_DURATION_MS: "5000",
      CERTS_BOT_RENEWAL_STALLED_INTERVAL_MS: "2000",
    }),
    { renewalLockDuration: 5000, renewalStalledInterval: 2000 },
  );
});

test("bad tuning values are ignored, not half-applied", () => {
  for (const bad of ["999", "abc", "1.5", "", "3600001"])
    assert.deepEqual(workerTuning({ CERTS_BOT_RENEWAL_LOCK_DURATION_MS: bad }), {}, bad);
});

test("a renewal's run lease lapses no later than its job lock, and at most after a minute", () => {
  assert.equal(leaseTtlFor(undefined), RUN_LEASE_TTL_MS);
  assert.equal(leaseTtlFor(2000), 2000);
  assert.equal(leaseTtlFor(120_000), RUN_LEASE_TTL_MS);
});

test("the shutdown deadline: CERTS_BOT_SHUTDOWN_MS within bounds, else 30 s", () => {
  assert.equal(shutdownGraceMs({}), 30_000);
  assert.equal(shutdownGraceMs({ CERTS_BOT_SHUTDOWN_MS: "5000" }), 5000);
  for (const wrong of ["999", "soon", "2500.5", "3600001"]) {
    assert.equal(shutdownGraceMs({ CERTS_BOT_SHUTDOWN_MS: wrong }), 30_000, wrong);
  }
});
