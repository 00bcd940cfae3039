import { test } from "node:test";
import assert from "node:assert/strict";
import type { CertificateStatus, ServedCertificate } from "../../src/core/report/types.js";
import { blockTexts, checkBlockLimits, type SlackMessage } from "../../src/present/slack-types.js";
import { planAlerts } from "../../src/present/warnings.js";
import { quietNote, withQuietNote } from "../../src/present/snooze.js";
import { SERVED, emptyAlertState, type AlertState } from "../../src/core/alerts/state.js";
import {
  applyAlert,
  type ReminderAction as Reminder,
  type ResolvedAction as Resolved,
  type WarnAction as Warn,
} from "../../src/core/alerts/actions.js";
import { APISERVER_DRIFT } from "../fixtures/certificate.js";
import {
  DAY,
  DAYS_LEFT,
  Poster,
  T0,
  TZ,
  at,
  cert,
  cluster,
  down,
  kinds,
  node,
  text,
  type AlertAction,
} from "../fixtures/alert-world.js";

type WarnAction = Warn<SlackMessage>;
type ResolvedAction = Resolved<SlackMessage>;
type ReminderAction = Reminder<SlackMessage>;

test("a first warning names cluster, node, certificate, path, expiry in the time zone, residual time, level and advice", () => {
  const bot = new Poster();
  const actions = bot.scan(
    cluster(node("m1", [cert("apiserver", "critical"), cert("ca", "ok", { isCA: true })])),
    T0,
  );
  assert.deepEqual(kinds(actions), ["warn"]);
  const warn = actions[0] as WarnAction;
  assert.equal(warn.threadTs, undefined, "top-level");
  assert.deepEqual(
    warn.subjects.map((s) => [s.key, s.level, s.sha256]),
    [["m1/apiserver", "critical", "apiserver-v1"]],
  );
  const all = text(warn.message);
  for (const part of [
    "prod",
    "`m1`",
    "`apiserver`",
    "`/etc/kubernetes/pki/apiserver.crt`",
    "2026-12-01 10:00 CET", // T0 + 3 days, in Berlin
    "3d left",
    "CRITICAL",
    "`kubeadm certs renew apiserver`",
    "restart the control-plane static pods",
  ]) {
    assert.ok(all.includes(part), `${part} in:\n${all}`);
  }
  assert.deepEqual(checkBlockLimits(warn.message), []);
  assert.equal(warn.message.channel, "C-prod");
  assert.deepEqual(bot.state.alerts["m1/apiserver"], {
    level: "critical",
    sha256: "apiserver-v1",
    postedAt: T0.toISOString(),
    channel: "C-prod",
    threadTs: bot.tsOf(warn.id),
  });
});

test("same fingerprint and same level: nothing, scan after scan", () => {
  const bot = new Poster();
  const report = cluster(node("m1", [cert("apiserver", "warning")]));
  assert.equal(bot.scan(report, T0).length, 1);
  assert.deepEqual(bot.scan(report, at(1)), []);
  assert.deepEqual(bot.scan(report, at(30)), [], "warning never reminds");
});

test("same fingerprint, worse level: warned again, top-level, saying it got worse", () => {
  const bot = new Poster();
  bot.scan(cluster(node("m1", [cert("apiserver", "warning")])), T0);
  const [critical] = bot.scan(
    cluster(node("m1", [cert("apiserver", "critical")])),
    at(24 * 17),
  ) as WarnAction[];
  assert.equal(critical!.kind, "warn");
  assert.equal(critical!.threadTs, undefined);
  assert.equal(critical!.subjects[0]!.previous, "warning");
  assert.match(text(critical!.message), /was warning/);
  const head = critical!.message.blocks[0];
  assert.equal(head?.type, "header");
  assert.match(head.type === "header" ? head.text.text : "", /\(worse\)/);
  const [expired] = bot.scan(
    cluster(node("m1", [cert("apiserver", "expired")])),
    at(24 * 21),
  ) as WarnAction[];
  assert.equal(expired!.kind, "warn");
  assert.equal(expired!.subjects[0]!.previous, "critical");
  assert.equal(bot.state.alerts["m1/apiserver"]!.level, "expired");
  assert.equal(
    bot.state.alerts["m1/apiserver"]!.threadTs,
    bot.tsOf(expired!.id),
    "the new post is the thread now",
  );
});

test("same fingerprint, better level but not ok: no post, the record keeps the worse level", () => {
  const bot = new Poster();
  bot.scan(cluster(node("m1", [cert("apiserver", "critical")])), T0);
  const before = bot.state.alerts["m1/apiserver"];
  assert.deepEqual(bot.scan(cluster(node("m1", [cert("apiserver", "warning")])), at(1)), []);
  assert.deepEqual(bot.state.alerts["m1/apiserver"], before);
  assert.deepEqual(bot.scan(cluster(node("m1", [cert("apiserver", "critical")])), at(2)), [], "no flapping");
});

test("same fingerprint back to ok (a not-yet-valid certificate became valid): resolved in the thread", () => {
  const bot = new Poster();
  const [warn] = bot.scan(cluster(node("m1", [cert("apiserver", "not-yet-valid")])), T0);
  const actions = bot.scan(cluster(node("m1", [cert("apiserver", "ok")])), at(50));
  assert.deepEqual(kinds(actions), ["resolved"]);
  const resolved = actions[0] as ResolvedAction;
  assert.equal(resolved.threadTs, bot.tsOf(warn!.id));
  assert.equal(resolved.resolved[0]!.reason, "ok");
  assert.match(text(resolved.message), /is fine now/);
  assert.deepEqual(bot.state.alerts, {});
});

test("a file superseded by the one the kubelet now serves: never warned, and its warning resolved", () => {
  const bot = new Poster();
  const stale = (status: CertificateStatus) =>
    cert("kubelet-serving", status, { sha: "kubelet-crt", path: "/var/lib/kubelet/pki/kubelet.crt" });
  assert.deepEqual(kinds(bot.scan(cluster(node("m1", [stale("superseded")])), T0)), [], "nothing to say");
  assert.deepEqual(bot.state.alerts, {});

  const [warn] = bot.scan(cluster(node("m1", [stale("expired")])), at(1));
  assert.equal(warn?.kind, "warn");
  const actions = bot.scan(cluster(node("m1", [stale("superseded")])), at(2));
  assert.deepEqual(kinds(actions), ["resolved"], "serverTLSBootstrap turned on: the old file is no concern");
  assert.deepEqual(bot.state.alerts, {});
  assert.deepEqual(kinds(bot.scan(cluster(node("m1", [stale("superseded")])), at(30))), [], "no reminder");
});

test("renewed (new fingerprint) and ok: resolved in the old thread, broadcast, record removed", () => {
  const bot = new Poster();
  const [warn] = bot.scan(cluster(node("m1", [cert("apiserver", "critical")])), T0);
  const actions = bot.scan(cluster(node("m1", [cert("apiserver", "ok", { sha: "apiserver-v2" })])), at(5));
  assert.deepEqual(kinds(actions), ["resolved"]);
  const resolved = actions[0] as ResolvedAction;
  assert.equal(resolved.threadTs, bot.tsOf(warn!.id));
  assert.equal(resolved.broadcast, true, "it closes the thread");
  assert.equal(resolved.resolved[0]!.reason, "renewed");
  assert.equal(resolved.resolved[0]!.record.sha256, "apiserver-v1");
  assert.match(text(resolved.message), /`apiserver` on `m1` was renewed: it expires 2027-06-16 11:00 CEST/);
  assert.deepEqual(bot.state.alerts, {});
  assert.deepEqual(
    bot.scan(cluster(node("m1", [cert("apiserver", "ok", { sha: "apiserver-v2" })])), at(6)),
    [],
  );
});

test("a resolution that leaves others open in the thread stays in the thread", () => {
  const bot = new Poster();
  bot.scan(cluster(node("m1", [cert("apiserver", "critical"), cert("admin.conf", "critical")])), T0);
  const [first] = bot.scan(
    cluster(node("m1", [cert("apiserver", "ok", { sha: "v2" }), cert("admin.conf", "critical")])),
    at(1),
  ) as ResolvedAction[];
  assert.equal(first!.broadcast, false);
  const [last] = bot.scan(
    cluster(node("m1", [cert("apiserver", "ok", { sha: "v2" }), cert("admin.conf", "ok", { sha: "v2" })])),
    at(2),
  ) as ResolvedAction[];
  assert.equal(last!.broadcast, true);
  assert.match(text(last!.message), /Nothing in this thread is open/);
});

test("renewed but still bad: the old one resolved in its thread, then the new one warned from scratch", () => {
  const bot = new Poster();
  const [warn] = bot.scan(cluster(node("m1", [cert("apiserver", "expired")])), T0);
  const actions = bot.scan(
    cluster(node("m1", [cert("apiserver", "warning", { sha: "apiserver-v2" })])),
    at(2),
  );
  assert.deepEqual(kinds(actions), ["resolved", "warn"], "resolution first, or the new record would hide it");
  const [resolved, fresh] = actions as [ResolvedAction, WarnAction];
  assert.equal(resolved.threadTs, bot.tsOf(warn!.id));
  assert.match(text(resolved.message), /replaced by a new certificate that is warning too/);
  assert.equal(fresh.subjects[0]!.replaced, true);
  assert.equal(fresh.subjects[0]!.previous, undefined);
  assert.equal(fresh.threadTs, undefined);
  assert.deepEqual(bot.state.alerts["m1/apiserver"]!.sha256, "apiserver-v2");
  assert.deepEqual(bot.state.alerts["m1/apiserver"]!.level, "warning");
});

test("a node unreachable this scan: its certificates' state is kept (unknown is not fixed), no reminders", () => {
  const bot = new Poster();
  bot.scan(cluster(node("m1", [cert("apiserver", "expired")])), T0);
  const before = structuredClone(bot.state.alerts);
  assert.deepEqual(bot.scan(cluster(down("m1")), at(25)), []);
  assert.deepEqual(bot.state.alerts, before);
  assert.deepEqual(kinds(bot.scan(cluster(node("m1", [cert("apiserver", "expired")])), at(26))), [
    "reminder",
  ]);
});

test("unreachable once: nothing; twice in a row: one warning; then quiet; reachable again: resolved", () => {
  const bot = new Poster();
  const report = cluster(node("m1", [cert("apiserver", "ok")]), down("m2", "timed out after 10000 ms"));
  assert.deepEqual(bot.scan(report, T0), []);
  assert.equal(bot.state.unreachableStreak["m2"], 1);
  assert.deepEqual(bot.scan(cluster(node("m1", [cert("apiserver", "ok")]), node("m2", [])), at(1)), []);
  assert.equal(bot.state.unreachableStreak["m2"], undefined, "a reachable scan breaks the streak");
  assert.deepEqual(bot.scan(report, at(2)), []);
  const [warn] = bot.scan(report, at(3)) as WarnAction[];
  assert.equal(warn!.kind, "warn");
  assert.deepEqual(
    warn!.subjects.map((s) => [s.key, s.certificate, s.level, s.sha256]),
    [["m2", null, "unreachable", null]],
  );
  const body = text(warn!.message);
  assert.match(body, /did not answer on 2 scans in a row: timed out after 10000 ms/);
  assert.match(body, /over SSH/);
  assert.deepEqual(bot.scan(report, at(4)), []);
  assert.deepEqual(bot.scan(report, at(40)), [], "unreachable does not remind");
  const [back] = bot.scan(
    cluster(node("m1", [cert("apiserver", "ok")]), node("m2", [])),
    at(41),
  ) as ResolvedAction[];
  assert.equal(back!.kind, "resolved");
  assert.equal(back!.threadTs, bot.tsOf(warn!.id));
  assert.equal(back!.resolved[0]!.reason, "reachable");
  assert.match(text(back!.message), /node `m2` answers again/);
  assert.deepEqual(bot.state, { alerts: {}, unreachableStreak: {}, lastScanAt: at(41).toISOString() });
});

test("critical and expired remind once a day in the thread; warning never", () => {
  const bot = new Poster();
  const report = cluster(
    node("m1", [cert("apiserver", "critical"), cert("admin.conf", "expired")]),
    node("m2", [cert("apiserver", "warning")]),
  );
  const [warn] = bot.scan(report, T0);
  assert.deepEqual(bot.scan(report, at(12)), []);
  assert.deepEqual(bot.scan(report, at(22)), []);
  const [reminder] = bot.scan(report, at(24)) as ReminderAction[];
  assert.equal(reminder!.kind, "reminder");
  assert.equal(reminder!.threadTs, bot.tsOf(warn!.id));
  assert.deepEqual(reminder!.keys, ["m1/admin.conf", "m1/apiserver"], "one reply per thread, worst first");
  assert.equal(reminder!.broadcast, undefined);
  assert.match(reminder!.id, /^remind:prod:\d+\.\d+:2026-11-29:d1:[0-9a-f]{16}$/);
  assert.match(text(reminder!.message), /Reminder/);
  assert.deepEqual(checkBlockLimits(reminder!.message), []);
  assert.deepEqual(bot.scan(report, at(25)), [], "once a day");
  assert.deepEqual(bot.scan(report, at(36)), []);
  assert.equal(kinds(bot.scan(report, at(48))).join(), "reminder");
  assert.equal(bot.state.alerts["m1/apiserver"]!.lastReminderAt, at(48).toISOString());
  assert.equal(bot.state.alerts["m2/apiserver"]!.lastReminderAt, undefined);
});

test("a daily scan a few minutes earlier than yesterday's still reminds, and hourly scans do not creep", () => {
  const daily = new Poster();
  const report = cluster(node("m1", [cert("apiserver", "expired")]));
  daily.scan(report, at(0.2)); // yesterday's scan took 12 minutes to reach the poster
  assert.equal(kinds(daily.scan(report, at(24 + 0.05))).join(), "reminder");
  assert.equal(kinds(daily.scan(report, at(48 + 0.1))).join(), "reminder");

  const hourly = new Poster();
  hourly.scan(report, T0);
  const reminded: number[] = [];
  for (let h = 1; h <= 24 * 5; h++) {
    if (hourly.scan(report, at(h)).length > 0) reminded.push(h);
  }
  assert.deepEqual(reminded, [23, 47, 71, 95, 119], "the same hour every day, not an hour earlier each day");
});

test("reminders resume at most once per 12 h after scans stopped for a day", () => {
  const bot = new Poster();
  const report = cluster(node("m1", [cert("apiserver", "expired")]));
  bot.scan(report, T0);
  assert.equal(bot.scan(report, at(46)).length, 1, "a late reminder for day 1");
  assert.deepEqual(bot.scan(report, at(47)), [], "day 2's slot opened, but not 12 h after the last");
  assert.equal(bot.scan(report, at(58)).length, 1);
});

test("missing and unreadable have no fingerprint: dedupe on (key, level)", () => {
  const bot = new Poster();
  const missing = cluster(node("m1", [cert("admin.conf", "missing")]));
  const [warn] = bot.scan(missing, T0) as WarnAction[];
  assert.equal(warn!.subjects[0]!.sha256, null);
  assert.match(text(warn!.message), /is missing/);
  assert.deepEqual(bot.scan(missing, at(1)), []);
  const unreadable = cluster(
    node("m1", [cert("admin.conf", "unreadable", { error: "permission denied <root>" })]),
  );
  const [worse] = bot.scan(unreadable, at(2)) as WarnAction[];
  assert.equal(worse!.subjects[0]!.previous, "missing");
  const body = text(worse!.message);
  assert.match(body, /permission denied &lt;root&gt;/, "the error text, escaped");
  assert.ok(!body.includes("<root>"));
  assert.deepEqual(bot.scan(unreadable, at(3)), []);
  const [fixed] = bot.scan(cluster(node("m1", [cert("admin.conf", "ok")])), at(4)) as ResolvedAction[];
  assert.equal(fixed!.kind, "resolved");
  assert.equal(fixed!.resolved[0]!.reason, "ok");
});

test("a readable certificate that turns missing is said, not silently kept as the worse level", () => {
  const bot = new Poster();
  bot.scan(cluster(node("m1", [cert("apiserver", "expired")])), T0);
  const [warn] = bot.scan(cluster(node("m1", [cert("apiserver", "missing")])), at(1)) as WarnAction[];
  assert.equal(warn!.kind, "warn");
  assert.equal(warn!.subjects[0]!.previous, "expired");
  assert.equal(bot.state.alerts["m1/apiserver"]!.sha256, null);
});

test("a file a reachable node no longer has is resolved; a node removed from the configuration too", () => {
  const bot = new Poster();
  bot.scan(
    cluster(node("m1", [cert("super-admin.conf", "warning")]), node("m2", [cert("apiserver", "critical")])),
    T0,
  );
  const actions = bot.scan(cluster(node("m1", [])), at(1)) as ResolvedAction[];
  assert.deepEqual(
    actions.flatMap((a) => a.resolved.map((r) => [r.key, r.reason])),
    [
      ["m1/super-admin.conf", "gone"],
      ["m2/apiserver", "removed"],
    ],
  );
  assert.match(text(actions[0]!.message), /no longer on the node/);
  assert.match(text(actions[0]!.message), /no longer in the configuration/);
  assert.deepEqual(bot.state.alerts, {});
});

test("renewed but not restarted: the served certificate is its own subject, until the apiserver restarts", () => {
  const bot = new Poster();
  const served = (sha: string, status: CertificateStatus): ServedCertificate => ({
    port: 6443,
    reachable: true,
    sha256: sha,
    notAfter: new Date(T0.getTime() + DAYS_LEFT[status] * DAY),
    status,
  });
  const [warn] = bot.scan(
    cluster(node("m1", [cert("apiserver", "critical")], { apiserver: served("apiserver-v1", "critical") })),
    T0,
  ) as WarnAction[];
  assert.deepEqual(
    warn!.subjects.map((s) => s.key),
    ["m1/apiserver"],
    "the same certificate served and on disk is one subject",
  );
  const renewed = bot.scan(
    cluster(
      node("m1", [cert("apiserver", "ok", { sha: "v2" })], {
        apiserver: served("apiserver-v1", "critical"),
        findings: [APISERVER_DRIFT],
      }),
    ),
    at(1),
  );
  assert.deepEqual(kinds(renewed), ["resolved", "warn"]);
  assert.match(text(renewed[0]!.message), /still serves the old one/);
  const drift = renewed[1] as WarnAction;
  assert.deepEqual(
    drift.subjects.map((s) => [s.key, s.level]),
    [[`m1/${SERVED}`, "critical"]],
  );
  assert.match(text(drift.message), /restart kube-apiserver/);
  assert.deepEqual(
    bot.scan(
      cluster(
        node("m1", [cert("apiserver", "ok", { sha: "v2" })], {
          apiserver: { port: 6443, reachable: false, error: "ECONNREFUSED" },
        }),
      ),
      at(2),
    ),
    [],
    "probe failed: unknown",
  );
  const restarted = bot.scan(
    cluster(node("m1", [cert("apiserver", "ok", { sha: "v2" })], { apiserver: served("v2", "ok") })),
    at(3),
  ) as ResolvedAction[];
  assert.deepEqual(kinds(restarted), ["resolved"]);
  assert.match(text(restarted[0]!.message), /now serves apiserver\.crt from disk/);
  assert.deepEqual(bot.state.alerts, {});
});

test("advice: kubeadm leaves, CAs, the kubelet's client certificate, clocks", () => {
  const bot = new Poster();
  const [warn] = bot.scan(
    cluster(
      node("m1", [
        cert("ca", "critical", { isCA: true }),
        cert("kubelet-client", "critical", { path: "/var/lib/kubelet/pki/kubelet-client-current.pem" }),
        cert("front-proxy-client", "not-yet-valid"),
        cert("apiserver", "expired"),
        cert("admin.conf", "expired", { path: "/etc/kubernetes/admin.conf" }),
        cert("scheduler.conf", "expired", { path: "/etc/kubernetes/scheduler.conf" }),
        cert("controller-manager.conf", "expired", { path: "/etc/kubernetes/controller-manager.conf" }),
      ]),
    ),
    T0,
  );
  const body = text(warn!.message);
  assert.match(body, /CA rotation is manual/);
  assert.match(body, /renews its client certificate itself/);
  assert.match(body, /`kubectl get csr`/);
  assert.match(body, /check the clock/);
  assert.match(body, /`kubeadm certs renew all`/, "four leaves on one node: renew all");
  assert.match(body, /valid from 2026-11-30 10:00 CET \(valid in 2d\)/);
});

test("re-planning is safe: after all actions nothing; after some, exactly the rest with the same ids", () => {
  const state0 = emptyAlertState();
  const report = cluster(
    node("m1", [cert("apiserver", "expired")]),
    node("m2", [cert("apiserver", "warning")]),
  );
  const first = planAlerts({
    cluster: "prod",
    channel: "C",
    report,
    state: state0,
    scannedAt: T0,
    timeZone: TZ,
    maxSnoozeDays: 14,
  });
  let state = first.state;
  for (const action of first.actions) state = applyAlert(state, action, "1.1");
  const again = planAlerts({
    cluster: "prod",
    channel: "C",
    report,
    state,
    scannedAt: T0,
    timeZone: TZ,
    maxSnoozeDays: 14,
  });
  assert.deepEqual(again.actions, []);
  assert.deepEqual(again.state, state);

  // A renewal on one node and a worse level on the other: two actions. Apply one, crash, re-plan.
  const later = cluster(
    node("m1", [cert("apiserver", "ok", { sha: "v2" })]),
    node("m2", [cert("apiserver", "critical")]),
  );
  const plan = planAlerts({
    cluster: "prod",
    channel: "C",
    report: later,
    state,
    scannedAt: at(5),
    timeZone: TZ,
    maxSnoozeDays: 14,
  });
  assert.deepEqual(kinds(plan.actions), ["resolved", "warn"]);
  const afterOne = applyAlert(plan.state, plan.actions[0]!, "2.2");
  const retry = planAlerts({
    cluster: "prod",
    channel: "C",
    report: later,
    state: JSON.parse(JSON.stringify(afterOne)) as AlertState, // as the store gives it back
    scannedAt: at(5),
    timeZone: TZ,
    maxSnoozeDays: 14,
  });
  assert.deepEqual(
    retry.actions.map((a) => a.id),
    plan.actions.slice(1).map((a) => a.id),
  );
});

test("a retried scan does not count an unreachable node twice; an older scan is ignored", () => {
  const report = cluster(down("m1"));
  const first = planAlerts({
    cluster: "prod",
    channel: "C",
    report,
    state: emptyAlertState(),
    scannedAt: T0,
    timeZone: TZ,
    maxSnoozeDays: 14,
  });
  assert.equal(first.state.unreachableStreak["m1"], 1);
  const retried = planAlerts({
    cluster: "prod",
    channel: "C",
    report,
    state: first.state,
    scannedAt: T0,
    timeZone: TZ,
    maxSnoozeDays: 14,
  });
  assert.equal(retried.state.unreachableStreak["m1"], 1);
  assert.deepEqual(retried.actions, []);
  const stale = planAlerts({
    cluster: "prod",
    channel: "C",
    report,
    state: first.state,
    scannedAt: at(-1),
    timeZone: TZ,
    maxSnoozeDays: 14,
  });
  assert.deepEqual(stale, { actions: [], state: first.state });
});

test("ids name the content", () => {
  const bot = new Poster();
  const [warn] = bot.scan(cluster(node("m1", [cert("apiserver", "expired")])), T0);
  assert.match(warn!.id, /^warn:prod:expired:1:[0-9a-f]{16}$/);
  const [resolved] = bot.scan(cluster(node("m1", [cert("apiserver", "ok", { sha: "v2" })])), at(1));
  assert.equal(resolved!.id.startsWith(`resolved:prod:${bot.tsOf(warn!.id)}:`), true);
  const other = new Poster();
  const [same] = other.scan(cluster(node("m1", [cert("apiserver", "expired")])), at(7));
  assert.equal(same!.id, warn!.id, "the same subjects at the same level: the same id");
});

test("replies go to the channel of their thread; new warnings to the cluster's channel", () => {
  const bot = new Poster();
  bot.scan(cluster(node("m1", [cert("apiserver", "expired")])), T0, "C-old");
  const actions = bot.scan(
    cluster(node("m1", [cert("apiserver", "expired")]), node("m2", [cert("apiserver", "warning")])),
    at(24),
    "C-new",
  );
  assert.deepEqual(
    actions.map((a) => [a.kind, a.message.channel]),
    [
      ["warn", "C-new"],
      ["reminder", "C-old"],
    ],
  );
});

test("messages stay within Block Kit limits: a long path, long errors, a cluster of 40 nodes", () => {
  const bot = new Poster();
  const long = `/srv/${"very-long-directory-name/".repeat(200)}pki/apiserver.crt`;
  const nodes = Array.from({ length: 40 }, (_, i) =>
    node(`kube-master-${String(i).padStart(3, "0")}`, [
      cert("apiserver", "expired", { path: long }),
      cert("apiserver-kubelet-client", "critical"),
      cert("etcd-server", "unreadable", { error: `x509: ${"malformed <certificate> ".repeat(100)}` }),
      cert("admin.conf", "warning", { path: "/etc/kubernetes/admin.conf" }),
    ]),
  );
  const actions = bot.scan(cluster(...nodes), T0) as WarnAction[];
  assert.ok(actions.length > 1, "split into several posts");
  assert.ok(actions.every((a) => a.kind === "warn"));
  for (const action of actions) assert.deepEqual(checkBlockLimits(action.message), [], action.id);
  const keys = actions.flatMap((a) => a.subjects.map((s) => s.key));
  assert.equal(keys.length, 160);
  assert.equal(new Set(keys).size, 160, "every subject in exactly one post");
  assert.equal(new Set(actions.map((a) => a.id)).size, actions.length);

  // All 160 expire or get worse together a day later: the reminders and resolutions fit too.
  const reminders = bot.scan(cluster(...nodes), at(24));
  assert.ok(reminders.length >= actions.length);
  for (const action of reminders) assert.deepEqual(checkBlockLimits(action.message), [], action.id);
  const renewed = bot.scan(cluster(...nodes.map((n) => node(n.name, []))), at(25));
  assert.equal(renewed.flatMap((a) => (a as ResolvedAction).resolved).length, 160);
  for (const action of renewed) assert.deepEqual(checkBlockLimits(action.message), [], action.id);
  assert.deepEqual(bot.state.alerts, {});
});

test("mrkdwn from the outside cannot mention, link or break a code span", () => {
  const bot = new Poster();
  const [warn] = bot.scan(
    cluster(
      node("m1", [
        cert("apiserver", "unreadable", {
          path: "/etc/k`ube/<!channel>.crt",
          error: "<@U123> & `rm`\nsecond line",
        }),
      ]),
    ),
    T0,
  );
  const body = text(warn!.message);
  assert.ok(!body.includes("<!channel>"));
  assert.ok(!body.includes("<@U123>"));
  assert.match(body, /&lt;@U123&gt; &amp; `rm` second line/, "one line, escaped");
  assert.match(body, /`\/etc\/k'ube\/&lt;!channel&gt;\.crt`/, "a backtick cannot end the path's code span");
});

test("a critical or expired certificate's warning offers Request renewal; a warning level or a node down does not", () => {
  const button = (actions: AlertAction[]) =>
    JSON.stringify(actions.map((a) => (a as WarnAction).message.blocks)).match(
      /"action_id":"renewal_request","value":"([^"]+)"/,
    )?.[1];
  assert.equal(button(new Poster().scan(cluster(node("m1", [cert("apiserver", "expired")])), T0)), "prod");
  assert.equal(button(new Poster().scan(cluster(node("m1", [cert("apiserver", "critical")])), T0)), "prod");
  assert.equal(button(new Poster().scan(cluster(node("m1", [cert("apiserver", "warning")])), T0)), undefined);
  const flaky = new Poster();
  const report = cluster(node("m1", [cert("apiserver", "ok")]), down("m2"));
  flaky.scan(report, T0);
  assert.equal(button(flaky.scan(report, at(1))), undefined, "a renewal cannot fix an unreachable node");
});

test("every warning offers Acknowledge, Snooze 1 day and Snooze 7 days; a note of who quieted it goes above them", () => {
  const labels = (actions: AlertAction[]) =>
    (actions[0] as WarnAction).message.blocks.flatMap((b) =>
      b.type === "actions" ? b.elements.map((e) => e.text.text) : [],
    );
  assert.deepEqual(labels(new Poster().scan(cluster(node("m1", [cert("apiserver", "warning")])), T0)), [
    "Acknowledge",
    "Snooze 1 day",
    "Snooze 7 days",
  ]);
  const [expired] = new Poster().scan(
    cluster(node("m1", [cert("apiserver", "expired")])),
    T0,
  ) as WarnAction[];
  assert.deepEqual(labels([expired!]), ["Request renewal", "Acknowledge", "Snooze 1 day", "Snooze 7 days"]);
  // A cluster that allows shorter snoozes is offered none longer.
  const short = new Poster(3).scan(cluster(node("m1", [cert("apiserver", "warning")])), T0);
  assert.deepEqual(labels(short), ["Acknowledge", "Snooze 1 day"]);

  const until = new Date(T0.getTime() + 86_400_000);
  const snoozed = withQuietNote(
    expired!.message.blocks,
    quietNote({ kind: "snoozed", by: "U0ALICE", at: T0, until }, "Europe/Berlin"),
  );
  const acked = withQuietNote(
    snoozed,
    quietNote({ kind: "acknowledged", by: "U0BOB", at: T0 }, "Europe/Berlin"),
  );
  assert.equal(acked.length, expired!.message.blocks.length + 1, "one note, the newest");
  assert.equal(acked.at(-1)!.type, "actions", "the buttons stay last");
  assert.match(
    blockTexts([acked.at(-2)!]).join(),
    /Acknowledged by <@U0BOB> on .*: no reminders until it gets worse or changes/,
  );
  assert.match(
    blockTexts([snoozed.at(-2)!]).join(),
    /Snoozed by <@U0ALICE> until \w{3} \d+ \w{3} \d\d:\d\d CET/,
  );
  assert.deepEqual(checkBlockLimits({ ...expired!.message, blocks: acked }), []);
});

test("a long alert splits into posts that keep Block Kit limits and lose no line, and so do its replies", () => {
  const bot = new Poster();
  const path = (n: string, c: string) => `/etc/kubernetes/pki/${"deep/".repeat(40)}${n}-${c}.crt`;
  const nodes = Array.from({ length: 40 }, (_, i) => {
    const name = `cp-${i}`;
    return node(name, [
      cert("apiserver", "expired", { path: path(name, "apiserver") }),
      cert("etcd-peer", "critical", { path: path(name, "etcd-peer") }),
      cert("front-proxy-client", i % 2 ? "not-yet-valid" : "warning", {
        path: path(name, "front-proxy-client"),
      }),
    ]);
  });
  const bullets = (message: SlackMessage) =>
    blockTexts(message.blocks)
      .flatMap((t) => t.split("\n"))
      .filter((line) => line.startsWith("• "));
  const within = (actions: AlertAction[]) => {
    for (const a of actions) assert.deepEqual(checkBlockLimits(a.message), [], a.id);
  };

  const warns = bot.scan(cluster(...nodes), T0) as WarnAction[];
  assert.ok(warns.length > 2, `${warns.length} posts`);
  within(warns);
  for (const warn of warns) {
    const body = blockTexts(warn.message.blocks).join("\n");
    assert.equal(bullets(warn.message).length, warn.subjects.length, "one line a subject");
    for (const s of warn.subjects) {
      assert.ok(body.includes(`*Node \`${s.node}\`*`), `${s.key}'s node heading in ${warn.id}`);
      assert.ok(body.includes(path(s.node, s.certificate ?? "")), `${s.key}'s path in ${warn.id}`);
      assert.ok(body.includes(`Renew on \`${s.node}\``), `${s.node}'s advice in ${warn.id}`);
    }
  }
  assert.equal(warns.flatMap((w) => w.subjects).length, 120);

  // One thread holding every subject (as a poster that reused one ts would leave it): its
  // reminder splits, so do its resolutions, and only the last reply closes the thread.
  const thread = "1700000000.000100";
  for (const record of Object.values(bot.state.alerts)) record.threadTs = thread;
  const reminders = bot.scan(cluster(...nodes), at(24)) as ReminderAction[];
  assert.ok(reminders.length > 1, `${reminders.length} reminders`);
  assert.ok(reminders.every((r) => r.threadTs === thread));
  within(reminders);
  const reminded = reminders.flatMap((r) => bullets(r.message));
  assert.equal(reminded.length, 80);
  assert.equal(new Set(reminded).size, 80);
  for (const r of reminders) {
    assert.deepEqual(
      bullets(r.message).map((line) =>
        line
          .match(/^• `([^`]+)`: \S+ \*\w+\* `([^`]+)`/)
          ?.slice(1)
          .join("/"),
      ),
      r.keys,
    );
  }

  const renewed = bot.scan(
    cluster(
      ...nodes.map((n) =>
        node(
          n.name,
          n.certificates.map((c) => cert(c.name, "ok", { sha: "v2" })),
        ),
      ),
    ),
    at(25),
  ) as ResolvedAction[];
  assert.ok(renewed.length > 1, `${renewed.length} replies`);
  within(renewed);
  assert.deepEqual(
    renewed.map((r) => [r.threadTs, r.broadcast, /Nothing in this thread is open/.test(text(r.message))]),
    renewed.map((_, i) => [thread, i === renewed.length - 1, i === renewed.length - 1]),
  );
  for (const r of renewed) assert.equal(bullets(r.message).length, r.resolved.length);
  assert.equal(new Set(renewed.flatMap((r) => bullets(r.message))).size, 120);
  assert.deepEqual(bot.state.alerts, {});
});

test("drift is the judge's finding: a served certificate without it is no subject of its own", () => {
  const served: ServedCertificate = {
    port: 6443,
    reachable: true,
    sha256: "apiserver-v1",
    notAfter: new Date(T0.getTime() + DAY),
    status: "critical",
  };
  const renewedOnDisk = [cert("apiserver", "ok", { sha: "v2" })];
  assert.deepEqual(new Poster().scan(cluster(node("m1", renewedOnDisk, { apiserver: served })), T0), []);
  const [drift] = new Poster().scan(
    cluster(node("m1", renewedOnDisk, { apiserver: served, findings: [APISERVER_DRIFT] })),
    T0,
  ) as WarnAction[];
  assert.deepEqual(
    drift!.subjects.map((s) => s.key),
    [`m1/${SERVED}`],
  );

  const bot = new Poster();
  bot.scan(cluster(node("m1", [cert("apiserver", "critical")])), T0);
  const [quiet] = bot.scan(cluster(node("m1", renewedOnDisk, { apiserver: served })), at(1));
  assert.doesNotMatch(text(quiet!.message), /still serves the old one/);
});

test("kubelet.conf: the advice and the button say what a renewal of that node will do about it", () => {
  const embeddedFinding = {
    code: "kubelet-conf-embedded" as const,
    severity: "warning" as const,
    certificate: "kubelet.conf",
    message: "kubelet.conf embeds its client certificate",
    advice: "",
  };
  const conf = (status: CertificateStatus) =>
    cert("kubelet.conf", status, {
      path: "/etc/kubernetes/kubelet.conf",
      subject: "O=system:nodes, CN=system:node:m1",
    });
  const warn = (
    version: string,
    extra: ReturnType<typeof cert>[] = [],
    status: CertificateStatus = "expired",
  ) =>
    new Poster().scan(
      cluster(node("m1", [conf(status), ...extra], { kubeadmVersion: version, findings: [embeddedFinding] })),
      T0,
    )[0] as WarnAction;
  const hasButton = (w: WarnAction) =>
    JSON.stringify(w.message.blocks).includes('"action_id":"renewal_request"');

  const old = warn("v1.11.10");
  assert.match(
    text(old.message),
    /kubelet\.conf on `m1` embeds a one-year client certificate that kubeadm v1\.11\.10 never renews: a renewal of `m1` \(Request renewal, or `\/certs renew`\) moves it aside and regenerates it \(`kubeadm alpha phase kubeconfig kubelet --node-name m1`\), then restarts the kubelet\./,
  );
  assert.doesNotMatch(text(old.message), /kubelet-client-current\.pem/, "no advice for 1.17+");
  assert.ok(hasButton(old));
  assert.match(text(warn("v1.14.10").message), /`kubeadm init phase kubeconfig kubelet --node-name m1`/);

  const pem = cert("kubelet-client", "ok", {
    path: "/var/lib/kubelet/pki/kubelet-client-current.pem",
    subject: "O=system:nodes, CN=system:node:m1",
  });
  const upgraded = warn("v1.28.4", [pem], "critical");
  assert.match(
    text(upgraded.message),
    /a renewal of `m1` \(Request renewal, or `\/certs renew`\) points its client-certificate and client-key at \/var\/lib\/kubelet\/pki\/kubelet-client-current\.pem, which the kubelet rotates, and restarts the kubelet/,
  );
  assert.ok(hasButton(upgraded));

  // 1.17+ without a valid rotating file to point at: no renewal repairs it, so no button; by hand.
  const stuck = warn("v1.28.4", [{ ...pem, status: "expired" }]);
  assert.match(
    text(stuck.message),
    /a renewal cannot repair it there: the kubelet's rotating kubelet-client-current\.pem is expired, so pointing kubelet\.conf at it cannot help\. If it has expired: on a working control-plane node run `kubeadm kubeconfig user/,
  );
  assert.ok(!hasButton(stuck));
});

test("Request renewal only where a renewal fixes something: not for an expired CA or the kubelet's rotating certificate", () => {
  const offered = (c: ReturnType<typeof cert>) =>
    JSON.stringify(
      (new Poster().scan(cluster(node("m1", [c])), T0)[0] as WarnAction).message.blocks,
    ).includes('"action_id":"renewal_request"');
  assert.equal(offered(cert("ca", "expired", { isCA: true })), false);
  assert.equal(
    offered(cert("kubelet-client", "expired", { path: "/var/lib/kubelet/pki/kubelet-client-current.pem" })),
    false,
  );
  assert.equal(offered(cert("admin.conf", "expired", { path: "/etc/kubernetes/admin.conf" })), true);
});
