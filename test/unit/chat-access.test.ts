import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.js";
import { canApprove, canOperate, canView, mention, visibleClusters } from "../../src/core/access/access.js";

const CONFIG = parseConfig(
  `
slack: { digestChannel: C0DIGEST }
clusters:
  - name: cluster-a
    channel: C0CLUSTERA
    viewers: [C0CLUSTERA, C0SRETEAM]
    operators: [U0ALICE, S0SREGROUP]
    approvers: [U0BOB]
    nodes: [{ host: 10.0.0.1 }]
  - name: cluster-b
    channel: C0CLUSTERB
    nodes: [{ host: 10.0.0.2 }]
  - name: payments
    viewers: [C0PAYMENTS]
    operators: [U01, U02, U03, U04, U05, S06, U07]
    nodes: [{ host: 10.0.0.3 }]
`,
  "clusters.yaml",
);
const [a, b, payments] = CONFIG.clusters as [
  (typeof CONFIG.clusters)[0],
  (typeof CONFIG.clusters)[0],
  (typeof CONFIG.clusters)[0],
];

test("canView: only the viewer channels; the default is the cluster's channel plus the digest channel", () => {
  assert.deepEqual(canView(a, "C0CLUSTERA"), { allowed: true });
  assert.deepEqual(canView(a, "C0SRETEAM"), { allowed: true });
  assert.deepEqual(canView(a, "C0DIGEST"), {
    allowed: false,
    reason:
      "cluster-a is not shown in this channel. Ask in one of its channels, or ask an admin to add " +
      "this channel to its `viewers`.",
  });
  assert.equal(canView(b, "C0CLUSTERB").allowed, true);
  assert.equal(canView(b, "C0DIGEST").allowed, true, "default viewers include the digest channel");
  assert.equal(canView(b, "C0CLUSTERA").allowed, false);
  assert.equal(canView(b, "").allowed, false, "no channel, no view");
  assert.equal(canView(b, "D0DIRECTMSG").allowed, false, "a DM is not a viewer unless listed");
});

test("visibleClusters: the clusters of one channel, in config order, none elsewhere", () => {
  const names = (channel: string) => visibleClusters(CONFIG, channel).map((c) => c.name);
  assert.deepEqual(names("C0CLUSTERA"), ["cluster-a"]);
  assert.deepEqual(names("C0DIGEST"), ["cluster-b"]);
  assert.deepEqual(names("C0PAYMENTS"), ["payments"]);
  assert.deepEqual(names("C0RANDOM00"), []);
});

test("canOperate: a listed user, or a member of a listed user group", () => {
  assert.deepEqual(canOperate(a, "U0ALICE", []), { allowed: true });
  assert.deepEqual(canOperate(a, "U0CAROL", ["S0OTHER", "S0SREGROUP"]), { allowed: true });
  const denied = canOperate(a, "U0CAROL", ["S0OTHER"]);
  assert.deepEqual(denied, {
    allowed: false,
    reason: "only operators of cluster-a may request scans; ask <@U0ALICE> or <!subteam^S0SREGROUP>.",
  });
  assert.equal(canOperate(a, "U0BOB", []).allowed, false, "an approver is not an operator");
  assert.match(
    (canOperate(a, "U0CAROL", [], "request renewals") as { reason: string }).reason,
    /may request renewals/,
  );
});

test("canOperate: deny by default, and group ids never match a user id (nor the reverse)", () => {
  const none = canOperate(b, "U0ALICE", ["S0SREGROUP"]);
  assert.equal(none.allowed, false);
  assert.match(
    (none as { reason: string }).reason,
    /^cluster-b has no operators, so nobody may request scans for it from Slack; an admin can add/,
  );
  assert.equal(canOperate(a, "", []).allowed, false, "no user id, no access");
  assert.equal(canOperate(a, "S0SREGROUP", []).allowed, false, "a user id that looks like a group");
  assert.equal(canOperate(a, "U0CAROL", ["U0ALICE"]).allowed, false, "a 'group' that is a user id");
  assert.equal(canOperate(a, "u0alice", []).allowed, false, "ids are compared exactly");
});

test("a refusal names at most five people to ask", () => {
  const denied = canOperate(payments, "U0CAROL", []) as { allowed: false; reason: string };
  assert.equal(
    denied.reason,
    "only operators of payments may request scans; ask <@U01>, <@U02>, <@U03>, <@U04>, <@U05> and 2 more.",
  );
  assert.equal(mention("S06"), "<!subteam^S06>");
  assert.equal(mention("W0GRID"), "<@W0GRID>");
});

test("canApprove: approvers only, deny by default", () => {
  assert.deepEqual(canApprove(a, "U0BOB", []), { allowed: true });
  assert.deepEqual(canApprove(a, "U0ALICE", ["S0SREGROUP"]), {
    allowed: false,
    reason: "only approvers of cluster-a may approve renewals; ask <@U0BOB>.",
  });
  assert.match((canApprove(b, "U0BOB", []) as { reason: string }).reason, /cluster-b has no approvers/);
});
