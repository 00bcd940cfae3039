// The digest job (runDigestJob) on the real Store in Redis and the real SlackPoster talking to the
// fake Slack Web API, and digestMessages, the one digest of both the job and `digest --print`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.js";
import { digestMessages, runDigestJob, type DigestJobDependencies } from "../../src/app/digest-job.js";
import { renderDigest } from "../../src/present/digest.js";
import type { Store } from "../../src/adapters/store/store.js";
import { startJobEdges, type JobEdges } from "../lab/job-edges.js";
import { NOW, node } from "../fixtures/prod-cluster.js";
import { blockTexts, type Block } from "../../src/present/slack-types.js";
import { snooze } from "../../src/core/alerts/quiet.js";

let edges: JobEdges;

const CLUSTERS = `
clusters:
  - name: scanned
    nodes: [{ host: 10.0.0.1, name: m1 }]
  - name: never-scanned
    nodes: [{ host: 10.0.0.2, name: m1 }]
`;
const config = parseConfig(
  `timezone: Europe/Berlin\nslack: { digestChannel: C0DIGEST }\n${CLUSTERS}`,
  "c.yaml",
);
const scanned = { name: "scanned", status: "ok" as const, nodes: [node("m1")] };

async function deps(c = config): Promise<DigestJobDependencies & { store: Store }> {
  const { store, poster } = edges.slack();
  await store.saveScan({ cluster: "scanned", scannedAt: NOW, durationMs: 5, report: scanned });
  return { store, config: c, archive: store, alerts: store, poster, now: () => NOW };
}

/** deps() with `scanned` scanned at NOW as critical: m1's apiserver has 3 days left. */
async function withCriticalScan(): Promise<DigestJobDependencies & { store: Store }> {
  const d = await deps();
  const report = {
    name: "scanned",
    status: "critical" as const,
    nodes: [node("m1", { days: { apiserver: 3 } })],
  };
  await d.store.saveScan({ cluster: "scanned", scannedAt: NOW, durationMs: 5, report });
  return d;
}

before(async () => {
  edges = await startJobEdges("digest-job");
});

after(() => edges.close());

describe("runDigestJob", () => {
  test("posts the digest of the stored scans in the digest channel, once per job", async () => {
    edges.fake.reset();
    const d = await deps();
    assert.deepEqual(await runDigestJob({ id: "1" }, d), { messages: 1 });
    const [posted, ...more] = edges.fake.messages("C0DIGEST");
    assert.deepEqual(more, []);
    const expected = digestMessages(config, "C0DIGEST", await d.store.latestAll(["scanned"]), NOW)[0]!;
    assert.equal(posted!.text, expected.text);
    assert.match(JSON.stringify(posted!.blocks), /never-scanned/);

    // A retried job posts nothing again; the next day's job posts its own.
    await runDigestJob({ id: "1" }, d);
    assert.equal(edges.fake.messages("C0DIGEST").length, 1);
    await runDigestJob({ id: "2" }, d);
    assert.equal(edges.fake.messages("C0DIGEST").length, 2);
  });

  test("a snoozed certificate is listed in the quiet section, and its cluster still counted", async () => {
    edges.fake.reset();
    const d = await withCriticalScan();
    // The warning a scan posted, then an operator's snooze of it, both as stored in Redis.
    await d.store.updateAlerts("scanned", (state) => {
      const record = {
        level: "critical" as const,
        sha256: "apiserver-3",
        postedAt: NOW.toISOString(),
        channel: "C0DIGEST",
        threadTs: "1.1",
      };
      const until = new Date(NOW.getTime() + 3 * 86_400_000);
      const done = snooze(
        { ...state, alerts: { "m1/apiserver": record } },
        { keys: ["m1/apiserver"] },
        { by: "U0OPER01", until, now: NOW, maxDays: 14, reason: "planned" },
      );
      assert.ok(done.ok);
      return { next: done.state, value: null };
    });
    await runDigestJob({ id: "quiet" }, d);
    const [posted] = edges.fake.messages("C0DIGEST");
    const text = blockTexts((posted!.blocks ?? []) as unknown as Block[]).join("\n");
    assert.match(posted!.text, /1 critical, 1 not scanned yet, 0 ok · 1 snoozed or acknowledged$/);
    assert.match(
      text,
      /:zzz: \*Snoozed and acknowledged \(1\):\*\n:large_orange_circle: \*scanned\* — `m1\/apiserver` 3d left · snoozed by <@U0OPER01> until Tue 1 Dec 10:00 CET: planned/,
    );
    assert.doesNotMatch(
      text,
      /:large_orange_circle: \*scanned\* — `m1\/apiserver` 3d left · scanned/,
      "not in the attention list",
    );
    assert.match(text, /:large_orange_circle: \*critical\*\n1/, "counted in the header");
  });

  test("a certificate that expired since its scan is in the digest as expired", async () => {
    edges.fake.reset();
    const d = await withCriticalScan();
    const fourDaysOn = new Date(NOW.getTime() + 4 * 86_400_000);
    await runDigestJob({ id: "later" }, { ...d, now: () => fourDaysOn });
    const [posted] = edges.fake.messages("C0DIGEST");
    assert.match(posted!.text, /1 expired, 1 not scanned yet, 0 ok/);
    assert.equal(
      (await d.store.latest("scanned"))!.report.status,
      "critical",
      "the stored scan is as it was",
    );
  });

  test("without slack.digestChannel it is skipped and posts nothing", async () => {
    edges.fake.reset();
    const d = await deps(parseConfig(CLUSTERS, "c.yaml"));
    assert.deepEqual(await runDigestJob({ id: "1" }, d), { skipped: "no slack.digestChannel configured" });
    assert.deepEqual(edges.fake.calls, []);
  });
});

test("digestMessages: every configured cluster in config order, not scanned when it has no scan", () => {
  const latest = new Map([["scanned", { report: scanned, scannedAt: NOW }]]);
  assert.deepEqual(
    digestMessages(config, "C0DIGEST", latest, NOW),
    renderDigest({
      channel: "C0DIGEST",
      clusters: [
        { name: "scanned", report: scanned, scannedAt: NOW },
        { name: "never-scanned", report: null, scannedAt: null },
      ],
      now: NOW,
      timeZone: "Europe/Berlin",
    }),
  );
});
