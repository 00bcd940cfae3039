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
  /**
   * Runs `/bin/sh -s` (through `sudo -n` when configured) with `guardScript(script)` on stdin:
   * `script` runs under `umask 077` and is killed, children and all, at the command deadline
   * (`options.timeoutMs`, or the node's command timeout).
   */
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

/** What the node's watchdog prints on stderr just before it kills the script at the deadline. */
const DEADLINE_MARKER = "@certs-bot deadline";

/**
 * The script a node really runs, wrapped so no caller can forget either guard:
 * - `umask 077`: whatever a script creates (a backup of pki/, a temporary file) is readable by
 *   its owner only;
 * - a deadline on the node itself: the script runs in an inner `/bin/sh` while a watchdog sleeps
 *   `timeoutMs` (whole seconds, rounded up), then prints DEADLINE_MARKER and kills the whole
 *   process group, so a child stuck on a FIFO or a hung tool dies even when the connection is
 *   already gone. The group is the script's own: sshd starts every session with setsid, and the
 *   local transport spawns detached.
 * The script goes in a quoted here-document (no expansion), so its exit status, stdout and stderr
 * pass through unchanged; the command line stays `/bin/sh -s`, which sudoers rules name.
 */
export function guardScript(script: string, timeoutMs: number): string {
  const body = script.endsWith("\n") ? script : `${script}\n`;
  let tag = "CERTS_BOT_SCRIPT";
  while (body.split("\n").includes(tag)) tag += "_";
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  return [
    "umask 077",
    // TERM (the script ended) stops the watchdog and its sleep; the sleep holds no pipe of ours.
    // PIPE is ignored at the deadline: a connection already gone must not spare the group.
    "( trap 'kill $s 2>/dev/null; exit 0' TERM",
    `  sleep ${seconds} </dev/null >/dev/null 2>&1 & s=$!`,
    // TERM first, so a script's own traps run (a parking script puts manifests back), then KILL.
    `  wait $s && { trap '' PIPE TERM; echo '${DEADLINE_MARKER}' >&2; kill -TERM 0; sleep 2; kill -KILL 0; } ) &`,
    "w=$!",
    `/bin/sh -s <<'${tag}'`,
    `${body}${tag}`,
    "s=$?",
    "kill $w 2>/dev/null",
    "exit $s",
    "",
  ].join("\n");
}

const deadlineError = (timeoutMs: number): TransportError =>
  new TransportError("timeout", `the scan command did not finish within ${timeoutMs} ms`);

/** Output bounds: a scan prints a few dozen KiB; anything far larger is not our script. */
export const MAX_STDOUT_BYTES = 4 * 1024 * 1024;
const MAX_STDERR_BYTES = 64 * 1024;

/**
 * Collects a child's stdout/stderr with size caps and a deadline. Both transports feed it; `abort`
 * tears down whatever carries the streams (a process or an SSH connection). The node's own
 * deadline (guardScript) ends in DEADLINE_MARKER, which is a timeout too.
 */
export class OutputCollector {
  private readonly out: Buffer[] = [];
  private readonly err: Buffer[] = [];
  private outBytes = 0;
  private errBytes = 0;
  /** The last bytes of stderr, past the cap too: the watchdog's marker is the very last. */
  private errTail = "";
  private timer: NodeJS.Timeout | undefined;
  readonly done: Promise<ExecResult>;
  private settle!: { resolve: (r: ExecResult) => void; reject: (e: Error) => void };
  private finished = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly abort: () => void,
  ) {
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => undefined); // callers await `done`; a failure before they do must not crash the process
    this.timer = setTimeout(() => this.fail(deadlineError(timeoutMs)), timeoutMs);
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
    this.errTail = (this.errTail + chunk.toString("latin1")).slice(-2 * DEADLINE_MARKER.length);
  };

  exit = (code: number | null): void => {
    if (this.errTail.trimEnd().endsWith(DEADLINE_MARKER)) return this.fail(deadlineError(this.timeoutMs));
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
