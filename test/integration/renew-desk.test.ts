// The request side of renewals (RenewalDesk) on the real Redis stores: plan from a fresh scan, one
// active request per cluster, every approval rule as a click on the card (non-approver, requester,
// double click, two approvers, rejection, expiry), the card kept in step, the run started exactly
// once, and every step of it in the audit log. The scan and the cards are recorders here; the
// Slack and console edges are tested end to end elsewhere (renew-slack, console).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import type { RenewalRequest } from "../../src/renew/approval.js";
import type { ClusterConfig } from "../../src/config/load.js";
import { RenewalDesk, type RenewalDeskDependencies } from "../../src/renew/desk.js";
import type { SlackMessage } from "../../src/notify/slack-types.js";
import { AuditLog } from "../../src/store/audit.js";
import { RenewalStore } from "../../src/store/renewals.js";
import { clusterReport, config as fixtureConfig, node, NOW } from "../unit/renew-fixtures.js";

const redis = new Redis({ host: "127.0.0.1", port: 6379, protocol: 2, maxRetriesPerRequest: null });
const MINUTE = 60_000;

interface World {
  desk: RenewalDesk;
  deps: RenewalDeskDependencies;
  cluster: ClusterConfig;
  audit: AuditLog;
  cards: SlackMessage[];
  started: RenewalRequest[];
  clock: { now: Date };
  scans: number;
}

let worlds = 0;

function world(yaml = "renewal: { approvalTtlMinutes: 60, requiredApprovals: 1 }", days = 5): World {
  const config = fixtureConfig(yaml, ["m1", "m2"]);
  const cluster = config.clusters[0]!;
  Object.assign(cluster, {
    channel: "C0PROD",
    operators: ["U0ALICE"],
    approvers: ["U0ALICE", "U0BOB", "U0DAN", "S0SRE"],
  });
  const prefix = `desk-test-${process.pid}-${++worlds}`;
  const audit = new AuditLog(redis, prefix);
  const w = { audit, cluster, cards: [], started: [], clock: { now: NOW }, scans: 0 } as unknown as World;
  w.deps = {
    config,
    records: new RenewalStore(redis, prefix),
    audit,
    scan: async () => {
      w.scans++;
      return clusterReport(
        node("m1", { days: { "apiserver-kubelet-client": days } }),
        node("m2", { days: { "apiserver-kubelet-client": days } }),
      );
    },
    channelFor: (c) => c.channel ?? null,
    cards: {
      post: async (message) => {
        w.cards.push(message);
        return { channel: message.channel, ts: "1000.0001" };
      },
      update: async (_card, message) => void w.cards.push(message),
    },
    startRun: async (request) => void w.started.push(request),
    now: () => w.clock.now,
  };
  w.desk = new RenewalDesk(w.deps);
  return w;
}

const lastCard = (w: World) => JSON.stringify(w.cards[w.cards.length - 1]);
const approve = (w: World, id: string, user: string, userGroups: string[] = []) =>
  w.desk.click(id, { user, userGroups, action: "approve" });

async function requested(w: World): Promise<RenewalRequest> {
  const outcome = await w.desk.request({ cluster: w.cluster, userId: "U0ALICE" });
  assert.ok(outcome.ok, outcome.ok ? "" : outcome.reason);
  return outcome.request;
}

after(() => redis.quit());

describe("renewal desk", () => {
  test("request: plan from a fresh scan, card with buttons, one active request per cluster", async () => {
    const w = world();
    const request = await requested(w);
    assert.equal(w.scans, 1);
    assert.equal(w.cards.length, 1);
    assert.match(lastCard(w), /renewal_approve/);
    assert.match(lastCard(w), /apiserver-kubelet-client/);
    const again = await w.desk.request({ cluster: w.cluster, userId: "U0ALICE" });
    assert.ok(!again.ok);
    assert.match(again.reason, /already pending/);
    assert.equal(w.scans, 1, "no scan while another request is pending");
    const entries = await w.audit.latest("prod");
    assert.deepEqual(
      entries.map((e) => e.kind),
      ["refused", "requested"],
    );
    assert.equal(entries[1]!.requestId, request.id);
  });

  test("preview: the plan from a fresh scan, with nothing saved, audited or posted", async () => {
    const w = world();
    const preview = await w.desk.preview({ cluster: w.cluster, userId: "U0ALICE" });
    assert.ok(preview.ok);
    assert.equal(preview.plan.requestedBy, undefined, "nobody requested it");
    assert.deepEqual(
      preview.plan.nodes.map((n) => n.node),
      ["m1", "m2"],
    );
    assert.equal(w.scans, 1, "from a fresh scan");
    assert.equal(w.cards.length, 0, "no card");
    assert.equal(await w.deps.records.active("prod"), null, "no request");
    assert.deepEqual(await w.audit.latest("prod"), [], "no audit entry");
    await requested(w); // and a request after it is not blocked by it
  });

  test("a cluster whose CA expires before the renewed leaves would is refused, and audited", async () => {
    const w = world();
    w.deps.scan = async () =>
      clusterReport(node("m1", { days: { ca: 100 } }), node("m2", { days: { ca: 100 } }));
    const outcome = await w.desk.request({ cluster: w.cluster, userId: "U0ALICE" });
    assert.ok(!outcome.ok);
    assert.match(outcome.reason, /CA/);
    assert.equal(w.cards.length, 0, "no card");
    assert.equal((await w.audit.latest("prod"))[0]!.kind, "refused");
  });

  test("clicks: a non-approver and the requester are refused; double clicks start one run", async () => {
    const w = world();
    const request = await requested(w);
    const stranger = await approve(w, request.id, "U0MALLORY");
    assert.ok(!stranger.ok);
    assert.match(stranger.reason, /approvers/);
    const self = await approve(w, request.id, "U0ALICE");
    assert.ok(!self.ok);
    assert.match(self.reason, /different approver/);
    const clicks = await Promise.all([
      approve(w, request.id, "U0BOB"),
      approve(w, request.id, "U0BOB"),
      approve(w, request.id, "U0DAN"),
    ]);
    assert.equal(clicks.filter((c) => c.ok).length, 1);
    assert.equal(w.started.length, 1, "exactly one run started");
    assert.match(lastCard(w), /\*Approved\* by <@U0(BOB|DAN)>/);
    assert.doesNotMatch(lastCard(w), /renewal_approve/, "no buttons once approved");
    const kinds = (await w.audit.latest("prod")).map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === "approved").length, 1);
    assert.equal(kinds.filter((k) => k === "refused").length, 4);
  });

  test("two approvers: the first approval waits for a different second one (a group member counts)", async () => {
    const w = world("renewal: { approvalTtlMinutes: 60, requiredApprovals: 2 }");
    const request = await requested(w);
    assert.ok((await approve(w, request.id, "U0BOB")).ok);
    assert.equal(w.started.length, 0);
    const twice = await approve(w, request.id, "U0BOB");
    assert.ok(!twice.ok);
    assert.match(twice.reason, /already approved this request; it needs 1 more approval/);
    assert.match(lastCard(w), /U0BOB/);
    const viaGroup = await approve(w, request.id, "U0CAROL", ["S0SRE"]);
    assert.ok(viaGroup.ok);
    assert.equal(w.started.length, 1);
  });

  test("reject: the card says who and when, later clicks are refused, the cluster is free again", async () => {
    const w = world();
    const request = await requested(w);
    const rejected = await w.desk.click(request.id, { user: "U0BOB", userGroups: [], action: "reject" });
    assert.ok(rejected.ok);
    assert.match(lastCard(w), /\*Rejected\* by <@U0BOB> at 2026-11-28 10:00 CET/);
    const late = await approve(w, request.id, "U0DAN");
    assert.ok(!late.ok);
    assert.match(late.reason, /rejected by <@U0BOB>/);
    assert.equal(w.started.length, 0);
    w.clock.now = new Date(NOW.getTime() + MINUTE);
    assert.ok(
      (await w.desk.request({ cluster: w.cluster, userId: "U0ALICE" })).ok,
      "a new request may be made",
    );
  });

  test("expiry: the sweep expires an unapproved request, updates its card, and frees the cluster", async () => {
    const w = world();
    const request = await requested(w);
    w.clock.now = new Date(NOW.getTime() + 59 * MINUTE);
    assert.equal(await w.desk.sweep(), 0, "not yet");
    w.clock.now = new Date(NOW.getTime() + 61 * MINUTE);
    assert.equal(await w.desk.sweep(), 1);
    assert.match(lastCard(w), /expired/i);
    assert.doesNotMatch(lastCard(w), /renewal_approve/);
    const late = await approve(w, request.id, "U0BOB");
    assert.ok(!late.ok);
    assert.match(late.reason, /expired/);
    assert.equal(w.started.length, 0);
    assert.ok((await w.desk.request({ cluster: w.cluster, userId: "U0ALICE" })).ok);
    assert.ok(
      (await w.audit.latest("prod", 50)).some((e) => e.kind === "expired" && e.requestId === request.id),
    );
  });

  test("a card that cannot be posted withdraws its request, so the cluster is not blocked", async () => {
    const w = world();
    w.deps.cards.post = async () => {
      throw new Error("not_in_channel");
    };
    await assert.rejects(w.desk.request({ cluster: w.cluster, userId: "U0ALICE" }), /not_in_channel/);
    w.deps.cards.post = async () => ({ channel: "C0PROD", ts: "1.2" });
    w.clock.now = new Date(NOW.getTime() + MINUTE);
    assert.ok((await w.desk.request({ cluster: w.cluster, userId: "U0ALICE" })).ok);
  });

  test("an approved request whose run could not be started is started by the next sweep", async () => {
    const w = world();
    const request = await requested(w);
    w.deps.startRun = async () => {
      throw new Error("the queue is unreachable");
    };
    await assert.rejects(approve(w, request.id, "U0BOB"), /unreachable/);
    const started: string[] = [];
    w.deps.startRun = async (r) => void started.push(r.id);
    assert.equal(await w.desk.sweep(), 0, "nothing expired");
    assert.deepEqual(started, [request.id]);
  });
});
