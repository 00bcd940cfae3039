// `npm run bench [-- --nodes 100 --concurrency 16 --repeat 3]`: certs-bot's scan against N real
// sshd lab nodes, side by side with (b) the limit — bare ssh2 connect + exec `true` + close per node
// at the same concurrency — and (c) the naive way — one SSH connection and one
// `openssl x509 -noout -enddate` per certificate file, as done by hand — and (a') the same scan as a
// whole process of the production CLI, as a monitoring plugin runs it. Also: CPU per certificate,
// a parse microbenchmark, peak RSS of a 10-node vs an N-node scan in child processes, and a
// breakdown of where the scan's time goes. Progress on stderr; results on stdout, the last line
// one JSON object. Exits 0 whether or not the targets are met; non-zero only if the bench failed.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CertificateCache } from "../src/core/certs/certificate.js";
import { loadConfig, type Config, type NodeConfig } from "../src/config/load.js";
import { CATALOGUE } from "../src/core/kubeadm/catalogue.js";
import type { ScanReport } from "../src/core/report/types.js";
import { judgeNode } from "../src/core/scan/judge.js";
import { defaultDependencies, mapBounded, scanClusters, scanNode } from "../src/adapters/nodes/scan.js";
import { buildScanScript, parseScanOutput, shellQuote } from "../src/core/scan/script.js";
import { buildCli, type BuiltCli } from "./cli-build.js";
import { BenchLab, CLUSTER_SIZE, MAX_NODES, type BenchNode } from "./lab.js";
import {
  childrenCpuSeconds,
  CPUS,
  lastPid,
  measure,
  median,
  pidsBetween,
  REPO,
  sample,
  seededRandom,
  sourceState,
  type Sample,
} from "./measure.js";
import { recordOutputs } from "../test/lab/recording.js";
import { sshExec, type RawTarget } from "./ssh-raw.js";

const TARGETS = { ratioToLimit: 1.3, speedupOverNaive: 10, rssGrowth: 1.2 } as const;
const RSS_SMALL_NODES = 10;
const PARSE_ROUNDS = 7;
const SERIAL_ROUNDS = 10;

const USAGE = `usage: npm run bench -- [--nodes N] [--concurrency C] [--repeat R] [--naive-budget S] [--seed X] [--skip-breakdown]
  --nodes          lab nodes, 1..${MAX_NODES} (default 100), in clusters of ${CLUSTER_SIZE}
  --concurrency    scanConcurrency, also used for the limit and the naive baseline (default 16)
  --repeat         repetitions of each measurement, interleaved; medians are reported (default 3)
  --naive-budget   seconds one naive run may take before it is sampled and extrapolated (default 120)
  --seed           seed of the naive sample (default 1)
  --skip-breakdown skip the where-does-the-time-go measurements
  --against        also time the whole-process scan of this git ref's CLI, in the same rounds
`;

interface Options {
  nodes: number;
  concurrency: number;
  repeat: number;
  naiveBudgetMs: number;
  seed: number;
  breakdown: boolean;
  against?: string;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      nodes: { type: "string", default: "100" },
      concurrency: { type: "string", default: "16" },
      repeat: { type: "string", default: "3" },
      "naive-budget": { type: "string", default: "120" },
      seed: { type: "string", default: "1" },
      "skip-breakdown": { type: "boolean", default: false },
      against: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (name: string, raw: string, min: number, max: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      process.stderr.write(`--${name} must be an integer in ${min}..${max}\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  return {
    nodes: int("nodes", values.nodes, 1, MAX_NODES),
    concurrency: int("concurrency", values.concurrency, 1, 256),
    repeat: int("repeat", values.repeat, 1, 50),
    naiveBudgetMs: int("naive-budget", values["naive-budget"], 1, 3600) * 1000,
    seed: int("seed", values.seed, 0, 2 ** 31),
    breakdown: !values["skip-breakdown"],
    ...(values.against !== undefined ? { against: values.against } : {}),
  };
}

const started = performance.now();
const log = (message: string) =>
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s] ${message}\n`);

const children = new Set<ChildProcess>();

// ---------------------------------------------------------------------------------------------
// (a) certs-bot

interface ScanRun {
  cold: Sample<ScanReport>;
  warm: Sample<ScanReport>;
  decoded: number;
  reported: number;
}

/**
 * Every node scanned and every certificate file of the lab reported, all ok: a scan that silently
 * reads nothing would otherwise look very fast. Returns the number of certificates reported.
 */
function checkReport(report: ScanReport, expected: ReadonlyMap<string, number>, what: string): number {
  const nodes = report.clusters.flatMap((c) => c.nodes);
  const bad = nodes.filter((n) => !n.reachable);
  if (nodes.length !== expected.size || bad.length > 0) {
    throw new Error(
      `${what}: ${bad.length} of ${nodes.length} nodes not scanned` +
        (bad[0] ? ` (${bad[0].name}: ${bad[0].error})` : ""),
    );
  }
  for (const node of nodes) {
    const want = expected.get(node.name);
    if (node.certificates.length !== want)
      throw new Error(
        `${what}: ${node.name} reported ${node.certificates.length} certificates, the lab wrote ${want} files`,
      );
    const notOk = node.certificates.find((c) => c.status !== "ok");
    if (notOk)
      throw new Error(`${what}: ${node.name} ${notOk.name} is ${notOk.status} (${notOk.error ?? ""})`);
  }
  return nodes.reduce((sum, n) => sum + n.certificates.length, 0);
}

async function certsBotScan(config: Config, expected: ReadonlyMap<string, number>): Promise<ScanRun> {
  const deps = defaultDependencies();
  const cold = await measure(() => scanClusters(config, config.clusters, deps));
  const reported = checkReport(cold.value, expected, "cold scan");
  const decoded = deps.cache.decoded;
  const warm = await measure(() => scanClusters(config, config.clusters, deps));
  checkReport(warm.value, expected, "warm scan");
  if (deps.cache.decoded !== decoded) throw new Error("warm scan decoded certificates again");
  return { cold, warm, decoded, reported };
}

// ---------------------------------------------------------------------------------------------
// (b) the limit and (c) the naive way

function rawTarget(lab: BenchLab, node: BenchNode, key: Buffer): RawTarget {
  return { host: node.address, port: node.port, username: lab.users.plain, privateKey: key };
}

async function limit(lab: BenchLab, key: Buffer, concurrency: number, noDelay = false): Promise<void> {
  await mapBounded(lab.nodes, concurrency, async (node) => {
    const result = await sshExec(rawTarget(lab, node, key), "true", { noDelay });
    if (result.code !== 0) throw new Error(`limit: \`true\` on ${node.name} exited ${result.code}`);
  });
}

interface NaiveCommand {
  file: string;
  command: string;
}

/**
 * What an admin runs by hand for each certificate file present on the node: openssl on every .crt
 * and .pem; for a kubeconfig, the usual grep | awk | base64 -d | openssl pipeline on its embedded
 * client-certificate-data, or openssl on the file it references (kubelet.conf →
 * kubelet-client-current.pem, checked once).
 */
function naiveCommands(node: BenchNode): NaiveCommand[] {
  const dirs = {
    kubernetesDir: node.lab.kubernetesDir,
    kubeletPkiDir: node.lab.kubeletPkiDir,
    etcdPkiDir: node.lab.etcdPkiDir,
  };
  const commands = new Map<string, string>();
  const openssl = (file: string) => `openssl x509 -noout -enddate -in ${shellQuote(file)}`;
  for (const entry of CATALOGUE) {
    const file = join(dirs[entry.base], entry.path);
    if (!existsSync(file)) continue;
    if (entry.kind !== "kubeconfig") {
      if (!commands.has(file)) commands.set(file, openssl(file));
      continue;
    }
    const text = readFileSync(file, "utf8");
    if (/^\s*client-certificate-data:/m.test(text)) {
      commands.set(
        file,
        `grep client-certificate-data ${shellQuote(file)} | awk '{print $2}' | base64 -d | openssl x509 -noout -enddate`,
      );
    } else {
      const ref = /^\s*client-certificate:\s*(\S+)/m.exec(text)?.[1];
      if (ref && !commands.has(ref)) commands.set(ref, openssl(ref));
    }
  }
  return [...commands].map(([file, command]) => ({ file, command }));
}

async function naive(
  lab: BenchLab,
  key: Buffer,
  nodes: readonly BenchNode[],
  commands: Map<string, NaiveCommand[]>,
  concurrency: number,
): Promise<number> {
  const pairs = nodes.flatMap((node) => commands.get(node.name)!.map((c) => ({ node, ...c })));
  await mapBounded(pairs, concurrency, async ({ node, file, command }) => {
    const result = await sshExec(rawTarget(lab, node, key), command);
    if (result.code !== 0 || !result.stdout.startsWith("notAfter="))
      throw new Error(`naive: ${file} on ${node.name}: exit ${result.code}: ${result.stderr.trim()}`);
  });
  return pairs.length;
}

// ---------------------------------------------------------------------------------------------
// Parse microbenchmark and peak RSS

function parseMicrobenchmark(lab: BenchLab): { usPerCert: number; distinct: number } {
  const ders = new Map<string, Uint8Array>();
  for (const node of lab.nodes)
    for (const cert of Object.values(node.lab.certs)) ders.set(cert.der.toString("base64"), cert.der);
  const all = [...ders.values()];
  const round = () => {
    const cache = new CertificateCache();
    const t0 = performance.now();
    for (const der of all) cache.get(der);
    return ((performance.now() - t0) * 1000) / all.length;
  };
  round(); // warm-up (JIT)
  return { usPerCert: median(Array.from({ length: PARSE_ROUNDS }, round)), distinct: all.length };
}

interface ChildResult {
  nodes: number;
  certificates: number;
  unreachable: number;
  firstError?: string;
  ms: number;
  maxRssKiB: number;
}

interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
}

function runNode(args: string[]): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const spawned = spawn(process.execPath, args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    children.add(spawned);
    let stdout = "";
    let stderr = "";
    spawned.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    spawned.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    spawned.on("error", reject);
    spawned.on("close", (code) => {
      children.delete(spawned);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

async function scanChild(configPath: string): Promise<ChildResult> {
  const { code, stdout, stderr } = await runNode(["--import", "tsx", "bench/scan-child.ts", configPath]);
  const last = stdout.trim().split("\n").pop() ?? "";
  if (code !== 0 || !last.startsWith("{"))
    throw new Error(`scan child exited ${code}: ${stderr.trim().slice(-500)}`);
  const result = JSON.parse(last) as ChildResult;
  if (result.unreachable > 0)
    throw new Error(`scan child: ${result.unreachable} nodes unreachable: ${result.firstError}`);
  return result;
}

/**
 * (a') `certs-bot scan --json` as a monitoring plugin runs it: a whole process of the production
 * build, so Node's start, loading the CLI and the config count too. Returns its wall time.
 */
async function cliScan(
  cli: string,
  configPath: string,
  expected: ReadonlyMap<string, number>,
): Promise<number> {
  const { code, stdout, stderr, ms } = await runNode([cli, "scan", "--config", configPath, "--json"]);
  if (code !== 0) throw new Error(`certs-bot scan exited ${code}: ${stderr.trim().slice(-500)}`);
  checkReport(JSON.parse(stdout) as ScanReport, expected, "whole-process scan");
  return ms;
}

// ---------------------------------------------------------------------------------------------
// Breakdown: where the scan's time goes

interface LocalRun {
  ms: number;
  stdout: string;
  pids: number;
}

/** The scan script run by a local /bin/sh as the lab user, with the node's PATH: no SSH at all. */
function runScriptLocally(lab: BenchLab, node: BenchNode, script: string): Promise<LocalRun> {
  return new Promise((resolve, reject) => {
    const pid0 = lastPid();
    const t0 = performance.now();
    const child = spawn("/bin/sh", ["-s"], {
      uid: lab.users.plainUid,
      gid: lab.users.plainGid,
      env: { PATH: `${node.lab.binDir}:/usr/local/bin:/usr/bin:/bin`, HOME: "/", USER: lab.users.plain },
      stdio: ["pipe", "pipe", "pipe"],
    });
    children.add(child);
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.resume();
    child.on("error", reject);
    child.on("close", (code) => {
      children.delete(child);
      const ms = performance.now() - t0;
      if (code !== 0) return reject(new Error(`local script on ${node.name} exited ${code}`));
      resolve({ ms, stdout, pids: pidsBetween(pid0, lastPid()) });
    });
    child.stdin.end(script);
  });
}

interface Breakdown {
  /** Unloaded, one node at a time. */
  serial: {
    limitMs: number;
    limitNoDelayMs: number;
    scanNodeMs: number;
    scriptLocalMs: number;
    scriptPids: number;
  };
  limitNoDelayMs: number;
  /** All N nodes at the configured concurrency. */
  replayScanMs: number;
  replayScanMachineCpuMs: number;
  scriptLocalAllMs: number;
  scriptLocalCpuMs: number;
  scriptLocalMachineCpuMs: number;
  clientParseJudgeColdMs: number;
  clientParseJudgeWarmMs: number;
  outputBytesPerNode: number;
  scriptBytes: number;
}

async function breakdown(
  lab: BenchLab,
  config: Config,
  key: Buffer,
  captured: Map<string, string>,
  expected: ReadonlyMap<string, number>,
  opts: Options,
): Promise<Breakdown> {
  const nodeConfigs = config.clusters.flatMap((c) => c.nodes.map((node) => ({ cluster: c, node })));
  const benchNode = new Map(lab.nodes.map((n) => [n.name, n]));
  const script = (node: NodeConfig) => buildScanScript(node);

  // Serial, one node, no contention: the latency floor of each part.
  const first = nodeConfigs[0]!;
  const firstBench = benchNode.get(first.node.name)!;
  const serialLimit: number[] = [];
  const serialLimitNoDelay: number[] = [];
  const serialScan: number[] = [];
  const serialLocal: number[] = [];
  const serialPids: number[] = [];
  const deps = defaultDependencies();
  for (let i = 0; i < SERIAL_ROUNDS; i++) {
    serialLimit.push((await measure(() => sshExec(rawTarget(lab, firstBench, key), "true"))).ms);
    serialLimitNoDelay.push(
      (await measure(() => sshExec(rawTarget(lab, firstBench, key), "true", { noDelay: true }))).ms,
    );
    const node = await measure(() => scanNode(first.node, first.cluster, deps));
    if (!node.value.reachable) throw new Error(`serial scan: ${node.value.error}`);
    serialScan.push(node.ms);
    const local = await runScriptLocally(lab, firstBench, script(first.node));
    serialLocal.push(local.ms);
    serialPids.push(local.pids);
  }
  log(`breakdown: serial latencies measured on ${first.node.name}`);

  // The scan with the remote script replaced by a builtin printf of what the script printed: SSH,
  // transfer and client-side parse/judge, but no process forked on the node.
  const replays = new Map(
    nodeConfigs.map(({ node }) => [node.name, `printf '%s' ${shellQuote(captured.get(node.name)!)}\n`]),
  );
  const replayRuns: Sample<ScanReport>[] = [];
  const localRuns: Sample<LocalRun[]>[] = [];
  const localCpu: number[] = [];
  const noDelayLimits: number[] = [];
  for (let r = 0; r < opts.repeat; r++) {
    noDelayLimits.push((await measure(() => limit(lab, key, opts.concurrency, true))).ms);

    const replayDeps = defaultDependencies();
    const transportFor = replayDeps.transportFor;
    replayDeps.transportFor = (node) => {
      const transport = transportFor(node);
      return { run: () => transport.run(replays.get(node.name)!) };
    };
    const replay = await measure(() => scanClusters(config, config.clusters, replayDeps));
    checkReport(replay.value, expected, "replay scan");
    replayRuns.push(replay);

    const cpu0 = childrenCpuSeconds();
    const local = await measure(() =>
      mapBounded(nodeConfigs, opts.concurrency, ({ node }) =>
        runScriptLocally(lab, benchNode.get(node.name)!, script(node)),
      ),
    );
    localCpu.push((childrenCpuSeconds() - cpu0) * 1000);
    local.value.forEach((run, i) => {
      const name = nodeConfigs[i]!.node.name;
      if (run.stdout !== captured.get(name))
        throw new Error(`local script output on ${name} differs from SSH`);
    });
    localRuns.push(local);
    log(
      `breakdown ${r + 1}/${opts.repeat}: limit with TCP_NODELAY ${(noDelayLimits[r]! / 1000).toFixed(2)} s, ` +
        `replay scan ${(replay.ms / 1000).toFixed(2)} s, ` +
        `script alone (local sh, all nodes) ${(local.ms / 1000).toFixed(2)} s`,
    );
  }

  // Client side only: parse + judge of the captured outputs, cold and warm certificate cache.
  const now = new Date();
  const judgeAll = (cache: CertificateCache) => {
    for (const { node, cluster } of nodeConfigs) {
      const read = parseScanOutput(captured.get(node.name)!, node);
      judgeNode(
        { name: node.name, host: node.host, port: node.ssh.port, role: node.role, read },
        { now, thresholds: cluster.thresholds, cache },
      );
    }
  };
  const cold: number[] = [];
  const warm: number[] = [];
  for (let r = 0; r < Math.max(3, opts.repeat); r++) {
    const cache = new CertificateCache();
    let t0 = performance.now();
    judgeAll(cache);
    cold.push(performance.now() - t0);
    t0 = performance.now();
    judgeAll(cache);
    warm.push(performance.now() - t0);
  }
  const outputs = [...captured.values()];
  return {
    serial: {
      limitMs: median(serialLimit),
      limitNoDelayMs: median(serialLimitNoDelay),
      scanNodeMs: median(serialScan),
      scriptLocalMs: median(serialLocal),
      scriptPids: Math.min(...serialPids),
    },
    limitNoDelayMs: median(noDelayLimits),
    replayScanMs: median(replayRuns.map((s) => s.ms)),
    replayScanMachineCpuMs: median(replayRuns.map((s) => s.machineCpuMs)),
    scriptLocalAllMs: median(localRuns.map((s) => s.ms)),
    scriptLocalCpuMs: median(localCpu),
    scriptLocalMachineCpuMs: median(localRuns.map((s) => s.machineCpuMs)),
    clientParseJudgeColdMs: median(cold),
    clientParseJudgeWarmMs: median(warm),
    outputBytesPerNode: Math.round(outputs.reduce((sum, o) => sum + o.length, 0) / outputs.length),
    scriptBytes: script(first.node).length,
  };
}

// ---------------------------------------------------------------------------------------------

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const x = (ratio: number) => `${ratio.toFixed(2)}×`;
const round = (n: number, digits = 2) => Number(n.toFixed(digits));
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");

async function run(lab: BenchLab, opts: Options, cli: string, againstCli?: string): Promise<void> {
  const loadAtStart = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const sourceAtStart = sourceState();
  const scriptText = buildScanScript({
    role: "control-plane",
    name: "bench",
    paths: {
      kubernetesDir: "/etc/kubernetes",
      kubeletPkiDir: "/var/lib/kubelet/pki",
      etcdPkiDir: "/etc/kubernetes/pki/etcd",
    },
  });
  const scriptSha256 = createHash("sha256").update(scriptText).digest("hex").slice(0, 12);
  log(
    `building ${opts.nodes} lab nodes (${Math.ceil(opts.nodes / CLUSTER_SIZE)} clusters) in ${lab.root}, 16 at a time`,
  );
  const setup0 = performance.now();
  await lab.build(opts.nodes, 16, (done) => {
    if (done % 10 === 0 || done === opts.nodes) log(`setup: ${done}/${opts.nodes} nodes up`);
  });
  const configPath = lab.writeConfig(join(lab.root, "clusters.yaml"), lab.nodes, opts.concurrency);
  const smallCount = Math.min(RSS_SMALL_NODES, opts.nodes);
  const smallConfigPath = lab.writeConfig(
    join(lab.root, "clusters-10.yaml"),
    lab.nodes.slice(0, smallCount),
    opts.concurrency,
  );
  const config = loadConfig(configPath);
  const key = readFileSync(lab.users.clientKeyPath);
  const commands = new Map(lab.nodes.map((n) => [n.name, naiveCommands(n)]));
  const expected = new Map([...commands].map(([name, list]) => [name, list.length]));
  const setupMs = performance.now() - setup0;
  log(`setup done in ${s(setupMs)}`);

  // Warm-up (not counted): one scan, capturing every node's output for the breakdown; one limit.
  const captured = new Map<string, string>();
  {
    const deps = recordOutputs(defaultDependencies(), (node, result) =>
      captured.set(node.name, result.stdout),
    );
    checkReport(await scanClusters(config, config.clusters, deps), expected, "warm-up scan");
    await limit(lab, key, opts.concurrency);
    log("warm-up scan and limit done");
  }

  // Naive pilot: a few nodes, to decide whether a full naive run fits the budget.
  const random = seededRandom(opts.seed);
  const pilotNodes = sample(lab.nodes, Math.min(opts.nodes, 4), random);
  const pilot = await measure(() => naive(lab, key, pilotNodes, commands, opts.concurrency));
  const naiveEstimateMs = (pilot.ms * opts.nodes) / pilotNodes.length;
  let naiveNodes: readonly BenchNode[] = lab.nodes;
  if (naiveEstimateMs > opts.naiveBudgetMs) {
    const count = Math.max(
      pilotNodes.length,
      Math.floor((opts.nodes * opts.naiveBudgetMs) / naiveEstimateMs),
    );
    naiveNodes = sample(lab.nodes, count, random);
  }
  const naiveExtrapolated = naiveNodes.length < opts.nodes;
  log(
    `naive pilot: ${pilot.value} execs in ${s(pilot.ms)}; a full run ≈ ${s(naiveEstimateMs)}` +
      (naiveExtrapolated
        ? ` > budget ${s(opts.naiveBudgetMs)}: sampling ${naiveNodes.length} of ${opts.nodes} nodes, extrapolated per node`
        : ", measured in full"),
  );

  // Interleaved repetitions: a, a', b, c, then a', b, c, a, then b, c, a, a', ...
  const scans: ScanRun[] = [];
  const cliScans: number[] = [];
  const againstScans: number[] = [];
  const limits: Sample<void>[] = [];
  const naives: Sample<number>[] = [];
  const kinds = ["scan", "cli", ...(againstCli ? (["against"] as const) : []), "limit", "naive"] as const;
  for (let r = 0; r < opts.repeat; r++) {
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(k + r) % kinds.length]!;
      if (kind === "scan") {
        const scan = await certsBotScan(config, expected);
        scans.push(scan);
        log(`run ${r + 1}/${opts.repeat}: certs-bot scan ${s(scan.cold.ms)} cold, ${s(scan.warm.ms)} warm`);
      } else if (kind === "cli") {
        cliScans.push(await cliScan(cli, configPath, expected));
        log(`run ${r + 1}/${opts.repeat}: certs-bot scan as a whole process ${s(cliScans.at(-1)!)}`);
      } else if (kind === "against") {
        againstScans.push(await cliScan(againstCli!, configPath, expected));
        log(
          `run ${r + 1}/${opts.repeat}: ${opts.against}'s scan as a whole process ${s(againstScans.at(-1)!)}`,
        );
      } else if (kind === "limit") {
        const sampleRun = await measure(() => limit(lab, key, opts.concurrency));
        limits.push(sampleRun);
        log(`run ${r + 1}/${opts.repeat}: limit ${s(sampleRun.ms)}`);
      } else {
        const sampleRun = await measure(() => naive(lab, key, naiveNodes, commands, opts.concurrency));
        naives.push(sampleRun);
        log(`run ${r + 1}/${opts.repeat}: naive ${s(sampleRun.ms)} (${sampleRun.value} execs)`);
      }
    }
  }

  log("parse microbenchmark");
  const parse = parseMicrobenchmark(lab);

  log(`peak RSS: scanning ${smallCount} and ${opts.nodes} nodes in child processes`);
  const rssSmall: number[] = [];
  const rssAll: number[] = [];
  for (let r = 0; r < opts.repeat; r++) {
    rssSmall.push((await scanChild(smallConfigPath)).maxRssKiB);
    rssAll.push((await scanChild(configPath)).maxRssKiB);
  }

  let detail: Breakdown | undefined;
  if (opts.breakdown) {
    log("breakdown: where the scan's time goes");
    detail = await breakdown(lab, config, key, captured, expected, opts);
  }

  // Figures
  const scanMs = median(scans.map((r) => r.cold.ms));
  const warmScanMs = median(scans.map((r) => r.warm.ms));
  const limitMs = median(limits.map((r) => r.ms));
  const naiveMeasuredMs = median(naives.map((r) => r.ms));
  const naiveMs = (naiveMeasuredMs * opts.nodes) / naiveNodes.length;
  const naiveExecsPerNode = naives[0]!.value / naiveNodes.length;
  const ratioToLimit = scanMs / limitMs;
  const warmRatioToLimit = warmScanMs / limitMs;
  const cliScanMs = median(cliScans);
  const cliRatioToLimit = cliScanMs / limitMs;
  const againstScanMs = againstCli ? median(againstScans) : undefined;
  const speedupOverNaive = naiveMs / scanMs;
  const decoded = scans[0]!.decoded;
  const reported = scans[0]!.reported;
  const cpuMsPerCert = median(scans.map((r) => r.cold.cpuMs / r.decoded));
  const rss10MiB = median(rssSmall) / 1024;
  const rssNMiB = median(rssAll) / 1024;
  const rssGrowth = rssNMiB / rss10MiB;
  const met = {
    ratioToLimit: ratioToLimit <= TARGETS.ratioToLimit,
    speedupOverNaive: speedupOverNaive >= TARGETS.speedupOverNaive,
    rssGrowth: rssGrowth <= TARGETS.rssGrowth,
  };
  const machine = (samples: { machineCpuMs: number }[]) => median(samples.map((m) => m.machineCpuMs));
  const pids = (samples: { pids: number }[]) => median(samples.map((m) => m.pids));
  const scanMachineCpuMs = machine(scans.map((r) => r.cold));
  const limitMachineCpuMs = machine(limits);
  const naiveMachineCpuMs = (machine(naives) * opts.nodes) / naiveNodes.length;
  const runs = (values: number[]) => values.map((v) => (v / 1000).toFixed(2)).join(" ");

  const sourceAtEnd = sourceState();
  const out: string[] = [];
  const clusters = Math.ceil(opts.nodes / CLUSTER_SIZE);
  out.push(
    `certs-bot scan benchmark: ${opts.nodes} lab nodes (${clusters} clusters of ≤${CLUSTER_SIZE} control-plane nodes, one sshd each on 127.0.0.2…), ` +
      `concurrency ${opts.concurrency}, median of ${opts.repeat} interleaved runs; ${CPUS} CPUs shared by client and sshds; load at start ${loadAtStart}`,
    `code: commit ${sourceAtStart.commit}${sourceAtStart.srcChanges ? " + uncommitted changes in src/" : ", src/ clean"}; scan script sha256 ${scriptSha256}… (${scriptText.length} bytes)`,
    `setup: ${s(setupMs)} (trees, PKI, sshds; not part of the figures)`,
    "apiserver probe: OFF for every node (no lab apiservers): the figures cover the SSH read only",
    ...(sourceAtEnd.commit !== sourceAtStart.commit || sourceAtEnd.srcChanges !== sourceAtStart.srcChanges
      ? [
          `WARNING: src/ changed during the run (HEAD ${sourceAtStart.commit} → ${sourceAtEnd.commit}` +
            `${sourceAtEnd.srcChanges !== sourceAtStart.srcChanges ? ", uncommitted src/ changes differ" : ""}): ` +
            "this process measured src/ as loaded at start; the RSS child processes loaded it later",
        ]
      : []),
    "",
    `(a) certs-bot scan, cold cache    ${s(scanMs).padStart(9)}   runs: ${runs(scans.map((r) => r.cold.ms))}   machine CPU ${s(scanMachineCpuMs)}, ~${(pids(scans.map((r) => r.cold)) / opts.nodes).toFixed(0)} new PIDs/node`,
    `    certs-bot scan, warm cache    ${s(warmScanMs).padStart(9)}   runs: ${runs(scans.map((r) => r.warm.ms))}   (same dependencies: nothing decoded again)`,
    `(a') certs-bot scan, whole process ${s(cliScanMs).padStart(8)}   runs: ${runs(cliScans)}   node dist/cli.js scan --json (production build): Node's start, the CLI, the config, a cold scan`,
    ...(againstScanMs !== undefined
      ? [
          `(a") ${opts.against}, whole process ${s(againstScanMs).padStart(Math.max(1, 21 - (opts.against ?? "").length))}   runs: ${runs(againstScans)}   the same, built from ${opts.against} (--against), in the same rounds`,
        ]
      : []),
    `(b) limit: connect+true+close     ${s(limitMs).padStart(9)}   runs: ${runs(limits.map((r) => r.ms))}   machine CPU ${s(limitMachineCpuMs)}, ~${(pids(limits) / opts.nodes).toFixed(0)} new PIDs/node`,
    `(c) naive: ssh+openssl per file   ${s(naiveMs).padStart(9)}   ${naiveExtrapolated ? "sample runs" : "runs"}: ${runs(naives.map((r) => r.ms))}   ${naiveExecsPerNode} connections/node, machine CPU ${s(naiveMachineCpuMs)}` +
      (naiveExtrapolated
        ? `\n    NAIVE EXTRAPOLATED: measured on a random sample of ${naiveNodes.length} of ${opts.nodes} nodes (${naives[0]!.value} execs, pilot estimated ${s(naiveEstimateMs)} for all > budget ${s(opts.naiveBudgetMs)}), scaled ×${(opts.nodes / naiveNodes.length).toFixed(2)}`
        : ""),
    "    (the naive baseline uses the same ssh2 client, not an ssh process per file, so its speedup is a lower bound)",
    "",
    `ratio to the limit          ${x(ratioToLimit).padStart(8)}   target ≤ ${TARGETS.ratioToLimit}×   ${verdict(met.ratioToLimit)}`,
    `  with a warm cache          ${x(warmRatioToLimit).padStart(8)}   (informational: a bot's every scan after the first; certificates rarely change)`,
    `  as a whole process          ${x(cliRatioToLimit).padStart(8)}   (informational: what a monitoring plugin's certs-bot scan costs against the in-process SSH floor)`,
    ...(againstScanMs !== undefined
      ? [
          `  as a whole process, ${opts.against} ${x(againstScanMs / limitMs).padStart(Math.max(1, 7 - (opts.against ?? "").length))}   (the same for ${opts.against}: this tree is ${x(cliScanMs / againstScanMs)} of it)`,
        ]
      : []),
    `speedup over naive          ${x(speedupOverNaive).padStart(8)}   target ≥ ${TARGETS.speedupOverNaive}×    ${verdict(met.speedupOverNaive)}`,
    `peak RSS ${String(smallCount).padStart(3)} → ${opts.nodes} nodes    ${x(rssGrowth).padStart(8)}   target ≤ ${TARGETS.rssGrowth}×   ${verdict(met.rssGrowth)}   (${rss10MiB.toFixed(1)} MiB → ${rssNMiB.toFixed(1)} MiB, maxRSS of a child process after one cold scan)`,
    `CPU per certificate parsed  ${cpuMsPerCert.toFixed(2).padStart(6)} ms   whole bench process (SSH crypto, parse, judge) during a cold scan ÷ ${decoded} certificates decoded; ${reported} certificates reported`,
    `parse per certificate       ${parse.usPerCert.toFixed(0).padStart(6)} µs   microbenchmark: new CertificateCache().get(der) over ${parse.distinct} distinct lab DERs`,
  );
  if (detail) {
    const d = detail;
    const pct = (part: number) => `${((part / scanMs) * 100).toFixed(0)}%`;
    out.push(
      "",
      "where the scan's time goes (same lab, same concurrency unless serial):",
      `  serial, 1 node, unloaded:  connect+true ${d.serial.limitMs.toFixed(0)} ms (with TCP_NODELAY ${d.serial.limitNoDelayMs.toFixed(0)} ms) | certs-bot node read ${d.serial.scanNodeMs.toFixed(0)} ms | scan script alone (local sh) ${d.serial.scriptLocalMs.toFixed(0)} ms, ~${d.serial.scriptPids} processes`,
      `  limit (b)                                       ${s(limitMs).padStart(9)}`,
      `  limit with TCP_NODELAY (reference)              ${s(d.limitNoDelayMs).padStart(9)}   ssh2 leaves Nagle on (the limit's client); certs-bot hands ssh2 a TCP_NODELAY socket`,
      `  scan, remote script → printf of its output      ${s(d.replayScanMs).padStart(9)}   SSH + ${(d.outputBytesPerNode / 1024).toFixed(1)} KiB/node + parse + judge, no fork on the node; machine CPU ${s(d.replayScanMachineCpuMs)}`,
      `  full scan (a)                                   ${s(scanMs).padStart(9)}   machine CPU ${s(scanMachineCpuMs)}`,
      `  scan script alone, local sh, all nodes          ${s(d.scriptLocalAllMs).padStart(9)}   CPU of the shells and their children ${s(d.scriptLocalCpuMs)} (${(d.scriptLocalCpuMs / opts.nodes).toFixed(1)} ms/node); machine CPU ${s(d.scriptLocalMachineCpuMs)}`,
      `  client parse + judge only, cold / warm cache    ${s(d.clientParseJudgeColdMs).padStart(9)} / ${s(d.clientParseJudgeWarmMs)}`,
      `  => remote script (full − replay) ≈ ${s(scanMs - d.replayScanMs)} (${pct(scanMs - d.replayScanMs)} of the scan); ` +
        `transfer + client work (replay − limit) ≈ ${s(d.replayScanMs - limitMs)} (${pct(d.replayScanMs - limitMs)}); ` +
        `SSH floor (limit) ${s(limitMs)} (${pct(limitMs)})`,
    );
  }

  const json = {
    nodes: opts.nodes,
    clusters,
    concurrency: opts.concurrency,
    repeat: opts.repeat,
    cpus: CPUS,
    commit: sourceAtStart.commit,
    srcDirty: sourceAtStart.srcChanges !== "",
    scriptSha256,
    apiserverProbe: false,
    setupMs: round(setupMs, 0),
    scanMs: round(scanMs, 1),
    warmScanMs: round(warmScanMs, 1),
    limitMs: round(limitMs, 1),
    naiveMs: round(naiveMs, 1),
    naiveExtrapolated,
    naiveSampleNodes: naiveNodes.length,
    naiveExecs: naives[0]!.value,
    ratioToLimit: round(ratioToLimit, 3),
    warmRatioToLimit: round(warmRatioToLimit, 3),
    cliScanMs: round(cliScanMs, 1),
    cliRatioToLimit: round(cliRatioToLimit, 3),
    ...(againstScanMs !== undefined
      ? {
          against: {
            ref: opts.against,
            cliScanMs: round(againstScanMs, 1),
            cliRatioToLimit: round(againstScanMs / limitMs, 3),
          },
        }
      : {}),
    speedupOverNaive: round(speedupOverNaive, 2),
    cpuMsPerCert: round(cpuMsPerCert, 3),
    certsDecoded: decoded,
    certsReported: reported,
    parseUsPerCert: round(parse.usPerCert, 1),
    rss10MiB: round(rss10MiB, 1),
    rssNMiB: round(rssNMiB, 1),
    rssSmallNodes: smallCount,
    rssGrowth: round(rssGrowth, 3),
    machineCpuMs: {
      scan: round(scanMachineCpuMs, 0),
      limit: round(limitMachineCpuMs, 0),
      naive: round(naiveMachineCpuMs, 0),
    },
    runsMs: {
      scan: scans.map((r) => round(r.cold.ms, 1)),
      warmScan: scans.map((r) => round(r.warm.ms, 1)),
      cliScan: cliScans.map((ms) => round(ms, 1)),
      ...(againstCli ? { againstCliScan: againstScans.map((ms) => round(ms, 1)) } : {}),
      limit: limits.map((r) => round(r.ms, 1)),
      naive: naives.map((r) => round(r.ms, 1)),
    },
    ...(detail
      ? {
          breakdown: {
            serialLimitMs: round(detail.serial.limitMs, 1),
            serialLimitNoDelayMs: round(detail.serial.limitNoDelayMs, 1),
            limitNoDelayMs: round(detail.limitNoDelayMs, 1),
            serialScanNodeMs: round(detail.serial.scanNodeMs, 1),
            serialScriptLocalMs: round(detail.serial.scriptLocalMs, 1),
            scriptProcesses: detail.serial.scriptPids,
            replayScanMs: round(detail.replayScanMs, 1),
            scriptLocalAllMs: round(detail.scriptLocalAllMs, 1),
            scriptLocalCpuMs: round(detail.scriptLocalCpuMs, 0),
            clientParseJudgeColdMs: round(detail.clientParseJudgeColdMs, 1),
            clientParseJudgeWarmMs: round(detail.clientParseJudgeWarmMs, 1),
            outputBytesPerNode: detail.outputBytesPerNode,
            scriptBytes: detail.scriptBytes,
          },
        }
      : {}),
    targets: TARGETS,
    met,
  };
  out.push("", JSON.stringify(json));
  process.stdout.write(`${out.join("\n")}\n`);
}

async function main(): Promise<void> {
  const opts = options();
  if (process.getuid?.() !== 0) {
    process.stderr.write("the bench needs root (lab users, one sshd per loopback address)\n");
    process.exit(1);
  }
  const lab = new BenchLab();
  let cli: BuiltCli | undefined;
  let againstCli: BuiltCli | undefined;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping sshds and removing ${lab.root}`);
    for (const child of children) child.kill("SIGKILL");
    cli?.remove();
    againstCli?.remove();
    void lab.destroy().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    log("building the CLI for the whole-process scan (tsc into a temporary directory)");
    cli = buildCli();
    if (opts.against !== undefined) {
      log(`building the CLI of ${opts.against}`);
      againstCli = buildCli(opts.against);
    }
    await run(lab, opts, cli.cli, againstCli?.cli);
  } catch (err) {
    // After a signal, in-flight work fails as its sshds go away: not worth reporting.
    if (!interrupted) {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  } finally {
    if (!interrupted) {
      cli?.remove();
      againstCli?.remove();
      log(`cleaning up ${lab.root}`);
      await lab.destroy();
      log(`total ${s(performance.now() - started)}`);
    }
  }
}

await main();
