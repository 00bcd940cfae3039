// The Slack surface end to end: `certs-bot serve`'s Bolt app in HTTP mode, driven by requests signed
// the way Slack signs them (v0 HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret),
// over a private Redis, real BullMQ workers and real scans of lab trees (`transport: local`).
// Slack's side is stood in for twice, both on loopback:
//   - the fake Slack Web API (test/lab/fake-slack.ts), which the bot calls (auth.test,
//     usergroups.users.list, conversations.members, views.publish, chat.postMessage);
//   - a small HTTP endpoint that records what the bot POSTs to a command's `response_url`: that is
//     Slack's side of response_url, so it is part of the fake too.
// Socket Mode runs once against a local WebSocket server speaking its envelope protocol, with the
// fake Web API answering apps.connections.open with that server's URL.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import { loadConfig, type Config } from "../../src/config/load.js";
import { Service } from "../../src/service.js";
import { defaultDependencies } from "../../src/adapters/nodes/scan.js";
import type { SlackSurface } from "../../src/adapters/slack/app.js";
import { ServiceBackend } from "../../src/adapters/slack/backend.js";
import { INTERACTIVE_CALLS, SlackPoster, webClient } from "../../src/adapters/slack/poster.js";
import { connectRedis } from "../../src/adapters/store/redis.js";
import type { RenewalDesk } from "../../src/app/renew/desk.js";
import { AuditLog } from "../../src/adapters/store/audit.js";
import { Store } from "../../src/adapters/store/store.js";
import { scanWith } from "../fixtures/stored-scan.js";
import { RenewalStore } from "../../src/adapters/store/renewals.js";
import { newRequest } from "../../src/core/renew/approval.js";
import { POLICY_REQUESTER } from "../../src/core/renew/policy.js";
import { startFakeSlack, type FakeSlack } from "../lab/fake-slack.js";
import { freePort } from "../lab/ports.js";
import { clickBody, commandBody, signed as signedBy } from "../lab/slack-requests.js";
import { SlackSurfaceClient, type SlackAnswer } from "../lab/slack-surface.js";
import { startRedis, type LabRedis } from "../lab/redis.js";
import { newClusterPki, writeLabNode } from "../lab/tree.js";
import { until } from "../lab/wait.js";

const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const DAY = 86_400_000;
const quiet = pino({ level: "silent" });

let root: string;
let redis: LabRedis;
let fake: FakeSlack;
let config: Config;
let configPath: string;
let service: Service;
let port: number;
/** People's side: signed commands and clicks, and the answers to their response_urls. */
let people: SlackSurfaceClient;
/** The scans' clock: the snooze tests move it days ahead to see reminders come, or not. */
let scanClock = (): Date => new Date();

/** A kubeadm tree for a one-node cluster; `expired` backdates one client certificate. */
async function labNode(name: string, expired = false): Promise<string> {
  const now = new Date();
  const node = await writeLabNode({
    root: join(root, name),
    nodeName: name,
    address: "127.0.0.1",
    pki: await newClusterPki({ now }),
    now,
    ...(expired
      ? {
          dates: {
            "apiserver-kubelet-client": {
              notBefore: new Date(now.getTime() - 368 * DAY),
              notAfter: new Date(now.getTime() - 3 * DAY),
            },
          },
        }
      : {}),
  });
  return (
    `{ host: 127.0.0.1, name: ${name}, transport: local, apiserver: { probe: false }, ` +
    `paths: { kubernetesDir: "${node.kubernetesDir}", kubeletPkiDir: "${node.kubeletPkiDir}" } }`
  );
}

function signed(body: string, options: { secret?: string; at?: number } = {}): Record<string, string> {
  return signedBy(body, options.secret ?? SECRET, options.at);
}

/** A request to serve's /slack/events with exactly these headers (forged ones too). */
async function post(body: string, contentType: string, headers: Record<string, string>) {
  const res = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    method: "POST",
    headers: { "content-type": contentType, ...headers },
    body,
  });
  return { status: res.status, text: await res.text() };
}

const FORM = "application/x-www-form-urlencoded";
let requests = 0;

/**
 * `/certs TEXT` from a user in a channel, signed; the ack as Slack would read it. How fast is a
 * benchmark figure (npm run bench: p50/p99 under 50 concurrent requests), never a timed assertion
 * here; that every command is answered by its ack is what this checks.
 */
const certs = (text: string, user = "U0ALICE", channel = "C0LABAAA") => people.certs(text, user, channel);

const followUp = (id: string, what: string, count = 1) =>
  until(what, async () => people.answered(id).length >= count && people.answered(id));

async function scanJobs(): Promise<number> {
  const jobs = await service.queue.scan.getJobs(["waiting", "active", "delayed", "completed", "failed"]);
  return jobs.filter((j) => j.name === "scan-cluster").length;
}

async function settled(): Promise<void> {
  await until("no scan running", async () => (await service.queue.scan.getActiveCount()) === 0);
  await new Promise((r) => setTimeout(r, 300));
}

/** Membership lookups: a refusal may need one to decide, and they change nothing. */
const LOOKUPS = new Set(["usergroups.users.list", "conversations.members"]);

/**
 * Runs `act`, then checks that nothing ran: no job queued, no Web API call (but for lookups, when
 * `lookups` allows them), nothing sent to a response_url.
 */
async function nothingRuns(act: () => Promise<void>, lookups = false): Promise<void> {
  await settled();
  const [jobs, calls, answers] = [await scanJobs(), fake.calls.length, people.answerCount()];
  await act();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await scanJobs(), jobs, "no scan was queued");
  const made = fake.calls.slice(calls).map((c) => c.method);
  assert.deepEqual(
    made.filter((method) => !(lookups && LOOKUPS.has(method))),
    [],
    "no Web API call",
  );
  assert.equal(people.answerCount(), answers, "nothing was sent to a response_url");
}

function surfaceService(
  surface: SlackSurface,
  slackApiUrl: string,
  prefix: string,
  metricsPort?: number,
): Service {
  return new Service({
    role: "serve",
    config,
    redisUrl: redis.url,
    prefix,
    slack: { token: "xoxb-test", apiUrl: slackApiUrl },
    slackSurface: surface,
    logger: quiet,
    graceMs: 5000,
    ...(metricsPort ? { metricsPort } : {}),
    scanDependencies: { ...defaultDependencies(quiet), now: () => scanClock() },
    // These tests begin with clusters never scanned: what /certs says then is part of what they check.
    catchUp: false,
  });
}

async function scanAndWait(cluster: string): Promise<void> {
  const job = await service.queue.requestScan(cluster, "manual");
  await until(`scan of ${cluster}`, async () => (await service.queue.scan.getJob(job.id!))?.finishedOn);
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-slack-"));
  redis = await startRedis({ persistent: true });
  fake = await startFakeSlack({
    usergroups: { S0OPS: ["U0CAROL"] },
    channelMembers: { C0LABBBB: ["U0DAVE"] },
  });
  configPath = join(root, "clusters.yaml");
  writeFileSync(
    configPath,
    [
      "timezone: Europe/Berlin",
      'scanCron: "0 3 1 1 *"',
      'slack: { digestChannel: C0DIGEST, digestCron: "0 9 1 1 *" }',
      "clusters:",
      "  - name: lab-a",
      "    channel: C0LABAAA",
      "    viewers: [C0LABAAA, C0SRETEAM]",
      "    operators: [U0ALICE, S0OPS]",
      `    nodes: [${await labNode("a-1", true)}]`,
      "  - name: lab-b",
      "    channel: C0LABBBB",
      "    renewal: { policy: { requestWhenDaysLeft: 30 } }",
      `    nodes: [${await labNode("b-1")}]`,
      "  - name: lab-new",
      "    channel: C0LABAAA",
      "    operators: [U0ALICE]",
      `    nodes: [${await labNode("n-1")}]`,
      "  - name: lab-c",
      "    channel: C0TEAMCCC",
      "    operators: [U0ALICE]",
      `    nodes: [${await labNode("c-1")}]`,
      "",
    ].join("\n"),
  );
  config = loadConfig(configPath);
  port = await freePort("127.0.0.1");
  people = await SlackSurfaceClient.start({ port, secret: SECRET });
  service = surfaceService(
    { mode: "http", signingSecret: SECRET, port, host: "127.0.0.1" },
    fake.url,
    `slack-${process.pid}`,
  );
  await service.start();
  for (const cluster of ["lab-a", "lab-b", "lab-c"]) await scanAndWait(cluster);
});

after(async () => {
  await service?.stop();
  await people?.close();
  await fake?.close();
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("/certs over HTTP, signed", () => {
  test("help, and an empty command: every subcommand with examples, only to the user", async () => {
    for (const text of ["help", ""]) {
      const { ack, all } = await certs(text);
      assert.equal(ack.response_type, "ephemeral");
      for (const sub of ["list", "status", "scan", "renew", "audit"])
        assert.match(all, new RegExp(`/certs ${sub}`));
      assert.match(all, /\/certs status lab-a/, "examples use a cluster of this channel");
    }
    const { ack } = await certs("help status");
    assert.match(ack.text, /\/certs status CLUSTER \[--node NAME\] \[--all\]/);
  });

  test("list: the clusters of this channel only, in the channel", async () => {
    const here = await certs("list");
    assert.equal(here.ack.response_type, "in_channel");
    assert.match(here.all, /\*lab-a\* — expired/);
    assert.match(here.all, /\*lab-new\* — not scanned yet/);
    assert.doesNotMatch(here.all, /lab-b|lab-c/, "other channels' clusters are never shown");
    const sre = await certs("list", "U0ALICE", "C0SRETEAM");
    assert.match(sre.all, /lab-a/);
    assert.doesNotMatch(sre.all, /lab-new|lab-b|lab-c/);
    const elsewhere = await certs("list", "U0ALICE", "C0RANDOMXX");
    assert.match(elsewhere.all, /No clusters are shown in this channel/);
  });

  test("status: the latest report, --node and --all; an unknown node gets the cluster's own names", async () => {
    const status = await certs("status lab-a");
    assert.equal(status.ack.response_type, "in_channel");
    assert.match(status.ack.text, /^lab-a: expired/);
    assert.match(status.all, /apiserver-kubelet-client/);
    assert.match(status.all, /certificates that need attention/);
    assert.match(status.all, /the other \d+ certificates ok/, "fine certificates are summarised");
    const all = await certs("status lab-a --all");
    assert.match(all.all, /every certificate/);
    for (const name of ["etcd-peer", "front-proxy-client", "admin.conf"])
      assert.match(all.all, new RegExp(name));
    const node = await certs("status lab-a --node a-1");
    assert.match(node.all, /lab-a — expired \(a-1\)/);
    const typo = await certs("status lab-a --node a-2");
    assert.equal(typo.ack.response_type, "ephemeral");
    assert.match(typo.all, /lab-a\* has no node `a-2`; did you mean `a-1`/);
  });

  test("status of a cluster never scanned: says so, starts a scan, and the result follows", async () => {
    const { id, ack } = await certs("status lab-new");
    assert.equal(ack.response_type, "in_channel");
    assert.match(ack.text, /lab-new has no report yet — scanning now/);
    const [done] = await followUp(id, "the scan of lab-new");
    assert.equal(done!.response_type, "in_channel");
    assert.equal(done!.replace_original, false);
    assert.match(done!.text, /^Scan of lab-new done: ok/);
  });

  test("scan: queued, answered in the channel, then the result through the same response_url", async () => {
    const before = await scanJobs();
    const { id, ack } = await certs("scan lab-a");
    assert.equal(ack.response_type, "in_channel");
    assert.match(
      JSON.stringify(ack.blocks),
      /Scan of \*lab-a\* requested by <@U0ALICE>; the result follows here/,
    );
    const [done] = await followUp(id, "the scan of lab-a");
    assert.equal(done!.response_type, "in_channel");
    assert.match(done!.text, /^Scan of lab-a done: expired/);
    assert.match(JSON.stringify(done!.blocks), /a-1\/apiserver-kubelet-client/);
    assert.equal(await scanJobs(), before + 1);
  });

  test("scan by an operator through a user group (usergroups.users.list)", async () => {
    const { id, ack } = await certs("scan lab-a", "U0CAROL");
    assert.equal(ack.response_type, "in_channel");
    assert.ok(
      fake.calls.some((c) => c.method === "usergroups.users.list" && c.args.usergroup === "S0OPS"),
      "the group was resolved through the Web API",
    );
    await followUp(id, "the scan requested by a group member");
  });

  test("scan refusals say why and run nothing", async () => {
    await nothingRuns(async () => {
      const stranger = await certs("scan lab-a", "U0MALLORY");
      assert.equal(stranger.ack.response_type, "ephemeral");
      assert.match(
        stranger.all,
        /only operators of lab-a may request scans; ask <@U0ALICE> or <!subteam\^S0OPS>/,
      );
      assert.match(stranger.all, /Nothing was run/);
      const nobody = await certs("scan lab-b", "U0ALICE", "C0LABBBB");
      assert.match(nobody.all, /lab-b has no operators, so nobody may request scans for it from Slack/);
    }, true);
  });

  test("renew: a non-operator is refused and an unknown node gets suggestions; nothing runs", async () => {
    await nothingRuns(async () => {
      const stranger = await certs("renew lab-a", "U0MALLORY");
      assert.equal(stranger.ack.response_type, "ephemeral");
      assert.match(stranger.all, /only operators of lab-a may request renewals/);
      const typo = await certs("renew lab-a --node a-9");
      assert.equal(typo.ack.response_type, "ephemeral");
      assert.match(typo.all, /\*lab-a\* has no node `a-9`; did you mean `a-1`\?/);
    }, true);
  });

  test("audit: a cluster without renewals says so, to the asker only", async () => {
    const { ack, all } = await certs("audit lab-a");
    assert.equal(ack.response_type, "ephemeral");
    assert.match(all, /No renewals or snoozes recorded for lab-a yet/);
  });

  test("policy: the rule, and the policy's request as the service's Redis records hold it", async () => {
    const client = connectRedis(redis.url);
    const records = new RenewalStore(client, `slack-${process.pid}`);
    const request = newRequest({
      cluster: "lab-b",
      requestedBy: POLICY_REQUESTER,
      now: new Date(),
      settings: { approvalTtlMinutes: 60 },
      policy: { source: `${configPath}:14`, preApproved: false },
    });
    assert.ok((await records.create(request, { generations: ["b-1/apiserver@01"] })).ok);
    try {
      const { ack, all } = await certs("policy lab-b", "U0DAVE", "C0LABBBB");
      assert.equal(ack.response_type, "in_channel");
      assert.match(ack.text, /^lab-b: renewals requested at 30 days left, approved by approvers/);
      assert.match(all, /when a renewable certificate has 30 days left or fewer/);
      assert.match(
        all,
        new RegExp(
          `request \`${request.id}\`, filed by the policy for \`b-1/apiserver\`: waiting for approval until`,
        ),
      );
      assert.match(all, /Next: on [^`]* `b-1\/[a-z.-]+` reaches 30 days left/);
    } finally {
      await records.expire(request.id, request.expiresAt);
      client.disconnect();
    }
  });

  test("a cluster is never shown outside its viewer channels; suggestions only among visible ones", async () => {
    await nothingRuns(async () => {
      for (const name of ["lab-b", "lab-c"]) {
        const { ack, all } = await certs(`status ${name}`);
        assert.equal(ack.response_type, "ephemeral");
        assert.match(all, new RegExp(`${name} is not shown in this channel`));
        assert.doesNotMatch(all, /expired|apiserver|ok ·/, "no report data leaks");
      }
      const typo = await certs("status lab-aa");
      assert.match(typo.all, /There is no cluster `lab-aa` in this channel; did you mean \*lab-a\*/);
      for (const text of ["status lab-cc", "status lab-bb", "scan lab-x"]) {
        const { ack, all } = await certs(text);
        assert.equal(ack.response_type, "ephemeral");
        assert.doesNotMatch(all, /\*lab-b\*|\*lab-c\*/, `${text}: no hidden cluster suggested`);
      }
    });
  });

  test("injection attempts are refused ephemerally and run nothing", async () => {
    const attempts: [string, RegExp][] = [
      ["status lab-a; rm -rf /", /a semicolon/],
      ["scan $(reboot)", /a dollar sign/],
      ["scan `reboot`", /a backtick/],
      ["status lab-a && reboot", /an ampersand/],
      ["status lab-a | sh", /a pipe/],
      ["status lab-a\nreboot", /a line break/],
      ["scan 'lab-a'", /a quote/],
      [`status ${"x".repeat(600)}`, /at most 500/],
    ];
    await nothingRuns(async () => {
      for (const [text, why] of attempts) {
        const { ack, all } = await certs(text);
        assert.equal(ack.response_type, "ephemeral", text);
        assert.match(all, why, text);
        assert.match(all, /Nothing was run/, text);
      }
    });
  });

  test("under load: 50 concurrent signed commands, each answered by its own ack", async () => {
    const texts = Array.from({ length: 50 }, (_, i) => (i % 2 ? "status lab-a" : "list"));
    const answers = await Promise.all(texts.map((text) => certs(text)));
    answers.forEach(({ ack, all }, i) =>
      texts[i] === "list"
        ? assert.match(all, /\*lab-a\* — expired/, `answer ${i} to "list"`)
        : assert.match(ack.text, /^lab-a: expired/, `answer ${i} to "status lab-a"`),
    );
  });

  test("forged signature, stale timestamp, missing headers, altered body: 401 and nothing runs", async () => {
    await nothingRuns(async () => {
      const body = commandBody("scan lab-a", "U0ALICE", "C0LABAAA", people.responseUrl().url);
      const cases: [string, string, Record<string, string>][] = [
        ["forged", body, signed(body, { secret: "not-the-secret" })],
        ["stale", body, signed(body, { at: Date.now() - 6 * 60_000 })],
        ["no headers", body, {}],
        ["no signature", body, { "x-slack-request-timestamp": signed(body)["x-slack-request-timestamp"]! }],
        ["no timestamp", body, { "x-slack-signature": signed(body)["x-slack-signature"]! }],
        ["altered", body.replace("scan", "status"), signed(body)],
      ];
      for (const [what, payload, headers] of cases) {
        assert.equal((await post(payload, FORM, headers)).status, 401, what);
      }
    });
  });
});

describe("snooze", () => {
  const KEY = "a-1/apiserver-kubelet-client";
  const replies = () => fake.messages("C0LABAAA").filter((m) => m.thread_ts);
  after(() => {
    scanClock = () => new Date();
  });

  test("refused to a non-operator, beyond alerts.maxSnoozeDays, and for what is not open", async () => {
    const viewer = await certs(`snooze lab-a ${KEY} 3d`, "U0DAVE");
    assert.equal(viewer.ack.response_type, "ephemeral");
    assert.match(viewer.all, /only operators of lab-a may snooze warnings/);
    const long = await certs(`snooze lab-a ${KEY} 30d`);
    assert.equal(long.ack.response_type, "ephemeral");
    assert.match(long.all, /30d.* is too long.*at most 14 days/);
    const unknown = await certs("snooze lab-a a-1/apiserver 3d");
    assert.equal(unknown.ack.response_type, "ephemeral");
    assert.match(unknown.all, new RegExp(`No open warning for .*a-1/apiserver.* Open now: .*${KEY}`));
    const none = await certs("snoozes lab-a", "U0DAVE");
    assert.match(none.all, /Nothing is snoozed or acknowledged in \*lab-a\*/);
  });

  test("an operator snoozes; the channel is told, snoozes and audit show it, reminders wait", async () => {
    const done = await certs(`snooze lab-a ${KEY} 3d planned for Tuesday`);
    assert.equal(done.ack.response_type, "in_channel");
    assert.match(
      done.all,
      new RegExp(
        `<@U0ALICE> snoozed \\*lab-a\\* .${KEY}. until \\w{3} \\d+ \\w{3} \\d\\d:\\d\\d CET: planned for Tuesday`,
      ),
    );
    // The warning itself says so in its thread.
    await until("the warning's thread notes the snooze", async () =>
      replies().some((m) =>
        /snoozed \*lab-a\* .* until .*: planned for Tuesday/.test(JSON.stringify(m.blocks)),
      ),
    );
    const listed = await certs("snoozes", "U0DAVE");
    assert.equal(listed.ack.response_type, "ephemeral");
    assert.match(
      listed.all,
      new RegExp(`lab-a\\* .${KEY}. \\(expired\\) · snoozed by <@U0ALICE> until .* · planned for Tuesday`),
    );
    const audit = await certs("audit lab-a");
    assert.match(audit.all, new RegExp(`\\*snoozed\\* · <@U0ALICE> · ${KEY} until .*: planned for Tuesday`));

    // A day and two days later the expired certificate would be reminded of: not while snoozed.
    const before = replies().length;
    for (const day of [1, 2]) {
      scanClock = () => new Date(Date.now() + day * DAY);
      await scanAndWait("lab-a");
    }
    assert.equal(replies().length, before, "no reminder while snoozed");
  });

  test("unsnooze lifts it: the channel is told and the next day's scan reminds", async () => {
    const lifted = await certs(`unsnooze lab-a ${KEY}`);
    assert.equal(lifted.ack.response_type, "in_channel");
    assert.match(
      lifted.all,
      new RegExp(`<@U0ALICE> lifted the snooze of \\*lab-a\\* .${KEY}.: reminders resume`),
    );
    // The warning's thread is told too (posted in the channel's pace, so waited for here).
    await until("the warning's thread notes the lifted snooze", async () =>
      replies().some((m) => /lifted the snooze of \*lab-a\*/.test(JSON.stringify(m.blocks))),
    );
    assert.match((await certs("snoozes lab-a")).all, /Nothing is snoozed/);
    const again = await certs(`unsnooze lab-a ${KEY}`);
    assert.equal(again.ack.response_type, "ephemeral");
    assert.match(again.all, /neither acknowledged nor snoozed/);
    const before = replies().length;
    scanClock = () => new Date(Date.now() + 3 * DAY);
    await scanAndWait("lab-a");
    const reminders = replies().slice(before);
    assert.equal(reminders.length, 1, "one reminder once the snooze is lifted");
    assert.match(JSON.stringify(reminders[0]), /apiserver-kubelet-client/);
  });
});

describe("a warning's Acknowledge and Snooze buttons", () => {
  const KEY = "a-1/apiserver-kubelet-client";
  /** The warning about KEY, as the channel shows it now (chat.update included). */
  const warning = () => {
    const found = fake
      .messages("C0LABAAA")
      .find(
        (m) =>
          !m.thread_ts &&
          JSON.stringify(m.blocks).includes("apiserver-kubelet-client") &&
          JSON.stringify(m.blocks).includes("alert_acknowledge"),
      );
    assert.ok(found, "the warning about the expired certificate, with its buttons");
    return found;
  };
  const press = async (user: string, actionId: string, label: string) => {
    const shown = warning();
    const { id, url } = people.responseUrl();
    const body = clickBody(
      user,
      { actionId, value: "lab-a", label },
      {
        type: "message",
        channel: "C0LABAAA",
        ts: shown.ts,
        responseUrl: url,
        text: shown.text,
        blocks: shown.blocks as unknown[],
      },
    );
    assert.equal((await people.post(body)).status, 200);
    return JSON.stringify(await followUp(id, `the answer to ${label}`));
  };

  test("every warning has them; a non-operator is refused, to them alone, and nothing changes", async () => {
    const labels = JSON.stringify(warning().blocks);
    for (const label of ["Acknowledge", "Snooze 1 day", "Snooze 7 days", "Request renewal"])
      assert.match(labels, new RegExp(label));
    const answer = await press("U0DAVE", "alert_snooze_week", "Snooze 7 days");
    assert.match(answer, /"response_type":"ephemeral"/);
    assert.match(answer, /only operators of lab-a may snooze warnings/);
    assert.doesNotMatch(JSON.stringify(warning().blocks), /Snoozed by|Acknowledged by/);
  });

  test("an operator snoozes for 7 days, then acknowledges: the warning shows who and until when", async () => {
    const snoozed = await press("U0ALICE", "alert_snooze_week", "Snooze 7 days");
    assert.match(snoozed, /"response_type":"ephemeral"/);
    assert.match(snoozed, new RegExp(`<@U0ALICE> snoozed \\*lab-a\\* .${KEY}. until `));
    await until("the warning shows the snooze", async () =>
      /Snoozed by <@U0ALICE> until/.test(JSON.stringify(warning().blocks)),
    );
    const inWeek = new Date(Date.now() + 7 * DAY).toLocaleDateString("en-GB", {
      day: "numeric",
      month: "short",
      timeZone: "Europe/Berlin",
    });
    assert.match(
      JSON.stringify(warning().blocks),
      new RegExp(`Snoozed by <@U0ALICE> until \\w{3} ${inWeek}`),
    );
    assert.match(
      (await certs("snoozes lab-a")).all,
      new RegExp(`${KEY}. \\(expired\\) · snoozed by <@U0ALICE>`),
    );

    const acknowledged = await press("U0ALICE", "alert_acknowledge", "Acknowledge");
    assert.match(acknowledged, /<@U0ALICE> acknowledged \*lab-a\*/);
    await until("the warning shows the acknowledgement", async () =>
      /Acknowledged by <@U0ALICE>/.test(JSON.stringify(warning().blocks)),
    );
    const blocks = JSON.stringify(warning().blocks);
    assert.doesNotMatch(blocks, /Snoozed by/, "the newer note replaces the older");
    assert.match(blocks, /Acknowledged by <@U0ALICE>.*alert_acknowledge/, "the note sits above the buttons");
    assert.match((await certs("audit lab-a")).all, new RegExp(`\\*acknowledged\\* · <@U0ALICE> · ${KEY}`));
  });
});

describe("App Home", () => {
  const opened = async (user: string) => {
    const body = JSON.stringify({
      token: "deprecated-verification-token",
      team_id: "T0TEAM",
      api_app_id: "A0APP",
      type: "event_callback",
      event_id: `Ev${++requests}`,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [{ team_id: "T0TEAM", user_id: "U0BOT", is_bot: true, is_enterprise_install: false }],
      event: {
        type: "app_home_opened",
        user,
        channel: `D${user}`,
        tab: "home",
        event_ts: `${Date.now() / 1000}`,
      },
    });
    assert.equal((await post(body, "application/json", signed(body))).status, 200);
  };
  const click = async (user: string, cluster: string) => {
    const body = clickBody(
      user,
      { actionId: "scan_now", value: cluster, label: "Scan now" },
      { type: "view", viewId: "V0HOME" },
    );
    assert.equal((await people.post(body)).status, 200);
  };
  const publishes = (user: string) =>
    fake.calls.filter((c) => c.method === "views.publish" && c.args.user_id === user && c.response.ok);
  const home = (user: string) => JSON.stringify(fake.homeView(user)?.blocks ?? []);
  /** Every view published for the user, oldest first (a notice may be replaced within ms). */
  const history = (user: string) => publishes(user).map((c) => JSON.stringify(c.args.view));
  const buttonsFor = (user: string) =>
    [...home(user).matchAll(/"action_id":"scan_now","value":"([a-z0-9-]+)"/g)].map((m) => m[1]);

  test("published on app_home_opened: the user's clusters, buttons only where they operate", async () => {
    await opened("U0ALICE");
    await until("Alice's Home", async () => publishes("U0ALICE").length > 0);
    assert.equal((fake.homeView("U0ALICE") as { type?: string }).type, "home");
    assert.match(home("U0ALICE"), /\*lab-a\* — expired/);
    assert.deepEqual(buttonsFor("U0ALICE").sort(), ["lab-a", "lab-c", "lab-new"]);
    assert.doesNotMatch(
      home("U0ALICE"),
      /lab-b/,
      "Alice has no role in lab-b and is in none of its channels",
    );

    await opened("U0DAVE"); // a member of lab-b's channel
    await until("Dave's Home", async () => publishes("U0DAVE").length > 0);
    assert.match(home("U0DAVE"), /\*lab-b\*/);
    assert.doesNotMatch(home("U0DAVE"), /lab-a|lab-c|lab-new/);
    assert.deepEqual(buttonsFor("U0DAVE"), [], "a viewer gets no button");
    assert.ok(fake.calls.some((c) => c.method === "conversations.members" && c.args.channel === "C0LABBBB"));

    await opened("U0CAROL"); // an operator of lab-a through S0OPS
    await until("Carol's Home", async () => publishes("U0CAROL").length > 0);
    assert.deepEqual(buttonsFor("U0CAROL"), ["lab-a"]);

    await opened("U0NOBODY");
    await until("a stranger's Home", async () => publishes("U0NOBODY").length > 0);
    assert.match(home("U0NOBODY"), /No clusters to show you/);
  });

  test("Scan now queues the scan, says so on top, and shows the result when it is stored", async () => {
    const before = await scanJobs();
    await click("U0ALICE", "lab-a");
    const seen = history("U0ALICE").length;
    await until("the done notice", async () => /Scan of \*lab-a\* done/.test(home("U0ALICE")));
    const notices = history("U0ALICE")
      .slice(seen)
      .map((view) => /Scan of \*lab-a\* (requested|done)/.exec(view)?.[1]);
    assert.deepEqual([...new Set(notices)], ["requested", "done"], "a refresh may repeat a notice");
    assert.equal(await scanJobs(), before + 1);
  });

  test("Scan now re-checks operator rights: refused for a viewer and a stranger, nothing queued", async () => {
    await settled();
    const jobs = await scanJobs();
    await click("U0DAVE", "lab-b");
    await until("Dave's refusal", async () => /lab-b has no operators/.test(home("U0DAVE")));
    await click("U0MALLORY", "lab-a");
    await until("Mallory's refusal", async () =>
      /only operators of lab-a may request scans/.test(home("U0MALLORY")),
    );
    assert.match(home("U0MALLORY"), /Nothing was run/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await scanJobs(), jobs);
  });

  test("a stored scan refreshes the Home of recent viewers who see that cluster", async () => {
    await new Promise((r) => setTimeout(r, 4000)); // refreshes still due from the scans above land first
    const dave = publishes("U0DAVE").length;
    const alice = publishes("U0ALICE").length;
    await scanAndWait("lab-b");
    await until("Dave's refreshed Home", async () => publishes("U0DAVE").length > dave, 15_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(publishes("U0ALICE").length, alice, "Alice does not see lab-b: no refresh");
  });

  test("a certificate that expired since its scan shows expired", async () => {
    const client = connectRedis(redis.url);
    const store = new Store(client, `slack-${process.pid}`);
    const kept = await store.latest("lab-new");
    try {
      // Scanned 5 h ago with 4 h left: critical then, expired an hour ago.
      await store.saveScan(scanWith("lab-new", 2 / 24, new Date(Date.now() - 3 * 3_600_000)));
      await opened("U0ALICE");
      await until("lab-new expired in Alice's Home", async () =>
        /\*lab-new\* — expired/.test(home("U0ALICE")),
      );
    } finally {
      if (kept) await store.saveScan(kept);
      client.disconnect();
    }
  });
});

describe("when something breaks", () => {
  test("Redis down: the command is still answered in time, ephemerally, with an id from the log", async () => {
    const restart = redis.restart(3500);
    await new Promise((r) => setTimeout(r, 200));
    const { ack } = await certs("list");
    assert.equal(ack.response_type, "ephemeral");
    assert.match(ack.text, /something went wrong \(logged as [0-9a-f]{8}\)/);
    await restart;
    await until("answers again", async () => (await certs("list")).ack.response_type === "in_channel");
  });

  test("a user group or channel Slack cannot list counts as nobody (fail closed), and is logged", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    const redisClient = connectRedis(redis.url);
    const store = new Store(redisClient, `slack-${process.pid}`);
    const backend = new ServiceBackend({
      store,
      queues: service.queue,
      connection: { url: redis.url, protocol: 2, maxRetriesPerRequest: null },
      client: webClient({ token: "xoxb-test", apiUrl: fake.url }, logger, INTERACTIVE_CALLS),
      poster: new SlackPoster(webClient({ token: "xoxb-test", apiUrl: fake.url }, logger), store),
      logger,
      // This test only asks for memberships: no renewal is requested.
      desk: {} as RenewalDesk,
      audit: new AuditLog(redisClient, `slack-${process.pid}`),
    });
    try {
      fake.failNext("usergroups.users.list", 1, { status: 500 });
      fake.failNext("conversations.members", 1, { error: "missing_scope" });
      assert.deepEqual(await backend.groupsOf("U0CAROL", ["S0OPS"]), []);
      assert.deepEqual(await backend.channelsOf("U0DAVE", ["C0LABBBB"]), []);
      const log = lines.join("");
      assert.match(log, /could not list the members of user group S0OPS; counting nobody in it/);
      assert.match(
        log,
        /"err":"An API error occurred: missing_scope","msg":"could not list the members of channel C0LABBBB/,
      );
      // The failure stands briefly, so an outage does not slow every answer: no second call.
      const calls = fake.calls.length;
      assert.deepEqual(await backend.groupsOf("U0CAROL", ["S0OPS"]), []);
      assert.equal(fake.calls.length, calls);
    } finally {
      await backend.close();
      redisClient.disconnect();
    }
  });
});

describe("Socket Mode", () => {
  let wss: WebSocketServer;
  let wsUrl: string;
  let socketFake: FakeSlack;
  const sockets: WebSocket[] = [];
  /** While set, a new connection gets no hello: the client is not connected. */
  let silent = false;

  before(async () => {
    const wsPort = await freePort("127.0.0.1");
    wss = new WebSocketServer({ host: "127.0.0.1", port: wsPort });
    await new Promise((r) => wss.once("listening", r));
    wsUrl = `ws://127.0.0.1:${wsPort}/link/?ticket=test`;
    // Slack's first frame on a new connection: the client counts as connected from here.
    wss.on("connection", (ws) => {
      sockets.push(ws);
      if (silent) return;
      ws.send(
        JSON.stringify({
          type: "hello",
          num_connections: 1,
          debug_info: { host: "applink-test", approximate_connection_time: 18060 },
          connection_info: { app_id: "A0APP" },
        }),
      );
    });
    socketFake = await startFakeSlack({ socketModeUrl: wsUrl, appToken: "xapp-test" });
  });

  after(async () => {
    sockets.forEach((s) => s.terminate());
    await new Promise((r) => wss.close(r));
    await socketFake.close();
  });

  test("a slash command envelope is acked over the socket with the first reply", async () => {
    // The same Redis prefix as the HTTP service: its stored reports answer here too.
    const socketService = surfaceService(
      { mode: "socket", appToken: "xapp-test" },
      socketFake.url,
      `slack-${process.pid}`,
    );
    try {
      await socketService.start();
      const opened = socketFake.calls.find((c) => c.method === "apps.connections.open");
      assert.equal(opened?.token, "xapp-test", "the app-level token opens the connection");
      const ws = sockets.at(-1)!;
      const acked = new Promise<Record<string, unknown>>((resolve) =>
        ws.on("message", (data) => resolve(JSON.parse(String(data)) as Record<string, unknown>)),
      );
      const body = commandBody("list", "U0ALICE", "C0LABAAA", people.responseUrl().url);
      ws.send(
        JSON.stringify({
          envelope_id: "57d6a792-4d35-4d0b-b6aa-3361493e1caf",
          type: "slash_commands",
          payload: Object.fromEntries(new URLSearchParams(body)),
          accepts_response_payload: true,
        }),
      );
      const ack = (await acked) as { envelope_id: string; payload: SlackAnswer };
      assert.equal(ack.envelope_id, "57d6a792-4d35-4d0b-b6aa-3361493e1caf");
      assert.equal(ack.payload.response_type, "in_channel");
      assert.match(ack.payload.text, /clusters in this channel/);
      assert.match(JSON.stringify(ack.payload.blocks), /\*lab-a\* — expired/);
    } finally {
      await socketService.stop();
    }
  });

  test("/readyz follows the socket: 503 naming Slack while it is down, 200 once it is back", async () => {
    const metricsPort = await freePort("127.0.0.1");
    const socketService = surfaceService(
      { mode: "socket", appToken: "xapp-test" },
      socketFake.url,
      `ready-${process.pid}`,
      metricsPort,
    );
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
      return {
        status: res.status,
        checks: ((await res.json()) as { checks: Record<string, string> }).checks,
      };
    };
    try {
      await socketService.start();
      assert.deepEqual(await readyz(), {
        status: 200,
        checks: { redis: "ok", schedules: "ok", slack: "ok" },
      });
      silent = true;
      sockets.at(-1)!.terminate();
      const down = await until("readyz 503", async () => {
        const answer = await readyz();
        return answer.status === 503 && answer;
      });
      assert.equal(down.checks.slack, "the Slack surface is not connected");
      assert.equal(down.checks.redis, "ok");
      silent = false;
      sockets.at(-1)!.terminate(); // the silent one: the client reconnects to a greeting server
      await until("readyz 200 again", async () => (await readyz()).status === 200, 60_000);
    } finally {
      silent = false;
      await socketService.stop();
    }
  });

  test("certs-bot serve picks the mode from the environment, and stops on SIGTERM", async () => {
    const serve = (env: NodeJS.ProcessEnv) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          ["--import", "tsx", "src/cli.ts", "serve", "--config", configPath],
          {
            env: {
              ...process.env,
              REDIS_URL: redis.url,
              CERTS_BOT_REDIS_PREFIX: `cli-${process.pid}`,
              SLACK_BOT_TOKEN: "xoxb-test",
              SLACK_API_URL: socketFake.url,
              SLACK_APP_TOKEN: "",
              SLACK_SIGNING_SECRET: "",
              LOG_LEVEL: "info",
              ...env,
            },
            stdio: ["ignore", "ignore", "pipe"],
          },
        );
        let stderr = "";
        child.stderr!.on("data", (chunk: Buffer) => {
          const running = /certs-bot is running/.test(stderr);
          stderr += chunk.toString();
          if (!running && /certs-bot is running/.test(stderr)) child.kill("SIGTERM"); // once: a second one exits 3
        });
        child.once("exit", (code) => resolve({ code, stderr }));
      });

    const socket = await serve({ SLACK_APP_TOKEN: "xapp-test", SLACK_SIGNING_SECRET: "also-set" });
    assert.equal(socket.code, 0, socket.stderr);
    assert.match(socket.stderr, /both set: Socket Mode/);
    assert.match(socket.stderr, /Slack surface: Socket Mode, connected/);

    const off = await serve({});
    assert.equal(off.code, 0, off.stderr);
    assert.match(off.stderr, /Slack surface off: neither SLACK_APP_TOKEN .* nor SLACK_SIGNING_SECRET/);

    const badPort = await serve({ SLACK_SIGNING_SECRET: SECRET, PORT: "http" });
    assert.equal(badPort.code, 3);
    assert.match(badPort.stderr, /PORT must be a TCP port/);

    const badToken = await serve({ SLACK_APP_TOKEN: "xapp-test", SLACK_BOT_TOKEN: "xoxb-revoked" });
    assert.equal(badToken.code, 3, "a bot token Slack refuses stops serve instead of running half-deaf");
    assert.match(badToken.stderr, /invalid_auth/);
  });
});
