// What every script run on a node is guaranteed, by the transports themselves: `umask 077`, its
// exit status and output passed through, and a deadline that kills it with all its children,
// locally and on the far side of a real sshd (through real sudo too). Also: known_hosts is
// re-read when it changes. Faults are judged by what is left on the node: file modes, processes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SshSettings } from "../../src/config/load.js";
import { LocalTransport } from "../../src/adapters/nodes/local.js";
import { SshConnector } from "../../src/adapters/nodes/ssh.js";
import { TransportError, type Transport } from "../../src/core/transport/transport.js";
import { freePort, labAddress } from "../lab/ports.js";
import { ensureLabUsers, startSshd, writeKnownHosts, type LabSshd, type LabUsers } from "../lab/sshd.js";
import { processesWith } from "../lab/processes.js";
import { until } from "../lab/wait.js";

const isRoot = process.getuid?.() === 0;
const root = mkdtempSync(join(tmpdir(), "certs-bot-transport-"));
chmodSync(root, 0o755); // the lab users must traverse it
after(() => rmSync(root, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;
/** A sleep no other process on this machine runs: its command line is the marker. */
const uniqueSleep = () => `sleep ${randomInt(10_000_000, 99_999_999)}`;

/** A hung script: a background sleep and an awk blocked opening a FIFO nobody writes. */
function hungScript(dir: string): { script: string; markers: string[] } {
  const fifo = join(dir, `fifo-${randomInt(1e9)}`);
  execFileSync("mkfifo", ["-m", "0666", fifo]);
  const sleep = uniqueSleep();
  return {
    script: `${sleep} &\nawk 'BEGIN { while ((getline line < "${fifo}") > 0) print line }'\necho never\n`,
    markers: [sleep, fifo],
  };
}

/** Runs a hung script, checks its processes ran, that it times out, and that none is left. */
async function killsHungScript(transport: Transport, dir: string): Promise<void> {
  const { script, markers } = hungScript(dir);
  const result = transport.run(script);
  await until("the hung script's processes to start", async () =>
    markers.every((m) => processesWith(m).length > 0),
  );
  await assert.rejects(
    result,
    (err: Error) =>
      err instanceof TransportError && err.failure === "timeout" && /did not finish within/.test(err.message),
  );
  for (const marker of markers) {
    await until(`no process left with "${marker}"`, async () => processesWith(marker).length === 0, 15_000);
  }
}

/** Exit status, stdout and stderr come back as the script left them, whatever its text holds. */
async function passesThrough(transport: Transport): Promise<void> {
  assert.deepEqual(await transport.run("echo out\necho err >&2\nexit 7\n"), {
    stdout: "out\n",
    stderr: "err\n",
    code: 7,
  });
  assert.deepEqual(await transport.run("printf 'no newline at the end'"), {
    stdout: "no newline at the end",
    stderr: "",
    code: 0,
  });
  // The wrapper's own here-document tag inside the script, and a script of its own with `set -e`.
  assert.deepEqual(
    await transport.run("set -e\ncat <<'X'\nCERTS_BOT_SCRIPT\n$HOME `x`\nX\nfalse\necho unreachable\n"),
    { stdout: "CERTS_BOT_SCRIPT\n$HOME `x`\n", stderr: "", code: 1 },
  );
}

describe("local transport", () => {
  const dir = join(root, "local");
  mkdirSync(dir);
  const local = new LocalTransport({ become: "none", commandTimeoutMs: 1000 });
  let umask: number;
  before(() => (umask = process.umask(0o022)));
  after(() => process.umask(umask));

  test("a file the script creates is 0600 though certs-bot runs with umask 022", async () => {
    spawnSync("/bin/sh", ["-c", `touch '${join(dir, "control")}'`]);
    assert.equal(mode(join(dir, "control")), 0o644, "the control: a plain sh child gets 0644");
    const result = await local.run(`umask\ntouch '${join(dir, "made")}'\n`);
    assert.deepEqual(result, { stdout: "0077\n", stderr: "", code: 0 });
    assert.equal(mode(join(dir, "made")), 0o600);
  });

  test("exit status, stdout and stderr pass through unchanged", () => passesThrough(local));

  test("at the deadline the whole process group dies, not just sh", () => killsHungScript(local, dir));

  test("a child outside the group holding stdout cannot keep certs-bot alive", async () => {
    // In a separate Node process, whose exit is the assertion: an open pipe would keep it running.
    const sleep = uniqueSleep();
    const program = [
      `import { LocalTransport } from ${JSON.stringify(join(process.cwd(), "src/adapters/nodes/local.ts"))};`,
      "const local = new LocalTransport({ become: 'none', commandTimeoutMs: 1000 });",
      `await local.run("setsid ${sleep} &\\necho started\\n").then(`,
      "  () => console.log('resolved'), (err) => console.log(err.message));",
    ].join("\n");
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", program], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise((resolve) => child.on("close", resolve));
    try {
      assert.equal(code, 0);
      assert.match(stdout, /did not finish within 1000 ms/);
    } finally {
      for (const line of processesWith(sleep)) process.kill(Number(line.split(" ")[0]), "SIGKILL");
    }
  });
});

describe("SSH transport", { skip: !isRoot && "needs root (lab users, sshd, sudo)" }, () => {
  let users: LabUsers;
  let sshd: LabSshd;
  let knownHostsPath: string;
  const dir = join(root, "ssh");
  const settings = (overrides: Partial<SshSettings> = {}): SshSettings => ({
    user: users.plain,
    port: sshd.port,
    privateKeyPath: users.clientKeyPath,
    knownHostsPath,
    become: "none",
    connectTimeoutMs: 5000,
    commandTimeoutMs: 1000,
    ...overrides,
  });
  const target = (overrides: Partial<SshSettings> = {}) => ({ host: sshd.address, ssh: settings(overrides) });

  let umask: number;
  before(async () => {
    umask = process.umask(0o022); // sshd inherits it, and hands it to its sessions
    users = await ensureLabUsers(join(root, "users"));
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, users.plainUid, users.plainGid);
    const address = labAddress(41);
    sshd = await startSshd({ dir: join(root, "sshd"), address, port: await freePort(address), users });
    knownHostsPath = join(root, "known_hosts");
    writeKnownHosts(knownHostsPath, [sshd.knownHostsLine()]);
  });
  after(async () => {
    await sshd?.stop();
    process.umask(umask);
  });

  test("a file the script creates is 0600 though sshd hands it umask 022, with and without sudo", async () => {
    const ssh = new SshConnector();
    for (const become of ["none", "sudo"] as const) {
      const user = become === "sudo" ? users.sudo : users.plain;
      const made = join(dir, `made-${become}`);
      const result = await ssh.transport(target({ user, become })).run(`umask\ntouch '${made}'\n`);
      assert.deepEqual(result, { stdout: "0077\n", stderr: "", code: 0 }, become);
      assert.equal(mode(made), 0o600, become);
    }
    // The control: the same sshd runs a command that is not wrapped with the umask it got from us.
    const session = spawnSync(
      "ssh",
      [
        ...["-i", users.clientKeyPath, "-p", String(sshd.port), "-o", `UserKnownHostsFile=${knownHostsPath}`],
        ...["-o", "BatchMode=yes", `${users.plain}@${sshd.address}`, "umask"],
      ],
      { encoding: "utf8" },
    );
    assert.equal(
      session.stdout,
      "0022\n",
      `the control: sshd's sessions run with umask 022 ${session.stderr}`,
    );
  });

  test("exit status, stdout and stderr pass through unchanged", () =>
    passesThrough(new SshConnector().transport(target())));

  test("at the deadline the node kills the script and its children", () =>
    killsHungScript(new SshConnector().transport(target()), dir));

  test("through sudo too: root's children die at the deadline", () =>
    killsHungScript(new SshConnector().transport(target({ user: users.sudo, become: "sudo" })), dir));

  test("known_hosts is re-read when it changes: an @revoked line refuses the next connection", async () => {
    const file = join(root, "known_hosts_revoked");
    writeKnownHosts(file, [sshd.knownHostsLine()]);
    const ssh = new SshConnector();
    const transport = ssh.transport(target({ knownHostsPath: file }));
    const ran = join(dir, "ran-after-revocation");
    assert.equal((await transport.run("echo connected\n")).stdout, "connected\n");

    appendFileSync(file, `@revoked * ${sshd.hostPublicKey}\n`);
    await assert.rejects(
      transport.run(`touch '${ran}'\n`),
      (err: Error) =>
        err instanceof TransportError &&
        err.failure === "host-key" &&
        /the host key pinned for \[127\.0\.0\.41\]:\d+ in .* is marked @revoked \(SHA256:/.test(err.message),
    );
    assert.equal(existsSync(ran), false, "no command ran");

    writeKnownHosts(file, [sshd.knownHostsLine()]);
    assert.equal((await transport.run("echo again\n")).stdout, "again\n", "and the fixed file counts too");
  });
});
