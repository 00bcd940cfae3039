// Maintenance windows end to end. First, `certs-bot serve` as real child processes on one Redis, the
// fake Slack and a two-node lab cluster over SSH: a renewal approved before its window waits as a
// delayed job, serve is stopped (SIGTERM) and a new serve started while it waits, and the run happens
// when the window opens, once, in the new process. Then the run on the nights the clock changes in
// Europe/Berlin, with the run's clock set to them: a window from 02:30 on the spring-forward Sunday
// (02:30 does not exist) and one across the autumn's repeated hour, each checked against the rule
// the README gives, with the waiting checklist in a Slack thread naming the local time.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, readdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Redis } from "ioredis";
import { Queues } from "../../src/adapters/queue/queues.js";
import { SlackPoster, webClient } from "../../src/adapters/slack/poster.js";
import { SlackThreadReporter } from "../../src/adapters/slack/thread-reporter.js";
import { DEFAULT_REDIS_URL } from "../../src/adapters/store/redis.js";
import { Store } from "../../src/adapters/store/store.js";
import { runJobId } from "../../src/core/renew/approval.js";
import type { RenewalPlan } from "../../src/core/renew/plan.js";
import type { RunState } from "../../src/core/renew/run-state.js";
import { runRenewal, runSummary, type RunResult } from "../../src/app/renew/run.js";
import { startFakeSlack, type FakeSlack, type PostedMessage } from "../lab/fake-slack.js";
import { assertSameAsBefore, snapshotNode } from "../lab/node-state.js";
import { freePort } from "../lab/ports.js";
import {
  approvedRequest,
  pkiFingerprint,
  planLabRenewal,
  startLabCluster,
  type LabCluster,
  type LabClusterSpec,
} from "../lab/renewal-cluster.js";
import { auditOf, labRunDependencies, renewalFixture } from "../lab/renewal-fixture.js";
import { spawnService, type ServiceProcess } from "../lab/service-process.js";
import { SlackSurfaceClient } from "../lab/slack-surface.js";
import { until } from "../lab/wait.js";

const ZONE = "Europe/Berlin";
const TOKEN = "xoxb-4242-windowE2E-token";
const SECRET = "fedcba9876543210fedcba9876543210";
const isRoot = process.getuid?.() === 0;

const fixture = renewalFixture("renew-window-e2e");
const { root, renewals, audit, labs } = fixture;
let fake: FakeSlack | undefined;
const services: ServiceProcess[] = [];

after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await fake?.close();
});

async function fakeSlack(): Promise<FakeSlack> {
  fake ??= await startFakeSlack({ token: TOKEN });
  return fake;
}

async function labCluster(spec: Omit<LabClusterSpec, "root" | "expired">): Promise<LabCluster> {
  if (spec.ssh) chmodSync(root, 0o755); // the lab users must traverse it
  const lab = await startLabCluster({
    ...spec,
    root: join(root, spec.name),
    expired: ["apiserver-kubelet-client"],
  });
  labs.push(lab);
  return lab;
}

/** The weekday (as the config names it) and the 24-hour `HH:MM` of `at` on the clocks of `zone`. */
function wallClock(at: Date, zone: string): { day: string; clock: string } {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)!.value;
  return { day: part("weekday").toLowerCase(), clock: `${part("hour")}:${part("minute")}` };
}

const tarballs = (lab: LabCluster, node: string): string[] => {
  const dir = join(root, lab.name, "backups", lab.name, node);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".tar.gz")) : [];
};

describe("a run waiting for its window survives a restart of serve", () => {
  test(
    "approved before the window: it waits, serve is stopped and started again, and the run happens once the window opens, once",
    { skip: !isRoot && "needs root (lab users, sshd, sudo)" },
    async (t) => {
      const slack = await fakeSlack();
      const channel = "C0WINDOWE";
      const cluster = "lab-e2e";
      // The window opens at a whole minute at least LEAD_MS away: time for the lab, a serve, the
      // request and its approval, a stop and a second serve, all before it opens.
      const LEAD_MS = 30_000;
      const started = Date.now();
      const opens = new Date(Math.ceil((started + LEAD_MS) / 60_000) * 60_000);
      const { day, clock } = wallClock(opens, ZONE);
      const lab = await labCluster({
        name: cluster,
        nodes: [
          { name: "e2e-1", host: 141, version: "v1.28.4" },
          { name: "e2e-2", host: 142, version: "v1.28.4" },
        ],
        ssh: true,
        yaml: {
          timezone: ZONE,
          top: ['scanCron: "0 3 1 1 *"', 'slack: { digestChannel: C0DIGEST, digestCron: "0 3 1 1 *" }'],
          cluster: [
            `channel: ${channel}`,
            "operators: [U0ALICE]",
            "approvers: [U0ALICE, U0BOB]",
            `renewal: { windows: [{ days: [${day}], start: "${clock}", duration: 10m }], windowMarginMinutes: 2 }`,
          ],
        },
      });
      const before = lab.nodes.map((n) => snapshotNode(n));
      const crtBefore = lab.nodes.map((n) => pkiFingerprint(n, "apiserver.crt"));
      const clientBefore = lab.nodes.map((n) => pkiFingerprint(n, "apiserver-kubelet-client.crt"));

      const port = await freePort("127.0.0.1");
      const people = await SlackSurfaceClient.start({ port, secret: SECRET });
      const queues = new Queues(
        { url: DEFAULT_REDIS_URL, protocol: 2, maxRetriesPerRequest: null },
        `${fixture.prefix}:bull`,
        pino({ level: "silent" }),
      );
      /** A `serve` of this deployment: the same config, Redis, key prefix, Slack app and port. */
      const serve = async (): Promise<ServiceProcess> => {
        const s = spawnService("serve", lab.configPath, {
          REDIS_URL: DEFAULT_REDIS_URL,
          CERTS_BOT_REDIS_PREFIX: fixture.prefix,
          SLACK_BOT_TOKEN: TOKEN,
          SLACK_API_URL: slack.url,
          SLACK_SIGNING_SECRET: SECRET,
          SLACK_APP_TOKEN: "",
          PORT: String(port),
          LOG_LEVEL: "info",
        });
        services.push(s);
        await until(
          "serve is running",
          async () => s.lines().some((l) => l.msg === "certs-bot is running"),
          30_000,
        ).catch((err: Error) => assert.fail(`${err.message}:\n${s.output()}`));
        return s;
      };
      const card = (): PostedMessage | undefined =>
        slack.messages(channel).find((m) => !m.thread_ts && /^Renewal of lab-e2e: /.test(m.text));
      const thread = () => slack.messages(channel).filter((m) => m.thread_ts === card()?.ts);
      const scheduled = new RegExp(`\\w{3} \\d+ \\w{3} ${clock} CES?T`);

      try {
        const first = await serve();
        const alice = await people.certs(`renew ${cluster}`, "U0ALICE", channel);
        assert.match(await people.followUp(alice.id), new RegExp(`posted in <#${channel}> for approval`));
        const posted = card();
        assert.ok(posted, "the approval card");
        assert.match(
          JSON.stringify(posted.blocks),
          new RegExp(`Runs in the maintenance window \\w{3} \\d+ \\w{3} ${clock}–\\d\\d:\\d\\d CES?T \\(`),
        );
        const requestId = /"action_id":"renewal_approve","value":"([^"]+)"/.exec(
          JSON.stringify(posted.blocks),
        )![1]!;

        // Approved before the window: scheduled for its opening, a delayed job due then, nothing touched.
        await people.click("U0BOB", posted, "Approve");
        await until("the card says when the run is scheduled", async () =>
          new RegExp(`: approved — scheduled for ${scheduled.source}`).test(card()!.text),
        );
        const job = await until("the run's job", async () =>
          queues.renewal.getJob(runJobId({ id: requestId })),
        );
        await until("the run waits as a delayed job", async () => (await job.getState()) === "delayed");
        const waiting = await queues.renewal.getJob(job.id!);
        assert.equal(waiting?.data.state?.resumesAt, opens.toISOString(), "it goes on when the window opens");
        const client = new Redis(DEFAULT_REDIS_URL);
        const score = Number(await client.zscore(queues.renewal.toKey("delayed"), job.id!));
        client.disconnect();
        assert.equal(Math.floor(score / 0x1000), opens.getTime(), "the delayed job is due at the opening");
        await until("the thread says it waits", async () =>
          thread().some((m) =>
            new RegExp(`waiting for its maintenance window, goes on ${scheduled.source}`).test(
              JSON.stringify(m.blocks),
            ),
          ),
        );
        for (const [i, node] of lab.nodes.entries()) {
          assertSameAsBefore(node, before[i]!);
          assert.deepEqual(tarballs(lab, node.name), [], `${node.name}: not even a backup`);
        }

        // serve stops while the run waits (nothing is running, so nothing is abandoned) …
        assert.equal(await first.stop(), 0, first.output());
        assert.ok(
          !first.lines().some((l) => Array.isArray(l.abandoned) && l.abandoned.length),
          "nothing abandoned",
        );
        assert.equal(await job.getState(), "delayed", "the wait is kept in Redis");
        // … and a new one starts, still before the window.
        const second = await serve();
        const early = opens.getTime() - Date.now();
        assert.ok(early > 0, `the second serve ran only at ${new Date().toISOString()}`);
        t.diagnostic(
          `the second serve ran ${Date.now() - started} ms in, ${early} ms before the window opened`,
        );
        for (const [i, node] of lab.nodes.entries()) assertSameAsBefore(node, before[i]!);

        // The window opens: the new serve runs it, and the card and its thread say renewed.
        await until(
          "the card shows the outcome",
          async () => /: (renewed|failed)/.test(card()!.text),
          opens.getTime() - Date.now() + 120_000,
        );
        assert.match(card()!.text, /^Renewal of lab-e2e: renewed/);
        const replies = thread();
        const summaries = replies.filter((m) => /Renewal of lab-e2e/.test(m.text) && m !== replies[0]);
        assert.equal(summaries.length, 1, "one summary");
        assert.doesNotMatch(JSON.stringify(replies), /❌/);
        assert.ok(
          (JSON.stringify(replies[0]!.blocks).match(/✅/g) ?? []).length >= 10,
          "the checklist ends all ✅",
        );
        for (const node of ["e2e-1", "e2e-2"])
          assert.equal(
            replies.filter((m) => m.text.includes(node) && /\brenew\b/.test(m.text)).length,
            1,
            `${node}: one renew reply`,
          );

        // Once, when the window opened, by the new process. The card is redrawn before the job ends
        // (the run rescans the cluster after it), so the job may still be finishing.
        await until(
          "the renewal job to complete",
          async () => (await job.getState()) === "completed",
          30_000,
        );
        const done = (await queues.renewal.getJob(job.id!))!;
        assert.deepEqual(done.returnvalue, { requestId, outcome: "done", attempts: 1 });
        assert.equal(done.processedBy, `certs-bot@${hostname()}:${second.child.pid}`);
        const entries = (await audit.latest(cluster, 200)).filter((e) => e.requestId === requestId).reverse();
        const wentOn = entries.filter((e) => e.detail === "went on in its maintenance window");
        assert.equal(wentOn.length, 1, entries.map((e) => `${e.kind} ${e.detail}`).join("\n"));
        const late = wentOn[0]!.at.getTime() - opens.getTime();
        assert.ok(late >= 0, `went on at ${wentOn[0]!.at.toISOString()}`);
        t.diagnostic(`it went on ${late} ms after the window opened`);
        assert.deepEqual(
          entries.filter((e) => e.kind === "result").map((e) => e.detail),
          ["done: renewed and verified on e2e-1, e2e-2"],
        );
        assert.equal((await renewals.get(requestId))?.state, "done");
        for (const [i, node] of lab.nodes.entries()) {
          assert.equal(tarballs(lab, node.name).length, 1, `${node.name}: one backup`);
          const crt = pkiFingerprint(node, "apiserver.crt");
          assert.notEqual(crt, crtBefore[i], `${node.name}: a new apiserver.crt`);
          assert.equal((await node.cp.served())?.fingerprint256, crt, `${node.name}: served`);
          assert.notEqual(pkiFingerprint(node, "apiserver-kubelet-client.crt"), clientBefore[i]);
        }
      } finally {
        await Promise.all(services.map((s) => s.stop()));
        await queues.close();
        await people.close();
      }
    },
  );
});

/**
 * Runs of one request on a night the clock changes, each attempt at an instant the test sets. The
 * run's clock reads that instant until the run records that it starts a node, then the wall clock:
 * the lab's kubeadm signs on the wall clock, and the renew step checks the new certificates' dates
 * against the run's clock. The checklist goes to a card's thread in the fake Slack, as serve shows it.
 */
async function nightRuns(lab: LabCluster, plan: RenewalPlan) {
  const slack = await fakeSlack();
  const channel = "C0DSTNIGHT";
  const request = await approvedRequest(renewals, plan);
  const client = webClient({ token: TOKEN, apiUrl: slack.url });
  const card = await client.chat.postMessage({ channel, text: `Renewal of ${lab.name} (${request.id})` });
  const poster = new SlackPoster(client, new Store(fixture.redis, fixture.prefix));
  const clock: { at: Date | null } = { at: null };
  let saved: RunState | undefined;
  const attempt = async (at: Date): Promise<RunResult> => {
    clock.at = at;
    const reporter = new SlackThreadReporter({
      poster,
      card: { channel, ts: card.ts! },
      requestId: request.id,
      timeZone: ZONE,
      logger: pino({ level: "silent" }),
      spacingMs: 0,
    });
    const states: RunState[] = [];
    const deps = {
      ...labRunDependencies(fixture, lab, reporter, { saved: states }),
      requests: {
        markRunning: (id: string, now: Date) => renewals.markRunning(id, now),
        finish: (id: string, ok: boolean, now: Date, outcome?: string) =>
          renewals.finish(id, ok, now, outcome),
        beginNode: async (id: string, now: Date) => {
          const began = await renewals.beginNode(id, now);
          clock.at = null;
          return began;
        },
      },
      now: () => clock.at ?? new Date(),
    };
    const current = (await renewals.get(request.id))!;
    const result = await runRenewal({ request: current, plan, ...(saved ? { saved } : {}) }, deps);
    saved = states.at(-1) ?? saved;
    return result;
  };
  /** The checklist in the card's thread, as shown now. */
  const checklist = () =>
    JSON.stringify(slack.messages(channel).find((m) => m.thread_ts === card.ts)?.blocks ?? []);
  return { request, attempt, checklist, saved: () => saved };
}

/** The attempt waited, to go on at `at` (an ISO instant): the result, the saved state and the audit say so. */
async function assertWaits(
  result: RunResult,
  runs: Awaited<ReturnType<typeof nightRuns>>,
  cluster: string,
  at: string,
): Promise<void> {
  assert.ok(!result.ran && result.resumesAt, result.ran ? runSummary(result.state) : result.reason);
  assert.equal(result.resumesAt.toISOString(), at);
  assert.equal(runs.saved()?.resumesAt, at);
  const entries = await auditOf(fixture, runs.request.id, cluster);
  assert.equal(entries.at(-1), `started waits for its maintenance window: goes on at ${at}`);
}

describe("maintenance windows on the nights the clock changes (Europe/Berlin), through the run", () => {
  test("spring forward, Sun 28 Mar 2027 02:00 CET → 03:00 CEST: a window from 02:30 (which does not exist that night) opens at 03:00 CEST, 01:00 UTC; the run waits until then and goes on then", async () => {
    const lab = await labCluster({
      name: "lab-spring",
      nodes: [{ name: "spring-1", host: 143, version: "v1.28.4" }],
      yaml: {
        timezone: ZONE,
        cluster: [
          'renewal: { windows: [{ days: [sun], start: "02:30", duration: 2h }], windowMarginMinutes: 20 }',
        ],
      },
    });
    const node = lab.node("spring-1");
    const before = snapshotNode(node);
    const clientBefore = pkiFingerprint(node, "apiserver-kubelet-client.crt");
    const runs = await nightRuns(lab, await planLabRenewal(lab));
    // The README: a start that does not exist that day opens the window when the clock jumps.
    const jump = "2027-03-28T01:00:00.000Z";

    // 01:40 CET (00:40 UTC). Had 02:30 been read as CEST (00:30 UTC), the window would be open now.
    await assertWaits(await runs.attempt(new Date("2027-03-28T00:40:00Z")), runs, lab.name, jump);
    await until("the thread says when it goes on", async () =>
      runs.checklist().includes("waiting for its maintenance window, goes on Sun 28 Mar 03:00 CEST"),
    );
    assertSameAsBefore(node, before);

    // A second before the jump (01:59:59 CET): still waiting, for the same instant.
    await assertWaits(await runs.attempt(new Date(Date.parse(jump) - 1000)), runs, lab.name, jump);
    assertSameAsBefore(node, before);

    // At the jump, 03:00 CEST: the run goes on and renews, as its first attempt.
    const ran = await runs.attempt(new Date(jump));
    assert.ok(ran.ran, ran.ran ? "" : ran.reason);
    assert.equal(ran.state.outcome, "done", runSummary(ran.state));
    assert.equal(ran.state.attempts, 1);
    assert.notEqual(pkiFingerprint(node, "apiserver-kubelet-client.crt"), clientBefore, "renewed");
    const entries = await auditOf(fixture, runs.request.id, lab.name);
    assert.deepEqual(
      entries.filter((e) => e.startsWith("started waits")),
      Array(2).fill(`started waits for its maintenance window: goes on at ${jump}`),
    );
    // Woken a second early, it said nothing of going on: one "went on", at the jump.
    assert.equal(entries.filter((e) => e === "started went on in its maintenance window").length, 1);
    assert.equal(entries.at(-1), "result done: renewed and verified on spring-1");
  });

  test("fall back, Sun 31 Oct 2027 03:00 CEST → 02:00 CET: a window from 02:30 for 30m opens at the first 02:30 (CEST, 00:30 UTC) and closes at 03:00 CET (02:00 UTC)", async () => {
    const lab = await labCluster({
      name: "lab-fall",
      nodes: [{ name: "fall-1", host: 144, version: "v1.28.4" }],
      yaml: {
        timezone: ZONE,
        cluster: [
          'renewal: { windows: [{ days: [sun], start: "02:30", duration: 30m }], windowMarginMinutes: 20 }',
        ],
      },
    });
    const node = lab.node("fall-1");
    const before = snapshotNode(node);
    const clientBefore = pkiFingerprint(node, "apiserver-kubelet-client.crt");
    const plan = await planLabRenewal(lab);
    const runs = await nightRuns(lab, plan);
    // The README: a time that happens twice means its first occurrence, for the start and the end.
    const opens = "2027-10-31T00:30:00.000Z";

    // 01:50 CEST (23:50 UTC on Saturday): waits for 02:30 CEST.
    await assertWaits(await runs.attempt(new Date("2027-10-30T23:50:00Z")), runs, lab.name, opens);
    await until("the thread says when it goes on", async () =>
      runs.checklist().includes("waiting for its maintenance window, goes on Sun 31 Oct 02:30 CEST"),
    );
    assertSameAsBefore(node, before);

    // Taken up at 02:10 CET (01:10 UTC), in the hour's second pass: the clock reads before 02:30, yet
    // the window has been open since 02:30 CEST and has 50 minutes left, more than the margin.
    const ran = await runs.attempt(new Date("2027-10-31T01:10:00Z"));
    assert.ok(ran.ran, ran.ran ? "" : ran.reason);
    assert.equal(ran.state.outcome, "done", runSummary(ran.state));
    assert.notEqual(pkiFingerprint(node, "apiserver-kubelet-client.crt"), clientBefore, "renewed");
    assert.equal(
      (await auditOf(fixture, runs.request.id, lab.name)).at(-1),
      "result done: renewed and verified on fall-1",
    );

    // Approved at 02:45 CET (01:45 UTC): 15 minutes of the window left, under the margin, so the
    // run waits for the window of Sun 7 Nov, which opens at 02:30 CET.
    const renewed = snapshotNode(node);
    const late = await nightRuns(lab, plan);
    await assertWaits(
      await late.attempt(new Date("2027-10-31T01:45:00Z")),
      late,
      lab.name,
      "2027-11-07T01:30:00.000Z",
    );
    await until("the thread says when it goes on", async () =>
      late.checklist().includes("waiting for its maintenance window, goes on Sun 7 Nov 02:30 CET"),
    );
    assertSameAsBefore(node, renewed);
  });
});
