// `certs-bot serve` or `certs-bot worker` as a real child process (`node --import tsx src/cli.ts`),
// with what it writes kept for assertions (its logs are one JSON object a line) and every wait for
// its exit bounded.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";

export interface ServiceProcess {
  role: "serve" | "worker";
  child: ChildProcess;
  /** Everything it wrote, stdout and stderr. */
  output(): string;
  /** Its output, each line parsed as JSON (a line that is not fails the test). */
  lines(): Record<string, unknown>[];
  /** Its exit, or a failure naming what it wrote when it has not exited within `ms`. */
  exited(ms?: number): Promise<{ code: number | null; at: number }>;
  /** SIGTERM, then its exit code; "killed" (SIGKILL) when it has not exited within `ms`. */
  stop(ms?: number): Promise<number | null | "killed">;
}

/** Runs `role` with `configPath`, in this environment plus `env` (REDIS_URL, the prefix, Slack…). */
export function spawnService(
  role: ServiceProcess["role"],
  configPath: string,
  env: NodeJS.ProcessEnv,
): ServiceProcess {
  let output = "";
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", role, "--config", configPath], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once("exit", (code) => resolve({ code, at: Date.now() })),
  );
  const exited = async (ms = 60_000) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${role} did not exit within ${ms} ms:\n${output}`)), ms);
    });
    try {
      return await Promise.race([exit, late]);
    } finally {
      clearTimeout(timer);
    }
  };
  const stop = async (ms = 15_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill("SIGTERM");
    try {
      return (await exited(ms)).code;
    } catch {
      child.kill("SIGKILL");
      return "killed" as const;
    }
  };
  const lines = () =>
    output
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          assert.fail(`not a JSON line: ${line}`);
        }
      });
  return { role, child, output: () => output, lines, exited, stop };
}
