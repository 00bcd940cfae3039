// Renewal policies end to end: certs-bot files renewal requests itself (`renewal.policy`), once per
// certificate generation. Two real `serve` processes share Redis and a fake Slack and reach lab
// control-plane nodes over SSH (a lab sshd and sudo per node): a certificate past
// `requestWhenDaysLeft` gets exactly one request however many scans of both processes race, and an
// approver approves it as any other; a pre-approved request runs in its open window with no click,
// or waits for a window ahead as a delayed job without touching its node; a refused plan tells the
// approvers once. Then the policy's clerk in this process (the desk on the same Redis, local lab
// nodes, a clock the test moves): a renewed certificate is a new generation and gets its own
// request, an ended request is not filed again, a request whose card cannot be posted is filed
// again, and a refusal is told once over days.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import type { Job } from "bullmq";
import { pino } from "pino";
import { clusterChannel, loadConfig, type ClusterConfig, type Config } from "../../src/config/load.js";
import { runJobId } from "../../src/core/renew/approval.js";
import { POLICY_REQUESTER } from "../../src/core/renew/policy.js";
import { RenewalDesk } from "../../src/app/renew/desk.js";
import { PolicyClerk, type PolicyOutcome } from "../../src/app/renew/policy.js";
import { scanClusters, type ScanDependencies } from "../../src/adapters/nodes/scan.js";
import { Queues } from "../../src/adapters/queue/queues.js";
import { groupsNow } from "../../src/adapters/slack/backend.js";
import { INTERACTIVE_CALLS, SlackPoster, webClient } from "../../src/adapters/slack/poster.js";
import { AuditLog } from "../../src/adapters/store/audit.js";
import { DEFAULT_REDIS_URL } from "../../src/adapters/store/redis.js";
import { RenewalStore } from "../../src/adapters/store/renewals.js";
import { Store } from "../../src/adapters/store/store.js";
import { startFakeSlack, type FakeSlack, type PostedMessage } from "../lab/fake-slack.js";
import { assertSameAsBefore, snapshotNode } from "../lab/node-state.js";
import { issueCert } from "../lab/pki.js";
import { freePort } from "../lab/ports.js";
import { pkiFingerprint, startLabCluster, type LabCluster } from "../lab/renewal-cluster.js";
import { renewalFixture } from "../lab/renewal-fixture.js";
import { labScanDependencies, renewalLabNode, type RenewalLabNode } from "../lab/renewal-lab.js";
import { spawnService, type ServiceProcess } from "../lab/service-process.js";
import { clickBody, signed } from "../lab/slack-requests.js";
import { newClusterPki, type Validity } from "../lab/tree.js";
import { until } from "../lab/wait.js";

const isRoot = process.getuid?.() === 0;
const DAY = 86_400_000;
const TZ = "Europe/Berlin";
const SECRET = "0123456789abcdef0123456789abcdef";
const CERT = "apiserver-kubelet-client";

// Stopped before the fixture's own `after` removes the nodes and the keys they use.
const serves: ServiceProcess[] = [];
after(async () => {
  await Promise.all(serves.map((s) => s.stop()));
});
const f = renewalFixture("renew-policy");
/** What the fake Slack answers to usergroups.users.list. */
const usergroups: Record<string, string[]> = { S0SRE: ["U0CAROL"] };
let fake: FakeSlack;

before(async () => {
  fake = await startFakeSlack({ usergroups });
});
after(async () => {
  await fake?.close();
});

/** A leaf that has `days` left (a year old otherwise). */
const leafWith = (days: number, now = Date.now()): Validity => ({
  notBefore: new Date(now + (days - 365) * DAY),
  notAfter: new Date(now + days * DAY),
});

const inZone = (at: Date, options: Intl.DateTimeFormatOptions): string =>
  new Intl.DateTimeFormat("en-GB", { timeZone: TZ, hourCycle: "h23", ...options }).format(at);
/** "mon" … "sun" in the config's time zone, as `windows.days` takes it. */
const weekday = (at: Date): string =>
  new Intl.DateTimeFormat("en-US", { timeZone: TZ, weekday: "short" }).format(at).toLowerCase();
/** "HH:MM" in the config's time zone. */
const clockAt = (at: Date): string => inZone(at, { hour: "2-digit", minute: "2-digit" });

/** The instant `hhmm` strikes in the config's time zone on the local day of `day`. */
function zonedInstant(day: Date, hhmm: string): Date {
  const date = inZone(day, { year: "numeric", month: "2-digit", day: "2-digit" });
  const [d, m, y] = date.split("/").map(Number) as [number, number, number];
  const [h, min] = hhmm.split(":").map(Number) as [number, number];
  for (const offsetHours of [-1, -2]) {
    const at = new Date(Date.UTC(y, m - 1, d, h + offsetHours, min));
    if (clockAt(at) === hhmm && inZone(at, { year: "numeric", month: "2-digit", day: "2-digit" }) === date)
      return at;
  }
  throw new Error(`no ${hhmm} on ${date} in ${TZ}`);
}

/** One cluster of a config the test writes: its `renewal:` lines (block style) and its one node. */
function clusterEntry(name: string, channel: string, renewal: string[], node: RenewalLabNode): string[] {
  return [
    `  - name: ${name}`,
    `    channel: ${channel}`,
    "    operators: [U0ALICE]",
    "    approvers: [U0BOB, S0SRE]",
    "    renewal:",
    ...renewal.map((line) => `      ${line}`),
    "    nodes:",
    `      - ${node.yaml}`,
  ];
}

/** `file:line` of the first `key:` in cluster `cluster`'s entry: what the card and the audit name. */
function sourceOf(file: string, lines: readonly string[], cluster: string, key: string): string {
  const start = lines.indexOf(`  - name: ${cluster}`);
  const at = lines.findIndex((line, i) => i > start && line.trim().startsWith(`${key}:`));
  assert.ok(start >= 0 && at > start, `${key} of ${cluster} in the config`);
  return `${file}:${at + 1}`;
}

const cardsIn = (channel: string, cluster: string): PostedMessage[] =>
  fake.messages(channel).filter((m) => !m.thread_ts && m.text.startsWith(`Renewal of ${cluster}: `));
const escalationsIn = (channel: string, cluster: string): PostedMessage[] =>
  fake
    .messages(channel)
    .filter((m) => m.text.startsWith(`The renewal policy of ${cluster} could not request a renewal`));
const shown = (message: PostedMessage): string => `${message.text}\n${JSON.stringify(message.blocks)}`;
const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber.toLowerCase();
/** A string matched literally inside a RegExp. */
const literally = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** The card says who approved: the policy, by its `file:line`. */
const approvedByPolicy = (source: string): RegExp =>
  new RegExp(`[Aa]pproved\\*? by policy \\(\`${literally(source)}\`\\)`);

describe(
  "two serve processes on one Redis, nodes over SSH",
  { skip: !isRoot && "needs root (lab users, sshd, sudo)" },
  () => {
    const { prefix } = f;
    const renewals = new RenewalStore(f.redis, prefix);
    const audit = new AuditLog(f.redis, prefix);
    let lab: LabCluster;
    let configPath: string;
    let lines: string[];
    let queues: Queues;
    /** Each serve's Slack HTTP port. */
    const ports: number[] = [];
    let responses: Server;
    let responseUrl: string;
    /** The window ahead of p-later: its day (three days from now) at 02:00, for an hour. */
    const later = new Date(Date.now() + 3 * DAY);

    before(async () => {
      chmodSync(f.root, 0o755); // the lab users must traverse it
      const now = Date.now();
      const soon = { [CERT]: leafWith(10, now) };
      lab = await startLabCluster({
        root: join(f.root, "serve"),
        name: "policy",
        ssh: true,
        nodes: [
          { name: "ask-1", host: 91, version: "v1.28.4", dates: soon },
          { name: "now-1", host: 92, version: "v1.28.4", dates: soon },
          { name: "later-1", host: 93, version: "v1.28.4", dates: soon },
          // Its CA ends in 100 days, before a renewed leaf would (a year): the plan is refused.
          {
            name: "ca-1",
            host: 94,
            version: "v1.28.4",
            dates: {
              ...soon,
              ca: { notBefore: new Date(now - 365 * DAY), notAfter: new Date(now + 100 * DAY) },
            },
          },
        ],
      });
      f.labs.push(lab);
      // Opened ten minutes ago, in the config's zone, for four hours: a run may start now.
      const opened = new Date(now - 10 * 60_000);
      configPath = join(f.root, "serve", "policy.yaml");
      lines = [
        `timezone: ${TZ}`,
        'scanCron: "0 3 1 1 *"',
        'slack: { digestChannel: C0DIGEST, digestCron: "0 3 1 1 *" }',
        `renewal: { backupDir: "${join(f.root, "serve", "backups")}", restartStrategy: manifests }`,
        `ssh: { privateKeyPath: ${lab.ssh!.privateKeyPath}, knownHostsPath: ${lab.ssh!.knownHostsPath} }`,
        "clusters:",
        ...clusterEntry("p-ask", "C0ASK", ["policy:", "  requestWhenDaysLeft: 30"], lab.node("ask-1")),
        ...clusterEntry(
          "p-now",
          "C0NOW",
          [
            `windows: [{ days: [${weekday(opened)}], start: "${clockAt(opened)}", duration: "4h" }]`,
            "policy:",
            "  requestWhenDaysLeft: 30",
            "  preApproved: true",
          ],
          lab.node("now-1"),
        ),
        ...clusterEntry(
          "p-later",
          "C0LATER",
          [
            `windows: [{ days: [${weekday(later)}], start: "02:00", duration: "1h" }]`,
            "policy:",
            "  requestWhenDaysLeft: 30",
            "  preApproved: true",
          ],
          lab.node("later-1"),
        ),
        ...clusterEntry("p-ca", "C0CA", ["policy:", "  requestWhenDaysLeft: 30"], lab.node("ca-1")),
        "",
      ];
      writeFileSync(configPath, lines.join("\n"));
      // A report of every cluster is current, so neither serve scans at start: the test says when.
      const store = new Store(f.redis, prefix);
      for (const cluster of loadConfig(configPath).clusters) {
        const report = { name: cluster.name, status: "ok" as const, nodes: [] };
        await store.saveScan({ cluster: cluster.name, scannedAt: new Date(), durationMs: 1, report });
      }
      // Where the services answer a click (response_url); nothing here needs the answers.
      responses = createServer((req, res) => req.resume().on("end", () => res.writeHead(200).end("ok")));
      const responsePort = await freePort("127.0.0.1");
      await new Promise<void>((r) => responses.listen(responsePort, "127.0.0.1", r));
      responseUrl = `http://127.0.0.1:${responsePort}/response`;
      queues = new Queues(
        { url: DEFAULT_REDIS_URL, protocol: 2, maxRetriesPerRequest: null },
        `${prefix}:bull`,
      );
      for (let i = 0; i < 2; i++) {
        const port = await freePort("127.0.0.1");
        ports.push(port);
        serves.push(
          spawnService("serve", configPath, {
            REDIS_URL: DEFAULT_REDIS_URL,
            CERTS_BOT_REDIS_PREFIX: prefix,
            SLACK_BOT_TOKEN: "xoxb-test",
            SLACK_API_URL: fake.url,
            SLACK_APP_TOKEN: "",
            SLACK_SIGNING_SECRET: SECRET,
            PORT: String(port),
            METRICS_PORT: "0",
            LOG_LEVEL: "info",
          }),
        );
      }
      for (const serve of serves)
        await until(
          `serve ${serve.child.pid} to run`,
          async () => serve.lines().some((l) => l.msg === "certs-bot is running"),
          30_000,
        ).catch((err: Error) => assert.fail(`${err.message}:\n${serve.output()}`));
      await until("both serves taking scan jobs", async () => (await queues.scan.getWorkers()).length === 2);
    });

    after(async () => {
      await queues?.close();
      await new Promise((r) => responses?.close(r));
    });

    /** The job once it completed (with its return value and who ran it); a failed scan fails the test. */
    async function completed(job: Job): Promise<Job> {
      const id = job.id!;
      return until(
        `scan job ${id} to complete`,
        async () => {
          const state = await queues.scan.getJobState(id);
          if (state === "failed")
            assert.fail(`scan job ${id} failed: ${(await queues.scan.getJob(id))?.failedReason}`);
          return state === "completed" && (await queues.scan.getJob(id));
        },
        60_000,
      );
    }

    /** One scan of `cluster` the way `/certs scan` asks for it, to its end. */
    const scan = async (cluster: string): Promise<Job> =>
      completed(await queues.requestScan(cluster, "manual"));

    const pidOf = (job: Job): number => Number(/:(\d+)$/.exec(job.processedBy ?? "")?.[1]);

    /** A click on the card's Approve button by `user`, received by serve number `via`. */
    async function approve(user: string, card: PostedMessage, via: number): Promise<void> {
      const button = /"action_id":"(renewal_approve)","value":"([^"]+)"/.exec(JSON.stringify(card.blocks));
      assert.ok(button, "the card has an Approve button");
      const body = clickBody(
        user,
        { actionId: button[1]!, value: button[2]!, label: "Approve" },
        { type: "message", channel: card.channel, ts: card.ts, responseUrl },
      );
      const res = await fetch(`http://127.0.0.1:${ports[via]}/slack/events`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...signed(body, SECRET) },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(res.status, 200);
    }

    const auditOf = async (cluster: string) => (await audit.latest(cluster, 100)).reverse();

    test("a certificate past requestWhenDaysLeft gets one request however many scans of both serves race; an approver approves it as usual", async () => {
      const node = lab.node("ask-1");
      const generation = `ask-1/${CERT}@${serialOf(node.tree.certs[CERT]!.pem)}`;
      const servedBefore = (await node.cp.served())!.fingerprint256;
      const scans: Job[] = [];
      const pids = new Set<number>();
      // Each round: four scans added at once without the deduplication `/certs scan` uses, so scans of
      // p-ask run side by side in both processes, plus one the usual way. Until both ran some.
      for (let round = 0; round < 2 || (pids.size < 2 && round < 10); round++) {
        const jobs = await Promise.all([
          ...Array.from({ length: 4 }, () =>
            queues.scan.add("scan-cluster", { cluster: "p-ask", reason: "manual" }),
          ),
          queues.requestScan("p-ask", "manual"),
        ]);
        for (const job of await Promise.all(jobs.map(completed))) {
          scans.push(job);
          pids.add(pidOf(job));
        }
      }
      assert.deepEqual([...pids].sort(), serves.map((s) => s.child.pid).sort(), "both serves scanned p-ask");
      const filings = scans.filter((j) =>
        /^filed /.test((j.returnvalue as { policy?: string }).policy ?? ""),
      );
      assert.equal(filings.length, 1, `one of ${scans.length} scans filed a request`);

      const cards = cardsIn("C0ASK", "p-ask");
      assert.equal(cards.length, 1, cards.map((c) => c.text).join(" | "));
      const card = cards[0]!;
      const source = sourceOf(configPath, lines, "p-ask", "requestWhenDaysLeft");
      assert.match(card.text, /: waiting for approval /);
      assert.ok(
        shown(card).includes(`Filed by certs-bot's renewal policy (\`${source}\`)`),
        `the card names the policy's line ${source}: ${shown(card)}`,
      );
      assert.match(shown(card), /renewal_approve/);

      const filed = await renewals.filings("p-ask");
      assert.deepEqual([...filed.keys()], [generation]);
      const id = filed.get(generation)!;
      assert.equal((filings[0]!.returnvalue as { policy: string }).policy, `filed ${id}`);
      assert.ok(shown(card).includes(id));
      const request = (await renewals.get(id))!;
      assert.equal(request.state, "pending");
      assert.equal(request.requestedBy, POLICY_REQUESTER);
      assert.deepEqual(request.policy, { source, preApproved: false });
      assert.deepEqual(
        await f.redis.keys(`${prefix}:renewal:p-ask-*`),
        [`${prefix}:renewal:${id}`],
        "one request in Redis",
      );
      const requested = (await auditOf("p-ask")).filter((e) => e.kind === "requested");
      assert.equal(requested.length, 1);
      assert.equal(requested[0]!.requestId, id);
      assert.equal(requested[0]!.actor, undefined, "nobody requested it");
      assert.match(
        requested[0]!.detail,
        new RegExp(
          `needs 1 approval\\(s\\); filed by policy \\(${literally(source)}\\): ask-1/${CERT} has \\d+ days left`,
        ),
      );

      // An approver approves through the other serve; the run renews the node as any other.
      await approve("U0BOB", card, 1);
      await until(
        "the card to show the outcome",
        async () => /: (renewed|failed) /.test(cardsIn("C0ASK", "p-ask")[0]!.text),
        120_000,
      );
      assert.match(cardsIn("C0ASK", "p-ask")[0]!.text, /: renewed /);
      const served = (await node.cp.served())!.fingerprint256;
      assert.notEqual(served, servedBefore);
      assert.equal(served, pkiFingerprint(node, "apiserver.crt"));
      const approved = (await auditOf("p-ask")).filter((e) => e.kind === "approved");
      assert.deepEqual(
        approved.map((e) => [e.actor, e.detail]),
        [["U0BOB", "approval 1 of 1"]],
      );

      // Renewed, nothing is due any more: scans file nothing.
      for (let i = 0; i < 2; i++) assert.equal((await scan("p-ask")).returnvalue.policy, undefined);
      assert.equal(cardsIn("C0ASK", "p-ask").length, 1);
      assert.deepEqual([...(await renewals.filings("p-ask")).keys()], [generation]);
    });

    test("pre-approved, its window open: the run happens with no click and renews the node; card and audit name the policy's line", async () => {
      const node = lab.node("now-1");
      const before = pkiFingerprint(node, `${CERT}.crt`);
      const servedBefore = (await node.cp.served())!.fingerprint256;
      await scan("p-now");
      await until(
        "the card to show the outcome",
        async () => /: (renewed|failed) /.test(cardsIn("C0NOW", "p-now")[0]?.text ?? ""),
        120_000,
      );
      const cards = cardsIn("C0NOW", "p-now");
      assert.equal(cards.length, 1);
      assert.match(cards[0]!.text, /: renewed /, shown(cards[0]!));
      assert.notEqual(pkiFingerprint(node, `${CERT}.crt`), before, `${CERT} was renewed on the node`);
      const served = (await node.cp.served())!.fingerprint256;
      assert.notEqual(served, servedBefore);
      assert.equal(served, pkiFingerprint(node, "apiserver.crt"), "the node serves its renewed certificate");

      const source = sourceOf(configPath, lines, "p-now", "preApproved");
      assert.match(shown(cards[0]!), approvedByPolicy(source));
      assert.ok(shown(cards[0]!).includes(`Filed by certs-bot's renewal policy (\`${source}\`)`));
      const entries = await auditOf("p-now");
      const requested = entries.filter((e) => e.kind === "requested");
      assert.equal(requested.length, 1);
      assert.equal(requested[0]!.actor, undefined);
      assert.match(requested[0]!.detail, /; pre-approved by policy; /);
      assert.ok(requested[0]!.detail.includes(`filed by policy (${source}): now-1/${CERT} has`));
      const approved = entries.filter((e) => e.kind === "approved");
      assert.deepEqual(
        approved.map((e) => [e.actor, e.requestId, e.detail]),
        [
          [
            undefined,
            requested[0]!.requestId,
            `approved by policy (${source}); runs in its next maintenance window`,
          ],
        ],
        "approved by the policy alone",
      );
      assert.equal((await renewals.get(requested[0]!.requestId!))?.state, "done");
    });

    test("pre-approved, its window ahead: approved, the run's job delayed until the window opens, the node untouched", async () => {
      const node = lab.node("later-1");
      const snapshot = snapshotNode(node);
      const servedBefore = (await node.cp.served())!.fingerprint256;
      const queuedFrom = Date.now();
      await scan("p-later");
      const filed = [...(await renewals.filings("p-later")).values()];
      assert.equal(filed.length, 1);
      const id = filed[0]!;
      const job = await until("the run's job", async () => queues.renewal.getJob(runJobId({ id })));
      await until("the run to wait as a delayed job", async () => (await job.getState()) === "delayed");
      const queuedBy = Date.now();
      const waiting = (await queues.renewal.getJob(runJobId({ id })))!;
      // Delayed by `delay` from a moment between queuedFrom and queuedBy: until the window opens.
      const opens = zonedInstant(later, "02:00").getTime();
      assert.ok(
        queuedFrom + waiting.delay <= opens && opens <= queuedBy + waiting.delay,
        `delayed until ${new Date(opens).toISOString()} (delay ${waiting.delay} ms)`,
      );
      const day = inZone(later, { weekday: "short", day: "numeric", month: "short" }).replace(",", "");
      await until("the card to say when it runs", async () =>
        new RegExp(`: approved — scheduled for ${day} 02:00 `).test(
          cardsIn("C0LATER", "p-later")[0]?.text ?? "",
        ),
      );
      const source = sourceOf(configPath, lines, "p-later", "preApproved");
      assert.match(shown(cardsIn("C0LATER", "p-later")[0]!), approvedByPolicy(source));
      const request = (await renewals.get(id))!;
      assert.ok(["approved", "running"].includes(request.state), request.state);
      assert.equal(request.nodeStartedAt, undefined, "no node started");
      assert.deepEqual(
        (await auditOf("p-later")).filter((e) => e.kind === "approved").map((e) => e.detail),
        [`approved by policy (${source}); runs in its next maintenance window`],
      );
      assertSameAsBefore(node, snapshot);
      assert.equal((await node.cp.served())!.fingerprint256, servedBefore);
    });

    test("a refused plan: the approvers are told once in the cluster's channel, with the reason; no request", async () => {
      for (let i = 0; i < 4; i++) await scan("p-ca");
      const told = escalationsIn("C0CA", "p-ca");
      assert.equal(told.length, 1, told.map((m) => m.text).join(" | "));
      const text = shown(told[0]!);
      assert.match(text, /<@U0BOB> <!subteam\^S0SRE>: please look/);
      assert.match(text, /node ca-1: CA ca expires on \d{4}-\d{2}-\d{2}, before the renewed leaves would/);
      assert.match(text, new RegExp(`ca-1/${CERT}\`: \\d+ days left`));
      assert.ok(text.includes(`Policy: \`${sourceOf(configPath, lines, "p-ca", "requestWhenDaysLeft")}\``));
      assert.equal(cardsIn("C0CA", "p-ca").length, 0, "no approval card");
      assert.equal((await renewals.filings("p-ca")).size, 0);
      assert.equal(await renewals.active("p-ca"), null);
      assert.deepEqual(await f.redis.keys(`${prefix}:renewal:p-ca-*`), [], "no request");
      const entries = await auditOf("p-ca");
      assert.deepEqual(
        entries.map((e) => e.kind),
        ["refused"],
      );
      assert.match(
        entries[0]!.detail,
        /^the renewal policy could not file a request: node ca-1: CA ca expires on .*; the approvers were told$/s,
      );
    });
  },
);

describe("the policy clerk on the desk: generations, withdrawals, refusals over days", () => {
  const { prefix } = f; // the serves' too: these clusters have names of their own
  const records = new RenewalStore(f.redis, prefix);
  const audit = new AuditLog(f.redis, prefix);
  const clock = { now: new Date() };
  let config: Config;
  let configPath: string;
  let lines: string[];
  let nodes: { gen: RenewalLabNode; ca: RenewalLabNode };
  let pki: Awaited<ReturnType<typeof newClusterPki>>;
  let desk: RenewalDesk;
  let clerk: PolicyClerk;
  let scanDeps: ScanDependencies;

  before(async () => {
    const root = join(f.root, "desk");
    const now = Date.now();
    pki = await newClusterPki();
    const [gen, ca] = await Promise.all([
      renewalLabNode({ root, name: "gen-1", host: 96, pki, dates: { [CERT]: leafWith(10, now) } }),
      renewalLabNode({
        root,
        name: "esc-1",
        host: 97,
        pki,
        dates: {
          [CERT]: leafWith(10, now),
          ca: { notBefore: new Date(now - 365 * DAY), notAfter: new Date(now + 100 * DAY) },
        },
      }),
    ]);
    nodes = { gen, ca };
    configPath = join(root, "policy.yaml");
    lines = [
      `timezone: ${TZ}`,
      `renewal: { backupDir: "${join(root, "backups")}", restartStrategy: manifests }`,
      "clusters:",
      ...clusterEntry("gen", "C0GEN", ["policy:", "  requestWhenDaysLeft: 30"], gen),
      ...clusterEntry("esc", "C0ESC", ["policy:", "  requestWhenDaysLeft: 30"], ca),
      "",
    ];
    writeFileSync(configPath, lines.join("\n"));
    config = loadConfig(configPath);
    scanDeps = { ...labScanDependencies([gen, ca]), now: () => clock.now };
    // Wired as `serve` wires them, with the test's clock; nothing here is approved, so nothing runs.
    const store = new Store(f.redis, prefix);
    const logger = pino({ level: "silent" });
    const poster = new SlackPoster(webClient({ token: "xoxb-test", apiUrl: fake.url }, logger), store);
    const interactive = webClient({ token: "xoxb-test", apiUrl: fake.url }, logger, INTERACTIVE_CALLS);
    desk = new RenewalDesk({
      config,
      records,
      audit,
      scan: async (cluster) => (await scanClusters(config, [cluster], scanDeps)).clusters[0]!,
      channelFor: (cluster) => clusterChannel(config, cluster),
      cards: {
        post: async (message, requestId) => ({
          channel: message.channel,
          ts: await poster.postOnce(`renewal:${requestId}:card`, message),
        }),
        update: (card, message) => poster.update(card, message),
      },
      groupsNow: (userId, groups) => groupsNow(interactive, userId, groups),
      startRun: async () => assert.fail("nothing here is approved to run"),
      now: () => clock.now,
    });
    const posted = async (actionId: string) => (await store.postedTs(actionId)) !== null;
    clerk = new PolicyClerk({ config, desk, records, audit, poster, posted });
  });

  const cluster = (name: string): ClusterConfig => config.clusters.find((c) => c.name === name)!;
  /**
   * A scan of `name` a minute after the last one (requests of one cluster made in the same
   * millisecond are one request), then the policy, as the scan job does it.
   */
  async function scanned(name: string): Promise<PolicyOutcome> {
    clock.now = new Date(clock.now.getTime() + 60_000);
    const report = (await scanClusters(config, [cluster(name)], scanDeps)).clusters[0]!;
    return clerk.afterScan(cluster(name), report);
  }

  test("a renewed certificate is a new generation: an ended request is not filed again, the replaced certificate is", async () => {
    const generation = (pem: string) => `gen-1/${CERT}@${serialOf(pem)}`;
    const first = generation(nodes.gen.tree.certs[CERT]!.pem);
    const source = sourceOf(configPath, lines, "gen", "requestWhenDaysLeft");

    // The card cannot be posted: the request is withdrawn and its generation forgotten.
    fake.failNext("chat.postMessage", 1, { error: "not_in_channel" });
    await assert.rejects(scanned("gen"), /not_in_channel/);
    assert.equal((await records.filings("gen")).size, 0, "the withdrawn request's generation is forgotten");
    assert.equal(await records.active("gen"), null, "the cluster is free");
    assert.equal(cardsIn("C0GEN", "gen").length, 0);

    // The next scan files it again, and that card is posted.
    const filed = await scanned("gen");
    assert.ok(filed.filed, JSON.stringify(filed));
    assert.deepEqual(Object.fromEntries(await records.filings("gen")), { [first]: filed.request.id });
    assert.equal(cardsIn("C0GEN", "gen").length, 1);
    assert.ok(
      shown(cardsIn("C0GEN", "gen")[0]!).includes(`Filed by certs-bot's renewal policy (\`${source}\`)`),
    );

    // Rejected: the certificate had its request; later scans (days later, still due) file nothing.
    const rejected = await desk.click(filed.request.id, { user: "U0BOB", action: "reject" });
    assert.ok(rejected.ok, JSON.stringify(rejected));
    for (const days of [0, 1, 3]) {
      clock.now = new Date(Date.now() + days * DAY);
      assert.deepEqual(await scanned("gen"), { filed: false, why: "already filed" }, `${days} days later`);
    }
    assert.equal(cardsIn("C0GEN", "gen").length, 1, "no second card");

    // Replaced on the node (a new serial), still within the threshold: a new generation, a new request.
    const old = nodes.gen.tree.certs[CERT]!;
    const replaced = await issueCert({
      subject: old.subject,
      key: old.key,
      issuer: pki.ca,
      usage: "client",
      ...leafWith(12),
    });
    writeFileSync(join(nodes.gen.tree.kubernetesDir, "pki", `${CERT}.crt`), replaced.pem);
    const second = await scanned("gen");
    assert.ok(second.filed, JSON.stringify(second));
    assert.notEqual(second.request.id, filed.request.id);
    assert.deepEqual(Object.fromEntries(await records.filings("gen")), {
      [first]: filed.request.id,
      [generation(replaced.pem)]: second.request.id,
    });
    assert.equal(cardsIn("C0GEN", "gen").length, 2);
    assert.deepEqual(
      (await audit.latest("gen", 50)).reverse().map((e) => e.kind),
      ["requested", "rejected", "requested", "rejected", "requested"],
      "the withdrawn request, the rejected one, the replaced certificate's",
    );
  });

  test("a refused plan is told once, however many scans over days", async () => {
    // The refusal names the day renewed leaves would end: a day later each day, the same refusal.
    const base = Date.now();
    for (const later of [0, 3_600_000, DAY, 3 * DAY]) {
      clock.now = new Date(base + later);
      const outcome = await scanned("esc");
      assert.ok(!outcome.filed && outcome.why === "refused", JSON.stringify(outcome));
      assert.match(outcome.reason, /CA ca expires on/);
    }
    const told = escalationsIn("C0ESC", "esc");
    assert.equal(told.length, 1, told.map((m) => m.text).join(" | "));
    assert.match(shown(told[0]!), /<@U0BOB> <!subteam\^S0SRE>: please look/);
    assert.deepEqual(
      (await audit.latest("esc", 50)).map((e) => e.kind),
      ["refused"],
    );
    assert.equal(await records.active("esc"), null);
    assert.equal((await records.filings("esc")).size, 0);
  });
});
