// The bot running on the control-plane node itself: the same script, run by a local /bin/sh.
import { spawn } from "node:child_process";
import {
  guardScript,
  OutputCollector,
  shellCommand,
  TransportError,
  type ExecResult,
  type RunOptions,
  type Transport,
} from "../../core/transport/transport.js";

export class LocalTransport implements Transport {
  constructor(private readonly options: { become: "none" | "sudo"; commandTimeoutMs: number }) {}

  run(script: string, options: RunOptions = {}): Promise<ExecResult> {
    const [command, ...args] = shellCommand(this.options.become) as [string, ...string[]];
    // Detached: the script gets its own process group (and session), which the node-side
    // watchdog kills at its deadline instead of ours, and which we kill at ours.
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], detached: true });
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs;
    const signalGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is already gone
      }
    };
    const collector = new OutputCollector(timeoutMs, () => {
      // The whole group, not just sh: an orphaned awk would keep running and hold the pipes. TERM
      // first, so the script's own traps run (a parking script puts its manifests back), then KILL.
      signalGroup("SIGTERM");
      setTimeout(() => signalGroup("SIGKILL"), 2_000).unref();
      // A child that left the group may still hold the pipes; we stop listening either way.
      child.stdin.destroy();
      child.stdout.destroy();
      child.stderr.destroy();
    });
    child.stdout.on("data", collector.stdout);
    child.stderr.on("data", collector.stderr);
    child.on("error", (err) =>
      collector.fail(new TransportError("exec", `cannot run ${command}: ${err.message}`)),
    );
    child.on("close", collector.exit);
    child.stdin.on("error", () => undefined); // the shell may exit before reading all of stdin
    child.stdin.end(guardScript(script, timeoutMs));
    return collector.done;
  }
}
