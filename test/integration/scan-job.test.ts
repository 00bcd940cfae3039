// The scan-cluster job (runScanJob) on the real Store in Redis and the real SlackPoster talking to
// the fake Slack Web API; the scanner hands back judged reports as a scan of the nodes would.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig, type ClusterConfig, type Config } from "../../src/config/load.js";
import type { ClusterReport } from "../../src/core/report/types.js";
import type { AlertState } from "../../src/core/alerts/state.js";
import {
  freshScan,
  runScanJob,
  type ScanJobDependencies,
  type ScannedProgress,
} from "../../src/app/scan-job.js";
import type { Store } from "../../src/adapters/store/store.js";
import { activeQuiets, snooze } from "../../src/core/alerts/quiet.js";
import { startJobEdges, type JobEdges } from "../lab/job-edges.js";
import { NOW, node } from "../fixtures/prod-cluster.js";

let edges: JobEdges;

const CLUSTERS = `
clusters:
  - name: own-channel
    channel: C0OWNCHAN
    nodes: [{ host: 10.0.0.1, name: m1 }]
  - name: no-channel
    nodes: [{ host: 10.0.0.2, name: m1 }]
`;
const withDigest = parseConfig(`slack: { digestChannel: C0DIGEST }\n${CLUSTERS}`, "clusters.yaml");
const withoutSlack = parseConfig(CLUSTERS, "clusters.yaml");

/** A cluster whose node's apiserver certificate has `days` left. */
function report(cluster: ClusterConfig, days: number): ClusterReport {
  const status = days <= 7 ? "critical" : "ok";
  return { name: cluster.name, status, nodes: [{ ...node("m1", { days: { apiserver: days } }), status }] };
}

/** Fresh Store keys and a poster on the fake; the scanner reports `days` for every cluster. */
function deps(config: Config, days: { value: number }): ScanJobDependencies & { store: Store } {
  const { store, poster } = edges.slack();
  return {
    store,
    config,
    scan: async (cluster) => ({ scannedAt: NOW, clusters: [report(cluster, days.value)] }),
    archive: store,
    alerts: store,
    poster,
  };
}

function job(cluster: string) {
  const progress: ScannedProgress[] = [];
  return {
    progress,
    data: { cluster, reason: "manual" as const },
    updateProgress: async (p: ScannedProgress) => void progress.push(p),
  };
}

before(async () => {
  edges = await startJobEdges("scan-job");
});

after(() => edges.close());

describe("runScanJob", () => {
  test("stores the scan, says it is stored, and warns once in the cluster's own channel", async () => {
    edges.fake.reset();
    const d = deps(withDigest, { value: 3 });
    const scan = job("own-channel");
    assert.deepEqual(await runScanJob(scan, d), { cluster: "own-channel", status: "critical" });
    assert.deepEqual(scan.progress, [{ stage: "scanned", cluster: "own-channel", status: "critical" }]);
    const stored = await d.store.latest("own-channel");
    assert.equal(stored?.report.status, "critical");
    assert.deepEqual(stored?.scannedAt, NOW);
    const warnings = edges.fake.messages("C0OWNCHAN");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.text, /own-channel/);
    assert.deepEqual(edges.fake.messages("C0DIGEST"), []);

    // The alert state was saved: the same scan again tells nobody anything new.
    await runScanJob(job("own-channel"), d);
    assert.equal(edges.fake.messages("C0OWNCHAN").length, 1);
    assert.ok(await d.store.loadJson("alerts", "own-channel"));
  });

  test("a cluster without a channel is warned about in the digest channel", async () => {
    edges.fake.reset();
    await runScanJob(job("no-channel"), deps(withDigest, { value: 3 }));
    assert.equal(edges.fake.messages("C0DIGEST").length, 1);
    assert.match(edges.fake.messages("C0DIGEST")[0]!.text, /no-channel/);
  });

  test("with no channel at all the scan is stored and nothing is posted", async () => {
    edges.fake.reset();
    const d = deps(withoutSlack, { value: 3 });
    assert.deepEqual(await runScanJob(job("no-channel"), d), { cluster: "no-channel", status: "critical" });
    assert.equal((await d.store.latest("no-channel"))?.report.status, "critical");
    assert.deepEqual(edges.fake.messages(), []);
    assert.equal(await d.store.loadJson("alerts", "no-channel"), null);
  });

  test("a renewed certificate is resolved in the warning's thread", async () => {
    edges.fake.reset();
    const days = { value: 3 };
    const d = deps(withDigest, days);
    await runScanJob(job("own-channel"), d);
    days.value = 365;
    await runScanJob(job("own-channel"), d);
    const [warning, ...rest] = edges.fake.messages("C0OWNCHAN");
    assert.equal(rest.length, 1);
    assert.equal(rest[0]!.thread_ts, warning!.ts);
  });

  test("a cluster no longer in the configuration fails the job, scanning nothing", async () => {
    const d = deps(withDigest, { value: 3 });
    await assert.rejects(runScanJob(job("gone"), d), /cluster gone is not in the configuration/);
    assert.equal(await d.store.latest("gone"), null);
  });
});

describe("a snooze written while the scan job posts", () => {
  const DAY = 86_400_000;
  const SNOOZED = "m1/apiserver";

  test("survives the job's saves, and its certificate gets no reminder the next day", async () => {
    edges.fake.reset();
    const { store, poster } = edges.slack();
    const clock = { now: NOW, certs: { apiserver: 3 } as Record<string, number> };
    let snoozeOnPost = false;
    const d: ScanJobDependencies = {
      config: withDigest,
      archive: store,
      alerts: store,
      scan: async (cluster) => ({
        scannedAt: clock.now,
        clusters: [{ name: cluster.name, status: "critical", nodes: [node("m1", { days: clock.certs })] }],
      }),
      poster: {
        // An operator snoozes the apiserver warning while the job is posting (after its load).
        postOnce: async (...args) => {
          if (snoozeOnPost) {
            snoozeOnPost = false;
            await store.updateAlerts("own-channel", (state) => {
              const done = snooze(
                state,
                { keys: [SNOOZED] },
                {
                  by: "U0OPER",
                  until: new Date(clock.now.getTime() + 7 * DAY),
                  now: clock.now,
                  maxDays: 14,
                  reason: "planned",
                },
              );
              assert.ok(done.ok);
              return { next: done.state, value: null };
            });
          }
          return poster.postOnce(...args);
        },
      },
    };
    await runScanJob(job("own-channel"), d);
    assert.equal(edges.fake.messages("C0OWNCHAN").length, 1);

    // The next scan warns about a second certificate; the snooze lands while that is posted.
    clock.certs = { apiserver: 3, "front-proxy-client": 5 };
    snoozeOnPost = true;
    await runScanJob(job("own-channel"), d);
    assert.equal(snoozeOnPost, false, "the job posted");
    const state = await store.loadJson<AlertState>("alerts", "own-channel");
    assert.deepEqual(
      activeQuiets(state!, clock.now).map((q) => [q.key, q.by, q.reason]),
      [[SNOOZED, "U0OPER", "planned"]],
    );
    assert.deepEqual(Object.keys(state!.alerts).sort(), [SNOOZED, "m1/front-proxy-client"]);

    // A day later only the certificate that is not snoozed is reminded of.
    const before = edges.fake.messages("C0OWNCHAN").length;
    clock.now = new Date(NOW.getTime() + DAY);
    await runScanJob(job("own-channel"), d);
    const reminders = edges.fake.messages("C0OWNCHAN").slice(before);
    assert.equal(reminders.length, 1, reminders.map((m) => m.text).join("\n"));
    assert.match(reminders[0]!.text, /front-proxy-client/);
    assert.doesNotMatch(reminders[0]!.text, /apiserver/);
  });
});

test("concurrent alert-state updates of one cluster each count once", async () => {
  const { store } = edges.slack();
  const names = Array.from({ length: 20 }, (_, i) => `n${i}`);
  await Promise.all(
    names.map((name) =>
      store.updateAlerts("own-channel", (state) => ({
        next: { ...state, unreachableStreak: { ...state.unreachableStreak, [name]: 1 } },
        value: null,
      })),
    ),
  );
  const state = await store.loadJson<AlertState>("alerts", "own-channel");
  assert.deepEqual(Object.keys(state!.unreachableStreak).sort(), [...names].sort());
});

test("freshScan stores the cluster's report with the scan's time and how long it took", async () => {
  const d = deps(withDigest, { value: 300 });
  const cluster = withDigest.clusters[0]!;
  const scan = await freshScan(cluster, {
    archive: d.archive,
    scan: async (c) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return d.scan(c);
    },
  });
  assert.equal(scan.cluster, "own-channel");
  assert.ok(scan.durationMs >= 20, String(scan.durationMs));
  assert.deepEqual(await d.store.latest("own-channel"), scan);
});
