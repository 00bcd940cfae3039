// `/certs list` at fleet scale, end to end: `certs-bot serve` as a real process in Slack's HTTP mode,
// 500 clusters in one channel with their scans stored in the shared Redis by the product's own Store
// (as workers store them), and signed `/certs` commands. A person reaches every one of the 500 by
// following the pages the answers name, and narrows them by status and by name; a scan stored
// afterwards by another process shows in the next answer. Slack's Web API is the fake
// (test/lab/fake-slack.ts); everything else is real.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { DEFAULT_REDIS_URL } from "../../src/adapters/store/redis.js";
import { Store } from "../../src/adapters/store/store.js";
import { startFakeSlack, type FakeSlack } from "../lab/fake-slack.js";
import { freePort } from "../lab/ports.js";
import { dropKeys } from "../lab/redis.js";
import { spawnService, type ServiceProcess } from "../lab/service-process.js";
import { SlackSurfaceClient, type SlackAnswer } from "../lab/slack-surface.js";
import { until } from "../lab/wait.js";
import { scanWith } from "../fixtures/stored-scan.js";

const SECRET = "list-fleet-signing-secret-0123456";
const CHANNEL = "C0FLEET00";
const USER = "U0ALICE01";
const PREFIXES = ["prod-eu", "prod-us", "staging", "dev", "edge"];
const NAMES = Array.from(
  { length: 500 },
  (_, i) => `${PREFIXES[i % 5]}-${String(Math.floor(i / 5) + 1).padStart(3, "0")}`,
);
/** Days left of each cluster's apiserver certificate: 5 expired, 10 critical, 25 warning, the rest ok. */
const daysLeft = (i: number): number =>
  i < 5 ? -2 - i : i < 15 ? 1 + (i % 6) : i < 40 ? 10 + (i % 20) : 100 + (i % 200);

const prefix = `list-fleet-${process.pid}`;
let root: string;
let fake: FakeSlack;
let serve: ServiceProcess;
let slack: SlackSurfaceClient;
let redis: Redis;
let store: Store;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-list-fleet-"));
  const lines = ['scanCron: "0 0 1 1 *"', "slack: { digestChannel: C0DIGEST0 }", "clusters:"];
  NAMES.forEach((name, i) =>
    lines.push(
      `  - { name: ${name}, channel: ${CHANNEL}, operators: [${USER}], ` +
        `nodes: [{ host: 10.1.${i >> 8}.${i & 255}, name: m1, transport: local, apiserver: { probe: false } }] }`,
    ),
  );
  const configPath = join(root, "clusters.yaml");
  writeFileSync(configPath, `${lines.join("\n")}\n`);
  redis = new Redis(DEFAULT_REDIS_URL);
  store = new Store(redis, prefix);
  const now = new Date();
  // Scanned an hour ago (the fixture's two, less one): fresh, so serve's catch-up scans none of them.
  await Promise.all(
    NAMES.map((name, i) => {
      const scan = scanWith(name, daysLeft(i), new Date(now.getTime() + 3_600_000));
      return store.saveScan(scan);
    }),
  );
  fake = await startFakeSlack();
  const port = await freePort("127.0.0.1");
  serve = spawnService("serve", configPath, {
    REDIS_URL: DEFAULT_REDIS_URL,
    CERTS_BOT_REDIS_PREFIX: prefix,
    SLACK_BOT_TOKEN: "xoxb-test",
    SLACK_API_URL: fake.url,
    SLACK_APP_TOKEN: "",
    SLACK_SIGNING_SECRET: SECRET,
    PORT: String(port),
    METRICS_PORT: "0",
    LOG_LEVEL: "info",
  });
  await until(
    "serve to run",
    async () => serve.lines().some((l) => l.msg === "certs-bot is running"),
    30_000,
  ).catch((err: Error) => assert.fail(`${err.message}:\n${serve.output()}`));
  slack = await SlackSurfaceClient.start({ port, secret: SECRET });
});

after(async () => {
  await serve?.stop();
  await slack?.close();
  await fake?.close();
  await dropKeys(DEFAULT_REDIS_URL, prefix);
  redis?.disconnect();
  rmSync(root, { recursive: true, force: true });
});

const textOf = (answer: SlackAnswer): string =>
  [answer.text, ...JSON.stringify(answer.blocks ?? []).matchAll(/"text":"((?:[^"\\]|\\.)*)"/g)]
    .map((m) => (typeof m === "string" ? m : JSON.parse(`"${m[1]}"`)))
    .join("\n");

/** The clusters an answer lists, in order. */
const listed = (answer: SlackAnswer): string[] =>
  [...textOf(answer).matchAll(/^:[a-z_]+: \*([a-z0-9-]+)\* — /gm)].map((m) => m[1]!);

async function list(text: string) {
  const { id, ack } = await slack.certs(text, USER, CHANNEL);
  return { id, ack, text: textOf(ack), names: listed(ack) };
}

test("list: counts first, the worst 20, and every one of 500 clusters reached by following the pages", async () => {
  const first = await list("list");
  assert.equal(first.ack.response_type, "in_channel");
  assert.match(first.ack.text, /^500 clusters in this channel: 5 expired, 10 critical, 25 warning, 460 ok$/);
  assert.equal(first.names.length, 20);
  assert.deepEqual(first.names.slice(0, 15).sort(), NAMES.slice(0, 15).sort(), "expired and critical first");
  const seen = [...first.names];
  let answer = first;
  for (let page = 2; page <= 25; page++) {
    const command = /`\/certs (list --page \d+)` shows the following/.exec(answer.text)?.[1];
    assert.equal(command, `list --page ${page}`, `page ${page - 1} names the following one`);
    answer = await list(command!);
    assert.equal(answer.ack.response_type, "in_channel");
    seen.push(...answer.names);
  }
  assert.match(answer.text, /page 25 of 25\)\. `\/certs list` shows the first page again/);
  assert.equal(seen.length, 500);
  assert.deepEqual([...seen].sort(), [...NAMES].sort());
  // One message an answer: nothing follows through the response_url.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(slack.answered(first.id), []);
});

test("list: --status and a name narrow it; a bad filter or a page past the end is told to the asker only", async () => {
  const critical = await list("list --status critical");
  assert.deepEqual([...critical.names].sort(), NAMES.slice(5, 15).sort());
  const expired = await list("list --status expired,critical prod-eu");
  assert.ok(expired.names.length > 0 && expired.names.every((n) => n.startsWith("prod-eu-")));
  assert.deepEqual(
    [...expired.names].sort(),
    NAMES.slice(0, 15)
      .filter((n) => n.startsWith("prod-eu-"))
      .sort(),
  );
  const staging = await list("list staging-0*");
  assert.match(staging.ack.text, /^99 of 500 clusters in this channel: /);
  assert.ok(staging.names.every((n) => n.startsWith("staging-0")));
  assert.match(staging.text, /`\/certs list staging-0\* --page 2` shows the following 20/);

  for (const [text, said] of [
    ["list --status bogus", /`bogus` is not a status/],
    ["list --page 26", /There is no page 26: 500 clusters make 25 pages of 20/],
    ["list qa-", /No cluster in this channel matches: names starting with `qa-`/],
  ] as const) {
    const answer = await list(text);
    assert.equal(answer.ack.response_type, "ephemeral", text);
    assert.match(answer.text, said, text);
  }
});

test("list: a scan another process stores shows as soon as its save is announced", async () => {
  const name = NAMES[499]!;
  const before = await list(`list --status expired ${name}`);
  assert.equal(before.ack.response_type, "ephemeral");
  await new Store(redis, prefix).saveScan(scanWith(name, -1, new Date(Date.now() + 7_200_000)));
  // The announcement (pub/sub) and the command race to the service; the scan shows once it lands.
  const after = await until(
    "the stored scan in the list",
    async () => {
      const answer = await list(`list --status expired ${name}`);
      return answer.ack.response_type === "in_channel" && answer;
    },
    5000,
  );
  assert.deepEqual(after.names, [name]);
  const all = await list("list");
  assert.match(all.ack.text, /: 6 expired, 10 critical, 25 warning, 459 ok$/);
});
