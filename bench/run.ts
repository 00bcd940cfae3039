// `npm run bench`: the scan benchmark, the /certs ack-latency benchmark, /certs at fleet scale, then
// CLI start-up, each printing its own block; the last line is one JSON object: the scan figures, plus
// `ack`, `fleet` and `startup`.
// Arguments go to the scan benchmark (`npm run bench -- --nodes 50`); `--against <git ref>` goes to all
// four, which then time that ref's build side by side with the working tree's in the same rounds.
import { spawn } from "node:child_process";

function run(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} exited ${code}`))));
  });
}

const lastJson = (out: string): Record<string, unknown> => JSON.parse(out.trim().split("\n").at(-1)!);

const args = process.argv.slice(2);
const at = args.indexOf("--against");
const against = at >= 0 && args[at + 1] !== undefined ? ["--against", args[at + 1]!] : [];

const scan = lastJson(await run("bench/scan.bench.ts", args));
process.stdout.write("\n");
const ack = lastJson(await run("bench/ack.bench.ts", against));
process.stdout.write("\n");
const fleet = lastJson(await run("bench/fleet.bench.ts", against));
process.stdout.write("\n");
const startup = lastJson(await run("bench/startup.bench.ts", against));
process.stdout.write(`\n${JSON.stringify({ ...scan, ...ack, ...fleet, ...startup })}\n`);
