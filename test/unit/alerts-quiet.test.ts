import { test } from "node:test";
import assert from "node:assert/strict";
import type { SlackMessage } from "../../src/present/slack-types.js";
import type { ReminderAction as Reminder } from "../../src/core/alerts/actions.js";
import {
  acknowledge,
  activeQuiets,
  quietFor,
  snooze,
  unsnooze,
  type QuietResult,
  type QuietTarget,
} from "../../src/core/alerts/quiet.js";
import { emptyAlertState, type AlertState } from "../../src/core/alerts/state.js";
import { parseSnoozeDuration, quietRefusalText } from "../../src/present/snooze.js";
import {
  DAY,
  HOUR,
  Poster,
  T0,
  at,
  cert,
  cluster,
  down,
  kinds,
  node,
  text,
} from "../fixtures/alert-world.js";

type ReminderAction = Reminder<SlackMessage>;

const ALICE = "U0ALICE01";
const BOB = "U0BOB0001";
const keys = (...k: string[]): QuietTarget => ({ keys: k });

/** The state a successful operation returns; a refusal fails the test with its reason. */
function done(result: QuietResult): AlertState {
  assert.ok(result.ok, `expected success, got ${JSON.stringify(result)}`);
  return result.state;
}

/** Scans hourly from `from` to `to` (hours after T0, both included); what each posted, by hour. */
function hourly(bot: Poster, report: Parameters<Poster["scan"]>[0], from: number, to: number): number[] {
  const spoke: number[] = [];
  for (let h = from; h <= to; h++) if (bot.scan(report, at(h)).length > 0) spoke.push(h);
  return spoke;
}

const critical = cluster(node("m1", [cert("apiserver", "critical"), cert("admin.conf", "warning")]));

test("an acknowledged critical certificate gets no reminders, scan after scan, for days", () => {
  const bot = new Poster();
  bot.scan(critical, T0);
  bot.state = done(acknowledge(bot.state, keys("m1/apiserver"), ALICE, at(1)));
  assert.deepEqual(hourly(bot, critical, 2, 24 * 6), [], "six days of hourly scans, not one reply");
  assert.deepEqual(bot.state.quiet?.["m1/apiserver"], {
    kind: "acknowledged",
    by: ALICE,
    at: at(1).toISOString(),
    level: "critical",
    sha256: "apiserver-v1",
  });
});

test("an acknowledgement never hides an escalation: worse posts at once, clears it, reminders resume", () => {
  const bot = new Poster();
  const report = cluster(node("m1", [cert("admin.conf", "warning")]));
  bot.scan(report, T0);
  bot.state = done(acknowledge(bot.state, keys("m1/admin.conf"), ALICE, at(1)));
  const worse = cluster(node("m1", [cert("admin.conf", "critical")]));
  assert.deepEqual(kinds(bot.scan(worse, at(5))), ["warn"]);
  assert.equal(bot.state.quiet, undefined, "the acknowledgement was of the warning");
  assert.deepEqual(
    hourly(bot, worse, 6, 30),
    [28],
    "reminded a day after the critical post (the slot opens an hour early)",
  );
});

test("a renewed certificate clears its acknowledgement, whether it is ok now or still bad", () => {
  const bot = new Poster();
  bot.scan(critical, T0);
  bot.state = done(acknowledge(bot.state, keys("m1/apiserver", "m1/admin.conf"), ALICE, at(1)));
  const renewedStillBad = cluster(
    node("m1", [cert("apiserver", "critical", { sha: "apiserver-v2" }), cert("admin.conf", "warning")]),
  );
  assert.deepEqual(kinds(bot.scan(renewedStillBad, at(2))), ["resolved", "warn"]);
  assert.deepEqual(Object.keys(bot.state.quiet ?? {}), ["m1/admin.conf"], "only the renewed one's is gone");
  assert.deepEqual(hourly(bot, renewedStillBad, 3, 27), [25], "the new certificate reminds on its own clock");

  const renewedOk = cluster(
    node("m1", [
      cert("apiserver", "critical", { sha: "apiserver-v2" }),
      cert("admin.conf", "ok", { sha: "v3" }),
    ]),
  );
  assert.deepEqual(kinds(bot.scan(renewedOk, at(28))), ["resolved"]);
  assert.equal(bot.state.quiet, undefined);
  assert.equal(bot.state.alerts["m1/admin.conf"], undefined);
});

test("a snoozed warning stays quiet across scans, then speaks once in its thread when the snooze ends", () => {
  const bot = new Poster();
  const report = cluster(node("m1", [cert("admin.conf", "warning")]));
  const [warn] = bot.scan(report, T0);
  bot.state = done(
    snooze(bot.state, keys("m1/admin.conf"), {
      by: ALICE,
      until: at(1 + 3 * 24),
      now: at(1),
      maxDays: 14,
      reason: "  renewal planned for Thursday ",
    }),
  );
  assert.deepEqual(hourly(bot, report, 2, 72), [], "quiet until the snooze ends");
  const ended = bot.scan(report, at(73)) as ReminderAction[];
  assert.deepEqual(kinds(ended), ["reminder"]);
  assert.equal(ended[0]!.threadTs, bot.tsOf(warn!.id), "in the warning's thread");
  assert.deepEqual(ended[0]!.keys, ["m1/admin.conf"]);
  const said = text(ended[0]!.message);
  assert.match(said, /still 1 warning/);
  assert.match(said, /snoozed by <@U0ALICE01> until 2026-12-01 11:00 CET; the snooze has ended/);
  assert.equal(bot.state.quiet, undefined, "said once: the snooze is over");
  assert.deepEqual(hourly(bot, report, 74, 24 * 8), [], "a warning does not remind after that either");
});

test("a snoozed critical certificate: no reminders while snoozed, one at the end, then daily again", () => {
  const bot = new Poster();
  bot.scan(critical, T0);
  bot.state = done(
    snooze(bot.state, keys("m1/apiserver"), { by: ALICE, until: at(50), now: at(1), maxDays: 14 }),
  );
  assert.deepEqual(hourly(bot, critical, 2, 49), []);
  const [end] = bot.scan(critical, at(50)) as ReminderAction[];
  assert.match(text(end!.message), /still 1 critical.*\n?.*the snooze has ended/s);
  assert.equal(
    bot.state.alerts["m1/apiserver"]!.lastReminderAt,
    at(50).toISOString(),
    "counts as its reminder",
  );
  assert.deepEqual(hourly(bot, critical, 51, 24 * 4), [71, 95], "daily again, in the post's slots");
});

test("a snooze never hides an escalation: worse posts during the snooze and clears it", () => {
  const bot = new Poster();
  bot.scan(cluster(node("m1", [cert("admin.conf", "warning")])), T0);
  bot.state = done(
    snooze(bot.state, keys("m1/admin.conf"), { by: ALICE, until: at(24 * 7), now: at(1), maxDays: 14 }),
  );
  const expired = cluster(node("m1", [cert("admin.conf", "expired")]));
  const [warn] = bot.scan(expired, at(3));
  assert.equal(warn!.kind, "warn");
  assert.match(text(warn!.message), /EXPIRED/);
  assert.equal(bot.state.quiet, undefined);
  assert.deepEqual(activeQuiets(bot.state, at(3)), []);
});

test("a snooze that ends while the node is down speaks when the node is seen again", () => {
  const bot = new Poster();
  const report = cluster(node("m1", [cert("admin.conf", "warning")]));
  bot.scan(report, T0);
  bot.state = done(
    snooze(bot.state, keys("m1/admin.conf"), { by: ALICE, until: at(10), now: at(1), maxDays: 14 }),
  );
  assert.deepEqual(bot.scan(cluster(down("m1")), at(11)), [], "unknown is not a reason to speak");
  assert.deepEqual(kinds(bot.scan(report, at(12))), ["reminder"]);
});

test("unsnooze lifts a snooze or an acknowledgement: reminders resume on the reminder clock", () => {
  const bot = new Poster();
  bot.scan(critical, T0);
  bot.state = done(
    snooze(bot.state, keys("m1/apiserver"), { by: ALICE, until: at(24 * 10), now: at(1), maxDays: 14 }),
  );
  assert.deepEqual(hourly(bot, critical, 2, 30), []);
  const lifted = unsnooze(bot.state, keys("m1/apiserver", "m1/admin.conf"));
  assert.ok(lifted.ok);
  assert.deepEqual([lifted.keys, lifted.skipped], [["m1/apiserver"], ["m1/admin.conf"]]);
  bot.state = lifted.state;
  assert.equal(bot.state.quiet, undefined, "no quiet subjects: the field is left out, as before snoozes");
  assert.deepEqual(kinds(bot.scan(critical, at(31))), ["reminder"], "day 1's reminder, late");

  bot.state = done(acknowledge(bot.state, { all: true }, BOB, at(32)));
  assert.deepEqual(Object.keys(bot.state.quiet ?? {}), ["m1/admin.conf", "m1/apiserver"]);
  bot.state = done(unsnooze(bot.state, { all: true }));
  assert.deepEqual(hourly(bot, critical, 33, 48), [47]);
});

test("activeQuiets lists who quieted what, until when and why; ended or outdated ones are not listed", () => {
  const report = cluster(
    node("m1", [cert("apiserver", "critical"), cert("admin.conf", "warning")]),
    down("m2"),
  );
  const bot = new Poster();
  bot.scan(report, T0);
  bot.scan(report, at(1)); // m2 unreachable twice: warned
  let state = done(acknowledge(bot.state, keys("m1/apiserver"), ALICE, at(2)));
  state = done(
    snooze(state, keys("m2", "m1/admin.conf"), {
      by: BOB,
      until: at(26),
      now: at(2),
      maxDays: 14,
      reason: "maintenance",
    }),
  );
  assert.deepEqual(activeQuiets(state, at(3)), [
    {
      key: "m1/admin.conf",
      node: "m1",
      certificate: "admin.conf",
      kind: "snoozed",
      by: BOB,
      at: at(2).toISOString(),
      until: at(26).toISOString(),
      level: "warning",
      sha256: "admin.conf-v1",
      reason: "maintenance",
    },
    {
      key: "m1/apiserver",
      node: "m1",
      certificate: "apiserver",
      kind: "acknowledged",
      by: ALICE,
      at: at(2).toISOString(),
      level: "critical",
      sha256: "apiserver-v1",
    },
    {
      key: "m2",
      node: "m2",
      certificate: null,
      kind: "snoozed",
      by: BOB,
      at: at(2).toISOString(),
      until: at(26).toISOString(),
      level: "unreachable",
      sha256: null,
      reason: "maintenance",
    },
  ]);
  assert.deepEqual(
    activeQuiets(state, at(26)).map((q) => q.key),
    ["m1/apiserver"],
    "the snoozes ended",
  );
  assert.equal(quietFor(state, "m2", at(25))?.by, BOB);
  assert.equal(quietFor(state, "m2", at(26)), undefined);
  const moved = {
    ...state,
    alerts: {
      ...state.alerts,
      "m1/apiserver": { ...state.alerts["m1/apiserver"]!, level: "expired" as const },
    },
  };
  assert.equal(quietFor(moved, "m1/apiserver", at(3)), undefined, "acknowledged at critical, not at expired");
});

test("refusals: nothing open, a key not open, a snooze ending now or too far, unsnooze of what is not quiet", () => {
  const empty = emptyAlertState();
  assert.deepEqual(acknowledge(empty, { all: true }, ALICE, T0), { ok: false, reason: "nothing-open" });
  const bot = new Poster();
  bot.scan(critical, T0);
  const state = bot.state;
  assert.deepEqual(acknowledge(state, keys("m1/etcd-server"), ALICE, T0), {
    ok: false,
    reason: "not-open",
    keys: ["m1/etcd-server"],
    open: ["m1/admin.conf", "m1/apiserver"],
  });
  const partly = acknowledge(state, keys("m1/etcd-server", "m1/apiserver"), ALICE, T0);
  assert.ok(partly.ok);
  assert.deepEqual(
    [partly.keys, partly.skipped],
    [["m1/apiserver"], ["m1/etcd-server"]],
    "a message's subjects: those open",
  );
  const request = { by: ALICE, now: T0, maxDays: 14 };
  assert.deepEqual(snooze(state, { all: true }, { ...request, until: T0 }), {
    ok: false,
    reason: "not-future",
  });
  assert.deepEqual(
    snooze(state, { all: true }, { ...request, until: new Date(T0.getTime() + 14 * DAY + 1) }),
    {
      ok: false,
      reason: "too-long",
      maxDays: 14,
    },
  );
  assert.ok(
    snooze(state, { all: true }, { ...request, until: new Date(T0.getTime() + 14 * DAY) }).ok,
    "14 days is allowed",
  );
  assert.deepEqual(unsnooze(state, keys("m1/apiserver")), {
    ok: false,
    reason: "not-quiet",
    keys: ["m1/apiserver"],
  });
  assert.deepEqual(unsnooze(state, { all: true }), { ok: false, reason: "not-quiet", keys: [] });
});

test("refusals read as what to do", () => {
  assert.equal(
    quietRefusalText({ ok: false, reason: "not-open", keys: ["m1/etcd"], open: ["m1/apiserver"] }, "prod"),
    "No open warning for `m1/etcd` in `prod`. Open now: `m1/apiserver`.",
  );
  assert.equal(
    quietRefusalText(
      { ok: false, reason: "not-open", keys: ["m1/etcd"], open: ["m1/apiserver (served)"] },
      "prod",
    ),
    "No open warning for `m1/etcd` in `prod`. Open now: `m1/apiserver-served`.",
    "named as it is typed",
  );
  assert.equal(
    quietRefusalText({ ok: false, reason: "nothing-open" }, "prod"),
    "Nothing is open in `prod`: there is no warning to quiet.",
  );
  assert.equal(
    quietRefusalText({ ok: false, reason: "too-long", maxDays: 3 }, "prod"),
    "A snooze in `prod` lasts at most 3 days (`alerts.maxSnoozeDays`).",
  );
  assert.equal(
    quietRefusalText({ ok: false, reason: "not-quiet", keys: [] }, "prod"),
    "Nothing in `prod` is acknowledged or snoozed.",
  );
});

test("an old alert state without the quiet field loads and plans as before", () => {
  const bot = new Poster();
  bot.scan(critical, T0);
  const old = JSON.parse(JSON.stringify(bot.state)) as AlertState;
  assert.equal("quiet" in old, false);
  bot.state = old;
  assert.deepEqual(kinds(bot.scan(critical, at(24))), ["reminder"]);
  assert.deepEqual(activeQuiets(old, at(24)), []);
});

test("re-planning is safe: a snooze's end has its own id, and once posted is not planned again", () => {
  const bot = new Poster();
  bot.scan(critical, T0);
  const [daily] = bot.scan(critical, at(24));
  bot.state = done(
    snooze(bot.state, keys("m1/apiserver"), { by: ALICE, until: at(30), now: at(25), maxDays: 14 }),
  );
  const saved = bot.state;
  const [end] = bot.scan(critical, at(31));
  assert.equal(end!.kind, "reminder");
  assert.notEqual(end!.id, daily!.id, "the same slot's plain reminder was posted already");
  assert.deepEqual(bot.scan(critical, at(31)), [], "after it was applied: nothing");
  bot.state = saved;
  assert.deepEqual(
    bot.scan(critical, at(31)).map((a) => a.id),
    [end!.id],
    "before: the same post",
  );
});

test("durations for /certs snooze: hours, days or weeks, above zero, at most the cluster's maximum", () => {
  assert.deepEqual(parseSnoozeDuration("6h", 14), { ok: true, ms: 6 * HOUR });
  assert.deepEqual(parseSnoozeDuration("3d", 14), { ok: true, ms: 3 * DAY });
  assert.deepEqual(parseSnoozeDuration("2w", 14), { ok: true, ms: 14 * DAY });
  assert.deepEqual(parseSnoozeDuration(" 1D ", 14), { ok: true, ms: DAY });
  const hint = "use a duration like 6h, 3d or 2w (hours, days or weeks), at most 14 days.";
  for (const bad of ["30m", "3", "d", "1.5d", "-1d", "3 d", "3days", "1w2d", ""]) {
    const result = parseSnoozeDuration(bad, 14);
    assert.ok(!result.ok, bad);
    assert.ok(result.error.endsWith(`is not a duration: ${hint}`), result.error);
  }
  assert.deepEqual(parseSnoozeDuration("0h", 14), { ok: false, error: `\`0h\` is no time at all: ${hint}` });
  assert.deepEqual(parseSnoozeDuration("3w", 14), { ok: false, error: `\`3w\` is too long: ${hint}` });
  assert.deepEqual(parseSnoozeDuration("337h", 14), { ok: false, error: `\`337h\` is too long: ${hint}` });
  assert.equal(
    (parseSnoozeDuration("2d", 1) as { error: string }).error,
    "`2d` is too long: use a duration like 6h, 3d or 2w (hours, days or weeks), at most 1 day.",
  );
});
