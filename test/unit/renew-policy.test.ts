// Renewal policies, the pure part: which certificates a scan finds due (renewable ones only, by
// generation), when the next one becomes due, and what the approvers are told when the plan is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dueCertificates, nextDue, unfiled } from "../../src/core/renew/policy.js";
import { renderPolicyEscalation } from "../../src/present/escalation.js";
import type { RenewalPolicy } from "../../src/config/load.js";
import type { ClusterReport } from "../../src/core/report/types.js";
import { cert, node } from "../fixtures/stored-scan.js";

const NOW = new Date("2026-11-30T10:00:00Z");
const DAY = 86_400_000;
const POLICY: RenewalPolicy = { requestWhenDaysLeft: 30, preApproved: false, source: "certs-bot.yaml:12" };

function report(): ClusterReport {
  const serial = (c: ReturnType<typeof cert>, s: string) => ({ ...c, serialNumber: s });
  return {
    name: "prod",
    status: "warning",
    nodes: [
      node("cp-1", [
        serial(cert("apiserver", 45, NOW), "0a"),
        serial(cert("apiserver-kubelet-client", 12, NOW), "0b"),
        serial(cert("ca", 3000, NOW), "0c"), // a CA: never renewed by kubeadm
        serial(cert("front-proxy-client", 30, NOW), "0d"),
      ]),
      node("cp-2", [
        serial(cert("apiserver-kubelet-client", -2, NOW), "1b"),
        { ...cert("apiserver", 5, NOW), notAfter: null, daysLeft: null },
      ]),
      { ...node("cp-3", []), reachable: false, status: "unreachable" },
    ],
  };
}

test("due: renewable certificates with requestWhenDaysLeft days left or fewer, expired too, soonest first", () => {
  const due = dueCertificates(report(), POLICY);
  assert.deepEqual(
    due.map((c) => [c.generation, c.daysLeft]),
    [
      ["cp-2/apiserver-kubelet-client@1b", -2],
      ["cp-1/apiserver-kubelet-client@0b", 12],
      ["cp-1/front-proxy-client@0d", 30],
    ],
    "the CA, the 45-day certificate and the unreadable one are not due",
  );
  assert.deepEqual(
    dueCertificates(report(), { ...POLICY, requestWhenDaysLeft: 1 }).map((c) => c.node),
    ["cp-2"],
  );
});

test("a generation is its node, file and serial: a renewed certificate is due again on its own", () => {
  const filed = new Set(["cp-2/apiserver-kubelet-client@1b", "cp-1/apiserver-kubelet-client@0b"]);
  assert.deepEqual(
    unfiled(dueCertificates(report(), POLICY), filed).map((c) => c.generation),
    ["cp-1/front-proxy-client@0d"],
  );
  const renewed = report();
  renewed.nodes[1]!.certificates[0]!.serialNumber = "2b";
  assert.ok(unfiled(dueCertificates(renewed, POLICY), filed).some((c) => c.generation.endsWith("@2b")));
});

test("next due: the first certificate not due yet, from the moment it shows requestWhenDaysLeft days left", () => {
  const next = nextDue(report(), POLICY);
  assert.equal(next?.certificate.generation, "cp-1/apiserver@0a");
  // 45 days left now: 30 whole days left from 31 days before expiry, so in 14 days.
  assert.equal(next?.dueAt.toISOString(), new Date(NOW.getTime() + 14 * DAY).toISOString());
  assert.equal(nextDue(report(), { ...POLICY, requestWhenDaysLeft: 60 }), null, "everything is due");
});

test("escalation: the approvers by mention, the reason, the due certificates and the policy's line", () => {
  const message = renderPolicyEscalation({
    cluster: "prod",
    channel: "C0PROD",
    approvers: ["U0ALICE", "S0SRE"],
    reason: "the CA ca expires before the renewed leaves would <script>",
    source: "certs-bot.yaml:12",
    due: dueCertificates(report(), POLICY),
    timeZone: "Europe/Berlin",
  });
  const text = JSON.stringify(message.blocks);
  assert.equal(message.channel, "C0PROD");
  assert.match(text, /<@U0ALICE> <!subteam\^S0SRE>: please look/);
  assert.match(text, /could not request a renewal/);
  assert.match(text, /&lt;script&gt;/, "the reason is escaped");
  assert.match(text, /cp-2\/apiserver-kubelet-client`: expired /);
  assert.match(text, /cp-1\/apiserver-kubelet-client`: 12 days left \(expires /);
  assert.match(text, /certs-bot.yaml:12/);
  const nobody = JSON.stringify(
    renderPolicyEscalation({
      ...{ cluster: "prod", channel: "C0PROD", reason: "x", source: "f:1", timeZone: "UTC" },
      approvers: [],
      due: [],
    }).blocks,
  );
  assert.match(nobody, /Nobody is listed in `approvers` of prod/);
});
