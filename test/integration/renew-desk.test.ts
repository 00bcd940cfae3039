// The request side of renewals (RenewalDesk) on the real Redis stores: plan from a fresh scan, one
// active request per cluster, every approval rule as a click on the card (non-approver, requester,
// double click, two approvers, rejection, expiry), the card kept in step, the run started exactly
// once, and every step of it in the audit log. The scan and the cards are recorders here; the
// Slack and console edges are tested end to end elsewhere (renew-slack, console). User-group
// membership is asked of the fake Slack Web API through the service's lookup (`groupsNow`), so a
// click sees today's groups and a Slack that cannot answer; a changed config is a new desk on the
// same records, as a restarted `serve` would be.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { pino } from "pino";
import type { RenewalRequest } from "../../src/core/renew/approval.js";
import type { ClusterConfig, Config } from "../../src/config/load.js";
import { RenewalDesk, type RenewalDeskDependencies } from "../../src/app/renew/desk.js";
import type { SlackMessage } from "../../src/present/slack-types.js";
import { groupsNow } from "../../src/adapters/slack/backend.js";
import { INTERACTIVE_CALLS, webClient } from "../../src/adapters/slack/poster.js";
import { AuditLog } from "../../src/adapters/store/audit.js";
import { RenewalStore } from "../../src/adapters/store/renewals.js";
import { startFakeSlack, type FakeSlack } from "../lab/fake-slack.js";
import { clusterReport, config as fixtureConfig, node, NOW } from "../fixtures/prod-cluster.js";

const redis = new Redis({ host: "127.0.0.1", port: 6379, protocol: 2, maxRetriesPerRequest: null });
const MINUTE = 60_000;
/** What the fake Slack answers to usergroups.users.list; tests change it in place. */
const usergroups: Record<string, string[]> = {};
let fake: FakeSlack;
/** A Slack that takes the request and never answers (the lookup's timeout). */
let silent: Server;
let silentUrl: string;

before(async () => {
  fake = await startFakeSlack({ usergroups });
  silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/api/`;
});

after(async () => {
  await fake.close();
  silent.closeAllConnections();
  await new Promise((r) => silent.close(r));
  await redis.quit();
});

/** The service's lookup, against `apiUrl` (the fake Slack by default). */
const slackGroups = (apiUrl = fake.url): RenewalDeskDependencies["groupsNow"] => {
  const client = webClient({ token: "xoxb-test", apiUrl }, pino({ level: "silent" }), INTERACTIVE_CALLS);
  return (userId, groups) => groupsNow(client, userId, groups);
};

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

/** The desk's config: prod with its channel, operators and approvers, and `yaml` on top. */
function deskConfig(yaml: string): Config {
  const config = fixtureConfig(yaml, ["m1", "m2"]);
  Object.assign(config.clusters[0]!, {
    channel: "C0PROD",
    operators: ["U0ALICE"],
    approvers: ["U0ALICE", "U0BOB", "U0DAN", "S0SRE"],
  });
  return config;
}

function world(yaml = "renewal: { approvalTtlMinutes: 60, requiredApprovals: 1 }", days = 5): World {
  const config = deskConfig(yaml);
  const cluster = config.clusters[0]!;
  usergroups.S0SRE = ["U0CAROL"];
  fake.reset();
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
    groupsNow: slackGroups(),
    startRun: async (request) => void w.started.push(request),
    now: () => w.clock.now,
  };
  w.desk = new RenewalDesk(w.deps);
  return w;
}

/** The world after `serve` restarted with `yaml` as its config: a new desk on the same records. */
function restartedWith(w: World, yaml: string): void {
  w.deps = { ...w.deps, config: deskConfig(yaml) };
  w.cluster = w.deps.config.clusters[0]!;
  w.desk = new RenewalDesk(w.deps);
}

const lastCard = (w: World) => JSON.stringify(w.cards[w.cards.length - 1]);
const approve = (w: World, id: string, user: string) => w.desk.click(id, { user, action: "approve" });
const lookups = () => fake.calls.filter((c) => c.method === "usergroups.users.list").length;

async function requested(w: World): Promise<RenewalRequest> {
  const outcome = await w.desk.request({ cluster: w.cluster, userId: "U0ALICE" });
  assert.ok(outcome.ok, outcome.ok ? "" : outcome.reason);
  return outcome.request;
}

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
    assert.equal(
      again.reason,
      `a renewal of prod is already pending (request ${request.id}, requested by <@U0ALICE> at ` +
        "2026-11-28 10:00 CET; it expires at 2026-11-28 11:00 CET unless approved).",
      "worded in the config's time zone",
    );
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
    const viaGroup = await approve(w, request.id, "U0CAROL");
    assert.ok(viaGroup.ok);
    assert.equal(w.started.length, 1);
  });

  test("reject: the card says who and when, later clicks are refused, the cluster is free again", async () => {
    const w = world();
    const request = await requested(w);
    const rejected = await w.desk.click(request.id, { user: "U0BOB", action: "reject" });
    assert.ok(rejected.ok);
    assert.match(lastCard(w), /\*Rejected\* by <@U0BOB> at 2026-11-28 10:00 CET/);
    const late = await approve(w, request.id, "U0DAN");
    assert.ok(!late.ok);
    assert.match(late.reason, /rejected by <@U0BOB> at 2026-11-28 10:00 CET;/);
    assert.equal(w.started.length, 0);
    w.clock.now = new Date(NOW.getTime() + MINUTE);
    assert.ok(
      (await w.desk.request({ cluster: w.cluster, userId: "U0ALICE" })).ok,
      "a new request may be made",
    );
  });

  test("cancel: an approved run waiting for its window is cancelled by the requester or an approver, never once a node started", async () => {
    // Saturday 10:00 CET; the window opens on Tuesdays at 02:00.
    const w = world(
      'renewal: { approvalTtlMinutes: 60, windows: [{ days: [tue], start: "02:00", duration: "3h" }] }',
    );
    const dropped: string[] = [];
    w.deps.dropRun = async (request) => void dropped.push(request.id);
    const cancel = (id: string, user: string) => w.desk.click(id, { user, action: "cancel" });
    const first = await requested(w);
    assert.match(lastCard(w), /Runs in the maintenance window Tue 1 Dec 02:00–05:00 CET/);
    assert.match(
      JSON.stringify(await cancel(first.id, "U0ALICE")),
      /not approved yet; Reject withdraws or rejects it/,
    );
    assert.ok((await approve(w, first.id, "U0BOB")).ok);
    assert.match(lastCard(w), /approved — scheduled for Tue 1 Dec 02:00 CET/);
    assert.match(lastCard(w), /renewal_cancel/, "Cancel while it waits");
    await w.deps.records.markRunning(first.id, NOW); // the run's first attempt, which then waits
    const stranger = await cancel(first.id, "U0MALLORY");
    assert.ok(!stranger.ok);
    assert.match(stranger.reason, /only approvers of prod may cancel renewals/);
    const byApprover = await cancel(first.id, "U0DAN");
    assert.ok(byApprover.ok, JSON.stringify(byApprover));
    assert.equal(byApprover.request.state, "cancelled");
    assert.deepEqual(dropped, [first.id], "its queued run is dropped");
    assert.match(lastCard(w), /\*Cancelled\* by <@U0DAN> at 2026-11-28 10:00 CET before it started/);
    assert.doesNotMatch(lastCard(w), /renewal_(cancel|approve)/);
    assert.equal(await w.deps.records.beginNode(first.id, NOW), null, "a run that wakes up starts no node");
    const audit = await w.audit.latest("prod");
    assert.equal(audit[0]!.kind, "cancelled");
    assert.match(audit[0]!.detail, /^cancelled by <@U0DAN>/);
    assert.equal(audit[1]!.kind, "refused");

    // The cluster is free; a run that has started its first node cannot be cancelled, not even by its requester.
    w.clock.now = new Date(NOW.getTime() + MINUTE);
    const second = await requested(w);
    assert.ok((await approve(w, second.id, "U0BOB")).ok);
    await w.deps.records.markRunning(second.id, w.clock.now);
    assert.ok(await w.deps.records.beginNode(second.id, w.clock.now));
    const late = await cancel(second.id, "U0ALICE");
    assert.ok(!late.ok);
    assert.match(late.reason, /a run that has started cannot be cancelled; it stops only at its end/);
    assert.equal((await w.deps.records.get(second.id))!.state, "running");
    assert.deepEqual(dropped, [first.id]);
  });

  test("run now: two approvers besides the requester and the approver start a waiting run at once", async () => {
    const w = world('renewal: { windows: [{ days: [tue], start: "02:00", duration: "3h" }] }');
    const promoted: string[] = [];
    w.deps.promoteRun = async (request) => void promoted.push(request.id);
    const runNow = (id: string, user: string) => w.desk.click(id, { user, action: "runNow" });
    const request = await requested(w);
    assert.ok((await approve(w, request.id, "U0BOB")).ok);
    assert.match(lastCard(w), /renewal_run_now/);
    await w.deps.records.markRunning(request.id, NOW);
    assert.match(
      JSON.stringify(await runNow(request.id, "U0BOB")),
      /other than the requester and those who approved/,
    );
    assert.ok((await runNow(request.id, "U0CAROL")).ok, "through S0SRE");
    assert.match(lastCard(w), /Run now\* starts it at once with 2 approvals .* \(1 so far: <@U0CAROL>\)/);
    assert.match(lastCard(w), /renewal_cancel/, "still waiting, still cancellable");
    assert.deepEqual(promoted, []);
    const second = await runNow(request.id, "U0DAN");
    assert.ok(second.ok);
    assert.equal(second.request.windowsWaived, true);
    assert.deepEqual(promoted, [request.id], "the delayed run is started now");
    await w.desk.sweep();
    assert.deepEqual(promoted, [request.id, request.id], "and again by the sweep while no node started");
    await w.deps.records.beginNode(request.id, NOW);
    await w.desk.sweep();
    assert.equal(promoted.length, 2, "not once the run has started");
    const audit = await w.audit.latest("prod");
    assert.match(
      audit[0]!.detail,
      /^run now: approval 2 of 2; the run starts now, outside its maintenance windows/,
    );
    assert.equal(audit[0]!.actor, "U0DAN");
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
    const expiry = (await w.audit.latest("prod", 50)).find(
      (e) => e.kind === "expired" && e.requestId === request.id,
    );
    // The audit says when, in the configured time zone, as the card and `/certs audit` do.
    assert.equal(expiry?.detail, "no 1 approval(s) by 2026-11-28 11:00 CET");
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

  test("an approver removed from a user group after the request cannot approve; added back, can", async () => {
    const w = world();
    const request = await requested(w);
    usergroups.S0SRE = ["U0ERIN"];
    const removed = await approve(w, request.id, "U0CAROL");
    assert.ok(!removed.ok);
    assert.match(removed.reason, /only approvers of prod may approve renewals/);
    assert.deepEqual((await w.deps.records.get(request.id))?.approvals, [], "nothing recorded");
    assert.equal(w.started.length, 0);
    usergroups.S0SRE = ["U0CAROL"];
    const back = await approve(w, request.id, "U0CAROL");
    assert.ok(back.ok && back.started);
  });

  test("every click asks Slack again: no membership is reused from an earlier click", async () => {
    const w = world("renewal: { approvalTtlMinutes: 60, requiredApprovals: 2 }");
    usergroups.S0SRE = ["U0CAROL", "U0ERIN"];
    const request = await requested(w);
    assert.ok((await approve(w, request.id, "U0CAROL")).ok);
    assert.equal(lookups(), 1);
    usergroups.S0SRE = ["U0CAROL"];
    const erin = await approve(w, request.id, "U0ERIN");
    assert.ok(!erin.ok, "Erin left the group a moment ago");
    assert.equal(lookups(), 2);
    assert.equal(w.started.length, 0);
    // An approver listed by name needs no lookup.
    assert.ok((await approve(w, request.id, "U0BOB")).ok);
    assert.equal(lookups(), 2);
    assert.equal(w.started.length, 1);
  });

  test("Slack cannot say who is in the group (error, 429, timeout): the click is refused, nothing recorded", async () => {
    const w = world();
    const request = await requested(w);
    const cardsBefore = w.cards.length;
    const list = "usergroups.users.list";
    const failures: [string, () => void][] = [
      ["a 500", () => fake.failNext(list, 1, { status: 500 })],
      ["a 429", () => fake.failNext(list, 1, { status: 429, retryAfter: 30 })],
      ["an API error", () => fake.failNext(list, 1, { error: "missing_scope" })],
      ["no answer", () => void (w.deps.groupsNow = slackGroups(silentUrl))],
    ];
    for (const [what, breakSlack] of failures) {
      for (const action of ["approve", "reject"] as const) {
        breakSlack();
        const outcome = await w.desk.click(request.id, { user: "U0CAROL", action });
        assert.ok(!outcome.ok, `${what}: ${action} refused`);
        const verb = action === "approve" ? "approved" : "rejected";
        assert.equal(
          outcome.reason,
          `could not check your approver rights with Slack; nothing was ${verb}, try again.`,
          what,
        );
      }
    }
    const saved = (await w.deps.records.get(request.id))!;
    assert.equal(saved.state, "pending");
    assert.deepEqual(saved.approvals, []);
    assert.equal(w.started.length, 0);
    assert.equal(w.cards.length, cardsBefore, "the card is not touched");
    const refusals = (await w.audit.latest("prod", 20)).filter((e) => e.kind === "refused");
    assert.equal(refusals.length, 8);
    for (const entry of refusals)
      assert.match(entry.detail ?? "", /^(approve|reject) refused: could not check your approver rights/);
    assert.match(refusals[0]!.detail ?? "", /timeout/, "the audit keeps why");

    // Slack answers again: the same click goes through.
    w.deps.groupsNow = slackGroups();
    const ok = await approve(w, request.id, "U0CAROL");
    assert.ok(ok.ok && ok.started);
  });

  test("the requester may withdraw while Slack cannot answer", async () => {
    const w = world();
    const request = await requested(w);
    fake.failNext("usergroups.users.list", 5, { status: 500 });
    const withdrawn = await w.desk.click(request.id, { user: "U0ALICE", action: "reject" });
    assert.ok(withdrawn.ok);
    assert.equal(withdrawn.request.state, "rejected");
  });

  test("requiredApprovals raised in the config after the request: the extra approval is needed, the card says so", async () => {
    const w = world("renewal: { approvalTtlMinutes: 60, requiredApprovals: 1 }");
    const request = await requested(w);
    assert.match(lastCard(w), /Waiting for approval\*: 0 of 1 so far/);
    restartedWith(w, "renewal: { approvalTtlMinutes: 60, requiredApprovals: 2 }");
    const bob = await approve(w, request.id, "U0BOB");
    assert.ok(bob.ok && !bob.started, "one approval of two");
    assert.equal(bob.request.state, "pending");
    assert.equal(w.started.length, 0);
    assert.match(lastCard(w), /Waiting for approval\*: 1 of 2 so far/);
    assert.match(lastCard(w), /Needs 2 approvals from different approvers of \*prod\*/);
    assert.match(lastCard(w), /Needs 2 different approvers, not the requester/, "the plan part too");
    assert.match(lastCard(w), /renewal_approve/, "still approvable");
    const dan = await approve(w, request.id, "U0DAN");
    assert.ok(dan.ok && dan.started);
    assert.equal(w.started.length, 1);
    const approved = (await w.audit.latest("prod")).filter((e) => e.kind === "approved");
    assert.deepEqual(
      approved.map((e) => e.detail),
      ["approval 2 of 2", "approval 1 of 2"],
    );
  });

  test("requiredApprovals lowered after the request: the click that reaches the new count completes it", async () => {
    const w = world("renewal: { approvalTtlMinutes: 60, requiredApprovals: 3 }");
    const request = await requested(w);
    assert.ok((await approve(w, request.id, "U0BOB")).ok);
    assert.ok((await approve(w, request.id, "U0DAN")).ok);
    assert.equal(w.started.length, 0);
    restartedWith(w, "renewal: { approvalTtlMinutes: 60, requiredApprovals: 2 }");
    const again = await approve(w, request.id, "U0BOB");
    assert.ok(again.ok && again.started, "two approvals are enough now");
    assert.equal(again.request.approvals.length, 2);
    assert.match(lastCard(w), /\*Approved\* by <@U0BOB>/);
  });

  test("allowSelfApproval turned off after the request: the requester is refused", async () => {
    const w = world("renewal: { approvalTtlMinutes: 60, allowSelfApproval: true }");
    const request = await requested(w);
    assert.match(lastCard(w), /the requester may approve too/);
    restartedWith(w, "renewal: { approvalTtlMinutes: 60, allowSelfApproval: false }");
    const self = await approve(w, request.id, "U0ALICE");
    assert.ok(!self.ok);
    assert.match(self.reason, /you requested this renewal, so a different approver must approve it/);
    assert.equal((await w.deps.records.get(request.id))?.state, "pending");
    assert.equal(w.started.length, 0);
    const bob = await approve(w, request.id, "U0BOB");
    assert.ok(bob.ok && bob.started);
  });
});
