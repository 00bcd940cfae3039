// `node --import tsx bench/startup.bench.ts [--runs 15] [--against <git ref>]`, also the last part
// of `npm run bench`: how long certs-bot takes to start, as whole processes. A monitoring plugin
// runs `certs-bot scan` every few minutes and pays this before the first SSH packet.
//
// Side by side, interleaved (every command once a round, the order rotating each round): the floor
// `node -e 0`, then `certs-bot --help` and `certs-bot scan --help`, run as `node <tmp>/dist/cli.js`
// from a fresh production build of the working tree (see cli-build.ts). The help paths parse the
// command line like every command and load what the CLI loads before it runs one. Wall time from
// spawn to exit; medians, and their ratio to the floor. --against builds a git ref the same way
// and times it in the same rounds: a before/after on the same machine at the same moment.
// Progress on stderr; results on stdout, the last line one JSON object.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { buildCli, type BuiltCli } from "./cli-build.js";
import { CPUS, git, median, sourceState } from "./measure.js";

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
  /** What a run must print, so a build that fails fast is not timed as a fast start. */
  expect?: string;
}

const cliSubjects = (cli: string, prefix = ""): Subject[] => [
  { label: `${prefix}certs-bot --help`, args: [cli, "--help"], expect: "Usage: certs-bot [options]" },
  { label: `${prefix}certs-bot scan --help`, args: [cli, "scan", "--help"], expect: "Usage: certs-bot scan" },
];

function time(subject: Subject): number {
  const t0 = performance.now();
  const result = spawnSync(process.execPath, subject.args, { stdio: ["ignore", "pipe", "pipe"] });
  const ms = performance.now() - t0;
  const stdout = result.stdout.toString();
  if (result.status !== 0 || (subject.expect && !stdout.startsWith(subject.expect))) {
    throw new Error(
      `${subject.label} exited ${result.status}: ${result.stderr.toString().trim().slice(-500)}`,
    );
  }
  return ms;
}

const built: BuiltCli[] = [];
try {
  const source = sourceState();
  const tree = `${source.commit}${source.srcChanges ? " + uncommitted changes in src/" : ", src/ clean"}`;
  log(`building the CLI of the working tree (${tree})`);
  built.push(buildCli());
  const subjects: Subject[] = [{ label: "node -e 0", args: ["-e", "0"] }, ...cliSubjects(built[0]!.cli)];
  let against: string | undefined;
  if (values.against !== undefined) {
    against = `${values.against} (${git("rev-parse", "--short", values.against)})`;
    log(`building the CLI of ${against}`);
    built.push(buildCli(values.against));
    subjects.push(...cliSubjects(built[1]!.cli, `${values.against}: `));
  }
  for (const subject of subjects) time(subject); // warm-up: page cache, and the output checked once
  const loadAtStart = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const samples = subjects.map((): number[] => []);
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < subjects.length; k++) {
      const i = (k + r) % subjects.length;
      samples[i]!.push(time(subjects[i]!));
    }
  }
  const medians = samples.map(median);
  const floor = medians[0]!;
  const width = Math.max(...subjects.map((s) => s.label.length));
  const out = [
    `certs-bot start-up: whole processes, wall time, median of ${runs} interleaved runs; ${CPUS} CPUs; load at start ${loadAtStart}`,
    `code: working tree at ${tree}${against ? `, against ${against}` : ""}; each built with tsc into a temporary directory, run as node dist/cli.js`,
    "",
    ...subjects.map((subject, i) => {
      const ratio = medians[i]! / floor;
      const verdict =
        i === 0 ? "" : `   target ≤ ${TARGET_RATIO}×  ${ratio <= TARGET_RATIO ? "PASS" : "MISS"}`;
      return (
        `${subject.label.padEnd(width)}  ${medians[i]!.toFixed(0).padStart(5)} ms  ${ratio.toFixed(2).padStart(5)}×${verdict}` +
        `   runs: ${samples[i]!.map((ms) => ms.toFixed(0)).join(" ")}`
      );
    }),
  ];
  const figures = Object.fromEntries(
    subjects.map((subject, i) => [
      subject.label,
      { ms: Number(medians[i]!.toFixed(1)), ratio: Number((medians[i]! / floor).toFixed(2)) },
    ]),
  );
  const json = {
    startup: { runs, cpus: CPUS, commit: source.commit, against, targetRatio: TARGET_RATIO, figures },
  };
  process.stdout.write(`${out.join("\n")}\n\n${JSON.stringify(json)}\n`);
} finally {
  for (const cli of built) cli.remove();
}
