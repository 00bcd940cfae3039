// One SSH connection and one exec per node per scan (ssh2). Host keys are pinned from
// known_hosts, re-read when it changes; connect and command timeouts bound every node.
import { readFileSync, statSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { Client, type ConnectConfig } from "ssh2";
import type { SshSettings } from "../../config/load.js";
import { fingerprint, hostKeyAlgorithms, hostToken, KnownHosts, type HostKey } from "./known-hosts.js";
import {
  guardScript,
  OutputCollector,
  shellCommand,
  TransportError,
  type ExecResult,
  type RunOptions,
  type Transport,
} from "../../core/transport/transport.js";

export interface SshTarget {
  host: string;
  ssh: SshSettings;
}

/** A file's contents as parsed, and the stat it was read under. */
interface CachedFile<T> {
  stamp: string;
  value: T;
}

/** Reads each key and known_hosts file, again only when it changes, and makes a transport per node. */
export class SshConnector {
  private readonly keys = new Map<string, CachedFile<Buffer>>();
  private readonly knownHosts = new Map<string, CachedFile<KnownHosts>>();

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  transport(target: SshTarget): Transport {
    return { run: (script, options) => this.run(target, script, options) };
  }

  /**
   * Reads a file named by a setting; a stat per connection tells whether it changed (inode, size,
   * times), so an `@revoked` line or a rotated key counts from the next connection, without a
   * restart. A failure names the setting.
   */
  private static cached<T>(
    cache: Map<string, CachedFile<T>>,
    setting: string,
    path: string,
    read: (path: string) => T,
  ): T {
    try {
      const st = statSync(path, { bigint: true });
      const stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      const hit = cache.get(path);
      if (hit?.stamp === stamp) return hit.value;
      const value = read(path);
      cache.set(path, { stamp, value });
      return value;
    } catch (err) {
      throw new TransportError("config", `cannot read ${setting} ${path}: ${(err as Error).message}`);
    }
  }

  private privateKey(path: string): Buffer {
    return SshConnector.cached(this.keys, "ssh.privateKeyPath", path, (p) => readFileSync(p));
  }

  private hosts(path: string): KnownHosts {
    return SshConnector.cached(this.knownHosts, "ssh.knownHostsPath", path, (p) => KnownHosts.load(p));
  }

  private async run({ host, ssh }: SshTarget, script: string, options: RunOptions = {}): Promise<ExecResult> {
    const where = hostToken(host, ssh.port);
    const known = this.hosts(ssh.knownHostsPath);
    const pinned = pinnedKeys(known, host, ssh, where);
    const passphrase = this.passphrase(ssh);
    const hostKey = hostKeyCheck(known, pinned, where, ssh.knownHostsPath);
    const config: ConnectConfig = {
      host,
      port: ssh.port,
      username: ssh.user,
      privateKey: this.privateKey(ssh.privateKeyPath),
      passphrase,
      readyTimeout: ssh.connectTimeoutMs,
      algorithms: { serverHostKey: hostKeyAlgorithms(pinned) as never },
      hostVerifier: hostKey.verify,
    };
    return execOnce({ host, ssh }, config, script, options, () => hostKey.problem);
  }

  /** The key's passphrase from its environment variable, when the config names one. */
  private passphrase(ssh: SshSettings): string | undefined {
    if (!ssh.privateKeyPassphraseEnv) return undefined;
    const passphrase = this.env[ssh.privateKeyPassphraseEnv];
    if (passphrase === undefined) {
      throw new TransportError(
        "config",
        `environment variable ${ssh.privateKeyPassphraseEnv} (the key's passphrase) is not set`,
      );
    }
    return passphrase;
  }
}

/** The keys known_hosts pins for the node; none (unknown, or every one revoked) refuses to connect. */
function pinnedKeys(known: KnownHosts, host: string, ssh: SshSettings, where: string): HostKey[] {
  const pinned = known.keysFor(host, ssh.port);
  if (pinned.length > 0) return pinned;
  const revoked = known.revokedFor(host, ssh.port).map((k) => fingerprint(k.blob));
  throw new TransportError(
    "host-key",
    revoked.length > 0
      ? `the host key pinned for ${where} in ${ssh.knownHostsPath} is marked @revoked ` +
          `(${revoked.join(", ")}); refusing to connect. Verify the node's new key before pinning it.`
      : `no host key for ${where} in ${ssh.knownHostsPath}; refusing to connect (no trust on first use). ` +
          `Verify the node's key fingerprint and add it (ssh-keyscan -p ${ssh.port} ${host}).`,
  );
}

/** ssh2's host verifier against the pinned keys; `problem` keeps why it refused, for the error. */
function hostKeyCheck(
  known: KnownHosts,
  pinned: readonly HostKey[],
  where: string,
  knownHostsPath: string,
): { verify(key: Buffer): boolean; problem?: string } {
  const check: { verify(key: Buffer): boolean; problem?: string } = {
    verify: (key) => {
      if (known.isRevoked(key))
        check.problem = `the host key of ${where} (${fingerprint(key)}) is marked @revoked`;
      else if (!pinned.some((k) => k.blob.equals(key))) {
        check.problem =
          `HOST KEY MISMATCH for ${where}: it presented ${fingerprint(key)}, but ${knownHostsPath} pins ` +
          `${pinned.map((k) => fingerprint(k.blob)).join(", ")}. Someone may be intercepting the connection, ` +
          "or the host was reinstalled; verify before updating known_hosts.";
      }
      return check.problem === undefined;
    },
  };
  return check;
}

/** One connection, one exec of the guarded script; the connection is closed whatever happens. */
async function execOnce(
  { host, ssh }: SshTarget,
  config: ConnectConfig,
  script: string,
  options: RunOptions,
  hostKeyProblem: () => string | undefined,
): Promise<ExecResult> {
  const where = hostToken(host, ssh.port);
  // Our own socket with TCP_NODELAY: ssh2 leaves Nagle on, and with delayed ACKs every
  // handshake round trip stalls (~85 ms a connection measured by `npm run bench`).
  const sock = tcpConnect({ host, port: ssh.port, noDelay: true });
  const client = new Client();
  const collector = new OutputCollector(
    ssh.connectTimeoutMs + (options.timeoutMs ?? ssh.commandTimeoutMs),
    () => client.destroy(),
  );
  client.on("error", (err: Error & { level?: string; code?: string }) =>
    collector.fail(describeError(err, where, ssh, hostKeyProblem())),
  );
  client.on("close", () =>
    collector.fail(new TransportError("connect", `the connection to ${where} closed early`)),
  );
  client.on("ready", () => {
    client.exec(shellCommand(ssh.become).join(" "), (err, stream) => {
      if (err) return collector.fail(new TransportError("exec", `exec on ${where} failed: ${err.message}`));
      stream.on("data", collector.stdout);
      stream.stderr.on("data", collector.stderr);
      stream.on("close", (code: number | null) => collector.exit(code ?? null));
      stream.end(guardScript(script, options.timeoutMs ?? ssh.commandTimeoutMs));
    });
  });
  try {
    client.connect({ ...config, sock }); // throws at once for a key it cannot parse or decrypt
  } catch (err) {
    collector.fail(
      new TransportError("config", `cannot use ${ssh.privateKeyPath}: ${(err as Error).message}`),
    );
  }
  try {
    return await collector.done;
  } finally {
    client.end();
    sock.destroy();
  }
}

function describeError(
  err: Error & { level?: string; code?: string },
  where: string,
  ssh: SshSettings,
  hostKeyProblem: string | undefined,
): TransportError {
  if (hostKeyProblem) return new TransportError("host-key", hostKeyProblem);
  if (err.level === "client-authentication") {
    return new TransportError(
      "auth",
      `authentication as ${ssh.user} at ${where} failed with key ${ssh.privateKeyPath}`,
    );
  }
  if (/timed out/i.test(err.message) || err.code === "ETIMEDOUT") {
    return new TransportError(
      "timeout",
      `cannot connect to ${where}: no SSH handshake within ${ssh.connectTimeoutMs} ms`,
    );
  }
  if (err.code === "ECONNREFUSED")
    return new TransportError("connect", `cannot connect to ${where}: connection refused`);
  if (err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") {
    return new TransportError("connect", `cannot resolve ${where}`);
  }
  if (/encrypted private key|passphrase/i.test(err.message)) {
    return new TransportError("config", `cannot use ${ssh.privateKeyPath}: ${err.message}`);
  }
  return new TransportError("connect", `cannot scan ${where}: ${err.message}`);
}
