// How fast `/certs` is acknowledged under load: concurrent, correctly signed slash commands against
// `certs-bot serve` in Slack's HTTP mode, run as a whole process from a fresh production build (real
// Bolt, real Redis, the fake Slack Web API), side by side with a bare HTTP server answering the same
// requests (the floor on this machine). With --against <git ref>, that ref's build serves too and
// the rounds interleave all of them: a before/after at the same moment on the same machine.
// Slack gives up after 3 s; the figure that matters is p99.
//
// Usage: node --import tsx bench/ack.bench.ts [--concurrency 50] [--requests 1000] [--rounds 3] [--against <ref>]
// Prints a readable block, then one JSON object as the last line.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Agent } from "node:http";
import { Redis } from "ioredis";
import { startFakeSlack } from "../test/lab/fake-slack.js";
import { startRedis } from "../test/lab/redis.js";
import { newClusterPki, writeLabNode } from "../test/lab/tree.js";
import { buildCli, type BuiltCli } from "./cli-build.js";
import { refLabel } from "./measure.js";
import {
  commandBody,
  figuresOf,
  load,
  post,
  startBareServer,
  closeConnections,
  startServe,
  stopProcess,
  type Figures,
  type ServerProcess,
} from "./slack-load.js";

const { values } = parseArgs({
  options: {
    concurrency: { type: "string", default: "50" },
    requests: { type: "string", default: "1000" },
    rounds: { type: "string", default: "3" },
    against: { type: "string" },
  },
});
const concurrency = Number(values.concurrency);
const total = Number(values.requests);
const rounds = Number(values.rounds);
const CLUSTERS = ["lab-a", "lab-b"];
// The bare server also takes the replies certs-bot sends to a command's response_url.
let responseUrl = "http://127.0.0.1:9/unused";
const log = (line: string) => process.stderr.write(`[ack] ${line}\n`);

const COMMANDS = ["status lab-a", "list", "status lab-b --all", "help"];
const body = (i: number, text = COMMANDS[i % COMMANDS.length]!) =>
  commandBody(text, { channel: "C0LABAAAA", user: "U0ALICE01", responseUrl, trigger: `trigger-${i}` });

/** `certs-bot serve` of a build, its clusters' scans stored by an operator's `/certs scan`. */
async function serve(
  label: string,
  cli: string,
  configPath: string,
  redisUrl: string,
  fakeUrl: string,
  index: number,
): Promise<ServerProcess> {
  const prefix = `ack-bench-${index}`;
  const served = await startServe({
    label,
    cli,
    configPath,
    redisUrl,
    slackApiUrl: fakeUrl,
    prefix,
    probe: body(3),
  });
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  const agent = new Agent({ keepAlive: false });
  try {
    for (const cluster of CLUSTERS)
      await post(agent, served.port, "/slack/events", body(0, `scan ${cluster}`));
    const keys = CLUSTERS.map((cluster) => `${prefix}:report:${cluster}`);
    while ((await redis.exists(...keys)) < keys.length) await new Promise((r) => setTimeout(r, 100));
  } finally {
    redis.disconnect();
    agent.destroy();
  }
  log(`${label}: serve up on :${served.port}, ${CLUSTERS.length} clusters scanned and stored`);
  return served;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "certs-bot-ack-"));
  const redis = await startRedis();
  const fake = await startFakeSlack();
  const builds: BuiltCli[] = [];
  const served: ServerProcess[] = [];
  try {
    const pki = await newClusterPki();
    const nodes = await Promise.all(
      ["a-1", "a-2", "b-1"].map((name) =>
        writeLabNode({ root: join(root, name), nodeName: name, address: "127.0.0.1", pki }),
      ),
    );
    const node = (i: number) =>
      `      - { host: 127.0.0.1, name: ${["a-1", "a-2", "b-1"][i]}, transport: local, apiserver: { probe: false }, ` +
      `paths: { kubernetesDir: "${nodes[i]!.kubernetesDir}", kubeletPkiDir: "${nodes[i]!.kubeletPkiDir}" } }`;
    const configPath = join(root, "clusters.yaml");
    writeFileSync(
      configPath,
      [
        "slack: { digestChannel: C0DIGEST0 }",
        'scanCron: "0 0 1 1 *"', // no scheduled scan during the bench: the stored ones come from /certs scan
        "clusters:",
        "  - name: lab-a",
        "    channel: C0LABAAAA",
        "    operators: [U0ALICE01]",
        "    nodes:",
        node(0),
        node(1),
        "  - name: lab-b",
        "    channel: C0LABBBBB",
        "    viewers: [C0LABAAAA, C0LABBBBB]",
        "    operators: [U0ALICE01]",
        "    nodes:",
        node(2),
        "",
      ].join("\n"),
    );
    log("building the CLI (tsc into a temporary directory)");
    builds.push(buildCli());
    const labels = ["certs-bot"];
    if (values.against !== undefined) {
      log(`building the CLI of ${values.against}`);
      builds.push(buildCli(values.against));
      labels.push(refLabel(values.against));
    }
    const bare = await startBareServer();
    served.push(bare);
    responseUrl = `http://127.0.0.1:${bare.port}/response`;
    for (const [i, build] of builds.entries())
      served.push(await serve(labels[i]!, build.cli, configPath, redis.url, fake.url, i));

    const subjects = [
      ...served.slice(1).map((s) => ({ label: s.label, port: s.port, path: "/slack/events" })),
      { label: bare.label, port: bare.port, path: "/" },
    ];
    for (const subject of subjects) await load(subject, total / 4, concurrency, body); // warm-up: JIT, connections, caches
    // Interleaved rounds, the order rotating: no subject always runs first or last.
    const latencies = subjects.map(() => [] as number[]);
    const perRound = Math.ceil(total / rounds);
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < subjects.length; k++) {
        const index = (k + r) % subjects.length;
        const subject = subjects[index]!;
        latencies[index]!.push(...(await load(subject, perRound, concurrency, body)));
      }
      log(`round ${r + 1}/${rounds} done`);
    }
    const [bot, ...rest] = latencies.map(figuresOf);
    const floor = rest.at(-1)!;
    const before = rest.length > 1 ? rest[0]! : undefined;
    const figures = {
      concurrency,
      requests: perRound * rounds,
      rounds,
      commands: COMMANDS.map((c) => `/certs ${c}`),
      ...bot!,
      floorP50Ms: floor.p50Ms,
      floorP99Ms: floor.p99Ms,
      ...(before ? { against: { ref: labels[1]!, ...before } } : {}),
    };
    const line = (label: string, f: Figures) =>
      `  ${label.padEnd(22)} p50 ${f.p50Ms} ms   p99 ${f.p99Ms} ms   max ${f.maxMs} ms   over 3 s: ${f.over3s}`;
    process.stdout.write(
      [
        `/certs ack latency: ${figures.requests} signed requests per subject, ${concurrency} concurrent, ${rounds} interleaved rounds; ` +
          "certs-bot serve as a whole process (production build), HTTP mode (Bolt + Redis + fake Slack Web API)",
        line("certs-bot", bot!),
        ...(before ? [line(labels[1]!, before)] : []),
        `  ${"bare HTTP".padEnd(22)} p50 ${floor.p50Ms} ms   p99 ${floor.p99Ms} ms   (same client, a server that only answers 200)`,
        JSON.stringify({ ack: figures }),
        "",
      ].join("\n"),
    );
  } finally {
    closeConnections();
    await Promise.all(served.map((s) => stopProcess(s.child)));
    for (const build of builds) build.remove();
    await fake.close();
    await redis.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`ack bench failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
