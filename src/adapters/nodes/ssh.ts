// One SSH connection and one exec per node per scan (ssh2). Host keys are pinned from
// known_hosts, re-read when it changes; connect and command timeouts bound every node. A node
// behind a bastion (ssh.jumpHost) is reached through it: certs-bot connects to the bastion, which
// opens the TCP connection to the node (forwardOut), and the node's SSH session runs inside that
// channel. The bastion's host key is pinned exactly like a node's, and the same key or ssh-agent
// signs for both.
import { readFileSync, statSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import type { Duplex } from "node:stream";
import { Client, type ConnectConfig } from "ssh2";
import type { JumpHost, SshSettings } from "../../config/load.js";
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
import { nodeAddress } from "../../core/transport/address.js";

export interface SshTarget {
  host: string;
  ssh: SshSettings;
}

/** A file's contents as parsed, and the stat it was read under. */
interface CachedFile<T> {
  stamp: string;
  value: T;
}

/** One end of an SSH connection: the node, or the bastion in front of it. */
interface Endpoint {
  host: string;
  port: number;
  user: string;
  knownHostsPath: string;
  /** How errors name it: `[10.0.0.5]:2222`, `bastion jump.example.com`. */
  where: string;
}

/** What signs the authentication: a private key, or the ssh-agent at a socket. */
type Signer = { privateKey: Buffer; passphrase?: string; name: string } | { agent: string; name: string };

/** A ready connection to an endpoint, and why ssh2 failed on it, in words that name the endpoint. */
interface Hop {
  client: Client;
  ready: Promise<void>;
  describe(err: Error & { level?: string; code?: string }): TransportError;
}

/** A TCP stream to a port of the node, opened by its bastion; `close` lets the bastion go. */
interface Tunnel {
  stream: Duplex;
  close(): void;
}

/** A connection to a bastion, and how many tunnels through it are open or opening. */
interface SharedBastion {
  ready: Promise<Client>;
  users: number;
  close(): void;
}

const nodeEndpoint = ({ host, ssh }: SshTarget): Endpoint => ({
  host,
  port: ssh.port,
  user: ssh.user,
  knownHostsPath: ssh.knownHostsPath,
  where: hostToken(host, ssh.port),
});

const bastionEndpoint = (jump: JumpHost): Endpoint => ({
  ...jump,
  where: `bastion ${hostToken(jump.host, jump.port)}`,
});

/** Reads each key and known_hosts file, again only when it changes, and makes a transport per node. */
export class SshConnector {
  private readonly keys = new Map<string, CachedFile<Buffer>>();
  private readonly knownHosts = new Map<string, CachedFile<KnownHosts>>();
  private readonly bastions = new Map<string, SharedBastion>();

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  transport(target: SshTarget): Transport {
    return { run: (script, options) => this.run(target, script, options) };
  }

  /**
   * `use` with a TCP stream to `port` on the node the way the node is reached: through its bastion
   * (`use` gets the forwarded stream) or, without one, directly (`use` gets nothing and connects
   * itself). Rejects with a TransportError when the bastion cannot be reached or cannot connect.
   */
  async reach<T>(target: SshTarget, port: number, use: (through?: Duplex) => Promise<T>): Promise<T> {
    if (!target.ssh.jumpHost) return use();
    const tunnel = await this.tunnel(target, port, this.signer(target.ssh));
    try {
      return await use(tunnel.stream);
    } finally {
      tunnel.close();
    }
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

  private hosts(setting: string, path: string): KnownHosts {
    return SshConnector.cached(this.knownHosts, setting, path, (p) => KnownHosts.load(p));
  }

  /**
   * The ssh-agent when `agent` is true, or when it is unset and so is privateKeyPath and
   * SSH_AUTH_SOCK names a socket; otherwise the key file. Only the socket's path is ever named.
   */
  private signer(ssh: SshSettings): Signer {
    const socket = this.env.SSH_AUTH_SOCK || undefined;
    if (ssh.agent === true && !socket) {
      throw new TransportError(
        "config",
        "ssh.agent is true, but SSH_AUTH_SOCK is not set: point it at the ssh-agent's socket",
      );
    }
    if (socket && (ssh.agent === true || ssh.agent === "if-SSH_AUTH_SOCK")) {
      const name = `the ssh-agent at ${socket} (SSH_AUTH_SOCK)`;
      let isSocket: boolean;
      try {
        isSocket = statSync(socket).isSocket();
      } catch (err) {
        const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
        throw new TransportError(
          "config",
          `cannot use ${name}: ${missing ? "no such socket (is the agent running?)" : (err as Error).message}`,
        );
      }
      if (!isSocket) throw new TransportError("config", `cannot use ${name}: it is not a socket`);
      return { agent: socket, name };
    }
    const passphrase = this.passphrase(ssh);
    return {
      privateKey: this.privateKey(ssh.privateKeyPath),
      ...(passphrase === undefined ? {} : { passphrase }),
      name: `key ${ssh.privateKeyPath}`,
    };
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

  /**
   * What an SSH connection to `endpoint` checks before it touches the network (known_hosts, the
   * key), which throws at once; then `connect` starts it over `sock`.
   */
  private prepare(
    endpoint: Endpoint,
    setting: string,
    signer: Signer,
    timeoutMs: number,
  ): { connect(sock: Duplex): Hop } {
    const known = this.hosts(setting, endpoint.knownHostsPath);
    const pinned = pinnedKeys(known, endpoint);
    const auth: ConnectConfig =
      "agent" in signer
        ? { agent: signer.agent }
        : { privateKey: signer.privateKey, passphrase: signer.passphrase };
    return {
      connect: (sock) => {
        const hostKey = hostKeyCheck(known, pinned, endpoint);
        const client = new Client();
        const describe = (err: Error & { level?: string; code?: string }) =>
          describeError(err, endpoint, signer, timeoutMs, hostKey.problem);
        const ready = new Promise<void>((resolve, reject) => {
          client.once("ready", resolve);
          client.on("error", (err) => reject(describe(err)));
          client.once("close", () =>
            reject(new TransportError("connect", `the connection to ${endpoint.where} closed early`)),
          );
        });
        ready.catch(() => undefined); // awaited by the caller; a failure before it does must not crash
        try {
          client.connect({
            host: endpoint.host,
            port: endpoint.port,
            username: endpoint.user,
            ...auth,
            readyTimeout: timeoutMs,
            algorithms: { serverHostKey: hostKeyAlgorithms(pinned) as never },
            hostVerifier: hostKey.verify,
            sock,
          });
        } catch (err) {
          // ssh2 throws at once for a key it cannot parse or decrypt
          client.destroy();
          throw new TransportError("config", `cannot use ${signer.name}: ${(err as Error).message}`);
        }
        return { client, ready, describe };
      },
    };
  }

  /**
   * A port of the node, through its bastion. Tunnels through one bastion share one connection to
   * it while any of them is open (a scan opens two a node at once: its SSH session and the
   * apiserver probe), since a bastion's sshd drops handshakes past a few at once (MaxStartups,
   * 10 by default). The last one closed closes it; the next one connects, and checks, anew.
   */
  private async tunnel({ host, ssh }: SshTarget, port: number, signer: Signer): Promise<Tunnel> {
    const jump = ssh.jumpHost!;
    const bastion = bastionEndpoint(jump);
    const key = JSON.stringify([jump.host, jump.port, jump.user, jump.knownHostsPath, signer.name]);
    let shared = this.bastions.get(key);
    if (!shared) {
      const setting =
        jump.knownHostsPath === ssh.knownHostsPath ? "ssh.knownHostsPath" : "ssh.jumpHost.knownHostsPath";
      const opened: SharedBastion = this.connectBastion(
        bastion,
        setting,
        signer,
        ssh.connectTimeoutMs,
        () => {
          if (this.bastions.get(key) === opened) this.bastions.delete(key);
        },
      );
      this.bastions.set(key, (shared = opened));
    }
    const connection = shared;
    connection.users += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      connection.users -= 1;
      if (connection.users > 0) return;
      if (this.bastions.get(key) === connection) this.bastions.delete(key);
      connection.close();
    };
    try {
      const client = await connection.ready;
      const stream = await forwardOut(client, bastion, host, port, ssh.connectTimeoutMs);
      return {
        stream,
        close: () => {
          stream.destroy();
          release();
        },
      };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** A connection to a bastion; `gone` when it fails or closes, so no new tunnel takes it. */
  private connectBastion(
    bastion: Endpoint,
    setting: string,
    signer: Signer,
    timeoutMs: number,
    gone: () => void,
  ): SharedBastion {
    const hop = this.prepare(bastion, setting, signer, timeoutMs);
    const sock = directSocket(bastion.host, bastion.port);
    let client: Client | undefined;
    const close = () => {
      client?.end();
      sock.destroy();
    };
    sock.once("close", gone);
    try {
      const connection = hop.connect(sock);
      client = connection.client;
      const ready = connection.ready.then(() => connection.client);
      ready.catch(gone);
      return { ready, users: 0, close };
    } catch (err) {
      close();
      throw err;
    }
  }

  private async run(target: SshTarget, script: string, options: RunOptions = {}): Promise<ExecResult> {
    const { ssh } = target;
    const node = nodeEndpoint(target);
    const signer = this.signer(ssh);
    const hop = this.prepare(node, "ssh.knownHostsPath", signer, ssh.connectTimeoutMs);
    const commandTimeoutMs = options.timeoutMs ?? ssh.commandTimeoutMs;
    // Through a bastion, three steps may each take the connect timeout: its handshake, its
    // connection to the node, the node's handshake.
    const connectMs = ssh.connectTimeoutMs * (ssh.jumpHost ? 3 : 1);
    const closers: (() => void)[] = [];
    const closeAll = () =>
      closers
        .splice(0)
        .reverse()
        .forEach((close) => close());
    const collector = new OutputCollector(connectMs + commandTimeoutMs, closeAll);
    try {
      let sock: Duplex;
      if (ssh.jumpHost) {
        const tunnel = await this.tunnel(target, ssh.port, signer);
        closers.push(tunnel.close);
        sock = tunnel.stream;
      } else {
        const direct = directSocket(target.host, ssh.port);
        closers.push(() => direct.destroy());
        sock = direct;
      }
      const { client, ready, describe } = hop.connect(sock);
      closers.push(() => client.end());
      ready.then(
        () => {
          client.on("error", (err) => collector.fail(describe(err)));
          client.on("close", () =>
            collector.fail(new TransportError("connect", `the connection to ${node.where} closed early`)),
          );
          exec(client, node, ssh.become, script, commandTimeoutMs, collector);
        },
        (err: Error) => collector.fail(err),
      );
      return await collector.done;
    } catch (err) {
      collector.fail(err as Error); // a failure before the collector saw it: stop its deadline
      throw err;
    } finally {
      closeAll();
    }
  }
}

/**
 * Our own socket with TCP_NODELAY: ssh2 leaves Nagle on, and with delayed ACKs every handshake
 * round trip stalls (~85 ms a connection measured by `npm run bench`).
 */
function directSocket(host: string, port: number): Duplex {
  return tcpConnect({ host, port, noDelay: true });
}

/** The bastion's connection to host:port, bounded: a bastion whose target is silent would hang. */
function forwardOut(
  bastion: Client,
  endpoint: Endpoint,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<Duplex> {
  const to = nodeAddress(host, port);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new TransportError(
            "timeout",
            `the ${endpoint.where} did not connect to ${to} within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    bastion.forwardOut("127.0.0.1", 0, host, port, (err, stream) => {
      clearTimeout(timer);
      if (err) {
        return reject(
          new TransportError("connect", `the ${endpoint.where} cannot connect to ${to}: ${refusal(err)}`),
        );
      }
      resolve(stream);
    });
  });
}

/**
 * Why a bastion refused a channel: its own words (OpenSSH: "Connection refused", "open failed"),
 * and for "administratively prohibited" (RFC 4254 reason 1) where that is configured.
 */
function refusal(err: Error & { reason?: number | string }): string {
  const said = err.message.replace(/^\(SSH\) Channel open failure: /, "");
  return err.reason === 1
    ? `${said} (administratively prohibited: the bastion's PermitOpen or AllowTcpForwarding, or ` +
        "the key's permitopen= in its authorized_keys, does not allow it)"
    : said;
}

/** One exec of the guarded script on a ready connection, its output into the collector. */
function exec(
  client: Client,
  node: Endpoint,
  become: SshSettings["become"],
  script: string,
  timeoutMs: number,
  collector: OutputCollector,
): void {
  client.exec(shellCommand(become).join(" "), (err, stream) => {
    if (err)
      return collector.fail(new TransportError("exec", `exec on ${node.where} failed: ${err.message}`));
    stream.on("data", collector.stdout);
    stream.stderr.on("data", collector.stderr);
    stream.on("close", (code: number | null) => collector.exit(code ?? null));
    stream.end(guardScript(script, timeoutMs));
  });
}

/** The keys known_hosts pins for the endpoint; none (unknown, or every one revoked) refuses to connect. */
function pinnedKeys(known: KnownHosts, { host, port, where, knownHostsPath }: Endpoint): HostKey[] {
  const pinned = known.keysFor(host, port);
  if (pinned.length > 0) return pinned;
  const revoked = known.revokedFor(host, port).map((k) => fingerprint(k.blob));
  throw new TransportError(
    "host-key",
    revoked.length > 0
      ? `the host key pinned for ${where} in ${knownHostsPath} is marked @revoked ` +
          `(${revoked.join(", ")}); refusing to connect. Verify the new key before pinning it.`
      : `no host key for ${where} in ${knownHostsPath}; refusing to connect (no trust on first use). ` +
          `Verify its key fingerprint and add it (ssh-keyscan -p ${port} ${host}).`,
  );
}

/** ssh2's host verifier against the pinned keys; `problem` keeps why it refused, for the error. */
function hostKeyCheck(
  known: KnownHosts,
  pinned: readonly HostKey[],
  { where, knownHostsPath }: Endpoint,
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

function describeError(
  err: Error & { level?: string; code?: string },
  { where, user }: Endpoint,
  signer: Signer,
  timeoutMs: number,
  hostKeyProblem: string | undefined,
): TransportError {
  if (hostKeyProblem) return new TransportError("host-key", hostKeyProblem);
  if (err.level === "agent") {
    // The socket exists (checked before connecting); ssh2 says only "Failed to connect to agent".
    const refused = /connect/i.test(err.message);
    return new TransportError(
      "auth",
      `cannot use ${signer.name}: ${refused ? "nothing answers on the socket (is the agent still running?)" : err.message}`,
    );
  }
  if (err.level === "client-authentication") {
    return new TransportError("auth", `authentication as ${user} at ${where} failed with ${signer.name}`);
  }
  if (/timed out/i.test(err.message) || err.code === "ETIMEDOUT") {
    return new TransportError(
      "timeout",
      `cannot connect to ${where}: no SSH handshake within ${timeoutMs} ms`,
    );
  }
  if (err.code === "ECONNREFUSED")
    return new TransportError("connect", `cannot connect to ${where}: connection refused`);
  if (err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") {
    return new TransportError("connect", `cannot resolve ${where}`);
  }
  if (/encrypted private key|passphrase/i.test(err.message)) {
    return new TransportError("config", `cannot use ${signer.name}: ${err.message}`);
  }
  return new TransportError("connect", `cannot scan ${where}: ${err.message}`);
}
