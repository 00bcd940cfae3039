// The renewal flow end to end, through Slack: `certs-bot serve` in HTTP mode receives correctly signed
// requests, talks to the fake Slack Web API (the only stand-in), keeps everything in a real Redis
// and runs the renewal through the real BullMQ queue on two lab control-plane nodes whose
// apiserver-kubelet-client expired. An operator requests, the requester and a stranger are refused,
// an approver approves, the run goes node by node reporting in the card's thread, the new
// certificates are served, and `/certs status` is green afterwards; `/certs audit` shows it all.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../src/adapters/log/logger.js";
import { loadConfig } from "../../src/config/load.js";
import { Service } from "../../src/service.js";
import { runJobId } from "../../src/core/renew/approval.js";
import { fingerprintOf, stopAllControlPlanes } from "../lab/control-plane.js";
import { startFakeSlack, type FakeSlack, type PostedMessage } from "../lab/fake-slack.js";
import { freePort } from "../lab/ports.js";
import { startRedis, type LabRedis } from "../lab/redis.js";
import { labScanDependencies, renewalLabNode, type RenewalLabNode } from "../lab/renewal-lab.js";
import { clickBody } from "../lab/slack-requests.js";
import { SlackSurfaceClient, type CardButton } from "../lab/slack-surface.js";
import { newClusterPki } from "../lab/tree.js";
import { until } from "../lab/wait.js";

const SECRET = "0123456789abcdef0123456789abcdef";
// Secrets the service is given, to find in its logs (none may be there).
const TOKEN = "xoxb-4242-renewSLACK-TOKENsecret";
const REDIS_PASSWORD = "renewREDIS-PASSWORDsecret";
/** Every line the service logged, at debug level, through the product's logger (its redaction). */
const logged: string[] = [];
const CHANNEL = "C0LABRRRR";
/** lab-w's channel: its runs keep to a window three days away, so an approved run waits. */
const WAITING = "C0LABWWWW";
const DAY_MS = 86_400_000;
const away = new Intl.DateTimeFormat("en-US", { timeZone: "Europe/Berlin", weekday: "short" })
  .format(new Date(Date.now() + 3 * DAY_MS))
  .toLowerCase();

let root: string;
let redis: LabRedis;
let fake: FakeSlack;
let service: Service;
let nodes: RenewalLabNode[];
let slack: SlackSurfaceClient;
/** What the fake Slack answers to usergroups.users.list; a test changes it in place. */
const usergroups: Record<string, string[]> = { S0APPROVERS: ["U0DAN"] };

/** `/certs TEXT` as `user` in lab-r's channel. */
const certs = (text: string, user: string) => slack.certs(text, user, CHANNEL);
const answered = (id: string) => slack.answered(id);
const followUp = (id: string) => slack.followUp(id);
const click = (user: string, card: PostedMessage, label: CardButton) => slack.click(user, card, label);

const card = (): PostedMessage | undefined =>
  fake.messages(CHANNEL).find((m) => !m.thread_ts && /^Renewal of lab-r: /.test(m.text));
const thread = (ts: string) => fake.messages(CHANNEL).filter((m) => m.thread_ts === ts);
const apiserverFp = (n: RenewalLabNode) =>
  fingerprintOf(readFileSync(join(n.tree.kubernetesDir, "pki/apiserver.crt")));

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-renew-slack-"));
  redis = await startRedis({ password: REDIS_PASSWORD });
  fake = await startFakeSlack({ usergroups, token: TOKEN });

  const pki = await newClusterPki();
  nodes = [
    await renewalLabNode({ root, name: "r-1", host: 61, pki, expired: ["apiserver-kubelet-client"] }),
    await renewalLabNode({ root, name: "r-2", host: 62, pki, expired: ["apiserver-kubelet-client"] }),
  ];
  const configPath = join(root, "clusters.yaml");
  writeFileSync(
    configPath,
    [
      "timezone: Europe/Berlin",
      'scanCron: "0 3 1 1 *"',
      'slack: { digestChannel: C0DIGEST, digestCron: "0 3 1 1 *" }',
      `renewal: { backupDir: "${join(root, "backups")}", restartStrategy: manifests }`,
      "clusters:",
      "  - name: lab-r",
      `    channel: ${CHANNEL}`,
      "    operators: [U0ALICE]",
      "    approvers: [U0ALICE, U0BOB, S0APPROVERS]",
      "    nodes:",
      ...nodes.map((n) => `      - ${n.yaml}`),
      "  - name: lab-w",
      `    channel: ${WAITING}`,
      `    viewers: [${CHANNEL}]`,
      "    operators: [U0ALICE]",
      "    approvers: [U0ALICE, U0BOB, U0CAROL, S0APPROVERS]",
      `    renewal: { windows: [{ days: [${away}], start: "02:00", duration: "1h" }] }`,
      "    nodes:",
      `      - ${nodes[0]!.yaml}`,
      "",
    ].join("\n"),
  );
  const port = await freePort("127.0.0.1");
  slack = await SlackSurfaceClient.start({ port, secret: SECRET });
  service = new Service({
    role: "serve",
    config: loadConfig(configPath),
    redisUrl: redis.url.replace("redis://", `redis://:${REDIS_PASSWORD}@`),
    prefix: "renew-slack",
    slack: { token: TOKEN, apiUrl: fake.url },
    slackSurface: { mode: "http", signingSecret: SECRET, port, host: "127.0.0.1" },
    logger: createLogger("debug", { write: (line: string) => void logged.push(line) }),
    graceMs: 5_000,
    scanDependencies: labScanDependencies(nodes),
  });
  await service.start();
});

after(async () => {
  await service?.stop();
  await stopAllControlPlanes();
  await slack?.close();
  await fake?.close();
  await redis?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("a renewal through Slack, end to end", () => {
  test("requested by an operator, approved by someone else, renewed node by node, green afterwards", async () => {
    const servedBefore = await Promise.all(nodes.map(async (n) => (await n.cp.served())!.fingerprint256));

    // Request: an approver who is not an operator may not; the operator may.
    const bob = await certs("renew lab-r", "U0BOB");
    assert.equal(bob.ack.response_type, "ephemeral");
    assert.match(bob.all, /only operators of lab-r may request renewals/);
    const alice = await certs("renew lab-r", "U0ALICE");
    assert.equal(alice.ack.response_type, "ephemeral");
    assert.match(alice.all, /building a renewal plan/);
    assert.match(await followUp(alice.id), new RegExp(`posted in <#${CHANNEL}> for approval`));
    const posted = card();
    assert.ok(posted, "the approval card is in the cluster's channel");
    const shown = JSON.stringify(posted.blocks);
    for (const what of ["r-1", "r-2", "apiserver-kubelet-client", "kubeadm certs renew", "Approve", "Reject"])
      assert.ok(shown.includes(what), `the card shows ${what}`);

    // A second request while this one is pending is refused (one renewal per cluster at a time).
    const again = await certs("renew lab-r", "U0ALICE");
    assert.match(await followUp(again.id), /already pending/);

    // Clicks: the requester (an approver too) and a stranger are refused, only to themselves.
    assert.match(
      await followUp(await click("U0ALICE", posted, "Approve")),
      /different approver must approve/,
    );
    const stranger = await followUp(await click("U0MALLORY", posted, "Approve"));
    assert.match(stranger, /"response_type":"ephemeral"/);
    assert.match(stranger, /approve/i);
    assert.equal(thread(posted.ts).length, 0, "nothing ran");

    // Bob double-clicks while Dan (an approver through a user group) clicks too: one approval counts,
    // the other clicks are refused to the clicker, and exactly one run starts.
    const clicks = await Promise.all([
      click("U0BOB", posted, "Approve"),
      click("U0BOB", posted, "Approve"),
      click("U0DAN", posted, "Approve"),
    ]);
    await until("two refusals", async () => clicks.filter((id) => answered(id).length > 0).length === 2);
    await new Promise((r) => setTimeout(r, 300));
    const refusals = clicks.map((id) => JSON.stringify(answered(id))).filter((a) => a !== "[]");
    assert.equal(refusals.length, 2, "one click counted, two were refused");
    for (const refusal of refusals) assert.match(refusal, /already approved|already ran/);
    await until("the card shows the approval", async () =>
      /approved by <@U0(BOB|DAN)>/.test(JSON.stringify(card()!.blocks)),
    );
    assert.doesNotMatch(JSON.stringify(card()!.blocks), /renewal_approve/, "no buttons once approved");
    assert.equal((await service.queue.renewal.getJobs()).length, 1, "exactly one run");

    // The run reports in the card's thread, ends with a summary, and the card shows the outcome.
    await until("the card shows the outcome", async () => /: (renewed|failed) /.test(card()!.text), 240_000);
    const replies = thread(posted.ts);
    const text = JSON.stringify(replies);
    assert.doesNotMatch(text, /❌/, text.slice(0, 3000));
    for (const node of ["r-1", "r-2"])
      for (const step of ["preflight", "backup", "renew", "restart", "verify"])
        assert.ok(
          replies.some((m) => m.text.includes(node) && m.text.includes(step)),
          `a reply for ${node} ${step}`,
        );
    const status = replies[0]!;
    assert.equal(
      fake.calls.filter((c) => c.method === "chat.update" && c.args.ts === status.ts).length > 0,
      true,
    );
    assert.ok(
      (JSON.stringify(status.blocks).match(/✅/g) ?? []).length >= 10,
      "the status message ends all ✅",
    );
    assert.doesNotMatch(text, /BEGIN [A-Z ]*PRIVATE KEY/);

    // One node at a time: r-1's verify ended before r-2's preflight started.
    const at = (node: string, step: string) =>
      replies.findIndex((m) => m.text.includes(node) && m.text.includes(step));
    assert.ok(at("r-1", "verify") < at("r-2", "preflight"));

    // Verified by the served certificate: each apiserver serves its renewed apiserver.crt.
    for (const [i, n] of nodes.entries()) {
      const served = (await n.cp.served())!.fingerprint256;
      assert.notEqual(served, servedBefore[i]);
      assert.equal(served, apiserverFp(n));
      const tarballs = readdirSync(join(root, "backups", "lab-r", n.name)).filter((f) =>
        f.endsWith(".tar.gz"),
      );
      assert.equal(tarballs.length, 1, "one backup per node");
    }
    assert.match(card()!.text, /Renewal of lab-r: renewed/);
    const summary = replies[replies.length - 1]!;
    assert.match(summary.text, /Renewal of lab-r/);
    assert.ok(
      fake.calls.some(
        (c) => c.method === "chat.postMessage" && c.args.reply_broadcast && c.response.ts === summary.ts,
      ),
      "the summary is also shown in the channel",
    );

    // Green afterwards.
    await until(
      "a fresh report after the renewal",
      async () => {
        const status = await certs("status lab-r", "U0BOB");
        return !/expired/.test(status.all) && /lab-r/.test(status.all) && status.all;
      },
      60_000,
    );
    const audit = await certs("audit lab-r", "U0BOB");
    assert.equal(audit.ack.response_type, "ephemeral");
    for (const kind of ["requested", "refused", "approved", "started", "step", "result"])
      assert.match(audit.all, new RegExp(kind), `the audit shows ${kind}`);
  });

  test("an approved run waiting for its window: a stranger may not cancel it, its requester may; the delayed job is gone and the cluster free", async () => {
    const cards = () =>
      fake.messages(WAITING).filter((m) => !m.thread_ts && /^Renewal of lab-w: /.test(m.text));
    const alice = await certs("renew lab-w", "U0ALICE");
    assert.match(await followUp(alice.id), new RegExp(`posted in <#${WAITING}> for approval`));
    const posted = cards()[0]!;
    assert.match(
      JSON.stringify(posted.blocks),
      /Runs in the maintenance window \w{3} \d+ \w{3} 02:00–03:00 CE/,
    );
    const requestId = /"action_id":"renewal_approve","value":"([^"]+)"/.exec(
      JSON.stringify(posted.blocks),
    )![1]!;
    await click("U0BOB", posted, "Approve");
    await until("the card says when the run is scheduled", async () =>
      /: approved — scheduled for \w{3} \d+ \w{3} 02:00 CE/.test(cards()[0]!.text),
    );
    const job = await service.queue.renewal.getJob(runJobId({ id: requestId }));
    assert.ok(job, "the run's job");
    await until(
      "the run waits for its window as a delayed job",
      async () => (await job.getState()) === "delayed",
    );
    await until("the thread says it waits", async () =>
      fake
        .messages(WAITING)
        .some((m) => m.thread_ts === posted.ts && /waiting for its maintenance window, goes on/.test(m.text)),
    );

    const stranger = await followUp(await click("U0MALLORY", cards()[0]!, "Cancel"));
    assert.match(stranger, /"response_type":"ephemeral"/);
    assert.match(stranger, /only approvers of lab-w may cancel renewals/);
    assert.equal(await job.getState(), "delayed", "still waiting");

    const mine = await click("U0ALICE", cards()[0]!, "Cancel");
    await until("the card says cancelled", async () => /: cancelled /.test(cards()[0]!.text));
    assert.deepEqual(answered(mine), [], "nothing to say to the requester: the card says it");
    assert.match(JSON.stringify(cards()[0]!.blocks), /\*Cancelled\* by <@U0ALICE> at .* before it started/);
    assert.doesNotMatch(JSON.stringify(cards()[0]!.blocks), /renewal_(cancel|approve)/);
    const thread = () => fake.messages(WAITING).filter((m) => m.thread_ts === posted.ts);
    await until("the thread's checklist says cancelled", async () =>
      thread().some((m) => /^Renewal of lab-w: cancelled before it started; nothing was run/.test(m.text)),
    );
    assert.match(
      JSON.stringify(thread()),
      /cancelled by <@U0ALICE> at .* before it started; nothing was run/,
    );
    assert.ok(
      !thread().some((m) => /waiting for its maintenance window/.test(m.text)),
      "nothing says waiting",
    );
    assert.equal(
      await service.queue.renewal.getJob(runJobId({ id: requestId })),
      undefined,
      "the delayed job is gone",
    );
    const audit = await certs("audit lab-w", "U0BOB");
    assert.match(
      audit.all,
      /\*cancelled\* · <@U0ALICE> · `[^`]+` · cancelled by &lt;@U0ALICE&gt; before its first node/,
    );
    assert.match(audit.all, /cancel refused: only approvers of lab-w/);

    // The cluster is free for a new request (rejected here, so nothing waits).
    const again = await certs("renew lab-w", "U0ALICE");
    assert.match(await followUp(again.id), /for approval/);
    await until("a second card", async () => cards().length === 2);
    await click("U0BOB", cards()[1]!, "Reject");
    await until("the card says rejected", async () => /: rejected /.test(cards()[1]!.text));
  });

  test("Run now: two more approvers (not the requester, not the approver) start the waiting run at once, and it renews", async () => {
    const cards = () =>
      fake.messages(WAITING).filter((m) => !m.thread_ts && /^Renewal of lab-w: /.test(m.text));
    const before = cards().length;
    const servedBefore = (await nodes[0]!.cp.served())!.fingerprint256;
    const alice = await certs("renew lab-w", "U0ALICE");
    assert.match(await followUp(alice.id), /for approval/);
    await until("the card", async () => cards().length > before);
    const posted = cards()[before]!;
    const current = () => cards().find((m) => m.ts === posted.ts)!;
    const requestId = /"action_id":"renewal_approve","value":"([^"]+)"/.exec(
      JSON.stringify(posted.blocks),
    )![1]!;
    await click("U0BOB", posted, "Approve");
    await until("scheduled", async () => /: approved — scheduled for /.test(current().text));
    const job = (await service.queue.renewal.getJob(runJobId({ id: requestId })))!;
    await until("the run waits as a delayed job", async () => (await job.getState()) === "delayed");

    assert.match(
      await followUp(await click("U0BOB", current(), "Run now")),
      /other than the requester and those who approved/,
    );
    await click("U0DAN", current(), "Run now"); // through S0APPROVERS
    await until("one of two", async () => /\(1 so far: <@U0DAN>\)/.test(JSON.stringify(current().blocks)));
    assert.equal(await job.getState(), "delayed", "one more approval is needed");
    await click("U0CAROL", current(), "Run now");

    await until(
      "the card shows the outcome",
      async () => /: (renewed|failed) /.test(current().text),
      240_000,
    );
    assert.match(current().text, /: renewed /);
    assert.match(JSON.stringify(current().blocks), /Renewed/);
    const served = (await nodes[0]!.cp.served())!.fingerprint256;
    assert.notEqual(served, servedBefore, "renewed now, days before its window");
    const audit = await certs("audit lab-w", "U0BOB");
    assert.match(audit.all, /run now: approval 2 of 2; the run starts now, outside its maintenance windows/);
  });

  test("Request renewal on a warning: operators only; then an approver rejects, and nothing runs", async () => {
    const cards = () =>
      fake.messages(CHANNEL).filter((m) => !m.thread_ts && /^Renewal of lab-r: /.test(m.text));
    const before = cards().length;
    const jobs = (await service.queue.renewal.getJobs()).length;
    const requestClick = async (user: string) => {
      const { id, url } = slack.responseUrl();
      const body = clickBody(
        user,
        { actionId: "renewal_request", value: "lab-r", label: "Request renewal" },
        { type: "message", channel: CHANNEL, ts: "1700000000.000100", responseUrl: url },
      );
      assert.equal((await slack.post(body)).status, 200);
      return id;
    };
    assert.match(await followUp(await requestClick("U0BOB")), /only operators of lab-r may request renewals/);
    const alice = await requestClick("U0ALICE");
    await until("the plan is posted", async () => answered(alice).length >= 2);
    assert.match(JSON.stringify(answered(alice)), /posted in <#C0LABRRRR> for approval/);
    const fresh = cards()[before];
    assert.ok(fresh, "a new approval card");

    await click("U0BOB", fresh, "Reject");
    await until("the card says rejected", async () => /: rejected /.test(cards()[before]!.text));
    assert.match(JSON.stringify(cards()[before]!.blocks), /\*Rejected\* by <@U0BOB>/);
    assert.doesNotMatch(JSON.stringify(cards()[before]!.blocks), /renewal_approve/);
    assert.match(await followUp(await click("U0DAN", fresh, "Approve")), /rejected by <@U0BOB>/);
    assert.equal((await service.queue.renewal.getJobs()).length, jobs, "no run started");
    assert.equal(thread(fresh.ts).length, 0);
  });

  test("approver rights are asked of Slack at every click: removed from the group, or Slack failing, refuses", async () => {
    const cards = () =>
      fake.messages(CHANNEL).filter((m) => !m.thread_ts && /^Renewal of lab-r: /.test(m.text));
    const jobs = (await service.queue.renewal.getJobs()).length;
    const request = async () => {
      const before = cards().length;
      const alice = await certs("renew lab-r", "U0ALICE");
      assert.match(await followUp(alice.id), /for approval/);
      await until("the card", async () => cards().length > before);
      return cards()[before]!;
    };

    // Dan acts through S0APPROVERS (his membership is looked up), then leaves the group.
    const first = await request();
    await click("U0DAN", first, "Reject");
    await until("the card says rejected", async () => /: rejected /.test(cards().at(-1)!.text));
    const second = await request();
    usergroups.S0APPROVERS = [];
    try {
      const removed = await followUp(await click("U0DAN", second, "Approve"));
      assert.match(removed, /"response_type":"ephemeral"/);
      assert.match(removed, /only approvers of lab-r may approve renewals/);

      // Back in the group, but Slack cannot answer: refused, nothing approved.
      usergroups.S0APPROVERS = ["U0DAN"];
      fake.failNext("usergroups.users.list", 1, { status: 500 });
      const failed = await followUp(await click("U0DAN", second, "Approve"));
      assert.match(
        failed,
        /could not check your approver rights with Slack; nothing was approved, try again/,
      );
      const card = cards().find((m) => m.ts === second.ts)!;
      assert.match(JSON.stringify(card.blocks), /Waiting for approval\*: 0 of 1 so far/);
      assert.match(JSON.stringify(card.blocks), /renewal_approve/);
      assert.equal((await service.queue.renewal.getJobs()).length, jobs, "no run started");
    } finally {
      usergroups.S0APPROVERS = ["U0DAN"];
    }
    await click("U0BOB", second, "Reject");
    await until("the card says rejected", async () => /: rejected /.test(cards().at(-1)!.text));
    const audit = await certs("audit lab-r", "U0BOB");
    assert.match(audit.all, /could not check your approver rights/);
  });

  test("the logs of the whole run (scans, warnings, /certs, renewals, a digest) hold none of its secrets", async () => {
    await service.queue.digest.add("digest", {});
    await until("the digest", async () => fake.messages("C0DIGEST").length > 0);
    const text = logged.join("");
    assert.ok(logged.length > 50, `a run worth checking: ${logged.length} lines`);
    for (const [name, secret] of Object.entries({ TOKEN, REDIS_PASSWORD, SECRET })) {
      assert.ok(!text.includes(secret), `${name} is in the logs`);
    }
    for (const line of logged) JSON.parse(line); // one JSON object a line
  });
});
