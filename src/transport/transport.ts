// A transport runs one script on one node and hands back what it printed. The scan needs nothing
// else from a node, so SSH and "the bot runs on the node itself" are two small implementations.

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the process ended by a signal. */
  code: number | null;
}

export interface RunOptions {
  /** A longer bound than the node's command timeout, for a script that waits on purpose. */
  timeoutMs?: number;
}

export interface Transport {
  /** Runs `/bin/sh -s` (through `sudo -n` when configured) with `script` on stdin. */
  run(script: string, options?: RunOptions): Promise<ExecResult>;
}

export type TransportFailure = "connect" | "auth" | "host-key" | "timeout" | "exec" | "config";

export class TransportError extends Error {
  constructor(
    readonly failure: TransportFailure,
    message: string,
  ) {
    super(message);
    this.name = "TransportError";
  }
}

/** The command line a node runs; fixed, so nothing from config or chat is ever in it. */
export function shellCommand(become: "none" | "sudo"): string[] {
  return become === "sudo" ? ["sudo", "-n", "/bin/sh", "-s"] : ["/bin/sh", "-s"];
}

/** Output bounds: a scan prints a few dozen KiB; anything far larger is not our script. */
export const MAX_STDOUT_BYTES = 4 * 1024 * 1024;
const MAX_STDERR_BYTES = 64 * 1024;

/**
 * Collects a child's stdout/stderr with size caps and a deadline. Both transports feed it; `abort`
 * tears down whatever carries the streams (a process or an SSH connection).
 */
export class OutputCollector {
  private readonly out: Buffer[] = [];
  private readonly err: Buffer[] = [];
  private outBytes = 0;
  private errBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  readonly done: Promise<ExecResult>;
  private settle!: { resolve: (r: ExecResult) => void; reject: (e: Error) => void };
  private finished = false;

  constructor(
    timeoutMs: number,
    private readonly abort: () => void,
  ) {
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => undefined); // callers await `done`; a failure before they do must not crash the process
    this.timer = setTimeout(
      () =>
        this.fail(new TransportError("timeout", `the scan command did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
  }

  stdout = (chunk: Buffer): void => {
    this.outBytes += chunk.length;
    if (this.outBytes > MAX_STDOUT_BYTES) {
      this.fail(new TransportError("exec", `the node sent more than ${MAX_STDOUT_BYTES} bytes`));
    } else this.out.push(chunk);
  };

  stderr = (chunk: Buffer): void => {
    if (this.errBytes < MAX_STDERR_BYTES) this.err.push(chunk);
    this.errBytes += chunk.length;
  };

  exit = (code: number | null): void => {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.settle.resolve({
      stdout: Buffer.concat(this.out).toString("utf8"),
      stderr: Buffer.concat(this.err).toString("utf8"),
      code,
    });
  };

  fail = (error: Error): void => {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.abort();
    this.settle.reject(error);
  };
}
