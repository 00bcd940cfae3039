// The bot running on the control-plane node itself: the same script, run by a local /bin/sh.
import { spawn } from "node:child_process";
import {
  OutputCollector,
  shellCommand,
  TransportError,
  type ExecResult,
  type RunOptions,
  type Transport,
} from "./transport.js";

export class LocalTransport implements Transport {
  constructor(private readonly options: { become: "none" | "sudo"; commandTimeoutMs: number }) {}

  run(script: string, options: RunOptions = {}): Promise<ExecResult> {
    const [command, ...args] = shellCommand(this.options.become) as [string, ...string[]];
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const collector = new OutputCollector(options.timeoutMs ?? this.options.commandTimeoutMs, () =>
      child.kill("SIGKILL"),
    );
    child.stdout.on("data", collector.stdout);
    child.stderr.on("data", collector.stderr);
    child.on("error", (err) =>
      collector.fail(new TransportError("exec", `cannot run ${command}: ${err.message}`)),
    );
    child.on("close", collector.exit);
    child.stdin.on("error", () => undefined); // the shell may exit before reading all of stdin
    child.stdin.end(script);
    return collector.done;
  }
}
