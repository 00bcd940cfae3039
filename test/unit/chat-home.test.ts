// App Home (present/home.ts), who sees what in it (chat/access.ts), and what the router asks an edge to
// resolve before answering (groupsNeeded, decideCommand).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.js";
import type { ChatBackend } from "../../src/core/chat/backend.js";
import { emptyAlertState } from "../../src/core/alerts/state.js";
import type { ActiveQuiet } from "../../src/core/alerts/quiet.js";
import {
  BLOCK_LIMITS,
  blockTexts,
  checkBlockLimits,
  type Block,
  type SectionBlock,
} from "../../src/present/slack-types.js";
import { renderHome } from "../../src/present/home.js";
import { LIST_PAGE } from "../../src/present/list.js";
import { SCAN_NOW_ACTION } from "../../src/present/actions.js";
import {
  groupsToCheck,
  homeChannelsToCheck,
  homeClusters,
  roleGroups,
} from "../../src/core/access/access.js";
import { decideCommand, groupsNeeded } from "../../src/app/router.js";
import { renderRefusal } from "../../src/present/views.js";
import { scanWith } from "../fixtures/stored-scan.js";

const NOW = new Date("2026-11-28T09:00:00Z");
const TZ = "Europe/Berlin";

const CONFIG = parseConfig(
  `
slack: { digestChannel: C0DIGEST }
clusters:
  - name: cluster-a
    channel: C0CLUSTERA
    operators: [U0ALICE, S0SRE]
    approvers: [U0BOB]
    nodes: [{ host: 10.0.0.1 }]
  - name: cluster-b
    channel: C0CLUSTERB
    operators: [S0OTHER]
    nodes: [{ host: 10.0.0.2 }]
  - name: cluster-c
    viewers: [C0TEAMC]
    approvers: [S0SRE]
    nodes: [{ host: 10.0.0.3 }]
`,
  "clusters.yaml",
);

const scan = (cluster: string, daysLeft: number) => scanWith(cluster, daysLeft, NOW);

/** Days left of each cluster's worst certificate: ok, ok, warning, critical, expired. */
const DAYS_LEFT = [200, 150, 20, 3, -2];

function manyClusters(n: number) {
  return Array.from({ length: n }, (_, i) => {
    const name = `cluster-${String(i).padStart(3, "0")}`;
    if (i % 11 === 0) return { name, latest: null };
    return { name, latest: scan(name, DAYS_LEFT[i % DAYS_LEFT.length]!) };
  });
}

const buttons = (blocks: readonly Block[]) =>
  blocks.flatMap((b) => (b.type === "section" && b.accessory ? [b.accessory] : []));

test("home: worst first, with status, worst certificate, time left and scan age", () => {
  const view = renderHome({
    clusters: [
      { name: "fine", latest: scan("fine", 200) },
      { name: "never", latest: null },
      { name: "burning", latest: scan("burning", -2) },
      { name: "soon", latest: scan("soon", 20) },
    ],
    isOperatorOf: () => false,
    now: NOW,
    timeZone: TZ,
  });
  assert.equal(view.type, "home");
  const text = blockTexts(view.blocks).join("\n");
  const order = ["burning", "soon", "fine", "never"].map((name) => text.indexOf(`*${name}*`));
  assert.deepEqual(
    [...order].sort((a, b) => a - b),
    order,
    text,
  );
  assert.match(text, /\*burning\* — expired · `m1\/apiserver` expired 2d ago · scanned 2h ago/);
  assert.match(text, /\*soon\* — warning · `m1\/apiserver` 20d left/);
  assert.match(text, /never\* — not scanned yet/);
  assert.match(text, /4 clusters: 1 expired, 1 warning, 1 ok, 1 not scanned yet/);
});

test("home: a Scan now button only where the user is an operator; its value is the cluster", () => {
  const view = renderHome({
    clusters: [
      { name: "mine", latest: scan("mine", 3) },
      { name: "theirs", latest: scan("theirs", -1) },
    ],
    isOperatorOf: (name) => name === "mine",
    now: NOW,
    timeZone: TZ,
  });
  assert.deepEqual(buttons(view.blocks), [
    {
      type: "button",
      text: { type: "plain_text", text: "Scan now" },
      action_id: SCAN_NOW_ACTION,
      value: "mine",
    },
  ]);
  const theirs = view.blocks.find(
    (b): b is SectionBlock => b.type === "section" && (b.text?.text.includes("*theirs*") ?? false),
  );
  assert.equal(theirs?.accessory, undefined);
});

test("home: nothing to show says why; a notice shows on top", () => {
  const empty = renderHome({ clusters: [], isOperatorOf: () => true, now: NOW, timeZone: TZ });
  assert.match(
    blockTexts(empty.blocks).join(" "),
    /No clusters to show you.*operators or approvers.*channels/,
  );
  const notice = renderRefusal("cluster-a", "only operators of cluster-a may request scans").blocks;
  const view = renderHome({
    clusters: [{ name: "cluster-a", latest: null }],
    isOperatorOf: () => false,
    now: NOW,
    timeZone: TZ,
    notice,
  });
  assert.deepEqual(view.blocks.slice(1, 1 + notice.length), notice);
  assert.equal(view.blocks[1 + notice.length]?.type, "divider");
});

for (const n of [1, 30, 500]) {
  test(`home: ${n} clusters stay within a Home view's limits, worst first, every cluster accounted for`, () => {
    const clusters = manyClusters(n);
    const view = renderHome({
      clusters,
      isOperatorOf: (name) => name.endsWith("7"),
      now: NOW,
      timeZone: TZ,
      notice: renderRefusal("cluster-007", "a notice").blocks,
    });
    assert.ok(view.blocks.length <= BLOCK_LIMITS.homeBlocks, `${view.blocks.length} blocks`);
    assert.deepEqual(
      checkBlockLimits({ channel: "home", text: "home", blocks: view.blocks }, BLOCK_LIMITS.homeBlocks),
      [],
    );
    const text = blockTexts(view.blocks).join("\n");
    const named = clusters.filter((c) => text.includes(`*${c.name}*`)).length;
    const more = Number(/… and (\d+) more/.exec(text)?.[1] ?? 0);
    assert.equal(named + more, n, "each cluster has a line or is counted");
    assert.equal(named, Math.min(n, LIST_PAGE), "the worst 20 have a row each");
    assert.ok(buttons(view.blocks).length <= LIST_PAGE);
    assert.ok(buttons(view.blocks).every((b) => b.value?.endsWith("7")));
    if (n === 500) {
      // Every expired cluster outranks every ok one: the first rows are all expired.
      assert.match(
        text.split("\n").find((l) => l.includes("*cluster-"))!,
        /expired/,
      );
      assert.match(text, /… and 480 more: .*ok.*\. `\/certs list` in a cluster's channel reaches every one/);
    }
  });
}

test("access: App Home shows clusters by role (directly or via a group) or viewer channel, else nothing", () => {
  assert.deepEqual(roleGroups(CONFIG), ["S0SRE", "S0OTHER"]);
  const names = (user: string, groups: string[], channels: string[]) =>
    homeClusters(CONFIG, user, groups, channels).map((c) => c.name);
  assert.deepEqual(names("U0ALICE", [], []), ["cluster-a"]);
  assert.deepEqual(names("U0BOB", [], []), ["cluster-a"], "approvers see it too");
  assert.deepEqual(names("U0CAROL", ["S0SRE"], []), ["cluster-a", "cluster-c"]);
  assert.deepEqual(names("U0DAVE", [], ["C0CLUSTERB"]), ["cluster-b"]);
  assert.deepEqual(
    names("U0DAVE", [], ["C0DIGEST"]),
    ["cluster-a", "cluster-b"],
    "the digest channel views a and b",
  );
  assert.deepEqual(names("U0EVE", [], []), [], "deny by default");
  assert.deepEqual(names("", ["S0SRE"], []), [], "no user, no roles");
  // Channels of clusters the user already sees by role are not asked about.
  assert.deepEqual(homeChannelsToCheck(CONFIG, "U0ALICE", []), ["C0CLUSTERB", "C0DIGEST", "C0TEAMC"]);
  assert.deepEqual(homeChannelsToCheck(CONFIG, "U0CAROL", ["S0SRE"]), ["C0CLUSTERB", "C0DIGEST"]);
});

test("router: only `scan` and `renew` of a cluster shown here resolve user groups, not for a named operator", () => {
  const need = (text: string, userId = "U0CAROL", channelId = "C0CLUSTERA") =>
    groupsNeeded({ text, userId, channelId }, CONFIG);
  assert.deepEqual(need("scan cluster-a"), ["S0SRE"]);
  assert.deepEqual(need("scan cluster-a", "U0ALICE"), []);
  assert.deepEqual(need("scan cluster-b"), [], "not shown in this channel");
  assert.deepEqual(need("scan cluster-b", "U0CAROL", "C0CLUSTERB"), ["S0OTHER"]);
  assert.deepEqual(need("renew cluster-a"), ["S0SRE"]);
  assert.deepEqual(need("renew cluster-a", "U0ALICE"), []);
  for (const text of [
    "status cluster-a",
    "list",
    "help",
    "scan",
    "scan cluster-a; reboot",
    "audit cluster-a",
  ]) {
    assert.deepEqual(need(text), [], text);
  }
  assert.deepEqual(groupsToCheck(["U0A", "S0B", "W0C", "S0D"], "U0X"), ["S0B", "S0D"]);
});

test("decideCommand: fetches exactly what the answer needs, then decides", async () => {
  const asked: { latest: string[][]; groups: string[][] } = { latest: [], groups: [] };
  const backend: ChatBackend = {
    latest: async (clusters) => {
      asked.latest.push([...clusters]);
      return new Map(clusters.map((c) => [c, c === "cluster-a" ? scan(c, 20) : null]));
    },
    groupsOf: async (_user, groups) => {
      asked.groups.push([...groups]);
      return groups.filter((g) => g === "S0SRE");
    },
    requestScan: () => assert.fail("deciding never queues"),
    auditEntries: async () => [],
    requestRenewal: () => assert.fail("deciding never requests a renewal"),
    clickRenewal: () => assert.fail("deciding never clicks"),
    alertStates: async (clusters) => new Map(clusters.map((c) => [c, emptyAlertState()])),
    updateAlerts: () => assert.fail("these commands change no alert state"),
    appendAudit: () => assert.fail("these commands audit nothing"),
    records: {
      filings: () => assert.fail("these commands read no renewal records"),
      active: () => assert.fail("these commands read no renewal records"),
    },
  };
  const scanDecision = await decideCommand(
    backend,
    CONFIG,
    { text: "scan cluster-a", userId: "U0CAROL", channelId: "C0CLUSTERA" },
    NOW,
  );
  assert.equal(scanDecision.enqueueScan, "cluster-a", "a member of S0SRE operates cluster-a");
  const status = await decideCommand(
    backend,
    CONFIG,
    { text: "status cluster-a", userId: "U0CAROL", channelId: "C0CLUSTERA" },
    NOW,
  );
  assert.match(status.reply[0]!.text, /cluster-a: warning/);
  assert.deepEqual(asked, { latest: [["cluster-a"]], groups: [["S0SRE"]] }, "nothing asked for nothing");
  const help = await decideCommand(
    backend,
    CONFIG,
    { text: "help", userId: "U0CAROL", channelId: "C0CLUSTERA" },
    NOW,
  );
  assert.match(help.reply[0]!.text, /\/certs/);
  assert.deepEqual(asked, { latest: [["cluster-a"]], groups: [["S0SRE"]] }, "help reads nothing");
});

test("home: a cluster with snoozed or acknowledged subjects says how many, with the list under its row", () => {
  const quiet = (key: string, kind: "snoozed" | "acknowledged"): ActiveQuiet => ({
    key,
    node: key.split("/")[0]!,
    certificate: key.split("/")[1] ?? null,
    kind,
    by: "U0ALICE",
    at: NOW.toISOString(),
    ...(kind === "snoozed" ? { until: "2026-12-01T09:00:00Z", reason: "planned" } : {}),
    level: "critical",
    sha256: null,
  });
  const many = Array.from({ length: 7 }, (_, i) => quiet(`m${i}`, "acknowledged"));
  const view = renderHome({
    clusters: [
      { name: "burning", latest: scan("burning", 3) },
      { name: "calm", latest: scan("calm", 200) },
      { name: "busy", latest: scan("busy", -1) },
    ],
    quiets: new Map([
      ["burning", [quiet("m1/apiserver", "snoozed"), quiet("m2", "acknowledged")]],
      ["calm", []],
      ["busy", many],
    ]),
    isOperatorOf: () => false,
    now: NOW,
    timeZone: TZ,
  });
  const rows = view.blocks.filter((b): b is SectionBlock => b.type === "section").map((b) => b.text!.text);
  assert.equal(
    rows.find((t) => t.includes("*burning*"))!.split("\n")[1],
    ":zzz: 2 snoozed or acknowledged: `m1/apiserver` snoozed by <@U0ALICE> until Tue 1 Dec 10:00 CET: planned; " +
      "`m2` acknowledged by <@U0ALICE> at critical",
  );
  assert.doesNotMatch(
    rows.find((t) => t.includes("*calm*"))!,
    /snoozed or acknowledged/,
  );
  assert.match(
    rows.find((t) => t.includes("*busy*"))!,
    /:zzz: 7 snoozed or acknowledged: `m0` .*`m4` [^;]*; and 2 more$/,
  );
  assert.deepEqual(checkBlockLimits({ channel: "-", text: "-", blocks: view.blocks }), []);
});
