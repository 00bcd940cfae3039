// `/certs policy CLUSTER`: the policy in force, and what it does now or next and when, as rendered
// from real configs (parseConfig), real scans' shapes and real requests (newRequest), at fixed
// dates in UTC (no clock changes) and in Europe/Berlin (a winter `now`, a summer due date).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig, type ClusterConfig } from "../../src/config/load.js";
import { markRunning, newRequest, type RenewalRequest } from "../../src/core/renew/approval.js";
import { POLICY_REQUESTER } from "../../src/core/renew/policy.js";
import type { CertificateReport, StoredScan } from "../../src/core/report/types.js";
import { renderPolicy, type PolicyInput } from "../../src/present/policy.js";
import { blockTexts, checkBlockLimits, type ChatReply } from "../../src/present/slack-types.js";
import { cert, node } from "../fixtures/stored-scan.js";

/** A Saturday; windows below open on Tuesdays and Thursdays. */
const NOW = new Date("2026-11-28T09:00:00Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const UTC_CONFIG = parseConfig(
  `timezone: UTC
renewal:
  policy:
    requestWhenDaysLeft: 30
clusters:
  - name: lab-a
    nodes: [{ host: 10.0.0.1, name: m1 }]
  - name: lab-b
    renewal:
      policy: {}
    nodes: [{ host: 10.0.0.2, name: m2 }]
`,
  "clusters.yaml",
);

const BERLIN_CONFIG = parseConfig(
  `timezone: Europe/Berlin
renewal:
  windows: [{ days: [tue, thu], start: "02:00", duration: 3h }]
clusters:
  - name: prod
    renewal:
      policy:
        requestWhenDaysLeft: 14
        preApproved: true
    nodes: [{ host: 10.0.0.1, name: m1 }]
`,
  "clusters.yaml",
);

const cluster = (config: typeof UTC_CONFIG, name: string): ClusterConfig =>
  config.clusters.find((c) => c.name === name)!;

/** A certificate with its own serial: each one is its own generation (`node/name@serial`). */
const certificate = (name: string, daysLeft: number, serial = `${name}-1`): CertificateReport => ({
  ...cert(name, daysLeft, NOW),
  serialNumber: serial,
});

function scanOf(name: string, certs: CertificateReport[], scannedAt = new Date(NOW.getTime() - 2 * HOUR)) {
  return {
    cluster: name,
    scannedAt,
    durationMs: 900,
    report: { name, status: "ok", nodes: [node("m1", certs)] },
  } satisfies StoredScan;
}

function input(config: typeof UTC_CONFIG, name: string, over: Partial<PolicyInput> = {}): PolicyInput {
  const c = cluster(config, name);
  return {
    cluster: name,
    policy: c.renewal.policy,
    windows: c.renewal,
    timeZone: config.timezone,
    now: NOW,
    scan: null,
    filings: new Map(),
    active: null,
    ...over,
  };
}

/** The reply as one text, after checking that Slack takes it. */
function shown(reply: ChatReply): string {
  assert.deepEqual(checkBlockLimits({ channel: "C0LABAAAA", ...reply }), []);
  return [reply.text, ...blockTexts(reply.blocks)].join("\n");
}

const policyRequest = (cluster: string, preApproved: boolean, at = NOW): RenewalRequest =>
  newRequest({
    cluster,
    requestedBy: POLICY_REQUESTER,
    now: at,
    settings: { approvalTtlMinutes: 240 },
    policy: { source: "clusters.yaml:4", preApproved },
  });

test("no policy: says so, points to /certs renew and to the key that files renewals", () => {
  const text = shown(
    renderPolicy(input(UTC_CONFIG, "lab-b", { scan: scanOf("lab-b", [certificate("apiserver", 3)]) })),
  );
  assert.match(
    text,
    /^lab-b: no renewal policy; \/certs renew lab-b requests a renewal\nlab-b — renewal policy\n/,
  );
  assert.match(text, /\*lab-b\* has no renewal policy: certs-bot files no renewal request of its own\./);
  assert.match(text, /Renewals are requested with `\/certs renew lab-b`\./);
  assert.match(
    text,
    /Setting `renewal\.policy\.requestWhenDaysLeft` in the config \(at the top level, or in the cluster's `renewal:`\)/,
  );
  assert.doesNotMatch(text, /Due now|Next:/, "without a policy nothing is due, however close the expiry");

  // A request the policy filed before it was taken out of the config is still shown.
  const left = policyRequest("lab-b", false);
  const filed = renderPolicy(input(UTC_CONFIG, "lab-b", { active: left }));
  assert.match(shown(filed), new RegExp(`request \`${left.id}\`, filed by the policy: waiting for approval`));
});

test("the rule: days left, the deciding line, approvers, any time; next due date in UTC", () => {
  const scan = scanOf("lab-a", [
    certificate("apiserver", 200),
    certificate("admin.conf", 300),
    certificate("ca", 10),
  ]);
  const reply = renderPolicy(input(UTC_CONFIG, "lab-a", { scan }));
  const text = shown(reply);
  assert.equal(reply.text, "lab-a: renewals requested at 30 days left, approved by approvers");
  assert.match(
    text,
    /certs-bot requests a renewal of \*lab-a\* when a renewable certificate has 30 days left or fewer \(set at `clusters\.yaml:4`\)\./,
  );
  assert.match(text, /Not pre-approved: approvers approve it as any request\./);
  assert.match(text, /No maintenance windows: an approved run starts at once, any time\./);
  // apiserver expires 2027-06-16 09:00; it has 30 days left from 31 days before (days are truncated).
  // The CA is not renewable, so its 10 days left file nothing.
  assert.match(
    text,
    /Next: on 2027-05-16 09:00 UTC `m1\/apiserver` reaches 30 days left \(expires 2027-06-16 09:00 UTC\); certs-bot then files a request for approvers to approve\./,
  );
  assert.match(text, /as of 2026-11-28 09:00 UTC · latest scan 2026-11-28 07:00 UTC \(2h ago\)/);
});

test("pre-approved in Europe/Berlin: the windows, the one open next, the window the due request runs in", () => {
  const scan = scanOf("prod", [certificate("apiserver", 200)]);
  const reply = renderPolicy(input(BERLIN_CONFIG, "prod", { scan }));
  const text = shown(reply);
  assert.equal(reply.text, "prod: renewals requested at 14 days left, pre-approved");
  assert.match(
    text,
    /has 14 days left or fewer \(set at `clusters\.yaml:9`\)/,
    "the preApproved line decides",
  );
  assert.match(text, /Pre-approved: it runs in the next maintenance window with no click\./);
  assert.match(
    text,
    /Maintenance windows: tue, thu 02:00 for 3h \(Europe\/Berlin\); a node is not started with less than 20 min of its window left\. The next: Tue 1 Dec 02:00–05:00 CET\./,
  );
  // Expiry 2027-06-16 09:00 UTC = 11:00 CEST; due 15 days before, a Tuesday: that day's window has
  // passed at 11:00, so the run waits for Thursday's.
  assert.match(
    text,
    /Next: on 2027-06-01 11:00 CEST `m1\/apiserver` reaches 14 days left \(expires 2027-06-16 11:00 CEST\); certs-bot then files a request, which runs with no click in the maintenance window Thu 3 Jun 02:00–05:00 CEST\./,
  );
  assert.match(text, /as of 2026-11-28 10:00 CET · latest scan 2026-11-28 08:00 CET \(2h ago\)/);
});

test("a window open now says so", () => {
  const tuesday = new Date("2026-12-01T02:00:00Z"); // 03:00 CET, inside 02:00–05:00
  const text = shown(renderPolicy(input(BERLIN_CONFIG, "prod", { now: tuesday })));
  assert.match(text, /Open now: Tue 1 Dec 02:00–05:00 CET\./);
});

test("due and not filed: named with their time left, filed at the next scan; more than five are counted", () => {
  const scan = scanOf("lab-a", [certificate("apiserver", 12), certificate("admin.conf", 300)]);
  const text = shown(renderPolicy(input(UTC_CONFIG, "lab-a", { scan })));
  assert.match(
    text,
    /Due now: `m1\/apiserver` \(12d left\); certs-bot files the request at the next scan of \*lab-a\*\./,
  );
  assert.doesNotMatch(text, /Next:|Filed:/, "nothing was filed, and the next step is the due one");

  const names = [
    "apiserver",
    "apiserver-kubelet-client",
    "front-proxy-client",
    "admin.conf",
    "controller-manager.conf",
    "scheduler.conf",
    "super-admin.conf",
  ];
  const many = scanOf(
    "lab-a",
    names.map((n, i) => certificate(n, 2 * i - 1)),
  );
  const listed = shown(renderPolicy(input(UTC_CONFIG, "lab-a", { scan: many })));
  assert.match(
    listed,
    /Due now: `m1\/apiserver` \(expired 1d ago\), `m1\/apiserver-kubelet-client` \(1d left\), `m1\/front-proxy-client` \(3d left\), `m1\/admin\.conf` \(5d left\), `m1\/controller-manager\.conf` \(7d left\) and 2 more; certs-bot files/,
  );
});

test("due while another request holds the cluster: filed at the first scan after that one ends", () => {
  const scan = scanOf("lab-a", [certificate("apiserver", 12)]);
  const person = newRequest({
    cluster: "lab-a",
    requestedBy: "U0ALICE01",
    now: NOW,
    settings: { approvalTtlMinutes: 240 },
  });
  const text = shown(renderPolicy(input(UTC_CONFIG, "lab-a", { scan, active: person })));
  assert.match(
    text,
    new RegExp(
      `Due now: \`m1/apiserver\` \\(12d left\\); request \`${person.id}\` holds \\*lab-a\\* now \\(waiting for approval until 2026-11-28 13:00 UTC\\), so certs-bot files the request at the first scan after that one ends\\.`,
    ),
  );
  assert.doesNotMatch(text, /filed by the policy/, "a person's request is not the policy's");
});

test("due and filed, the request active and pre-approved: it, what it is for, and when it runs", () => {
  const scan = scanOf("prod", [certificate("apiserver", 10), certificate("admin.conf", 10)]);
  const request = policyRequest("prod", true);
  const filings = new Map([
    ["m1/apiserver@apiserver-1", request.id],
    ["m1/admin.conf@admin.conf-1", request.id],
  ]);
  const text = shown(renderPolicy(input(BERLIN_CONFIG, "prod", { scan, filings, active: request })));
  assert.match(
    text,
    new RegExp(
      `request \`${request.id}\`, filed and pre-approved by the policy for \`m1/apiserver\`, \`m1/admin\\.conf\`: approved, runs Tue 1 Dec 02:00 CET in its maintenance window\\.`,
    ),
  );
  assert.doesNotMatch(text, /Due now|Filed:|Next:/, "both due certificates are the active request's");
});

test("the policy's active request waiting for approval, then running", () => {
  const scan = scanOf("lab-a", [certificate("apiserver", 12)]);
  const pending = policyRequest("lab-a", false);
  const filings = new Map([["m1/apiserver@apiserver-1", pending.id]]);
  const waiting = shown(renderPolicy(input(UTC_CONFIG, "lab-a", { scan, filings, active: pending })));
  assert.match(
    waiting,
    /, filed by the policy for `m1\/apiserver`: waiting for approval until 2026-11-28 13:00 UTC\./,
  );
  const running = markRunning({ ...pending, state: "approved" }, new Date(NOW.getTime() + HOUR))!;
  const later = new Date(NOW.getTime() + 2 * HOUR);
  const text = shown(
    renderPolicy(input(UTC_CONFIG, "lab-a", { scan, filings, active: running, now: later })),
  );
  assert.match(text, /: running since 2026-11-28 10:00 UTC\./);
  const expired = shown(
    renderPolicy(
      input(UTC_CONFIG, "lab-a", { scan, filings, active: pending, now: new Date(NOW.getTime() + 5 * HOUR) }),
    ),
  );
  assert.match(expired, /: expired at 2026-11-28 13:00 UTC without enough approvals\./);
});

test("due and filed for a request that has ended: not filed again, /certs renew asks for another", () => {
  const scan = scanOf("lab-a", [certificate("apiserver", 12)]);
  const ended = policyRequest("lab-a", false, new Date(NOW.getTime() - 3 * DAY));
  const text = shown(
    renderPolicy(
      input(UTC_CONFIG, "lab-a", { scan, filings: new Map([["m1/apiserver@apiserver-1", ended.id]]) }),
    ),
  );
  assert.match(
    text,
    new RegExp(
      `Filed: request \`${ended.id}\` for \`m1/apiserver\` \\(12d left\\); it has ended, and certs-bot files one request per certificate, so \`/certs renew lab-a\` requests another \\(\`/certs audit lab-a\` says how that one ended\\)\\.`,
    ),
  );
  assert.doesNotMatch(text, /Due now|Next:/);

  // A renewed certificate is a new generation: the old filing does not cover it.
  const renewed = scanOf("lab-a", [certificate("apiserver", 12, "apiserver-2")]);
  const again = shown(
    renderPolicy(
      input(UTC_CONFIG, "lab-a", {
        scan: renewed,
        filings: new Map([["m1/apiserver@apiserver-1", ended.id]]),
      }),
    ),
  );
  assert.match(again, /Due now: `m1\/apiserver` \(12d left\); certs-bot files the request at the next scan/);
  assert.doesNotMatch(again, /Filed:/);
});

test("filed for many requests: five are named, the rest counted, and the reply fits Slack", () => {
  const nodes = Array.from(
    { length: 7 },
    (_, i) => `kube-master-with-a-long-name-${String(i).padStart(3, "0")}`,
  );
  const scan: StoredScan = {
    ...scanOf("lab-a", []),
    report: {
      name: "lab-a",
      status: "warning",
      nodes: nodes.map((n, i) => node(n, [certificate("apiserver", 5 + i)])),
    },
  };
  const filings = new Map(
    nodes.map((n, i) => [`${n}/apiserver@apiserver-1`, `lab-a-2026112${i}T000000Z-abcdef`]),
  );
  const text = shown(renderPolicy(input(UTC_CONFIG, "lab-a", { scan, filings })));
  assert.equal(text.match(/^Filed: /gm)?.length, 5);
  assert.match(
    text,
    /^Filed: request `lab-a-20261120T000000Z-abcdef` for `kube-master-with-a-long-name-000\/apiserver` \(5d left\);/m,
  );
  assert.match(text, /^… and 2 more filed requests\.$/m);
});

test("no scan yet: knows nothing until the first one; a stale scan: due since it; no renewable certificate", () => {
  const none = shown(renderPolicy(input(UTC_CONFIG, "lab-a")));
  assert.match(
    none,
    /certs-bot knows nothing of \*lab-a\*'s certificates until its first scan; `\/certs status lab-a` starts one\./,
  );
  assert.match(none, /as of 2026-11-28 09:00 UTC · not scanned yet/);
  assert.doesNotMatch(none, /Due now|Next:/);

  // Scanned 40 days ago with 60 days left: 20 left now, due since 29 days after that scan.
  const old = new Date(NOW.getTime() - 40 * DAY);
  const stale = scanOf("lab-a", [{ ...certificate("apiserver", 20), daysLeft: 60 }], old);
  const text = shown(renderPolicy(input(UTC_CONFIG, "lab-a", { scan: stale })));
  assert.match(
    text,
    /`m1\/apiserver` has reached 30 days left since the latest scan \(expires 2026-12-18 09:00 UTC\); certs-bot files the request at the next scan of \*lab-a\*\./,
  );

  const caOnly = shown(
    renderPolicy(input(UTC_CONFIG, "lab-a", { scan: scanOf("lab-a", [certificate("ca", 3000)]) })),
  );
  assert.match(
    caOnly,
    /The latest scan of \*lab-a\* found no renewable certificate with a known expiry: nothing to request\./,
  );
});
