// `node --import tsx bench/startup.bench.ts [--runs 15] [--against <git ref>]`, also the last part
// of `npm run bench`: how long certs-bot takes to start, as whole processes. A monitoring plugin
// runs `certs-bot scan` every few minutes and pays this before the first SSH packet.
//
// Side by side, interleaved (every command once a round, the order rotating each round): the floor
// `node -e 0`, then `certs-bot --version`, `--help` and `certs-bot scan --help`, run as `node <tmp>/dist/cli.js`
// from a fresh production build of the working tree (see cli-build.ts). The help paths parse the
// command line like every command and load what the CLI loads before it runs one. Then a scan of
// one node whose SSH port refuses the connection: the scan's whole path up to its first SSH packet
// (config, key, known_hosts, ssh2) and its report, with no network time. Wall time from spawn to
// exit; medians, and their ratio to the floor. --against builds a git ref the same way and times it
// in the same rounds: a before/after on the same machine at the same moment.
// Progress on stderr; results on stdout, the last line one JSON object.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort } from "../test/lab/ports.js";
import { buildCli, type BuiltCli } from "./cli-build.js";
import { CPUS, median, refLabel, sourceState } from "./measure.js";

const TARGET_RATIO = 2.5;
const log = (line: string) => process.stderr.write(`[startup] ${line}\n`);

const { values } = parseArgs({
  options: { runs: { type: "string", default: "15" }, against: { type: "string" } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 1000) {
  process.stderr.write("usage: startup.bench.ts [--runs 1..1000] [--against <git ref>]\n");
  process.exit(2);
}

interface Subject {
  label: string;
  args: string[];
  /** The exit code and output a run must have: a build that fails fast is not a fast start. */
  code: number;
  stdout: RegExp;
  /** Held to TARGET_RATIO. */
  target: boolean;
}

/**
 * A config of one node at a port of this machine that nothing listens on, with a key and a
 * known_hosts entry, so the scan gets as far as connecting: refused at once, exit 3 (unknown).
 */
async function refusingNode(dir: string): Promise<string> {
  const key = join(dir, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  const port = await freePort("127.0.0.1");
  const hostKey = readFileSync(`${key}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
  writeFileSync(join(dir, "known_hosts"), `[127.0.0.1]:${port} ${hostKey}\n`);
  const config = join(dir, "clusters.yaml");
  writeFileSync(
    config,
    `ssh: { port: ${port}, privateKeyPath: ${key}, knownHostsPath: ${join(dir, "known_hosts")} }\n` +
      "apiserver: { probe: false }\nclusters:\n  - name: bench\n    nodes: [{ host: 127.0.0.1 }]\n",
  );
  return config;
}

function cliSubjects(cli: string, config: string, prefix = ""): Subject[] {
  return [
    { label: "certs-bot --version", args: ["--version"], code: 0, stdout: /^\d+\.\d+\.\d+\n$/, target: true },
    { label: "certs-bot --help", args: ["--help"], code: 0, stdout: /^Usage: certs-bot \[/, target: true },
    {
      label: "certs-bot scan --help",
      args: ["scan", "--help"],
      code: 0,
      stdout: /^Usage: certs-bot scan /,
      target: true,
    },
    {
      label: "certs-bot scan, 1 node, refused",
      args: ["scan", "--config", config],
      code: 3,
      stdout: /connection refused/,
      target: false,
    },
  ].map((subject) => ({ ...subject, label: `${prefix}${subject.label}`, args: [cli, ...subject.args] }));
}

function time(subject: Subject): number {
  const t0 = performance.now();
  const result = spawnSync(process.execPath, subject.args, { stdio: ["ignore", "pipe", "pipe"] });
  const ms = performance.now() - t0;
  if (result.status !== subject.code || !subject.stdout.test(result.stdout.toString())) {
    const output = `${result.stdout}${result.stderr}`.trim().slice(-500);
    throw new Error(`${subject.label} exited ${result.status}, expected ${subject.code}: ${output}`);
  }
  return ms;
}

async function main(dir: string, built: BuiltCli[]): Promise<void> {
  const config = await refusingNode(dir);
  const source = sourceState();
  const tree = `${source.commit}${source.srcChanges ? " + uncommitted changes in src/" : ", src/ clean"}`;
  log(`building the CLI of the working tree (${tree})`);
  built.push(buildCli());
  const floor: Subject = { label: "node -e 0", args: ["-e", "0"], code: 0, stdout: /^$/, target: false };
  const subjects = [floor, ...cliSubjects(built[0]!.cli, config)];
  let against: string | undefined;
  if (values.against !== undefined) {
    against = refLabel(values.against);
    log(`building the CLI of ${against}`);
    built.push(buildCli(values.against));
    subjects.push(...cliSubjects(built[1]!.cli, config, `${values.against}: `));
  }
  for (const subject of subjects) time(subject); // warm-up: the page cache, and each output checked once
  const loadAtStart = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const samples = subjects.map((): number[] => []);
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < subjects.length; k++) {
      const i = (k + r) % subjects.length;
      samples[i]!.push(time(subjects[i]!));
    }
    log(`round ${r + 1}/${runs}`);
  }
  const medians = samples.map(median);
  const ratios = medians.map((ms) => ms / medians[0]!);
  const width = Math.max(...subjects.map((s) => s.label.length));
  const verdict = (i: number) =>
    subjects[i]!.target ? `target ≤ ${TARGET_RATIO}×  ${ratios[i]! <= TARGET_RATIO ? "PASS" : "MISS"}` : "";
  const out = [
    `certs-bot start-up: whole processes, wall time, median of ${runs} interleaved runs; ${CPUS} CPUs; load at start ${loadAtStart}`,
    `code: working tree at ${tree}${against ? `, against ${against}` : ""}; each built with tsc into a temporary directory, run as node dist/cli.js`,
    "",
    ...subjects.map(
      (subject, i) =>
        `${subject.label.padEnd(width)}  ${medians[i]!.toFixed(0).padStart(5)} ms  ${ratios[i]!.toFixed(2).padStart(5)}×  ` +
        `${verdict(i).padEnd(20)}  runs: ${samples[i]!.map((ms) => ms.toFixed(0)).join(" ")}`,
    ),
  ];
  const figures = Object.fromEntries(
    subjects.map((subject, i) => [
      subject.label,
      { ms: Number(medians[i]!.toFixed(1)), ratio: Number(ratios[i]!.toFixed(2)) },
    ]),
  );
  const json = {
    startup: { runs, cpus: CPUS, commit: source.commit, against, targetRatio: TARGET_RATIO, figures },
  };
  process.stdout.write(`${out.join("\n")}\n\n${JSON.stringify(json)}\n`);
}

const built: BuiltCli[] = [];
const dir = mkdtempSync(join(tmpdir(), "certs-bot-startup-"));
try {
  await main(dir, built);
} finally {
  for (const cli of built) cli.remove();
  rmSync(dir, { recursive: true, force: true });
}
