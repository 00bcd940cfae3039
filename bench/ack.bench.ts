// How fast `/certs` is acknowledged under load: 50 concurrent, correctly signed slash commands
// against `certs-bot serve` in Slack's HTTP mode (real Bolt, real Redis, the fake Slack Web API),
// side by side with a bare HTTP server answering the same requests (the floor on this machine).
// Slack gives up after 3 s; the figure that matters is p99.
//
// Usage: node --import tsx bench/ack.bench.ts [--concurrency 50] [--requests 1000]
// Prints a readable block, then one JSON object as the last line.
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { loadConfig } from "../src/config/load.js";
import { Service } from "../src/service.js";
import { startFakeSlack } from "../test/lab/fake-slack.js";
import { freePort } from "../test/lab/ports.js";
import { startRedis } from "../test/lab/redis.js";
import { newClusterPki, writeLabNode } from "../test/lab/tree.js";

const { values } = parseArgs({
  options: {
    concurrency: { type: "string", default: "50" },
    requests: { type: "string", default: "1000" },
  },
});
const concurrency = Number(values.concurrency);
const total = Number(values.requests);
const SECRET = "bench-signing-secret";
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
const commandBody = (i: number) =>
  new URLSearchParams({
    token: "unused",
    team_id: "T0TEAM",
    channel_id: "C0LABAAAA",
    user_id: "U0ALICE01",
    command: "/certs",
    text: COMMANDS[i % COMMANDS.length]!,
    response_url: "http://127.0.0.1:9/unused",
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

async function load(port: number, path: string): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        latencies.push(await post(agent, port, path, commandBody(i)));
      }
    }),
  );
  agent.destroy();
  return latencies.sort((a, b) => a - b);
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "certs-bot-ack-"));
  const redis = await startRedis();
  const fake = await startFakeSlack();
  const baseline: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end(""));
  });
  let service: Service | undefined;
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
        "    nodes:",
        node(2),
        "",
      ].join("\n"),
    );
    const config = loadConfig(configPath);
    const port = await freePort("127.0.0.1");
    service = new Service({
      role: "serve",
      config,
      redisUrl: redis.url,
      prefix: "ack-bench",
      slack: { token: "xoxb-test", apiUrl: fake.url },
      slackSurface: { mode: "http", signingSecret: SECRET, port, host: "127.0.0.1" },
      logger: pino({ level: "silent" }),
    });
    await service.start();
    for (const cluster of ["lab-a", "lab-b"]) await service.queue.requestScan(cluster, "manual");
    while ((await service.queue.scan.getCompletedCount()) < 2) await new Promise((r) => setTimeout(r, 50));
    log(`serve up on :${port}, 2 clusters scanned and stored`);

    const basePort = await freePort("127.0.0.1");
    await new Promise<void>((r) => baseline.listen(basePort, "127.0.0.1", r));
    await load(port, "/slack/events"); // warm-up: JIT, connections, caches
    const [bot, floor] = [await load(port, "/slack/events"), await load(basePort, "/")];
    const figures = {
      concurrency,
      requests: total,
      commands: COMMANDS.map((c) => `/certs ${c}`),
      p50Ms: +percentile(bot, 50).toFixed(1),
      p99Ms: +percentile(bot, 99).toFixed(1),
      maxMs: +bot[bot.length - 1]!.toFixed(1),
      over3s: bot.filter((ms) => ms >= 3000).length,
      floorP50Ms: +percentile(floor, 50).toFixed(1),
      floorP99Ms: +percentile(floor, 99).toFixed(1),
    };
    process.stdout.write(
      [
        `/certs ack latency: ${total} signed requests, ${concurrency} concurrent, HTTP mode (Bolt + Redis + fake Slack Web API)`,
        `  certs-bot     p50 ${figures.p50Ms} ms   p99 ${figures.p99Ms} ms   max ${figures.maxMs} ms   over 3 s: ${figures.over3s}`,
        `  bare HTTP     p50 ${figures.floorP50Ms} ms   p99 ${figures.floorP99Ms} ms   (same client, a server that only answers 200)`,
        JSON.stringify({ ack: figures }),
        "",
      ].join("\n"),
    );
  } finally {
    await service?.stop();
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
