// What the Slack benches share: correctly signed `/certs` requests, a closed-loop load at a given
// concurrency, percentiles, `certs-bot serve` started as a whole process in HTTP mode, a bare HTTP
// server in a process of its own (the floor), and the CPU a process has used (/proc/<pid>/stat).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import { freePort } from "../test/lab/ports.js";

export const SECRET = "bench-signing-secret";

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

/** A `/certs TEXT` request as Slack sends it, from `user` in `channel`. */
export function commandBody(
  text: string,
  options: { channel: string; user: string; responseUrl: string; trigger: string },
): string {
  return new URLSearchParams({
    token: "unused",
    team_id: "T0TEAM",
    channel_id: options.channel,
    user_id: options.user,
    command: "/certs",
    text,
    response_url: options.responseUrl,
    trigger_id: options.trigger,
  }).toString();
}

/** POSTs a signed body; resolves with the milliseconds until the whole answer was read. */
export function post(agent: Agent, port: number, path: string, body: string): Promise<number> {
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

/**
 * Keep-alive connections per server and concurrency, kept from one load to the next, as a proxy in
 * front of a server keeps them. (Fifty fresh connections opened at once against a busy server are
 * accepted late: their first answers then take as long as the whole burst.)
 */
const agents = new Map<string, Agent>();

/** Closes the connections the loads kept. */
export function closeConnections(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

/** `count` requests, `concurrency` in flight at any moment (each waits for its answer). */
export async function load(
  target: { port: number; path: string },
  count: number,
  concurrency: number,
  body: (i: number) => string,
): Promise<number[]> {
  const key = `${target.port} ${concurrency}`;
  const agent = agents.get(key) ?? new Agent({ keepAlive: true, maxSockets: concurrency });
  agents.set(key, agent);
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        latencies.push(await post(agent, target.port, target.path, body(i)));
      }
    }),
  );
  return latencies;
}

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export interface Figures {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  over3s: number;
}

export function figuresOf(latencies: readonly number[]): Figures {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    p50Ms: +percentile(sorted, 50).toFixed(2),
    p99Ms: +percentile(sorted, 99).toFixed(2),
    maxMs: +sorted[sorted.length - 1]!.toFixed(2),
    over3s: sorted.filter((ms) => ms >= 3000).length,
  };
}

const CLK_TCK = 100; // USER_HZ, the unit of /proc/<pid>/stat

/** CPU milliseconds (user + system) a running process has used so far. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // After the parenthesised command name: utime and stime are fields 14 and 15 of the line.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1000;
}

/** Resident set size of a running process, in MiB (VmRSS). */
export function processRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  return +(kib / 1024).toFixed(1);
}

/** A server in a process of its own, on a loopback port. */
export interface ServerProcess {
  label: string;
  port: number;
  child: ChildProcess;
}

/** Polls a signed request until the process answers 200 (a minute at most). */
async function answering(target: ServerProcess, path: string, body: string): Promise<void> {
  const agent = new Agent({ keepAlive: false });
  try {
    for (let tries = 0; ; tries++) {
      try {
        await post(agent, target.port, path, body);
        return;
      } catch (err) {
        if (target.child.exitCode !== null || tries > 600)
          throw new Error(`${target.label}: did not answer`, { cause: err });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    agent.destroy();
  }
}

/**
 * The floor: a Node HTTP server in its own process that reads each request and answers 200 with an
 * empty body, so its CPU and latency are measured the same way as certs-bot's.
 */
export async function startBareServer(): Promise<ServerProcess> {
  const port = await freePort("127.0.0.1");
  const script =
    "require('node:http').createServer((req, res) => { req.resume(); req.on('end', () => res.end('')); })" +
    `.listen(${port}, '127.0.0.1')`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "ignore", "inherit"] });
  const server = { label: "bare HTTP", port, child };
  await answering(server, "/", "");
  return server;
}

/** `certs-bot serve` from a built CLI, in Slack's HTTP mode on its own port and Redis prefix. */
export async function startServe(options: {
  label: string;
  cli: string;
  configPath: string;
  redisUrl: string;
  slackApiUrl: string;
  prefix: string;
  /** A `/certs` body that answers 200 once serve listens. */
  probe: string;
}): Promise<ServerProcess> {
  const port = await freePort("127.0.0.1");
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    SLACK_BOT_TOKEN: "xoxb-test",
    SLACK_API_URL: options.slackApiUrl,
    SLACK_SIGNING_SECRET: SECRET,
    PORT: String(port),
    METRICS_PORT: "0",
    REDIS_URL: options.redisUrl,
    CERTS_BOT_REDIS_PREFIX: options.prefix,
    LOG_LEVEL: "warn",
  };
  const child = spawn(
    process.execPath,
    [...nodeOptions(), options.cli, "serve", "--config", options.configPath],
    {
      env,
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const served = { label: options.label, port, child };
  await answering(served, "/slack/events", options.probe);
  return served;
}

/** Extra node flags for the served process, e.g. BENCH_NODE_OPTIONS=--cpu-prof to profile it. */
const nodeOptions = (): string[] => (process.env.BENCH_NODE_OPTIONS ?? "").split(/\s+/).filter(Boolean);

/**
 * Waits until a process has used no CPU for two polls in a row (5 s at most), so work a request
 * left running after its answer (a reply through the response_url, a collection) counts for it.
 */
export async function quiescent(pid: number): Promise<void> {
  const deadline = Date.now() + 5000;
  let last = processCpuMs(pid);
  let still = 0;
  while (still < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 60));
    const now = processCpuMs(pid);
    still = now === last ? still + 1 : 0;
    last = now;
  }
}

/**
 * Puts every thread of a running process on these vCPUs (`taskset -a -p -c`, e.g. "1" or "0-1");
 * false when that cannot be done here (no taskset, or one vCPU).
 */
export function placeOn(pid: number, cpus: string): boolean {
  const placed = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
  return placed.status === 0;
}

/** SIGTERM, so serve stops as in production (and a --cpu-prof is written); SIGKILL after 15 s. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}
