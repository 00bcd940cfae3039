import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.js";
import type { StoredScan } from "../../src/core/report/types.js";
import { blockTexts, checkBlockLimits } from "../../src/present/slack-types.js";
import {
  auditNeeded,
  decideCommand,
  groupsNeeded,
  handleCommand,
  policyNeeded,
  reportsNeeded,
  type CommandRequest,
  type RouterDecision,
} from "../../src/app/router.js";
import { cert as fixtureCert, node } from "../fixtures/stored-scan.js";
import type { ChatBackend } from "../../src/core/chat/backend.js";
import { emptyAlertState } from "../../src/core/alerts/state.js";
import { newRequest } from "../../src/core/renew/approval.js";

const NOW = new Date("2026-11-28T09:00:00Z");

const CONFIG = parseConfig(
  `
timezone: Europe/Berlin
slack: { digestChannel: C0DIGEST }
clusters:
  - name: cluster-a
    channel: C0CLUSTERA
    viewers: [C0CLUSTERA, C0SRETEAM]
    operators: [U0ALICE, S0SREGROUP]
    approvers: [U0BOB]
    renewal:
      policy: { requestWhenDaysLeft: 30 }
    nodes:
      - { host: 10.0.0.11, name: kube-master001 }
      - { host: 10.0.0.12, name: kube-master002 }
  - name: cluster-b
    channel: C0CLUSTERB
    operators: [U0ALICE]
    nodes: [{ host: 10.0.1.1 }]
  - name: cluster-x
    viewers: [C0OTHERTEAM]
    operators: [U0ALICE]
    nodes: [{ host: 10.0.2.1 }]
`,
  "clusters.yaml",
);

const cert = (name: string, daysLeft: number) => fixtureCert(name, daysLeft, NOW);

const SCANS: Record<string, StoredScan> = {
  "cluster-a": {
    cluster: "cluster-a",
    scannedAt: new Date(NOW.getTime() - 2 * 3_600_000),
    durationMs: 900,
    report: {
      name: "cluster-a",
      status: "warning",
      nodes: [
        node("kube-master001", [cert("apiserver", 12), cert("admin.conf", 300)]),
        node("kube-master002", [cert("apiserver", 200)]),
      ],
    },
  },
};

const asked: string[] = [];
const deps = {
  config: CONFIG,
  latest: (cluster: string) => {
    asked.push(cluster);
    return SCANS[cluster] ?? null;
  },
  now: NOW,
};

function run(text: string, over: Partial<CommandRequest> = {}): RouterDecision {
  const decision = handleCommand(
    { text, userId: "U0CAROL", channelId: "C0CLUSTERA", userGroups: [], ...over },
    deps,
  );
  assert.ok(decision.reply.length > 0);
  for (const reply of decision.reply)
    assert.deepEqual(checkBlockLimits({ channel: "C0CLUSTERA", ...reply }), []);
  return decision;
}

const shown = (decision: RouterDecision): string =>
  decision.reply.map((r) => [r.text, ...blockTexts(r.blocks)].join("\n")).join("\n");

test("help (and empty text) is ephemeral, with examples for a cluster of this channel", () => {
  for (const text of ["", "help", "help scan"]) {
    const decision = run(text);
    assert.equal(decision.ephemeral, true);
    assert.equal(decision.enqueueScan, undefined);
  }
  assert.match(shown(run("help")), /`\/certs status cluster-a --all`/);
  assert.ok(!shown(run("help", { channelId: "C0DIGEST" })).includes("cluster-a"));
});

test("list shows only the clusters of this channel, in the channel", () => {
  asked.length = 0;
  const here = run("list");
  assert.equal(here.ephemeral, false);
  assert.equal(here.enqueueScan, undefined);
  assert.match(
    shown(here),
    /\*cluster-a\* — warning · `kube-master001\/apiserver` 12d left · scanned 2h ago/,
  );
  assert.ok(!/cluster-b|cluster-x/.test(shown(here)));
  assert.deepEqual(asked, ["cluster-a"], "only visible clusters' reports are read");
  const digest = shown(run("list", { channelId: "C0DIGEST" }));
  assert.match(digest, /\*cluster-b\* — not scanned yet/);
  assert.ok(!/cluster-a|cluster-x/.test(digest));
  assert.match(shown(run("list", { channelId: "C0NOBODY00" })), /No clusters are shown in this channel/);
});

test("status: the latest report, --node, --all; unknown nodes suggest that cluster's nodes", () => {
  const status = run("status cluster-a");
  assert.equal(status.ephemeral, false);
  assert.equal(status.enqueueScan, undefined);
  assert.match(status.reply[0]!.text, /^cluster-a: warning/);
  assert.match(shown(status), /`apiserver` \*warning\* · expires 2026-12-10 10:00 CET \(12d left\)/);
  const one = shown(run("status cluster-a --node kube-master002 --all"));
  assert.ok(!one.includes("kube-master001"));
  assert.match(one, /`apiserver` \*ok\*/);
  const unknown = run("status cluster-a --node kube-master003");
  assert.equal(unknown.ephemeral, true);
  assert.match(
    shown(unknown),
    /\*cluster-a\* has no node `kube-master003`; did you mean `kube-master001`, `kube-master002`\?/,
  );
});

test("status without a report says so and starts a scan, for anyone who may see the cluster", () => {
  const decision = run("status cluster-b", { channelId: "C0CLUSTERB" });
  assert.equal(decision.ephemeral, false);
  assert.equal(decision.enqueueScan, "cluster-b");
  assert.match(shown(decision), /\*cluster-b\* has no report yet — scanning now/);
  const byIp = run("status cluster-b --node 10.0.1.1", { channelId: "C0CLUSTERB" });
  assert.equal(byIp.enqueueScan, "cluster-b", "a node named by its host");
});

test("scan: operators (as users or through a user group) queue it; others are refused", () => {
  const alice = run("scan cluster-a", { userId: "U0ALICE" });
  assert.deepEqual(alice, {
    reply: alice.reply,
    ephemeral: false,
    enqueueScan: "cluster-a",
  });
  assert.match(shown(alice), /Scan of \*cluster-a\* requested by <@U0ALICE>/);
  const group = run("scan cluster-a", { userId: "U0DAVE", userGroups: ["S0SREGROUP"] });
  assert.equal(group.enqueueScan, "cluster-a");
  for (const over of [
    { userId: "U0CAROL" },
    { userId: "U0BOB" },
    { userId: "U0CAROL", userGroups: ["S0OTHERS"] },
  ]) {
    const refused = run("scan cluster-a", over);
    assert.equal(refused.ephemeral, true);
    assert.equal(refused.enqueueScan, undefined);
    assert.match(
      shown(refused),
      /only operators of cluster-a may request scans; ask <@U0ALICE> or <!subteam\^S0SREGROUP>/,
    );
  }
});

test("a cluster is never shown, scanned or suggested outside its viewer channels", () => {
  const elsewhere = run("status cluster-x");
  assert.equal(elsewhere.ephemeral, true);
  assert.equal(elsewhere.enqueueScan, undefined);
  assert.match(shown(elsewhere), /cluster-x is not shown in this channel/);
  const scan = run("scan cluster-x", { userId: "U0ALICE" });
  assert.equal(scan.enqueueScan, undefined, "an operator in the wrong channel queues nothing");
  assert.match(shown(scan), /not shown in this channel/);
  const typo = run("status cluster-c");
  assert.equal(typo.ephemeral, true);
  assert.match(shown(typo), /There is no cluster `cluster-c` in this channel; did you mean \*cluster-a\*\?/);
  assert.ok(!/cluster-b|cluster-x/.test(shown(typo)), "no other team's names");
  const nothing = shown(run("status cluster-c", { channelId: "C0NOBODY00" }));
  assert.match(nothing, /There is no cluster `cluster-c` in this channel\./);
  assert.ok(!/cluster-[abx]/.test(nothing));
  assert.deepEqual(reportsNeeded({ text: "status cluster-x", channelId: "C0CLUSTERA" }, CONFIG), []);
});

test("renew: operators only; the plan is requested from the edge, the answer is ephemeral", () => {
  const decision = run("renew cluster-a --node kube-master001 --certs apiserver", { userId: "U0ALICE" });
  assert.equal(decision.ephemeral, true);
  assert.equal(decision.enqueueScan, undefined);
  assert.deepEqual(decision.requestRenewal, {
    cluster: "cluster-a",
    node: "kube-master001",
    certs: ["apiserver"],
  });
  assert.match(shown(decision), /Scanning \*cluster-a\* and building a renewal plan/);
  assert.deepEqual(run("renew cluster-a", { userId: "U0CAROL", userGroups: ["S0SREGROUP"] }).requestRenewal, {
    cluster: "cluster-a",
  });

  const bob = run("renew cluster-a", { userId: "U0BOB" });
  assert.equal(bob.requestRenewal, undefined, "an approver is not an operator");
  assert.match(shown(bob), /only operators of cluster-a may request renewals/);
  const typo = run("renew cluster-a --node kube-master01", { userId: "U0ALICE" });
  assert.equal(typo.requestRenewal, undefined);
  assert.match(shown(typo), /has no node `kube-master01`; did you mean `kube-master001`/);
  assert.match(shown(run("renew cluster-x", { userId: "U0ALICE" })), /not shown in this channel/);
  assert.deepEqual(
    groupsNeeded({ text: "renew cluster-a", channelId: "C0CLUSTERA", userId: "U0CAROL" }, CONFIG),
    ["S0SREGROUP"],
  );
});

test("audit: shown only to the asker (its mentions would ping people), to whoever may see the cluster here", () => {
  const entries = [
    {
      id: "2-0",
      at: new Date(NOW.getTime() - 60_000),
      kind: "approved" as const,
      actor: "U0BOB",
      detail: "approval 1 of 1",
    },
    {
      id: "1-0",
      at: new Date(NOW.getTime() - 120_000),
      kind: "requested" as const,
      actor: "U0ALICE",
      detail: "all",
    },
  ];
  const decision = handleCommand(
    { text: "audit cluster-a", userId: "U0CAROL", channelId: "C0SRETEAM", userGroups: [] },
    { ...deps, audit: (c) => (c === "cluster-a" ? entries : []) },
  );
  assert.equal(decision.ephemeral, true);
  const text = shown(decision);
  assert.ok(text.indexOf("U0BOB") < text.indexOf("U0ALICE"), text);
  assert.deepEqual(auditNeeded({ text: "audit cluster-a", channelId: "C0SRETEAM" }, CONFIG), ["cluster-a"]);
  assert.deepEqual(auditNeeded({ text: "audit cluster-x", channelId: "C0SRETEAM" }, CONFIG), []);
  assert.match(shown(run("audit cluster-x")), /not shown in this channel/);
});

test("bad input is ephemeral, runs nothing and reads no report", () => {
  const attempts = [
    "status cluster-a; rm -rf /",
    "$(reboot)",
    "status `reboot`",
    "scan cluster-a && curl evil",
    "status cluster-a\nscan cluster-a",
    "x".repeat(10_000),
    "stauts cluster-a",
    "scan",
    "scan cluster-a cluster-b",
    "status cluster-a --force",
    "status Cluster-A",
  ];
  for (const text of attempts) {
    asked.length = 0;
    const decision = run(text, { userId: "U0ALICE" });
    assert.equal(decision.ephemeral, true, text.slice(0, 40));
    assert.equal(decision.enqueueScan, undefined);
    assert.deepEqual(asked, []);
    assert.ok(!shown(decision).includes("rm -rf"));
    assert.deepEqual(reportsNeeded({ text, channelId: "C0CLUSTERA" }, CONFIG), []);
  }
  assert.match(shown(run("stauts cluster-a")), /did you mean `status`\?/);
  assert.match(shown(run("x".repeat(10_000))), /10000 characters/);
});

test("reportsNeeded names exactly the reports a command reads", () => {
  const needed = (text: string, channelId = "C0CLUSTERA") => reportsNeeded({ text, channelId }, CONFIG);
  assert.deepEqual(needed("list"), ["cluster-a"]);
  assert.deepEqual(needed("list", "C0DIGEST"), ["cluster-b"]);
  assert.deepEqual(needed("status cluster-a --all"), ["cluster-a"]);
  assert.deepEqual(needed("scan cluster-a"), []);
  assert.deepEqual(needed("help"), []);
});

test("policy: to whoever may see the cluster here, in the channel, from the scan and the renewal records", () => {
  const person = newRequest({
    cluster: "cluster-a",
    requestedBy: "U0ALICE",
    now: NOW,
    settings: { approvalTtlMinutes: 60 },
  });
  const decision = handleCommand(
    { text: "policy cluster-a", userId: "U0CAROL", channelId: "C0SRETEAM", userGroups: [] },
    { ...deps, renewals: (c) => (c === "cluster-a" ? { filings: new Map(), active: person } : null) },
  );
  assert.equal(decision.ephemeral, false);
  assert.equal(decision.enqueueScan, undefined);
  const text = shown(decision);
  assert.match(text, /has 30 days left or fewer \(set at `clusters\.yaml:11`\)/);
  assert.match(
    text,
    new RegExp(
      `Due now: \`kube-master001/apiserver\` \\(12d left\\); request \`${person.id}\` holds \\*cluster-a\\* now`,
    ),
    "the report's due certificate and the records' active request both reach the reply",
  );
  assert.match(
    shown(run("policy cluster-b", { channelId: "C0CLUSTERB" })),
    /\*cluster-b\* has no renewal policy/,
  );
  assert.match(
    shown(run("policy cluster-c")),
    /There is no cluster `cluster-c` in this channel; did you mean \*cluster-a\*\?/,
  );
  const elsewhere = run("policy cluster-x");
  assert.equal(elsewhere.ephemeral, true);
  assert.match(shown(elsewhere), /cluster-x is not shown in this channel/);
  assert.doesNotMatch(shown(elsewhere), /renewal policy/);
  assert.match(shown(run("help")), /`\/certs policy CLUSTER`\*\nThe renewal policy in force for a cluster/);
});

test("policyNeeded and reportsNeeded: /certs policy reads the records and the scan of a cluster shown here", () => {
  const need = (text: string, channelId = "C0CLUSTERA") => ({
    records: policyNeeded({ text, channelId }, CONFIG),
    reports: reportsNeeded({ text, channelId }, CONFIG),
  });
  assert.deepEqual(need("policy cluster-a"), { records: ["cluster-a"], reports: ["cluster-a"] });
  assert.deepEqual(need("policy cluster-x"), { records: [], reports: [] });
  assert.deepEqual(need("policy cluster-a; reboot"), { records: [], reports: [] });
  assert.deepEqual(need("status cluster-a"), { records: [], reports: ["cluster-a"] });
});

test("decideCommand: /certs policy asks the backend's renewal records of that cluster only", async () => {
  const asked: string[] = [];
  const backend: ChatBackend = {
    latest: async (clusters) => new Map(clusters.map((c) => [c, SCANS[c] ?? null])),
    groupsOf: async () => [],
    requestScan: () => assert.fail("deciding never queues"),
    auditEntries: async () => [],
    requestRenewal: () => assert.fail("deciding never requests a renewal"),
    clickRenewal: () => assert.fail("deciding never clicks"),
    alertStates: async (clusters) => new Map(clusters.map((c) => [c, emptyAlertState()])),
    updateAlerts: () => assert.fail("policy changes no alert state"),
    appendAudit: () => assert.fail("policy audits nothing"),
    records: {
      filings: async (cluster) => {
        asked.push(`filings ${cluster}`);
        return new Map([["kube-master001/apiserver@apiserver", "cluster-a-20261120T000000Z-0a1b2c"]]);
      },
      active: async (cluster) => {
        asked.push(`active ${cluster}`);
        return null;
      },
    },
  };
  const request = { userId: "U0CAROL", channelId: "C0CLUSTERA" };
  const decision = await decideCommand(backend, CONFIG, { ...request, text: "policy cluster-a" }, NOW);
  assert.match(
    shown(decision),
    /Filed: request `cluster-a-20261120T000000Z-0a1b2c` for `kube-master001\/apiserver` \(12d left\); it has ended/,
  );
  assert.deepEqual(asked.sort(), ["active cluster-a", "filings cluster-a"]);
  await decideCommand(backend, CONFIG, { ...request, text: "status cluster-a" }, NOW);
  await decideCommand(backend, CONFIG, { ...request, text: "policy cluster-x" }, NOW);
  assert.equal(asked.length, 2, "no other command, and no cluster not shown here, reads them");
});

/** A backend that notes each read in `read` (`latest cluster-a`, `groups U0…`, …) and changes nothing. */
function recordingBackend(read: string[], extra: Partial<ChatBackend> = {}): ChatBackend {
  return {
    latest: async (clusters) => {
      read.push(`latest ${clusters.join(",")}`);
      return new Map(clusters.map((c) => [c, SCANS[c] ?? null]));
    },
    groupsOf: async (user) => {
      read.push(`groups ${user}`);
      return [];
    },
    requestScan: () => assert.fail("deciding never queues"),
    auditEntries: async (cluster) => {
      read.push(`audit ${cluster}`);
      return [];
    },
    requestRenewal: () => assert.fail("deciding never requests a renewal"),
    clickRenewal: () => assert.fail("deciding never clicks"),
    alertStates: async (clusters) => {
      read.push(`alerts ${clusters.join(",")}`);
      return new Map(clusters.map((c) => [c, emptyAlertState()]));
    },
    updateAlerts: () => assert.fail("nothing here snoozes"),
    appendAudit: () => assert.fail("nothing here audits"),
    records: { filings: async () => new Map(), active: async () => null },
    ...extra,
  };
}

test("decideCommand: what reads nothing is decided at once, as handleCommand decides it; the rest waits for its reads", async () => {
  const read: string[] = [];
  const backend = recordingBackend(read);
  const asked = (text: string, userId = "U0CAROL", channelId = "C0CLUSTERA") => ({ text, userId, channelId });
  // help, a usage error, an unknown cluster, a cluster not shown here, a scan by someone who does not
  // operate a cluster that names no group, a scan by an operator named in person
  for (const [text, userId, channelId] of [
    ["help"],
    ["help status"],
    ["stauts cluster-a"],
    ["status cluster-x"],
    ["status cluster-b"],
    ["scan cluster-b", "U0CAROL", "C0CLUSTERB"],
    ["scan cluster-b", "U0ALICE", "C0CLUSTERB"],
  ] as const) {
    const atOnce = decideCommand(backend, CONFIG, asked(text, userId, channelId), NOW);
    assert.ok(!(atOnce instanceof Promise), text);
    assert.deepEqual(atOnce, run(text, asked(text, userId, channelId)), text);
  }
  assert.deepEqual(read, [], "none of them read anything");
  for (const [text, reads] of [
    ["status cluster-a", "latest cluster-a"],
    ["list", "latest cluster-a"],
    ["audit cluster-a", "audit cluster-a"],
    ["snoozes", "alerts cluster-a"],
  ] as const) {
    const later = decideCommand(backend, CONFIG, asked(text), NOW);
    assert.ok(later instanceof Promise, text);
    await later;
    assert.equal(read.pop(), reads, text);
  }
  const alice = decideCommand(backend, CONFIG, asked("scan cluster-b", "U0ALICE", "C0CLUSTERB"), NOW);
  assert.ok(!(alice instanceof Promise));
  assert.equal(alice.enqueueScan, "cluster-b", "an operator named in person: the scan is queued at once");
  const carol = decideCommand(backend, CONFIG, asked("scan cluster-a"), NOW);
  assert.ok(carol instanceof Promise, "the user's groups are read first");
  await carol;
  assert.equal(read.pop(), "groups U0CAROL");
});

test("decideCommand: status and list are decided at once when the backend has the scans at hand, as they are after reading them", async () => {
  const read: string[] = [];
  let atHand = true;
  const backend = recordingBackend(read, {
    latestNow: (clusters) => {
      read.push(`now ${clusters.join(",")}`);
      return atHand ? new Map(clusters.map((c) => [c, SCANS[c] ?? null])) : undefined;
    },
  });
  const asked = (text: string) => ({ text, userId: "U0CAROL", channelId: "C0CLUSTERA" });
  for (const text of ["status cluster-a", "status cluster-a --all", "list", "list --status ok"]) {
    const atOnce = decideCommand(backend, CONFIG, asked(text), NOW);
    assert.ok(!(atOnce instanceof Promise), text);
    assert.equal(read.pop(), "now cluster-a", text);
    atHand = false;
    const later = decideCommand(backend, CONFIG, asked(text), NOW);
    assert.ok(later instanceof Promise, `${text}: not at hand, read`);
    assert.deepEqual(await later, atOnce, `${text}: the same answer either way`);
    assert.deepEqual(read.splice(0), ["now cluster-a", "latest cluster-a"], text);
    atHand = true;
  }
  // What reads more than scans waits for its reads, scans at hand or not.
  for (const [text, reads] of [
    ["audit cluster-a", "audit cluster-a"],
    ["snoozes", "alerts cluster-a"],
    ["scan cluster-a", "groups U0CAROL"],
  ] as const) {
    const later = decideCommand(backend, CONFIG, asked(text), NOW);
    assert.ok(later instanceof Promise, text);
    await later;
    assert.deepEqual(read.splice(0), [reads], text);
  }
});

/** cluster-a scanned at `scannedAt`, its apiserver critical then with 1 h left. */
function criticalAt(scannedAt: Date): StoredScan {
  const apiserver = fixtureCert("apiserver", 1 / 24, scannedAt);
  return {
    cluster: "cluster-a",
    scannedAt,
    durationMs: 900,
    report: {
      name: "cluster-a",
      status: "critical",
      nodes: [{ ...node("kube-master001", [apiserver]), status: "critical" }],
    },
  };
}

test("decideCommand: a certificate that expired since the scan is expired in status and list, counted and filtered so", async () => {
  // Scanned 3 h ago with 1 h left: critical then, expired now.
  const scannedAt = new Date(NOW.getTime() - 3 * 3_600_000);
  const stale = criticalAt(scannedAt);
  const backend = recordingBackend([], { latest: async () => new Map([["cluster-a", stale]]) });
  const asked = (text: string) => ({ text, userId: "U0CAROL", channelId: "C0CLUSTERA" });
  const text = async (command: string) => shown(await decideCommand(backend, CONFIG, asked(command), NOW));
  assert.match(await text("status cluster-a"), /cluster-a — expired/);
  const expired = await text("list --status expired");
  assert.match(expired, /\*cluster-a\* — expired/);
  assert.match(await text("list"), /1 expired/);
  assert.doesNotMatch(await text("list"), /critical/);
  assert.equal(stale.report.status, "critical", "the stored scan is as it was");
});

test("decideCommand: a list answered again from the same scans turns a certificate expired once its time comes", () => {
  // Scanned 30 min ago with 1 h left: critical now, expired in 31 min, from the very same map.
  const scannedAt = new Date(NOW.getTime() - 30 * 60_000);
  const scan = criticalAt(scannedAt);
  const scans = new Map([["cluster-a", scan]]);
  const backend = recordingBackend([], { latestNow: () => scans });
  const list = (at: Date) => {
    const decision = decideCommand(
      backend,
      CONFIG,
      { text: "list", userId: "U0CAROL", channelId: "C0CLUSTERA" },
      at,
    );
    assert.ok(!(decision instanceof Promise));
    return shown(decision);
  };
  const later = new Date(NOW.getTime() + 31 * 60_000);
  assert.match(list(NOW), /1 critical/);
  assert.match(list(NOW), /1 critical/, "asked again: the same");
  assert.match(list(later), /1 expired/, "its notAfter passed: expired, though the scans are the same map");
  assert.doesNotMatch(list(later), /critical/);
  assert.match(list(NOW), /1 critical/, "as of a moment before it, critical again");
});
