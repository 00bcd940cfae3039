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
  return { store, config: c, archive: store, poster, now: () => NOW };
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
