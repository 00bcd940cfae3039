import { test } from "node:test";
import assert from "node:assert/strict";
import type { CertificateReport, ClusterReport, NodeReport, Status } from "../../src/core/report/types.js";
import { certificateAt } from "../fixtures/certificate.js";
import { STATUS_ORDER } from "../../src/core/report/types.js";
import {
  BLOCK_LIMITS,
  blockTexts,
  checkBlockLimits,
  type SectionBlock,
  type SlackMessage,
} from "../../src/present/slack-types.js";
import { DIGEST_BUCKET, digestCounts, renderDigest, type DigestCluster } from "../../src/present/digest.js";
import type { ActiveQuiet } from "../../src/core/alerts/quiet.js";

const HOUR = 3_600_000;
const NOW = new Date("2026-11-28T09:00:00Z");
const TZ = "Europe/Berlin";

const cert = (name: string, status: Status, daysLeft: number, error?: string): CertificateReport =>
  certificateAt(NOW, name, status, daysLeft, error);

/** A cluster whose worst status is `status`, with its worst certificate `daysLeft` away. */
function clusterReport(
  name: string,
  status: Status,
  daysLeft = 200,
  error = "connect ECONNREFUSED",
): ClusterReport {
  const healthy = [cert("ca", "ok", 3000), cert("admin.conf", "ok", 300)];
  const nodes: NodeReport[] = [
    {
      name: "m1",
      host: "10.0.0.1",
      port: 22,
      status: "ok",
      reachable: true,
      certificates: healthy,
      findings: [],
    },
  ];
  if (status === "unreachable") {
    nodes.push({
      name: "m2",
      host: "10.0.0.2",
      port: 22,
      status,
      reachable: false,
      error,
      certificates: [],
      findings: [],
    });
  } else if (status !== "ok") {
    nodes.push({
      name: "m2",
      host: "10.0.0.2",
      port: 22,
      status,
      reachable: true,
      certificates: [
        ...healthy,
        cert("apiserver", status, daysLeft, status === "unreadable" ? error : undefined),
        cert("front-proxy-client", "warning", 25),
      ],
      findings: [],
    });
  }
  return { name, status, nodes };
}

const DAYS: Record<Status, number> = {
  ok: 200,
  superseded: -30,
  warning: 20,
  critical: 3,
  expired: -2,
  "not-yet-valid": 300,
  unreadable: 0,
  missing: 0,
  unreachable: 0,
};

/** n clusters with every status, and some never scanned, deterministically varied. */
function fleet(n: number, weights: Partial<Record<Status | "never", number>>): DigestCluster[] {
  const pool = Object.entries(weights).flatMap(([s, w]) => Array<string>(w).fill(s));
  return Array.from({ length: n }, (_, i) => {
    const name = `cluster-${String(i).padStart(4, "0")}`;
    const kind = pool[i % pool.length]!;
    if (kind === "never") return { name, report: null, scannedAt: null };
    const status = kind as Status;
    const days = DAYS[status] + (i % 5);
    return {
      name,
      report: clusterReport(name, status, days),
      scannedAt: new Date(NOW.getTime() - ((i % 30) + 1) * HOUR),
    };
  });
}

const allText = (messages: SlackMessage[]) =>
  messages.flatMap((m) => [m.text, ...blockTexts(m.blocks)]).join("\n");
const occurrences = (haystack: string, name: string) =>
  haystack.match(new RegExp(`(?<![\\w-])${name}(?![\\w-])`, "g"))?.length ?? 0;

/** The cluster lines, in order, across all messages: `[status emoji, name]`. */
function problemLines(messages: SlackMessage[]): string[] {
  return messages
    .flatMap((m) => m.blocks)
    .filter((b): b is SectionBlock => b.type === "section" && b.text !== undefined)
    .flatMap((b) => b.text!.text.split("\n"))
    .filter((line) => / — /.test(line));
}

const render = (clusters: DigestCluster[]) =>
  renderDigest({ channel: "C-digest", clusters, now: NOW, timeZone: TZ });

function checkDigest(clusters: DigestCluster[], messages: SlackMessage[]): void {
  for (const [i, message] of messages.entries()) {
    assert.deepEqual(checkBlockLimits(message), [], `message ${i}`);
    assert.equal(message.channel, "C-digest");
  }
  const text = allText(messages.map((m) => ({ ...m, text: "" })));
  for (const c of clusters) {
    const status = c.report?.status ?? "ok";
    if (c.report && status !== "ok") assert.equal(occurrences(text, c.name), 1, `${c.name} (${status}) once`);
    if (!c.report) assert.equal(occurrences(text, c.name), 1, `${c.name} (never scanned) once`);
  }
  // Worst first: the order of STATUS_ORDER, then the soonest expiry.
  const lines = problemLines(messages);
  const byName = new Map(clusters.map((c) => [c.name, c]));
  const ranks = lines.map((line) => {
    const name = /^\S+ \*([^*]+)\*/.exec(line)![1]!;
    const report = byName.get(name)!.report!;
    const notAfter = report.nodes
      .flatMap((n) => n.certificates)
      .find((c) => c.name === "apiserver")?.notAfter;
    return { rank: STATUS_ORDER.indexOf(report.status), notAfter: notAfter?.getTime() ?? Infinity };
  });
  for (let i = 1; i < ranks.length; i++) {
    const [a, b] = [ranks[i - 1]!, ranks[i]!];
    assert.ok(
      a.rank > b.rank || (a.rank === b.rank && a.notAfter <= b.notAfter),
      `line ${i} is not worse than ${i - 1}`,
    );
  }
  assert.equal(lines.length, clusters.filter((c) => c.report && c.report.status !== "ok").length);
}

function headerCounts(message: SlackMessage): Record<string, number> {
  const fields = message.blocks.find(
    (b): b is SectionBlock => b.type === "section" && b.fields !== undefined,
  )!.fields!;
  return Object.fromEntries(
    fields.map((f) => {
      const [label, value] = f.text.split("\n");
      return [label!.replace(/^:[a-z_]+: /, "").replace(/\*/g, ""), Number(value)];
    }),
  );
}

test("one healthy cluster: a header, the counts and one folded line", () => {
  const clusters = fleet(1, { ok: 1 });
  const messages = render(clusters);
  assert.equal(messages.length, 1);
  checkDigest(clusters, messages);
  assert.equal(messages[0]!.text, "Certificate digest 2026-11-28: all 1 cluster fine");
  assert.match(allText(messages), /1 cluster fine:\* cluster-0000/);
  assert.deepEqual(headerCounts(messages[0]!), {
    Clusters: 1,
    ok: 1,
    warning: 0,
    critical: 0,
    expired: 0,
    unreachable: 0,
  });
});

test("one expired cluster: its worst certificate, the time since expiry and the scan age", () => {
  const clusters: DigestCluster[] = [
    {
      name: "prod",
      report: clusterReport("prod", "expired", -2),
      scannedAt: new Date(NOW.getTime() - 3 * HOUR),
    },
  ];
  const messages = render(clusters);
  const [line] = problemLines(messages);
  assert.equal(line, ":red_circle: *prod* — `m2/apiserver` expired 2d ago (+1 more) · scanned 3h ago");
  assert.match(messages[0]!.text, /^Certificate digest 2026-11-28: 1 expired, 0 ok$/);
});

/** A share of every kind of trouble, beside `ok` healthy clusters, repeated to fill the fleet. */
const troubled = (ok: number) => ({
  ok,
  warning: 3,
  critical: 2,
  expired: 1,
  "not-yet-valid": 1,
  unreachable: 2,
  unreadable: 1,
  missing: 1,
  never: 1,
});

test("30 clusters: counts by bucket, every problem once, worst first, one message", () => {
  const clusters = fleet(30, troubled(8));
  const messages = render(clusters);
  assert.equal(messages.length, 1);
  checkDigest(clusters, messages);
  const expected = { ok: 0, warning: 0, critical: 0, expired: 0, unreachable: 0, "not-scanned": 0 };
  for (const c of clusters) expected[c.report ? DIGEST_BUCKET[c.report.status] : "not-scanned"] += 1;
  assert.deepEqual(digestCounts(clusters), expected);
  assert.deepEqual(headerCounts(messages[0]!), {
    Clusters: 30,
    ok: expected.ok,
    warning: expected.warning,
    critical: expected.critical,
    expired: expected.expired,
    unreachable: expected.unreachable,
    "not scanned yet": expected["not-scanned"],
  });
  const text = allText(messages);
  assert.match(text, /_expired_ includes not-yet-valid, _unreachable_ includes unreadable and missing files/);
  assert.match(text, /`m2` unreachable: connect ECONNREFUSED/);
  assert.match(text, /`m2\/apiserver` unreadable: connect ECONNREFUSED/);
  assert.match(text, /`m2\/apiserver` valid in \d+d/);
  assert.match(text, /`m2\/apiserver` \d+d left/);
});

test("500 clusters, mostly fine: one message, the fine ones folded into a line", () => {
  const clusters = fleet(500, { ok: 45, warning: 2, critical: 1, expired: 1, unreachable: 1 });
  const messages = render(clusters);
  assert.equal(messages.length, 1, "fits: no replies");
  checkDigest(clusters, messages);
  const fold = problemLines(messages).length;
  assert.ok(fold < 60);
  assert.match(
    allText(messages),
    /:white_check_mark: \*\d+ clusters all fine:\* cluster-\d+, .* … and \d+ more/,
  );
});

test("500 clusters, many in trouble: continued in thread replies, each marked, nothing lost", () => {
  const clusters = fleet(500, troubled(2));
  const messages = render(clusters);
  assert.ok(messages.length > 1);
  checkDigest(clusters, messages);
  const [top, ...replies] = messages;
  assert.equal(top!.blocks[0]!.type, "header");
  assert.match(allText([top!]), new RegExp(`Continued in the thread: ${replies.length} more messages`));
  replies.forEach((reply, i) => {
    assert.equal(reply.text, `Certificate digest 2026-11-28 (continued ${i + 2}/${messages.length})`);
    assert.equal(reply.blocks[0]!.type, "context");
    assert.match(
      blockTexts([reply.blocks[0]!])[0]!,
      new RegExp(`continued \\(${i + 2}/${messages.length}\\)`),
    );
    assert.ok(!reply.blocks.some((b) => b.type === "header"), "a reply is not a second digest");
  });
  // Only as many messages as needed: each is filled close to the budget before the next begins.
  const textOf = (m: SlackMessage) => blockTexts(m.blocks).join("").length;
  for (const message of messages.slice(0, -1)) {
    assert.ok(
      textOf(message) > BLOCK_LIMITS.totalBlockText * 0.7,
      `a message holds ${textOf(message)} characters`,
    );
  }
  // The counts add up.
  const counts = headerCounts(top!);
  assert.equal(
    counts.ok! +
      counts.warning! +
      counts.critical! +
      counts.expired! +
      counts.unreachable! +
      counts["not scanned yet"]!,
    500,
  );
});

test("500 never-scanned clusters (first start): every name shown, within limits", () => {
  const clusters = fleet(500, { never: 1 });
  const messages = render(clusters);
  checkDigest(clusters, messages);
  assert.match(
    allText(messages),
    /:hourglass_flowing_sand: \*500 not scanned yet:\* cluster-0000, cluster-0001/,
  );
  assert.match(messages[0]!.text, /500 not scanned yet, 0 ok/);
});

test("a cluster never scanned shows as such, and long errors and names stay within limits", () => {
  const clusters: DigestCluster[] = [
    { name: "new-cluster", report: null, scannedAt: null },
    {
      name: "x".repeat(63),
      report: clusterReport(
        "x".repeat(63),
        "unreachable",
        0,
        `ssh: ${"handshake failed <tcp> ".repeat(500)}`,
      ),
      scannedAt: new Date(NOW.getTime() - 50 * HOUR),
    },
  ];
  const messages = render(clusters);
  checkDigest(clusters, messages);
  const text = allText(messages);
  assert.match(text, /\*1 not scanned yet:\* new-cluster/);
  assert.match(text, /handshake failed &lt;tcp&gt;.*… · scanned 2d ago/);
  assert.ok(!text.includes("<tcp>"));
});

test("ties: the same status sorts by the soonest expiry, then by name", () => {
  const at = (name: string, days: number): DigestCluster => ({
    name,
    report: clusterReport(name, "critical", days),
    scannedAt: NOW,
  });
  const messages = render([at("b", 3), at("a", 3), at("c", 1), at("d", 5)]);
  assert.deepEqual(
    problemLines(messages).map((l) => /\*(\w)\*/.exec(l)![1]),
    ["c", "a", "b", "d"],
  );
});

test("no clusters at all still renders a valid message", () => {
  const messages = render([]);
  assert.equal(messages.length, 1);
  assert.deepEqual(checkBlockLimits(messages[0]!), []);
});

/** A subject quieted as quiet.ts `activeQuiets` lists it. */
function quieted(
  key: string,
  kind: "snoozed" | "acknowledged",
  level: ActiveQuiet["level"] = "critical",
): ActiveQuiet {
  const [node, certificate] = key.split("/");
  return {
    key,
    node: node!,
    certificate: certificate ?? null,
    kind,
    by: "U0OPER01",
    at: new Date(NOW.getTime() - 2 * HOUR).toISOString(),
    ...(kind === "snoozed"
      ? { until: new Date(NOW.getTime() + 3 * 24 * HOUR).toISOString(), reason: "planned for Tuesday" }
      : {}),
    level,
    sha256: null,
  };
}

const quietLines = (messages: SlackMessage[]) =>
  problemLines(messages).filter((line) => / · (snoozed|acknowledged) by /.test(line));
const attentionLines = (messages: SlackMessage[]) =>
  problemLines(messages).filter((line) => !/ · (snoozed|acknowledged) by /.test(line));

test("snoozed and acknowledged subjects: their own section, out of the attention list, still counted", () => {
  const clusters: DigestCluster[] = [
    // Its worst certificate snoozed: the line names the worst one not quieted.
    {
      name: "prod",
      report: clusterReport("prod", "critical", 3),
      scannedAt: NOW,
      quiets: [quieted("m2/apiserver", "snoozed")],
    },
    // Everything acknowledged: listed in the quiet section only.
    {
      name: "lab",
      report: clusterReport("lab", "expired", -2),
      scannedAt: NOW,
      quiets: [
        quieted("m2/apiserver", "acknowledged", "expired"),
        quieted("m2/front-proxy-client", "acknowledged", "warning"),
      ],
    },
  ];
  const messages = render(clusters);
  assert.deepEqual(checkBlockLimits(messages[0]!), []);
  assert.deepEqual(attentionLines(messages), [
    ":large_yellow_circle: *prod* — `m2/front-proxy-client` 25d left · scanned just now",
  ]);
  const text = allText(messages);
  assert.match(text, /:zzz: \*Snoozed and acknowledged \(3\):\*/);
  assert.deepEqual(quietLines(messages), [
    ":red_circle: *lab* — `m2/apiserver` expired 2d ago · acknowledged by <@U0OPER01> at expired",
    ":large_orange_circle: *prod* — `m2/apiserver` 3d left · snoozed by <@U0OPER01> until Tue 1 Dec 10:00 CET: planned for Tuesday",
    ":large_yellow_circle: *lab* — `m2/front-proxy-client` 25d left · acknowledged by <@U0OPER01> at warning",
  ]);
  assert.deepEqual(headerCounts(messages[0]!), {
    Clusters: 2,
    ok: 0,
    warning: 0,
    critical: 1,
    expired: 1,
    unreachable: 0,
  });
  assert.equal(
    messages[0]!.text,
    "Certificate digest 2026-11-28: 1 expired, 1 critical, 0 ok · 3 snoozed or acknowledged",
  );
});

test("a quiet subject the latest scan does not name, or of a cluster not scanned, is still listed, by its level", () => {
  const clusters: DigestCluster[] = [
    {
      name: "fine",
      report: clusterReport("fine", "ok"),
      scannedAt: NOW,
      quiets: [quieted("m9", "acknowledged", "unreachable")],
    },
    { name: "new", report: null, scannedAt: null, quiets: [quieted("m1/ca", "snoozed", "warning")] },
  ];
  const messages = render(clusters);
  assert.deepEqual(quietLines(messages), [
    ":electric_plug: *fine* — `m9` unreachable · acknowledged by <@U0OPER01> at unreachable",
    ":large_yellow_circle: *new* — `m1/ca` warning · snoozed by <@U0OPER01> until Tue 1 Dec 10:00 CET: planned for Tuesday",
  ]);
  assert.deepEqual(digestCounts(clusters), {
    ok: 1,
    warning: 0,
    critical: 0,
    expired: 0,
    unreachable: 0,
    "not-scanned": 1,
  });
});

test("500 clusters with quiet subjects: every one listed once, worst first, within limits", () => {
  const clusters = fleet(500, troubled(2)).map((c, i) =>
    c.report && c.report.status !== "ok" && c.report.status !== "unreachable" && i % 2 === 0
      ? { ...c, quiets: [quieted("m2/apiserver", i % 4 === 0 ? "snoozed" : "acknowledged", "warning")] }
      : c,
  );
  const quiet = clusters.filter((c) => c.quiets);
  assert.ok(quiet.length > 100);
  const messages = render(clusters);
  assert.ok(messages.length > 1);
  for (const message of messages) assert.deepEqual(checkBlockLimits(message), []);
  const lines = quietLines(messages);
  assert.deepEqual(
    lines.map((l) => /\*([^*]+)\*/.exec(l)![1]).sort(),
    quiet.map((c) => c.name).sort(),
    "each quiet subject once",
  );
  const severities = lines.map((l) =>
    STATUS_ORDER.indexOf(quiet.find((c) => l.includes(`*${c.name}*`))!.report!.status),
  );
  for (let i = 1; i < severities.length; i++)
    assert.ok(severities[i - 1]! >= severities[i]!, `quiet line ${i} is worse than ${i - 1}`);
  // Their clusters still count: the header adds up to every cluster.
  const counts = headerCounts(messages[0]!);
  assert.equal(
    Object.entries(counts)
      .filter(([k]) => k !== "Clusters")
      .reduce((n, [, v]) => n + v, 0),
    500,
  );
});
