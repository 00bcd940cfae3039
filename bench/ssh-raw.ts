// Bare ssh2: one connection, one exec, close. What the limit and the naive baseline are made of,
// with none of certs-bot's own work (known_hosts pinning, script, parsing, judging).
import { connect } from "node:net";
import { Client, type ConnectConfig } from "ssh2";

export interface RawTarget {
  host: string;
  port: number;
  username: string;
  privateKey: Buffer;
}

export interface RawResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Connects, runs `command`, and resolves when its channel closes, then ends the connection —
 * the same point at which certs-bot's SSH transport hands back a node's output. `noDelay`: a socket
 * with TCP_NODELAY (a reference figure only; certs-bot, like ssh2, leaves Nagle on).
 */
export function sshExec(
  target: RawTarget,
  command: string,
  { timeoutMs = 120_000, noDelay = false }: { timeoutMs?: number; noDelay?: boolean } = {},
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    const finish = (error: Error | undefined, code: number | null = null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        client.destroy();
        reject(new Error(`${target.host}:${target.port}: ${error.message}`));
        return;
      }
      client.end();
      resolve({
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    };
    const timer = setTimeout(() => finish(new Error(`no result within ${timeoutMs} ms`)), timeoutMs);
    client.on("error", (e) => finish(e));
    client.on("close", () => finish(new Error("connection closed early")));
    client.on("ready", () => {
      client.exec(command, (e, stream) => {
        if (e) return finish(e);
        stream.on("data", (chunk: Buffer) => out.push(chunk));
        stream.stderr.on("data", (chunk: Buffer) => err.push(chunk));
        stream.on("close", (code: number | null) => finish(undefined, code ?? null));
        stream.end();
      });
    });
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.username,
      privateKey: target.privateKey,
      readyTimeout: timeoutMs,
    };
    // ssh2 never disables Nagle on the socket it makes; with our own socket it can be.
    if (noDelay) config.sock = connect({ host: target.host, port: target.port, noDelay: true });
    client.connect(config);
  });
}
