// What a Redis is asked, as MONITOR shows it, on a plain socket of its own. ioredis's monitor mode
// fails with "Command queue state error" when other clients' commands stream in as MONITOR starts
// (the shared Redis is busy with other test files under CI), and its connection then stays open.
import { connect } from "node:net";

export interface RedisMonitor {
  /** Every command seen since the last call, as `name arg …` in lower case, whose args match. */
  take(): string[];
  stop(): void;
}

/** Starts MONITOR on `host:port`; resolves once Redis has confirmed it (5 s at most). */
export function monitorRedis(
  host: string,
  port: number,
  keep: (args: string[]) => boolean,
): Promise<RedisMonitor> {
  const socket = connect({ host, port });
  const seen: string[] = [];
  let pending = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error("MONITOR was not confirmed within 5 s")), 5000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once("error", fail);
    socket.on("connect", () => socket.write("MONITOR\r\n"));
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      const lines = (pending + chunk).split("\r\n");
      pending = lines.pop()!;
      for (const line of lines) {
        if (line === "+OK") {
          clearTimeout(timer);
          resolve({ take: () => seen.splice(0), stop: () => socket.destroy() });
        } else if (line.startsWith("-")) fail(new Error(`MONITOR refused: ${line.slice(1)}`));
        else {
          const args = argsOf(line);
          if (keep(args)) seen.push(args.join(" ").toLowerCase());
        }
      }
    });
  });
}

/** The quoted arguments of a MONITOR line: `+<time> [<db> <addr>] "GET" "key"`, escaped as Redis does. */
function argsOf(line: string): string[] {
  const args: string[] = [];
  for (const [, quoted] of line.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    args.push(
      quoted!.replace(/\\(x[0-9a-f]{2}|.)/g, (_, e: string) =>
        e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (ESCAPES[e] ?? e),
      ),
    );
  }
  return args;
}

const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", a: "\x07", b: "\b" };
