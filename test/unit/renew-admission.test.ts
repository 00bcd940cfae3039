// One active request per cluster: the rule and the console's records applying it (the Redis records
// are held to the same in test/integration/renewal-store.test.ts, the wording in renew-thread.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { admission } from "../../src/core/renew/admission.js";
import { newRequest, type RenewalRequest, type RequestState } from "../../src/core/renew/approval.js";
import { MemoryRenewals } from "../../src/adapters/console/renewals.js";

const NOW = new Date("2026-11-28T09:00:00Z");
const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

const request = (minutes = 0, by = "U0ALICE"): RenewalRequest =>
  newRequest({ cluster: "prod", requestedBy: by, now: at(minutes), settings: { approvalTtlMinutes: 240 } });
const inState = (state: RequestState): RenewalRequest => ({ ...request(), state });

test("admission: free without a holder or with an ended one", () => {
  assert.deepEqual(admission(null, NOW), { verdict: "free" });
  for (const state of ["rejected", "expired", "done", "failed"] as const)
    assert.deepEqual(admission(inState(state), at(1)), { verdict: "free" }, state);
});

test("admission: held while pending, approved or running; a pending one past its window expires first", () => {
  for (const state of ["pending", "approved", "running"] as const) {
    const holder = inState(state);
    assert.deepEqual(admission(holder, at(239)), { verdict: "held", holder }, state);
  }
  const pending = request();
  assert.deepEqual(admission(pending, at(240)), { verdict: "expire", holder: pending });
  for (const state of ["approved", "running"] as const) {
    const holder = inState(state);
    assert.deepEqual(admission(holder, at(241)), { verdict: "held", holder }, `${state} never expires`);
  }
});

test("the console's records apply the rule: held → the holder as data, due → expired on the way", async () => {
  const records = new MemoryRenewals();
  const first = request();
  assert.equal((await records.create(first)).ok, true);
  assert.deepEqual(await records.create(request(5, "U0CAROL")), { ok: false, active: first, expired: [] });
  assert.deepEqual(await records.create(first, { now: at(6) }), { ok: false, expired: [] }, "a taken id");

  const late = request(300, "U0CAROL");
  const created = await records.create(late);
  assert.ok(created.ok);
  assert.deepEqual(
    created.expired.map((r) => [r.id, r.state]),
    [[first.id, "expired"]],
  );
  assert.equal((await records.active("prod"))?.id, late.id);
});
