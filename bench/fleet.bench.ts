// Slash commands at fleet scale: N clusters (500 by default) with stored scans, all shown in one
// channel, against `certs-bot serve` run as a whole process from a fresh production build in Slack's
// HTTP mode (real Bolt, real Redis, the fake Slack Web API), side by side with a bare HTTP server in
// a process of its own (the floor). Two parts, each in interleaved rounds whose order rotates:
//   - one at a time: `help`, `status CLUSTER` and `list`, each its own batch; the median latency and
//     the server process's CPU per request, against the same figures of the bare server;
//   - in flight: a mix of commands (help, status, status --all, list with filters and pages), N at
//     a time; p50, p99 and max against the bare server's, how many acks took over 1 s, peak RSS.
// The scans are stored before serve starts, through the product's Store, from one real scan of a lab
// node copied to every node with chosen statuses: a few expired, critical, warning and unreachable.
//
// Usage: node --import tsx bench/fleet.bench.ts [--clusters 500] [--concurrency 50] [--requests 400]
//        [--serial 1000] [--rounds 3] [--warmup 3000] [--against <ref>] [--placement apart|free]
// Prints a readable block, then one JSON object ({"fleet": …}) as the last line.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { loadConfig } from "../src/config/load.js";
import { defaultDependencies, scanClusters } from "../src/adapters/nodes/scan.js";
import { Store } from "../src/adapters/store/store.js";
import {
  worstOf,
  type CertificateStatus,
  type NodeReport,
  type StoredScan,
} from "../src/core/report/types.js";
import { startFakeSlack } from "../test/lab/fake-slack.js";
import { startRedis } from "../test/lab/redis.js";
import { newClusterPki, writeLabNode } from "../test/lab/tree.js";
import { buildCli, type BuiltCli } from "./cli-build.js";
import { median, refLabel, seededRandom } from "./measure.js";
import {
  commandBody,
  figuresOf,
  load,
  placeOn,
  processCpuMs,
  processRssMiB,
  quiescent,
  startBareServer,
  closeConnections,
  startServe,
  stopProcess,
  type Figures,
  type ServerProcess,
} from "./slack-load.js";

const { values } = parseArgs({
  options: {
    clusters: { type: "string", default: "500" },
    concurrency: { type: "string", default: "50" },
    requests: { type: "string", default: "400" },
    serial: { type: "string", default: "1000" },
    rounds: { type: "string", default: "3" },
    warmup: { type: "string", default: "3000" },
    against: { type: "string" },
    placement: { type: "string", default: "apart" },
  },
});
const clusterCount = Number(values.clusters);
const concurrency = Number(values.concurrency);
const inFlightPerRound = Number(values.requests);
const serialPerRound = Number(values.serial);
const rounds = Number(values.rounds);
const warmup = Number(values.warmup);
if (values.placement !== "apart" && values.placement !== "free") {
  throw new Error(`--placement is apart or free, not ${values.placement}`);
}
const CHANNEL = "C0FLEET00";
const USER = "U0ALICE01";
const DAY_MS = 86_400_000;
const log = (line: string) => process.stderr.write(`[fleet] ${line}\n`);

const PREFIXES = ["prod-eu", "prod-us", "staging", "dev", "edge"];
const clusterNames = Array.from(
  { length: clusterCount },
  (_, i) =>
    `${PREFIXES[i % PREFIXES.length]}-${String(Math.floor(i / PREFIXES.length) + 1).padStart(3, "0")}`,
);

/** The config: every cluster in one channel, three nodes each, never scanned by a schedule. */
function fleetConfig(): string {
  const lines = ["slack: { digestChannel: C0DIGEST0 }", 'scanCron: "0 0 1 1 *"', "clusters:"];
  clusterNames.forEach((name, i) => {
    lines.push(`  - name: ${name}`, `    channel: ${CHANNEL}`, `    operators: [${USER}]`, "    nodes:");
    for (let n = 1; n <= 3; n++) {
      lines.push(
        `      - { host: 10.${i >> 8}.${i & 255}.${n}, name: ${name}-cp-${n}, transport: local, apiserver: { probe: false } }`,
      );
    }
  });
  return `${lines.join("\n")}\n`;
}

/** One real scan of a lab node: the shape and size of every stored node report. */
async function templateNode(root: string): Promise<NodeReport> {
  const lab = await writeLabNode({
    root: join(root, "template"),
    nodeName: "template",
    address: "127.0.0.1",
    pki: await newClusterPki(),
  });
  const configPath = join(root, "template.yaml");
  writeFileSync(
    configPath,
    [
      "slack: { digestChannel: C0DIGEST0 }",
      "clusters:",
      "  - name: template",
      `    channel: ${CHANNEL}`,
      "    nodes:",
      `      - { host: 127.0.0.1, name: template, transport: local, apiserver: { probe: false }, ` +
        `paths: { kubernetesDir: "${lab.kubernetesDir}", kubeletPkiDir: "${lab.kubeletPkiDir}" } }`,
      "",
    ].join("\n"),
  );
  const config = loadConfig(configPath);
  const report = await scanClusters(config, config.clusters, defaultDependencies());
  return report.clusters[0]!.nodes[0]!;
}

type Condition = CertificateStatus | "unreachable";

/** Roughly 1% expired, 2% critical, 6% warning, 4% with an unreachable node, the rest ok. */
function conditionOf(random: () => number): { condition: Condition; daysLeft: number } {
  const r = random();
  if (r < 0.01) return { condition: "expired", daysLeft: -Math.ceil(random() * 30) };
  if (r < 0.03) return { condition: "critical", daysLeft: Math.floor(random() * 7) };
  if (r < 0.09) return { condition: "warning", daysLeft: 8 + Math.floor(random() * 22) };
  if (r < 0.13) return { condition: "unreachable", daysLeft: 200 };
  return { condition: "ok", daysLeft: 200 };
}

function storedScan(name: string, index: number, template: NodeReport, random: () => number): StoredScan {
  const now = Date.now();
  const { condition, daysLeft } = conditionOf(random);
  const nodes = [1, 2, 3].map((n): NodeReport => {
    const node = structuredClone(template);
    return { ...node, name: `${name}-cp-${n}`, host: `10.${index >> 8}.${index & 255}.${n}` };
  });
  const first = nodes[0]!;
  if (condition !== "unreachable" && condition !== "ok") {
    const cert = first.certificates.find((c) => c.name === "apiserver-kubelet-client")!;
    Object.assign(cert, { status: condition, daysLeft, notAfter: new Date(now + daysLeft * DAY_MS) });
    first.status = worstOf(first.certificates.map((c) => c.status));
  }
  if (condition === "unreachable") {
    const last = nodes[2]!;
    nodes[2] = {
      name: last.name,
      host: last.host,
      port: 22,
      status: "unreachable",
      reachable: false,
      error: `connect ECONNREFUSED ${last.host}:22`,
      certificates: [],
      findings: [],
    };
  }
  return {
    cluster: name,
    scannedAt: new Date(now - Math.floor(random() * 5 * 3_600_000)),
    durationMs: 900 + Math.floor(random() * 600),
    report: { name, status: worstOf(nodes.map((n) => n.status)), nodes },
  };
}

async function storeFleet(redisUrl: string, prefix: string, template: NodeReport): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    const store = new Store(redis, prefix);
    const random = seededRandom(13);
    await Promise.all(clusterNames.map((name, i) => store.saveScan(storedScan(name, i, template, random))));
  } finally {
    redis.disconnect();
  }
}

const SERIAL = {
  help: "help",
  status: `status ${clusterNames[7 % clusterCount]}`,
  list: "list",
} as const;
type SerialCommand = keyof typeof SERIAL;

/** The in-flight mix: what a large team types, drawn with a fixed seed. */
function mixedText(random: () => number): string {
  const cluster = clusterNames[Math.floor(random() * clusterCount)]!;
  const pick = random();
  if (pick < 0.2) return "help";
  if (pick < 0.5) return `status ${cluster}`;
  if (pick < 0.6) return `status ${cluster} --all`;
  if (pick < 0.7) return "list";
  if (pick < 0.8) return "list --status critical";
  if (pick < 0.9) return `list ${PREFIXES[Math.floor(random() * PREFIXES.length)]}-`;
  return `list --page ${1 + Math.floor(random() * 20)}`;
}

const body = (text: string, i: number, responseUrl: string) =>
  commandBody(text, { channel: CHANNEL, user: USER, responseUrl, trigger: `trigger-${i}` });

interface Subject extends ServerProcess {
  path: string;
}

interface SerialFigures {
  medianMs: number;
  cpuMsPerRequest: number;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "certs-bot-fleet-"));
  const redis = await startRedis();
  const fake = await startFakeSlack();
  const builds: BuiltCli[] = [];
  const subjects: Subject[] = [];
  try {
    const template = await templateNode(root);
    const configPath = join(root, "clusters.yaml");
    writeFileSync(configPath, fleetConfig());
    log("building the CLI (tsc into a temporary directory)");
    builds.push(buildCli());
    const labels = ["certs-bot"];
    if (values.against !== undefined) {
      log(`building the CLI of ${values.against}`);
      builds.push(buildCli(values.against));
      labels.push(refLabel(values.against));
    }
    const bare = { ...(await startBareServer()), path: "/" };
    const responseUrl = `http://127.0.0.1:${bare.port}/response`;
    for (const [i, build] of builds.entries()) {
      const prefix = `fleet-bench-${i}`;
      await storeFleet(redis.url, prefix, template);
      const served = await startServe({
        label: labels[i]!,
        cli: build.cli,
        configPath,
        redisUrl: redis.url,
        slackApiUrl: fake.url,
        prefix,
        probe: body("help", 0, responseUrl),
      });
      subjects.push({ ...served, path: "/slack/events" });
      log(`${labels[i]}: serve up on :${served.port}, ${clusterCount} clusters stored`);
    }
    subjects.push(bare);
    const rssBefore = subjects.map((s) => processRssMiB(s.child.pid!));

    // Warm-up to the steady state of a server that has been up a while: connections, caches, and
    // V8's optimizing tiers, which take a function only after thousands of calls (with 200 warm-up
    // requests, status measured 0.38 ms of CPU a request; with 3000, 0.26). Every kind of command,
    // half of them in turn, the other half the in-flight mix.
    const kinds = [
      ...Object.values(SERIAL),
      `status ${clusterNames[3]} --all`,
      "list --status critical",
      "list dev-",
      "list --page 4",
    ];
    for (const subject of subjects) {
      await load(subject, warmup, concurrency, (i) =>
        body(i % 2 === 0 ? kinds[(i / 2) % kinds.length]! : mixedText(seededRandom(i)), i, responseUrl),
      );
    }

    const serial = subjects.map(
      () => new Map<SerialCommand, { latencies: number[]; cpuMs: number; count: number }>(),
    );
    const inFlight = subjects.map(() => [] as number[]);
    const peakRss = [...rssBefore];
    const sampler = setInterval(() => {
      subjects.forEach((s, i) => (peakRss[i] = Math.max(peakRss[i]!, processRssMiB(s.child.pid!))));
    }, 100);
    const random = seededRandom(7);
    // One at a time, the client and the server under test are each kept on a vCPU of their own, the
    // floor and certs-bot alike, as Slack and the bot are on machines of their own. Left free, the
    // scheduler of this 2-vCPU VM puts a small server on the client's vCPU (an answer then costs a
    // context switch) and a larger one on the other vCPU (two wake-ups across vCPUs, each one a VM
    // exit): the ratio then measured where each process was put, not what it did. In flight, every
    // process is free again.
    const everyCpu = `0-${availableParallelism() - 1}`;
    const apart =
      values.placement === "apart" && availableParallelism() >= 2 && placeOn(process.pid, everyCpu);
    const place = (pid: number, together: boolean) => {
      if (!apart) return;
      // Figures printed as measured apart must have been: a process that could not be placed ends the run.
      for (const [who, cpus] of [
        [process.pid, together ? everyCpu : "0"],
        [pid, together ? everyCpu : "1"],
      ] as const) {
        if (!placeOn(who, cpus)) throw new Error(`taskset could not put process ${who} on vCPU ${cpus}`);
      }
    };
    try {
      for (let r = 0; r < rounds; r++) {
        for (let k = 0; k < subjects.length; k++) {
          const index = (k + r) % subjects.length;
          const subject = subjects[index]!;
          place(subject.child.pid!, false);
          for (const command of Object.keys(SERIAL) as SerialCommand[]) {
            const pid = subject.child.pid!;
            await quiescent(pid);
            const cpu0 = processCpuMs(pid);
            const latencies = await load(subject, serialPerRound, 1, (i) =>
              body(SERIAL[command], i, responseUrl),
            );
            await quiescent(pid);
            const cpuMs = processCpuMs(pid) - cpu0;
            const seen = serial[index]!.get(command) ?? { latencies: [], cpuMs: 0, count: 0 };
            seen.latencies.push(...latencies);
            seen.cpuMs += cpuMs;
            seen.count += latencies.length;
            serial[index]!.set(command, seen);
          }
          place(subject.child.pid!, true);
          const texts = Array.from({ length: inFlightPerRound }, () => mixedText(random));
          inFlight[index]!.push(
            ...(await load(subject, inFlightPerRound, concurrency, (i) => body(texts[i]!, i, responseUrl))),
          );
        }
        log(`round ${r + 1}/${rounds} done`);
      }
    } finally {
      clearInterval(sampler);
    }

    const serialOf = (index: number): Record<SerialCommand, SerialFigures> =>
      Object.fromEntries(
        [...serial[index]!].map(([command, seen]) => [
          command,
          {
            medianMs: +median(seen.latencies).toFixed(3),
            cpuMsPerRequest: +(seen.cpuMs / seen.count).toFixed(3),
          },
        ]),
      ) as Record<SerialCommand, SerialFigures>;
    const floorIndex = subjects.length - 1;
    // The bare server answers every command alike: its figures are the pooled ones.
    const floorSerial = [...serial[floorIndex]!.values()];
    const floor = {
      medianMs: +median(floorSerial.flatMap((s) => s.latencies)).toFixed(3),
      cpuMsPerRequest: +(
        floorSerial.reduce((sum, s) => sum + s.cpuMs, 0) / floorSerial.reduce((sum, s) => sum + s.count, 0)
      ).toFixed(3),
    };
    const floorInFlight = figuresOf(inFlight[floorIndex]!);
    const TARGETS: Record<SerialCommand, number> = { help: 1.5, status: 2, list: 5 };
    const summary = (index: number) => {
      const commands = serialOf(index);
      const loaded = figuresOf(inFlight[index]!);
      return {
        oneAtATime: Object.fromEntries(
          (Object.keys(SERIAL) as SerialCommand[]).map((command) => {
            const f = commands[command];
            const ratio = +(f.medianMs / floor.medianMs).toFixed(2);
            return [
              command,
              {
                ...f,
                ratio,
                cpuRatio: +(f.cpuMsPerRequest / floor.cpuMsPerRequest).toFixed(2),
                target: TARGETS[command],
                met: ratio <= TARGETS[command],
              },
            ];
          }),
        ),
        inFlight: {
          ...loaded,
          over1s: inFlight[index]!.filter((ms) => ms >= 1000).length,
          p99Ratio: +(loaded.p99Ms / floorInFlight.p99Ms).toFixed(2),
          met: loaded.p99Ms / floorInFlight.p99Ms <= 5 && loaded.maxMs < 1000,
        },
        rssMiB: { before: rssBefore[index]!, peak: peakRss[index]! },
      };
    };
    const bot = summary(0);
    const before = subjects.length > 2 ? summary(1) : undefined;
    const figures = {
      clusters: clusterCount,
      concurrency,
      rounds,
      warmupRequests: warmup,
      oneAtATimePlacement: apart ? "client on vCPU 0, server on vCPU 1" : "free",
      serialPerCommand: serialPerRound * rounds,
      inFlightRequests: inFlightPerRound * rounds,
      ...bot,
      floor: { oneAtATime: floor, inFlight: floorInFlight },
      ...(before ? { against: { ref: labels[1]!, ...before } } : {}),
    };
    process.stdout.write(`${report(figures, labels)}\n${JSON.stringify({ fleet: figures })}\n`);
  } finally {
    closeConnections();
    await Promise.all(subjects.map((s) => stopProcess(s.child)));
    for (const build of builds) build.remove();
    await fake.close();
    await redis.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

interface Summary {
  oneAtATime: Record<
    string,
    SerialFigures & { ratio: number; cpuRatio: number; target: number; met: boolean }
  >;
  inFlight: Figures & { over1s: number; p99Ratio: number; met: boolean };
  rssMiB: { before: number; peak: number };
}

function report(
  figures: Summary & {
    oneAtATimePlacement: string;
    floor: { oneAtATime: SerialFigures; inFlight: Figures };
    against?: Summary & { ref: string };
  },
  labels: string[],
): string {
  const { floor } = figures;
  const block = (label: string, s: Summary) => [
    `  ${label}`,
    ...Object.entries(s.oneAtATime).map(
      ([command, f]) =>
        `    ${command.padEnd(7)} median ${f.medianMs} ms (${f.ratio}× the floor, target ≤ ${f.target}×: ` +
        `${f.met ? "met" : "missed"})   CPU ${f.cpuMsPerRequest} ms a request (${f.cpuRatio}×)`,
    ),
    `    ${concurrency} in flight: p50 ${s.inFlight.p50Ms} ms   p99 ${s.inFlight.p99Ms} ms ` +
      `(${s.inFlight.p99Ratio}× the floor's, target ≤ 5×)   max ${s.inFlight.maxMs} ms   over 1 s: ${s.inFlight.over1s}`,
    `    RSS ${s.rssMiB.before} MiB before the load, ${s.rssMiB.peak} MiB at its peak`,
  ];
  return [
    `/certs at fleet scale: ${clusterCount} stored clusters in one channel; certs-bot serve as a whole process ` +
      `(production build, HTTP mode: Bolt + Redis + fake Slack Web API); ${warmup} warm-up requests each, then ` +
      `${rounds} interleaved rounds; one at a time, ${figures.oneAtATimePlacement === "free" ? "every process where the scheduler puts it" : `the ${figures.oneAtATimePlacement}`}`,
    ...block(labels[0]!, figures),
    ...(figures.against ? block(labels[1]!, figures.against) : []),
    `  bare HTTP (its own process, answers 200)`,
    `    one at a time: median ${floor.oneAtATime.medianMs} ms   CPU ${floor.oneAtATime.cpuMsPerRequest} ms a request`,
    `    ${concurrency} in flight: p50 ${floor.inFlight.p50Ms} ms   p99 ${floor.inFlight.p99Ms} ms   max ${floor.inFlight.maxMs} ms`,
  ].join("\n");
}

main().catch((err: Error) => {
  process.stderr.write(`fleet bench failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
