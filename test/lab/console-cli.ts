// The real `certs-bot console` as a child process, for tests: lines piped to its stdin (each is
// echoed after its prompt, so stdout reads as a transcript), and what it printed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";

export interface ConsoleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function consoleCli(args: string[], lines: string[], env: NodeJS.ProcessEnv): Promise<ConsoleRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "console", ...args], { env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(lines.map((line) => `${line}\n`).join(""));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The transcript cut at an echoed prompt line: what followed `USER> LINE`, up to the next prompt. */
export function transcriptAfter(stdout: string, promptLine: string): string {
  const start = stdout.indexOf(`${promptLine}\n`);
  assert.ok(start >= 0, `the transcript has ${promptLine}`);
  const rest = stdout.slice(start + promptLine.length + 1);
  const next = rest.search(/^U0[A-Z0-9]+> /m);
  return next < 0 ? rest : rest.slice(0, next);
}
