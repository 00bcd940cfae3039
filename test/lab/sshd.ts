// Real OpenSSH servers on loopback, one per lab node, with two real local users: the scanner is
// tested against the same sshd, sudo and /bin/sh it meets in production.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type { LabNetns } from "./netns.js";

const run = promisify(execFile);

export interface LabUsers {
  plain: string;
  sudo: string;
  plainUid: number;
  plainGid: number;
  /** Private key (ed25519, no passphrase) accepted for both users by every lab sshd. */
  clientKeyPath: string;
  /** "ssh-ed25519 AAAA… comment". */
  clientPublicKey: string;
}

const PLAIN_USER = "cb-lab";
const SUDO_USER = "cb-sudo";
const SUDOERS_PATH = "/etc/sudoers.d/cb-sudo";
// !secure_path: keep the session PATH (a lab node's bin/, where its kubeadm lives) under sudo too,
// as the real kubeadm in /usr/bin would be found by a real node's secure_path.
const SUDOERS = `# certs-bot test lab: the scanner's privileged reads and nothing else.
Defaults:${SUDO_USER} !secure_path
${SUDO_USER} ALL=(root) NOPASSWD: /bin/sh -s
`;

function passwdEntry(user: string): { uid: number; gid: number } | undefined {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${user}:`));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

async function ensureUser(user: string): Promise<void> {
  if (passwdEntry(user)) return;
  // Password "*" rather than useradd's default "!": sshd without PAM refuses locked accounts even
  // for public-key logins, while "*" only rules out passwords.
  await run("useradd", ["-m", "-s", "/bin/sh", "-p", "*", user]).catch((err: unknown) => {
    if (!passwdEntry(user)) throw err; // lost a race with another lab process: fine
  });
}

function ensureSudoers(): Promise<unknown> | undefined {
  if (existsSync(SUDOERS_PATH) && readFileSync(SUDOERS_PATH, "utf8") === SUDOERS) return undefined;
  // sudo skips sudoers.d names containing a dot, so the candidate is inert until renamed.
  const candidate = `${SUDOERS_PATH}.new`;
  writeFileSync(candidate, SUDOERS);
  chmodSync(candidate, 0o440);
  return run("visudo", ["-cf", candidate]).then(
    () => renameSync(candidate, SUDOERS_PATH),
    (err: unknown) => {
      rmSync(candidate, { force: true });
      throw err;
    },
  );
}

const ensured = new Map<string, Promise<LabUsers>>();

/** Idempotent; needs root. Concurrent calls for one dir share the work. */
export function ensureLabUsers(dir: string): Promise<LabUsers> {
  let users = ensured.get(dir);
  if (!users) {
    users = (async () => {
      await Promise.all([ensureUser(PLAIN_USER), ensureUser(SUDO_USER)]);
      await ensureSudoers();
      mkdirSync(dir, { recursive: true });
      const clientKeyPath = join(dir, "id_ed25519");
      if (!existsSync(clientKeyPath)) {
        await run("ssh-keygen", [
          "-q",
          "-t",
          "ed25519",
          "-N",
          "",
          "-C",
          "certs-bot-lab",
          "-f",
          clientKeyPath,
        ]);
      }
      const plain = passwdEntry(PLAIN_USER)!;
      return {
        plain: PLAIN_USER,
        sudo: SUDO_USER,
        plainUid: plain.uid,
        plainGid: plain.gid,
        clientKeyPath,
        clientPublicKey: readFileSync(`${clientKeyPath}.pub`, "utf8").trim(),
      };
    })();
    ensured.set(dir, users);
  }
  return users;
}

export interface SshdOptions {
  /** sshd's own directory; it and its ancestors must be traversable by the lab users. */
  dir: string;
  address: string;
  port: number;
  users: LabUsers;
  /** Prepended to sessions' PATH, e.g. a lab node's binDir. */
  pathPrepend?: string;
  /** The rest of sessions' PATH; default /usr/local/bin:/usr/bin:/bin. */
  systemPath?: string;
  hostKeyType?: "ed25519" | "rsa" | "ecdsa";
  /** authorized_keys options before the client key, e.g. `restrict,port-forwarding`. */
  authorizedKeyOptions?: string;
  /** A network namespace (test/lab/netns.ts) to run in: then `address` is on its loopback. */
  netns?: LabNetns;
}

export interface LabSshd {
  address: string;
  port: number;
  /** "ssh-ed25519 AAAA…", no comment. */
  hostPublicKey: string;
  /** A known_hosts line for this server; hashed like `ssh-keygen -H` (HashKnownHosts). */
  knownHostsLine(hashed?: boolean): string;
  /**
   * Kill this sshd at once together with every sshd process of its connections, as a crash or a
   * cut network does: live sessions end and new connections are refused. What those sessions ran
   * (a shell, a sudo) is left to what a lost connection does to it: its input ends, its output breaks.
   */
  drop(): Promise<void>;
  /** Start it again (after drop or stop): the same address, port, host key and configuration. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 5000;

// An sshd whose test crashed or forgot stop() would otherwise outlive the test process and keep its
// address:port; killing on "exit" covers everything but SIGKILL.
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill();
});

export async function startSshd(opts: SshdOptions): Promise<LabSshd> {
  const keyType = opts.hostKeyType ?? "ed25519";
  mkdirSync(opts.dir, { recursive: true });
  chmodSync(opts.dir, 0o755); // sshd reads AuthorizedKeysFile as the user logging in
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // sshd's privilege-separation chroot

  const hostKey = join(opts.dir, `ssh_host_${keyType}_key`);
  if (!existsSync(hostKey)) await run("ssh-keygen", ["-q", "-t", keyType, "-N", "", "-C", "", "-f", hostKey]);
  const hostPublicKey = readFileSync(`${hostKey}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
  const authorizedKeys = join(opts.dir, "authorized_keys");
  const keyOptions = opts.authorizedKeyOptions ? `${opts.authorizedKeyOptions} ` : "";
  writeFileSync(authorizedKeys, `${keyOptions}${opts.users.clientPublicKey}\n`);
  chmodSync(authorizedKeys, 0o644);
  const pidFile = join(opts.dir, "sshd.pid");
  rmSync(pidFile, { force: true });
  const config = join(opts.dir, "sshd_config");
  writeFileSync(
    config,
    [
      `ListenAddress ${opts.address}:${opts.port}`,
      `HostKey ${hostKey}`,
      `PidFile ${pidFile}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "MaxStartups 200:30:400",
      "MaxSessions 50",
      "LogLevel ERROR",
      // Quoted: a node's bin directory may contain spaces.
      `SetEnv "PATH=${[opts.pathPrepend, opts.systemPath ?? "/usr/local/bin:/usr/bin:/bin"].filter(Boolean).join(":")}"`,
      "",
    ].join("\n"),
  );

  const where = `${opts.address}:${opts.port}`;
  const command: [string, ...string[]] = opts.netns
    ? opts.netns.command("/usr/sbin/sshd")
    : ["/usr/sbin/sshd"];
  let daemon = await launch(command, config, pidFile, where);

  const hostPattern = opts.port === 22 ? opts.address : `[${opts.address}]:${opts.port}`;
  return {
    address: opts.address,
    port: opts.port,
    hostPublicKey,
    knownHostsLine(hashed = false) {
      if (!hashed) return `${hostPattern} ${hostPublicKey}`;
      const salt = randomBytes(20);
      const hash = createHmac("sha1", salt).update(hostPattern).digest();
      return `|1|${salt.toString("base64")}|${hash.toString("base64")} ${hostPublicKey}`;
    },
    drop: () => daemon.drop(),
    async start() {
      if (daemon.running()) throw new Error(`lab sshd on ${where} is already running`);
      daemon = await launch(command, config, pidFile, where);
    },
    stop: () => daemon.stop(),
  };
}

interface SshDaemon {
  running(): boolean;
  stop(): Promise<void>;
  drop(): Promise<void>;
}

/** Starts sshd with this configuration and waits until it listens. */
async function launch(
  [program, ...args]: [string, ...string[]],
  config: string,
  pidFile: string,
  where: string,
): Promise<SshDaemon> {
  rmSync(pidFile, { force: true });
  // sshd's absolute path: it refuses to run otherwise (it re-executes itself per connection). In a
  // namespace, `ip netns exec` execs it in place: the pid that writes the PidFile is still ours.
  const child = spawn(program, [...args, "-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
  live.add(child);
  // Unreferenced, so a forgotten sshd cannot keep the test process alive (the "exit" hook kills
  // it); referenced again while waiting for it to end, or the process could exit meanwhile.
  const stderrPipe = child.stderr as Socket;
  child.unref();
  stderrPipe.unref();
  let stderr = "";
  stderrPipe.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let spawnError: Error | undefined;
  child.once("error", (err) => (spawnError = err));
  // "close" rather than "exit": by then stderr has been read to the end.
  const closed = new Promise((resolve) => child.once("close", resolve)).finally(() => live.delete(child));
  const awaitClose = () => {
    child.ref();
    stderrPipe.ref();
    return closed;
  };
  const running = () => spawnError === undefined && child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (running()) {
      child.kill("SIGTERM");
      await awaitClose();
    }
  };

  // sshd writes its PidFile only once its listening sockets are bound: unlike probing the port,
  // this cannot be fooled by another process already listening there.
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() === String(child.pid))) {
    if (!running()) {
      if (!spawnError) await awaitClose();
      throw new Error(`lab sshd on ${where} exited: ${spawnError?.message ?? stderr.trim()}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`lab sshd on ${where} not listening after ${START_TIMEOUT_MS} ms: ${stderr.trim()}`);
    }
    await sleep(10);
  }

  const drop = async () => {
    if (!running()) return;
    for (const pid of freezeTree(child.pid!)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await awaitClose();
  };
  return { running, stop, drop };
}

/** Parent pid and command name of every process, from /proc. */
function processTable(): Map<number, { ppid: number; comm: string }> {
  const table = new Map<number, { ppid: number; comm: string }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      table.set(Number(entry), { ppid, comm });
    } catch {
      // exited while listed
    }
  }
  return table;
}

/**
 * The listening sshd and its sshd descendants (one or two per connection), each stopped (SIGSTOP)
 * so none accepts or forks while the tree is read again, until no new one appears.
 */
function freezeTree(root: number): number[] {
  const frozen = new Set<number>();
  for (;;) {
    const table = processTable();
    const found = table.has(root) ? [root] : [];
    for (let i = 0; i < found.length; i++)
      for (const [pid, p] of table)
        if (p.ppid === found[i] && p.comm.startsWith("sshd") && !found.includes(pid)) found.push(pid);
    const fresh = found.filter((pid) => !frozen.has(pid));
    if (fresh.length === 0) return [...frozen];
    for (const pid of fresh) {
      try {
        process.kill(pid, "SIGSTOP");
        frozen.add(pid);
      } catch {
        // already gone
      }
    }
  }
}

export function writeKnownHosts(path: string, lines: string[]): void {
  writeFileSync(path, lines.map((line) => `${line}\n`).join(""));
}
