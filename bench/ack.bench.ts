// How fast `/certs` is acknowledged under load: concurrent, correctly signed slash commands against
// `certs-bot serve` in Slack's HTTP mode, run as a whole process from a fresh production build (real
// Bolt, real Redis, the fake Slack Web API), side by side with a bare HTTP server answering the same
// requests (the floor on this machine). With --against <git ref>, that ref's build serves too and
// the rounds interleave all of them: a before/after at the same moment on the same machine.
// Slack gives up after 3 s; the figure that matters is p99.
//
// Usage: node --import tsx bench/ack.bench.ts [--concurrency 50] [--requests 1000] [--rounds 3] [--against <ref>]
// Prints a readable block, then one JSON object as the last line.
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { startFakeSlack } from "../test/lab/fake-slack.js";
import { freePort } from "../test/lab/ports.js";
import { startRedis } from "../test/lab/redis.js";
import { newClusterPki, writeLabNode } from "../test/lab/tree.js";
import { buildCli, type BuiltCli } from "./cli-build.js";
import { refLabel } from "./measure.js";

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
const SECRET = "bench-signing-secret";
const CLUSTERS = ["lab-a", "lab-b"];
// The bare server also takes the replies certs-bot sends to a command's response_url.
let responseUrl = "http://127.0.0.1:9/unused";
const log = (line: string) => process.stderr.write(`[ack] ${line}\n`);

function signed(body: string): Record<string, string> {
  const ts = String(Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac("sha256", SECRET).update(`v0:${ts}:${body}`).digest("hex")}`;
  return {
    "content-type": "application/x-www-form-urlencoded",
    "content-length": String(Buffer.byteLength(body)),
    "x-slack-request-timestamp": ts,
    "x-slack-signature": signature,
  };
}

const COMMANDS = ["status lab-a", "list", "status lab-b --all", "help"];
const commandBody = (i: number, text = COMMANDS[i % COMMANDS.length]!) =>
  new URLSearchParams({
    token: "unused",
    team_id: "T0TEAM",
    channel_id: "C0LABAAAA",
    user_id: "U0ALICE01",
    command: "/certs",
    text,
    response_url: responseUrl,
    trigger_id: `trigger-${i}`,
  }).toString();

function post(agent: Agent, port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      { host: "127.0.0.1", port, path, method: "POST", agent, headers: signed(body) },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(performance.now() - started)
            : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function load(port: number, path: string, count: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        latencies.push(await post(agent, port, path, commandBody(i)));
      }
    }),
  );
  agent.destroy();
  return latencies;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** One `certs-bot serve` process of a build, on its own port and Redis prefix. */
interface Served {
  label: string;
  port: number;
  child: ChildProcess;
}

async function serve(
  label: string,
  cli: string,
  configPath: string,
  redisUrl: string,
  fakeUrl: string,
  index: number,
): Promise<Served> {
  const port = await freePort("127.0.0.1");
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    SLACK_BOT_TOKEN: "xoxb-test",
    SLACK_API_URL: fakeUrl,
    SLACK_SIGNING_SECRET: SECRET,
    PORT: String(port),
    REDIS_URL: redisUrl,
    CERTS_BOT_REDIS_PREFIX: `ack-bench-${index}`,
    LOG_LEVEL: "warn",
  };
  const child = spawn(process.execPath, [cli, "serve", "--config", configPath], {
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  // Listening: a signed `/certs help` answers 200.
  const agent = new Agent({ keepAlive: false });
  for (let tries = 0; ; tries++) {
    try {
      await post(agent, port, "/slack/events", commandBody(3));
      break;
    } catch (err) {
      if (child.exitCode !== null || tries > 600)
        throw new Error(`${label}: serve did not answer`, { cause: err });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // Stored scans, so `/certs status` renders real reports: an operator's `/certs scan`, then wait.
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  try {
    for (const cluster of CLUSTERS)
      await post(agent, port, "/slack/events", commandBody(0, `scan ${cluster}`));
    const keys = CLUSTERS.map((cluster) => `ack-bench-${index}:report:${cluster}`);
    while ((await redis.exists(...keys)) < keys.length) await new Promise((r) => setTimeout(r, 100));
  } finally {
    redis.disconnect();
    agent.destroy();
  }
  log(`${label}: serve up on :${port}, ${CLUSTERS.length} clusters scanned and stored`);
  return { label, port, child };
}

interface Figures {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  over3s: number;
}

function figuresOf(latencies: number[]): Figures {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    p50Ms: +percentile(sorted, 50).toFixed(1),
    p99Ms: +percentile(sorted, 99).toFixed(1),
    maxMs: +sorted[sorted.length - 1]!.toFixed(1),
    over3s: sorted.filter((ms) => ms >= 3000).length,
  };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "certs-bot-ack-"));
  const redis = await startRedis();
  const fake = await startFakeSlack();
  const baseline: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end(""));
  });
  const builds: BuiltCli[] = [];
  const served: Served[] = [];
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
    const basePort = await freePort("127.0.0.1");
    await new Promise<void>((r) => baseline.listen(basePort, "127.0.0.1", r));
    responseUrl = `http://127.0.0.1:${basePort}/response`;
    for (const [i, build] of builds.entries())
      served.push(await serve(labels[i]!, build.cli, configPath, redis.url, fake.url, i));

    const subjects = [
      ...served.map((s) => ({ label: s.label, port: s.port, path: "/slack/events" })),
      { label: "bare HTTP", port: basePort, path: "/" },
    ];
    for (const subject of subjects) await load(subject.port, subject.path, total / 4); // warm-up: JIT, connections, caches
    // Interleaved rounds, the order rotating: no subject always runs first or last.
    const latencies = subjects.map(() => [] as number[]);
    const perRound = Math.ceil(total / rounds);
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < subjects.length; k++) {
        const index = (k + r) % subjects.length;
        const subject = subjects[index]!;
        latencies[index]!.push(...(await load(subject.port, subject.path, perRound)));
      }
      log(`round ${r + 1}/${rounds} done`);
    }
    const [bot, ...rest] = latencies.map(figuresOf);
    const floor = rest.at(-1)!;
    const before = served.length > 1 ? rest[0]! : undefined;
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
    for (const s of served) s.child.kill("SIGKILL");
    for (const build of builds) build.remove();
    await new Promise((r) => baseline.close(r));
    await fake.close();
    await redis.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`ack bench failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
