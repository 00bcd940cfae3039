// Small measuring helpers: wall time, this process's CPU, the whole machine's busy CPU (so a
// loopback lab that shares its cores with the client shows when it is CPU-bound), the CPU of reaped
// child processes, and how many processes the kernel created meanwhile; and which code was measured.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");

/** git in the repository: its output, trimmed; throws when git fails. */
export function git(...args: string[]): string {
  return execFileSync("git", args, { cwd: REPO, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** A git ref as the benches name it: `main (1a2b3c4)`, or just the short commit when that is the ref. */
export function refLabel(ref: string): string {
  const commit = git("rev-parse", "--short", ref);
  return commit === ref ? ref : `${ref} (${commit})`;
}

/** Which code is measured: others may commit or edit src/ while the bench runs. */
export function sourceState(): { commit: string; srcChanges: string } {
  const tryGit = (...args: string[]) => {
    try {
      return git(...args);
    } catch {
      return "?";
    }
  };
  return {
    commit: tryGit("rev-parse", "--short", "HEAD"),
    srcChanges: tryGit("status", "--porcelain", "--", "src"),
  };
}

const CLK_TCK = 100; // USER_HZ: the unit of /proc/stat and /proc/<pid>/stat on every Linux ABI

/** Busy (non-idle, non-iowait) CPU seconds of the whole machine since boot, all cores summed. */
function machineBusySeconds(): number {
  const first = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const ticks = first.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}

/** CPU seconds of this process's waited-for children (cutime + cstime). */
export function childrenCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
}

const PID_MAX = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8").trim()) || 32_768;

/** The kernel's most recently assigned PID (processes and threads). */
export function lastPid(): number {
  return Number(readFileSync("/proc/loadavg", "utf8").trim().split(/\s+/)[4]);
}

/** PIDs handed out between two lastPid() readings (system-wide, so approximate on a busy box). */
export function pidsBetween(before: number, after: number): number {
  return after >= before ? after - before : after + PID_MAX - before;
}

export const CPUS = availableParallelism();

export interface Sample<T> {
  value: T;
  ms: number;
  /** This process, user + system. */
  cpuMs: number;
  /** All cores of the machine, busy time (includes the lab's sshds and everything else running). */
  machineCpuMs: number;
  /** Processes/threads created system-wide meanwhile. */
  pids: number;
}

export async function measure<T>(fn: () => Promise<T>): Promise<Sample<T>> {
  const pid0 = lastPid();
  const machine0 = machineBusySeconds();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const machineCpuMs = (machineBusySeconds() - machine0) * 1000;
  return {
    value,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    machineCpuMs,
    pids: pidsBetween(pid0, lastPid()),
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A small seeded PRNG (mulberry32), so a naive sample is reproducible from --seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function sample<T>(items: readonly T[], count: number, random: () => number): T[] {
  const pool = [...items];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}
