import { test } from "node:test";
import assert from "node:assert/strict";
import type {
  CertificateReport,
  ClusterReport,
  NodeReport,
  Status,
  StoredScan,
} from "../../src/core/report/types.js";
import { certificateAt } from "../fixtures/certificate.js";
import { CATALOGUE } from "../../src/core/kubeadm/catalogue.js";
import {
  blockTexts,
  checkBlockLimits,
  type ChatReply,
  type HeaderBlock,
} from "../../src/present/slack-types.js";
import {
  renderCommandError,
  renderHelp,
  renderNoReport,
  renderRenewalPlanning,
  renderRefusal,
  renderScanDone,
  renderScanFailed,
  renderScanQueued,
  renderStatus,
  renderUnknownNode,
} from "../../src/present/views.js";
import { SUBCOMMANDS, parseCommand, type ListQuery } from "../../src/present/command.js";
import { LIST_PAGE, renderList, type ListCluster } from "../../src/present/list.js";

const HOUR = 3_600_000;
const NOW = new Date("2026-11-28T09:00:00Z");
const TZ = "Europe/Berlin";

const cert = (name: string, status: Status, daysLeft: number, error?: string): CertificateReport =>
  certificateAt(NOW, name, status, daysLeft, error);

function node(name: string, certificates: CertificateReport[], extra: Partial<NodeReport> = {}): NodeReport {
  return {
    name,
    host: `10.0.0.${name.length}`,
    port: 22,
    status: "ok",
    reachable: true,
    certificates,
    findings: [],
    ...extra,
  };
}

function scan(cluster: string, nodes: NodeReport[], age = 3 * HOUR): StoredScan {
  const report: ClusterReport = { name: cluster, status: "ok", nodes };
  return { cluster, scannedAt: new Date(NOW.getTime() - age), durationMs: 2100, report };
}

/** A cluster whose worst certificate is `status`, `daysLeft` away. */
function simple(cluster: string, status: Status, daysLeft = 200): StoredScan {
  if (status === "unreachable") {
    return scan(cluster, [
      node("m1", [cert("ca", "ok", 3000)]),
      node("m2", [], { status, reachable: false, error: "connect ECONNREFUSED 10.0.0.2:22" }),
    ]);
  }
  return scan(cluster, [
    node("m1", [cert("ca", "ok", 3000), cert("admin.conf", "ok", 300), cert("apiserver", status, daysLeft)], {
      status,
    }),
  ]);
}

const allTexts = (replies: readonly ChatReply[]): string =>
  replies.map((r) => [r.text, ...blockTexts(r.blocks)].join("\n")).join("\n");

function assertFits(replies: readonly ChatReply[]): void {
  assert.ok(replies.length > 0);
  replies.forEach((reply, i) =>
    assert.deepEqual(checkBlockLimits({ channel: "C0TEST0001", ...reply }), [], `message ${i}`),
  );
}

test("help: every subcommand with examples, or one topic; examples use a cluster of this channel", () => {
  const help = renderHelp(undefined, "cluster-a");
  assertFits([help]);
  const text = allTexts([help]);
  for (const sub of SUBCOMMANDS) assert.match(text, new RegExp(`/certs ${sub}`));
  assert.match(text, /`\/certs status cluster-a --all`/);
  assert.doesNotMatch(text, /[Nn]ot enabled/);
  assert.match(text, /Approve and Reject buttons/);
  const examples = [...text.matchAll(/`(\/certs [^`]*)`/g)].map((m) => m[1]!);
  for (const example of examples.filter((e) => !/[A-Z[]/.test(e))) {
    assert.ok(parseCommand(example.slice("/certs ".length)).ok, `example parses: ${example}`);
  }
  const topic = renderHelp("status");
  assert.equal(topic.blocks.length, 3);
  assert.match(allTexts([topic]), /`\/certs status CLUSTER --node NAME`/);
});

const list = (clusters: readonly ListCluster[], query: Partial<ListQuery> = {}) =>
  renderList({ clusters, query: { page: 1, ...query }, now: NOW, timeZone: TZ });

/** The cluster lines of a list answer, in order. */
const listed = (reply: ChatReply): string[] =>
  blockTexts(reply.blocks)
    .flatMap((t) => t.split("\n"))
    .filter((l) => /^:[a-z_]+: \*[a-z0-9-]+\*/.test(l));

const nameOf = (line: string): string => /\*([a-z0-9-]+)\*/.exec(line)![1]!;

test("list: worst first, status, worst certificate, time left, scan age; never-scanned last", () => {
  const { reply, ephemeral } = list([
    { name: "fine", latest: simple("fine", "ok", 300) },
    { name: "new", latest: null },
    { name: "warn-late", latest: simple("warn-late", "warning", 25) },
    { name: "warn-soon", latest: simple("warn-soon", "warning", 12) },
    { name: "dead", latest: simple("dead", "expired", -3) },
    { name: "gone", latest: simple("gone", "unreachable") },
  ]);
  assertFits([reply]);
  assert.equal(ephemeral, false);
  assert.equal(
    reply.text,
    "6 clusters in this channel: 1 expired, 1 unreachable, 2 warning, 1 ok, 1 not scanned yet",
  );
  assert.deepEqual(listed(reply), [
    ":red_circle: *dead* — expired · `m1/apiserver` expired 3d ago · scanned 3h ago",
    ":electric_plug: *gone* — unreachable · `m2` unreachable: connect ECONNREFUSED 10.0.0.2:22 · scanned 3h ago",
    ":large_yellow_circle: *warn-soon* — warning · `m1/apiserver` 12d left · scanned 3h ago",
    ":large_yellow_circle: *warn-late* — warning · `m1/apiserver` 25d left · scanned 3h ago",
    ":white_check_mark: *fine* — ok · `m1/admin.conf` 300d left · scanned 3h ago",
    ":hourglass_flowing_sand: *new* — not scanned yet",
  ]);
  assert.match(allTexts([reply]), /All 6 shown, worst first\./);
  assert.doesNotMatch(allTexts([reply]), /--page/);
});

test("list: nothing visible says so and how to change it", () => {
  const { reply } = list([]);
  assert.match(allTexts([reply]), /No clusters are shown in this channel.*`viewers`/s);
});

/** 500 clusters under five prefixes with every status, some never scanned. */
function fleet(): ListCluster[] {
  const statuses: Status[] = ["ok", "warning", "critical", "expired", "unreachable", "unreadable", "missing"];
  const prefixes = ["prod-eu", "prod-us", "staging", "dev", "edge"];
  return Array.from({ length: 500 }, (_, i) => {
    const name = `${prefixes[i % 5]}-${String(i).padStart(3, "0")}`;
    return {
      name,
      latest: i % 50 === 49 ? null : simple(name, statuses[i % statuses.length]!, (i % 60) - 5),
    };
  });
}

test("list: 500 clusters, one message a page: counts first, the worst 20, and how to reach the rest", () => {
  const clusters = fleet();
  const { reply, ephemeral } = list(clusters);
  assertFits([reply]);
  assert.equal(ephemeral, false);
  assert.match(reply.text, /^500 clusters in this channel: \d+ expired, \d+ critical, \d+ unreachable, /);
  const lines = listed(reply);
  assert.equal(lines.length, LIST_PAGE);
  assert.ok(
    lines.every((l) => / — expired · /.test(l)),
    "the first page is the expired ones",
  );
  const text = allTexts([reply]);
  assert.match(
    text,
    /Clusters 1–20 of 500, worst first \(page 1 of 25\)\. `\/certs list --page 2` shows the following 20\./,
  );
  assert.match(
    text,
    /Narrow it with `--status expired\|critical\|warning\|unreachable\|ok` or the start of a name/,
  );
});

test("list: --page reaches every one of 500 clusters exactly once, in one worst-first order", () => {
  const clusters = fleet();
  const seen: string[] = [];
  let query = "list";
  for (let page = 1; page <= 25; page++) {
    const parsed = parseCommand(query);
    assert.ok(parsed.ok && parsed.command.kind === "list", query);
    const { reply, ephemeral } = renderList({ clusters, query: parsed.command, now: NOW, timeZone: TZ });
    assertFits([reply]);
    assert.equal(ephemeral, false);
    seen.push(...listed(reply).map(nameOf));
    // The answer names the command for the following page: follow it as a person would.
    const next = /`\/certs (list --page \d+)` shows the following/.exec(allTexts([reply]));
    if (page < 25) query = next![1]!;
    else assert.match(allTexts([reply]), /page 25 of 25\)\. `\/certs list` shows the first page again/);
  }
  assert.equal(seen.length, 500);
  assert.equal(new Set(seen).size, 500);
  const all = list(clusters, { page: 1 });
  assert.deepEqual(seen.slice(0, 20), listed(all.reply).map(nameOf));
  assert.ok(seen.slice(-10).every((name) => clusters.find((c) => c.name === name)!.latest === null));
  const past = list(clusters, { page: 26 });
  assert.equal(past.ephemeral, true);
  assert.match(
    allTexts([past.reply]),
    /There is no page 26: 500 clusters make 25 pages of 20\. `\/certs list --page 25` shows the last\./,
  );
});

test("list: --status and a name filter narrow it; counts cover the names matched; nothing matched is said to the asker", () => {
  const clusters = fleet();
  const critical = list(clusters, { statuses: ["critical"] });
  const lines = listed(critical.reply);
  assert.ok(lines.length > 0 && lines.every((l) => / — critical · /.test(l)));
  assert.match(allTexts([critical.reply]), /Showing critical: \d+ clusters, worst first/);
  assert.doesNotMatch(allTexts([critical.reply]), /Narrow it/);

  const prefix = list(clusters, { name: "prod-eu" });
  assert.match(prefix.reply.text, /^100 of 500 clusters in this channel: /);
  assert.ok(listed(prefix.reply).every((l) => nameOf(l).startsWith("prod-eu-")));
  assert.match(allTexts([prefix.reply]), /`\/certs list prod-eu --page 2` shows the following 20/);

  const both = list(clusters, { name: "prod-", statuses: ["expired", "not-scanned"], page: 2 });
  const names = listed(both.reply).map(nameOf);
  assert.ok(names.every((n) => n.startsWith("prod-")));
  assert.match(
    allTexts([both.reply]),
    /Showing names starting with `prod-` · expired or not-scanned: \d+ clusters/,
  );

  const pattern = list(clusters, { name: "*-00*" });
  assert.deepEqual(
    listed(pattern.reply).map(nameOf).sort(),
    clusters
      .map((c) => c.name)
      .filter((n) => /^.*-00.*$/.test(n))
      .sort(),
  );

  const none = list(clusters, { name: "qa-" });
  assert.equal(none.ephemeral, true);
  assert.match(
    allTexts([none.reply]),
    /No cluster in this channel matches: names starting with `qa-`\. `\/certs list` shows them all\./,
  );
  const fine = list(clusters.slice(0, 3), { statuses: ["expired"] });
  assert.equal(fine.ephemeral, true);
  assert.match(
    allTexts([fine.reply]),
    /matches: expired\. 3 clusters in this channel: 1 critical, 1 warning, 1 ok\./,
  );
});

test("list: a page of the longest lines a list can have still fits one message", () => {
  const clusters = Array.from({ length: LIST_PAGE }, (_, i) => {
    const name = `${String(i).padStart(2, "0")}${"x".repeat(61)}`;
    const latest = simple(name, "unreachable");
    latest.report.nodes[1]!.name = "n".repeat(253);
    latest.report.nodes[1]!.error = "e".repeat(5000);
    return { name, latest };
  });
  const { reply } = list(clusters);
  assertFits([reply]);
  assert.equal(listed(reply).length, LIST_PAGE);
});

test("status: per node, what needs attention, expiry in the time zone, time left, CA, findings, age", () => {
  const report = scan("cluster-a", [
    node(
      "m1",
      [cert("ca", "ok", 3000), cert("apiserver", "critical", 5), cert("admin.conf", "warning", 20)],
      {
        status: "critical",
        kubeadmVersion: "v1.29.3",
        findings: [
          {
            code: "apiserver-drift",
            severity: "warning",
            certificate: "apiserver",
            message: "the apiserver serves an older certificate than apiserver.crt",
            advice: "restart the kube-apiserver static pod",
          },
        ],
      },
    ),
    node("m2", [cert("ca", "ok", 3000), cert("apiserver", "ok", 200)]),
    node("m3", [], { status: "unreachable", reachable: false, error: "HOST KEY MISMATCH <@U0X> `x`" }),
  ]);
  const replies = renderStatus({ cluster: "cluster-a", scan: report, now: NOW, timeZone: TZ, all: false });
  assertFits(replies);
  assert.equal(replies.length, 1);
  const [reply] = replies;
  assert.equal(reply!.text, "cluster-a: critical, 3 things need attention (report 3h ago)");
  assert.equal((reply!.blocks[0] as HeaderBlock).text.text, "cluster-a — critical");
  const text = allTexts(replies);
  assert.match(text, /report of 2026-11-28 07:00 CET \(3h ago\)/);
  assert.match(text, /\*m1\* \(10\.0\.0\.2\) — \*critical\* · kubeadm v1\.29\.3/);
  assert.match(text, /`apiserver` \*critical\* · expires 2026-12-03 10:00 CET \(5d left\) · CA `ca`/);
  assert.match(text, /`admin\.conf` \*warning\* · expires 2026-12-18 10:00 CET \(20d left\)/);
  assert.match(text, /the other 1 certificate ok/);
  assert.match(text, /\*m2\*.*\nall 2 certificates ok; the next to expire is `apiserver`/);
  assert.match(
    text,
    /:warning: \*warning\* `apiserver`: the apiserver serves an older.*\n.*→ restart the kube-apiserver/,
  );
  assert.match(text, /not scanned: HOST KEY MISMATCH &lt;@U0X&gt; `x`/, "remote text is escaped");
  assert.ok(!text.includes("<@U0X>"));
  const everything = allTexts(
    renderStatus({ cluster: "cluster-a", scan: report, now: NOW, timeZone: TZ, all: true }),
  );
  assert.match(everything, /`ca` \*ok\* · expires .* · a CA/);
  assert.match(everything, /every certificate/);
});

test("status: a node's certificates worst first, as every list ranks them, then the soonest to expire", () => {
  const report = scan("cluster-a", [
    node(
      "m1",
      [
        cert("admin.conf", "warning", 25),
        cert("apiserver", "critical", 5),
        cert("front-proxy-client", "warning", 10),
        cert("etcd/server", "expired", -2),
      ],
      { status: "expired" },
    ),
  ]);
  const text = allTexts(
    renderStatus({ cluster: "cluster-a", scan: report, now: NOW, timeZone: TZ, all: false }),
  );
  const order = ["etcd/server", "apiserver", "front-proxy-client", "admin.conf"].map((name) =>
    text.indexOf(`\`${name}\` *`),
  );
  assert.ok(
    order.every((at) => at >= 0),
    "every certificate is listed",
  );
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
    "expired, critical, then the warnings by time left",
  );
});

test("status --node shows that node only; a node missing from the report says so", () => {
  const report = simple("cluster-a", "unreachable");
  const [one] = renderStatus({
    cluster: "cluster-a",
    scan: report,
    now: NOW,
    timeZone: TZ,
    node: "m1",
    all: false,
  });
  const text = allTexts([one!]);
  assert.match(text, /cluster-a — ok \(m1\)/);
  assert.ok(!text.includes("m2"));
  const [none] = renderStatus({
    cluster: "cluster-a",
    scan: report,
    now: NOW,
    timeZone: TZ,
    node: "m9",
    all: false,
  });
  assert.match(allTexts([none!]), /has no node `m9` yet/);
});

test("status --all of a 7-node cluster with long errors and findings is split within the limits", () => {
  const names = CATALOGUE.map((e) => e.name);
  const statuses: Status[] = [
    "ok",
    "warning",
    "critical",
    "expired",
    "unreadable",
    "missing",
    "not-yet-valid",
  ];
  const nodes = Array.from({ length: 7 }, (_, n) =>
    node(
      `kube-master-${n}.${"long-domain.".repeat(4)}example.com`,
      names.map((name, i) =>
        cert(
          name,
          statuses[(i + n) % statuses.length]!,
          i - 3,
          i % 2 ? `permission denied: ${"x".repeat(400)}` : undefined,
        ),
      ),
      {
        status: "expired",
        kubeadmVersion: "v1.30.0",
        apiserver: { port: 6443, reachable: false, error: "connect ECONNREFUSED ".repeat(30) },
        findings: names.slice(0, 5).map((name) => ({
          code: "not-signed-by-ca" as const,
          severity: "critical" as const,
          certificate: name,
          message: `${name} is not signed by ca `.repeat(10),
          advice: "renew it with kubeadm certs renew ".repeat(10),
        })),
      },
    ),
  );
  const report = scan("big-cluster", nodes, 26 * HOUR);
  const replies = renderStatus({ cluster: "big-cluster", scan: report, now: NOW, timeZone: TZ, all: true });
  assertFits(replies);
  assert.ok(replies.length >= 3, `${replies.length} messages`);
  for (const reply of replies)
    assert.match(reply.text + blockTexts(reply.blocks)[0], /big-cluster/, "names the cluster");
  const text = allTexts(replies);
  for (const n of nodes) {
    for (const c of n.certificates) {
      assert.ok(
        text.includes(`\`${c.name}\` *${c.status === "not-yet-valid" ? "not yet valid" : c.status}*`),
      );
    }
  }
  assert.equal(text.match(/→ renew it/g)?.length, 35, "every finding");
  assert.match(replies[0]!.text, /^big-cluster: expired/);
  assert.match(replies[1]!.text, new RegExp(`^big-cluster status \\(continued \\(2/${replies.length}\\)\\)`));
});

test("no report yet, unknown node, scan queued, done and failed: each names the cluster", () => {
  const replies = [
    renderNoReport("cluster-a", true),
    renderNoReport("cluster-a", false),
    renderUnknownNode("cluster-a", "m9", ["m1"]),
    renderScanQueued("cluster-a", "U0ALICE"),
    renderScanDone({ cluster: "cluster-a", scan: simple("cluster-a", "critical", 4), now: NOW }),
    renderScanFailed("cluster-a", "all 3 attempts failed: <!channel> timeout"),
    renderRefusal("cluster-a", "only operators of cluster-a may request scans; ask <@U0ALICE>."),
    renderRenewalPlanning("cluster-a"),
  ];
  assertFits(replies);
  for (const reply of replies) {
    assert.match(reply.text, /cluster-a/);
    assert.match(blockTexts(reply.blocks)[0]!, /cluster-a/);
  }
  const [scanning, idle, unknownNode, queued, done, failed, , renew] = replies.map((r) => allTexts([r]));
  assert.match(scanning!, /no report yet — scanning now/);
  assert.match(idle!, /`\/certs scan cluster-a` starts one/);
  assert.match(unknownNode!, /\*cluster-a\* has no node `m9`; did you mean `m1`\?/);
  assert.match(queued!, /Scan of \*cluster-a\* requested by <@U0ALICE>; the result follows here/);
  assert.ok(
    !allTexts([renderScanQueued("cluster-a", "<!channel>")]).includes("<!"),
    "odd user ids are not mentioned",
  );
  assert.match(
    done!,
    /Scan of \*cluster-a\* done: \*critical\* · 1 node in 2\.1s · 1 to look at · worst: `m1\/apiserver` 4d left/,
  );
  assert.match(failed!, /&lt;!channel&gt;/);
  assert.match(
    renew!,
    /Scanning \*cluster-a\* and building a renewal plan; it is posted in the cluster's channel/,
  );
});

test("errors show the message and the subcommand's usage", () => {
  const parsed = parseCommand("status cluster-a --nod m1");
  assert.ok(!parsed.ok);
  const reply = renderCommandError(parsed.error);
  assertFits([reply]);
  const text = allTexts([reply]);
  assert.match(text, /:no_entry: `status` has no flag `--nod`; did you mean `--node`\?/);
  assert.match(text, /Usage: `\/certs status CLUSTER \[--node NAME\] \[--all\]`/);
  const extra = parseCommand("scan cluster-a cluster-b");
  assert.ok(!extra.ok);
  assert.match(
    allTexts([renderCommandError(extra.error)]),
    /^\/certs: extra argument: cluster-a\n:no_entry: \*cluster-a\*: `scan` takes one cluster; `cluster-b` is too much/,
  );
  const unsafe = parseCommand("status $(reboot)");
  assert.ok(!unsafe.ok);
  assert.match(allTexts([renderCommandError(unsafe.error)]), /`\/certs help` lists the subcommands/);
});
