// Nodes behind a bastion, and keys in an ssh-agent. Two lab nodes (real sshd, real TLS apiserver)
// live in a network namespace of their own, on its loopback: certs-bot cannot reach them. The
// bastion, a real sshd in that namespace, is the one server let out, through a relay on the host's
// loopback. Scans, renewals' node access and the served-certificate probe all go through it; its
// host key is pinned like a node's. An ssh-agent started here holds the only key that logs in.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { loadConfig, type Config, type NodeConfig } from "../../src/config/load.js";
import type { NodeReport, ScanReport } from "../../src/core/report/types.js";
import { defaultDependencies, nodeAccess, scanClusters } from "../../src/adapters/nodes/scan.js";
import { SshConnector } from "../../src/adapters/nodes/ssh.js";
import { probeServedCertificate } from "../../src/adapters/nodes/tls-probe.js";
import { TransportError } from "../../src/core/transport/transport.js";
import { createNetns, startApiserverIn, type LabNetns, type LabRelay } from "../lab/netns.js";
import { freePort, labAddress } from "../lab/ports.js";
import { ensureLabUsers, startSshd, writeKnownHosts, type LabSshd, type LabUsers } from "../lab/sshd.js";
import { newClusterPki, writeLabNode, type LabNode } from "../lab/tree.js";
import { until } from "../lab/wait.js";

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const sha256 = (der: Uint8Array) => createHash("sha256").update(der).digest("hex");

interface BehindNode {
  name: string;
  address: string;
  port: number;
  apiserverPort: number;
  tree: LabNode;
  sshd: LabSshd;
}

/** An ssh-agent of the test's own, on its own socket. */
interface LabAgent {
  socket: string;
  /** SIGKILL: the socket file stays, nothing answers on it. */
  kill(): Promise<void>;
}

const agents: ChildProcess[] = [];

async function startAgent(socket: string, keyPath: string): Promise<LabAgent> {
  const child = spawn("ssh-agent", ["-D", "-a", socket], { stdio: ["ignore", "ignore", "pipe"] });
  agents.push(child);
  const closed = new Promise((resolve) => child.once("close", resolve));
  await until(`ssh-agent's socket ${socket}`, async () => existsSync(socket), 10_000);
  await run("ssh-add", [keyPath], { env: { ...process.env, SSH_AUTH_SOCK: socket }, timeout: 10_000 });
  return {
    socket,
    kill: async () => {
      child.kill("SIGKILL");
      await closed;
    },
  };
}

/** The real CLI as a child process, with exactly this environment. */
function cli(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", ...args],
      { env, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

describe(
  "nodes behind a bastion, keys in an ssh-agent",
  { skip: !isRoot && "needs root (ip netns, sshd)" },
  () => {
    let root: string;
    let users: LabUsers;
    let netns: LabNetns;
    let bastion: LabSshd;
    let relay: LabRelay;
    let agent: LabAgent;
    /** A key no lab sshd accepts. */
    let strangerKey: string;
    const nodes: BehindNode[] = [];
    /** What after() stops: every server started, as soon as it started. */
    const stops: (() => Promise<void>)[] = [];
    const paths = (name: string) => ({
      knownHosts: join(root, `known_hosts-${name}`),
      config: join(root, `clusters-${name}.yaml`),
    });

    /** known_hosts pinning both nodes, and the bastion's line unless `bastionLine` is null. */
    const knownHosts = (name: string, bastionLine: string | null = bastionKnownHostsLine()): string => {
      const file = paths(name).knownHosts;
      writeKnownHosts(file, [
        ...nodes.map((n) => n.sshd.knownHostsLine()),
        ...(bastionLine === null ? [] : [bastionLine]),
      ]);
      return file;
    };
    /** The bastion as certs-bot reaches it: at the relay's address and port. */
    const bastionKnownHostsLine = (key = bastion.hostPublicKey) => `[${relay.address}]:${relay.port} ${key}`;
    const jumpHost = (extra = "") =>
      `{ host: ${relay.address}, port: ${relay.port}, user: ${users.plain}${extra} }`;

    /** A config file of one cluster of both nodes; `ssh` lines go under the top-level `ssh:`. */
    const writeConfig = (name: string, ssh: string[], clusterSsh?: string): Config => {
      const file = paths(name).config;
      writeFileSync(
        file,
        [
          "ssh:",
          `  user: ${users.plain}`,
          ...ssh.map((line) => `  ${line}`),
          "  connectTimeoutMs: 5000",
          "clusters:",
          "  - name: behind",
          ...(clusterSsh ? [`    ssh: ${clusterSsh}`] : []),
          "    nodes:",
          ...nodes.flatMap((n) => [
            `      - host: ${n.address}`,
            `        name: ${n.name}`,
            `        port: ${n.port}`,
            `        paths: { kubernetesDir: "${n.tree.kubernetesDir}", kubeletPkiDir: "${n.tree.kubeletPkiDir}" }`,
            `        apiserver: { port: ${n.apiserverPort} }`,
          ]),
          "",
        ].join("\n"),
      );
      return loadConfig(file);
    };
    const scan = (config: Config) => scanClusters(config, config.clusters, defaultDependencies());
    const nodesOf = (report: ScanReport): NodeReport[] => report.clusters.flatMap((c) => c.nodes);

    before(async () => {
      root = mkdtempSync(join(tmpdir(), "certs-bot-jump-"));
      chmodSync(root, 0o755); // the lab users must traverse it
      users = await ensureLabUsers(join(root, "users"));
      strangerKey = join(root, "stranger_ed25519");
      await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", strangerKey]);
      netns = await createNetns();
      const pki = await newClusterPki();
      for (const [i, name] of ["behind-1", "behind-2"].entries()) {
        const address = labAddress(71 + i);
        // Ports free on the host's loopback too: a direct attempt finds nothing there, not another server.
        const [port, apiserverPort] = [await freePort(address), await freePort(address)];
        const tree = await writeLabNode({
          root: join(root, name),
          nodeName: name,
          address,
          pki,
          apiserverPort,
          owner: { uid: users.plainUid, gid: users.plainGid },
        });
        const sshd = await startSshd({
          dir: join(root, "sshd", name),
          address,
          port,
          users,
          pathPrepend: tree.binDir,
          netns,
        });
        stops.push(() => sshd.stop());
        const apiserver = await startApiserverIn(netns, tree, address, apiserverPort);
        stops.push(() => apiserver.stop());
        nodes.push({ name, address, port, apiserverPort, tree, sshd });
      }
      // The bastion's authorized_keys as docs/operations.md sets it up: forwarding to the nodes' SSH
      // and apiserver ports only, no shell.
      const permitOpen = nodes.flatMap((n) =>
        [n.port, n.apiserverPort].map((p) => `permitopen="${n.address}:${p}"`),
      );
      bastion = await startSshd({
        dir: join(root, "sshd", "bastion"),
        address: "127.0.0.1",
        port: 22,
        users,
        netns,
        authorizedKeyOptions: ["restrict", "port-forwarding", 'command="/bin/false"', ...permitOpen].join(
          ",",
        ),
      });
      stops.push(() => bastion.stop());
      relay = await netns.expose(labAddress(70), bastion.address, bastion.port);
      agent = await startAgent(join(root, "agent.sock"), users.clientKeyPath);
    });

    after(async () => {
      for (const child of agents) child.kill("SIGKILL");
      await Promise.all(stops.map((stop) => stop()));
      await netns?.remove();
      if (root) rmSync(root, { recursive: true, force: true });
    });

    test("directly, the nodes cannot be reached: SSH and the apiserver are refused", async () => {
      // `jumpHost: null` on the cluster: direct, though the top level names the bastion.
      const config = writeConfig(
        "direct",
        [
          `privateKeyPath: ${users.clientKeyPath}`,
          `knownHostsPath: ${knownHosts("direct")}`,
          `jumpHost: ${jumpHost()}`,
        ],
        "{ jumpHost: null }",
      );
      const report = await scan(config);
      for (const [i, node] of nodesOf(report).entries()) {
        const lab = nodes[i]!;
        assert.equal(node.reachable, false, node.name);
        assert.equal(node.error, `cannot connect to [${lab.address}]:${lab.port}: connection refused`);
        const served = await probeServedCertificate(lab.address, lab.apiserverPort, 5000);
        assert.deepEqual(served, { port: lab.apiserverPort, error: "connection refused" });
      }
    });

    test("through the bastion: both nodes scanned, the served certificate probed through the tunnel", async () => {
      const config = writeConfig("through", [
        `privateKeyPath: ${users.clientKeyPath}`,
        `knownHostsPath: ${knownHosts("through")}`,
        `jumpHost: ${jumpHost()}`,
      ]);
      const connectionsBefore = relay.connections;
      const report = await scan(config);
      const scanned = nodesOf(report);
      assert.equal(
        relay.connections - connectionsBefore,
        1,
        "two SSH sessions and two probes, all at once, share one connection to the bastion",
      );
      assert.deepEqual(
        scanned.map((n) => [n.name, n.reachable, n.status, n.error]),
        nodes.map((n) => [n.name, true, "ok", undefined]),
      );
      for (const [i, node] of scanned.entries()) {
        const lab = nodes[i]!.tree;
        assert.equal(
          node.apiserver?.sha256,
          sha256(lab.apiserver!.der),
          `${node.name}: the served certificate`,
        );
        const onDisk = node.certificates.find((c) => c.name === "apiserver");
        assert.equal(onDisk?.sha256, sha256(lab.certs.apiserver!.der), `${node.name}: apiserver.crt read`);
      }
    });

    test("renewals reach the nodes through the bastion too: scripts, probe, health, rescan", async () => {
      const config = writeConfig("renewals", [
        `privateKeyPath: ${users.clientKeyPath}`,
        `knownHostsPath: ${knownHosts("renewals")}`,
        `jumpHost: ${jumpHost()}`,
      ]);
      const access = nodeAccess(config.clusters[0]!, defaultDependencies());
      for (const lab of nodes) {
        const ran = await access.transportFor({ node: lab.name }).run("echo $SSH_CONNECTION; id -un\n");
        const [from, , to, toPort] = ran.stdout.split("\n")[0]!.split(" ");
        assert.deepEqual([to, Number(toPort)], [lab.address, lab.port], "the session is on the node");
        assert.notEqual(from, relay.address, "it came from inside, through the bastion");
        assert.equal(ran.stdout.split("\n")[1], users.plain);
        const served = await access.probe(lab.address, lab.apiserverPort, 5000);
        assert.ok("chain" in served, JSON.stringify(served));
        assert.equal(sha256(served.chain[0]!), sha256(lab.tree.apiserver!.der));
        assert.equal(await access.health(`https://${lab.address}:${lab.apiserverPort}/readyz`, 5000), true);
        assert.equal(await access.health(`https://${lab.address}:${lab.apiserverPort}/nothing`, 5000), false);
        const rescan = await access.rescan({ node: lab.name });
        assert.equal(rescan.reachable, true, rescan.error);
        assert.equal(rescan.apiserver?.sha256, sha256(lab.tree.apiserver!.der));
      }
    });

    test("a port the bastion may not open: the node fails with the bastion's reason", async () => {
      const config = writeConfig("not-permitted", [
        `privateKeyPath: ${users.clientKeyPath}`,
        `knownHostsPath: ${knownHosts("not-permitted")}`,
        `jumpHost: ${jumpHost()}`,
      ]);
      const node = config.clusters[0]!.nodes[0]!;
      const closedPort = nodes[1]!.apiserverPort; // open on the other node only
      const served = await defaultDependencies().probe(
        { ...node, apiserver: { ...node.apiserver, port: closedPort } },
        5000,
      );
      assert.deepEqual(served, {
        port: closedPort,
        error:
          `the bastion [${relay.address}]:${relay.port} cannot connect to ${node.host}:${closedPort}: ` +
          "open failed (administratively prohibited: the bastion's PermitOpen or AllowTcpForwarding, or " +
          "the key's permitopen= in its authorized_keys, does not allow it)",
      });
    });

    test("the bastion's own known_hosts file, when it has one", async () => {
      const bastionOnly = join(root, "known_hosts-bastion-only");
      writeKnownHosts(bastionOnly, [bastionKnownHostsLine()]);
      const config = writeConfig("own-file", [
        `privateKeyPath: ${users.clientKeyPath}`,
        `knownHostsPath: ${knownHosts("own-file", null)}`,
        `jumpHost: ${jumpHost(`, knownHostsPath: ${bastionOnly}`)}`,
      ]);
      assert.deepEqual(
        nodesOf(await scan(config)).map((n) => [n.name, n.reachable, n.error]),
        nodes.map((n) => [n.name, true, undefined]),
      );
    });

    test("a changed or unknown bastion host key refuses the connection, naming the bastion", async () => {
      const impostor = readFileSync(`${strangerKey}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
      const changed = writeConfig("changed", [
        `privateKeyPath: ${users.clientKeyPath}`,
        `knownHostsPath: ${knownHosts("changed", bastionKnownHostsLine(impostor))}`,
        `jumpHost: ${jumpHost()}`,
      ]);
      const bastionWhere = `bastion \\[${relay.address.replace(/\./g, "\\.")}\\]:${relay.port}`;
      for (const node of nodesOf(await scan(changed))) {
        assert.equal(node.reachable, false);
        assert.match(
          node.error ?? "",
          new RegExp(`^HOST KEY MISMATCH for ${bastionWhere}: it presented SHA256:`),
        );
      }
      const unknown = writeConfig("unknown", [
        `privateKeyPath: ${users.clientKeyPath}`,
        `knownHostsPath: ${knownHosts("unknown", null)}`,
        `jumpHost: ${jumpHost()}`,
      ]);
      for (const node of nodesOf(await scan(unknown))) {
        assert.equal(node.reachable, false);
        assert.match(
          node.error ?? "",
          new RegExp(`^no host key for ${bastionWhere} in .*known_hosts-unknown; refusing to connect`),
        );
      }
      // The probe is refused the same way: no tunnel through an unverified bastion.
      const access = nodeAccess(changed.clusters[0]!, defaultDependencies());
      const served = await access.probe(nodes[0]!.address, nodes[0]!.apiserverPort, 5000);
      assert.ok("error" in served);
      assert.match(served.error, new RegExp(`^HOST KEY MISMATCH for ${bastionWhere}`));
    });

    test("ssh.agent: true signs with the agent at both hops, over a privateKeyPath that would not log in", async () => {
      const config = writeConfig("agent", [
        `privateKeyPath: ${strangerKey}`,
        "agent: true",
        `knownHostsPath: ${knownHosts("agent")}`,
        `jumpHost: ${jumpHost()}`,
      ]);
      for (const node of config.clusters[0]!.nodes) {
        const viaAgent = new SshConnector({ SSH_AUTH_SOCK: agent.socket }).transport(node);
        assert.equal((await viaAgent.run("echo signed by the agent\n")).stdout, "signed by the agent\n");
      }
      // The control: the same config without `agent` signs with privateKeyPath, which no server accepts.
      const keyWins = writeConfig("key-wins", [
        `privateKeyPath: ${strangerKey}`,
        `knownHostsPath: ${knownHosts("key-wins")}`,
        `jumpHost: ${jumpHost()}`,
      ]);
      await assert.rejects(
        new SshConnector({ SSH_AUTH_SOCK: agent.socket })
          .transport(keyWins.clusters[0]!.nodes[0]!)
          .run("true\n"),
        (err: Error) =>
          err instanceof TransportError &&
          err.failure === "auth" &&
          err.message ===
            `authentication as ${users.plain} at bastion [${relay.address}]:${relay.port} failed with key ${strangerKey}`,
      );
    });

    test("SSH_AUTH_SOCK without privateKeyPath in the config: the CLI scans through the bastion with the agent", async () => {
      const config = writeConfig("sock", [
        `knownHostsPath: ${knownHosts("sock")}`,
        `jumpHost: ${jumpHost()}`,
      ]);
      const env = { PATH: process.env.PATH, SSH_AUTH_SOCK: agent.socket };
      const result = await cli(env, "scan", "--config", config.file, "--json");
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout) as ScanReport;
      assert.deepEqual(
        nodesOf(report).map((n) => [n.name, n.reachable, n.apiserver?.sha256]),
        nodes.map((n) => [n.name, true, sha256(n.tree.apiserver!.der)]),
      );
    });

    test("no agent where SSH_AUTH_SOCK points, or none set: a clear error, no key material", async () => {
      const config = writeConfig("agent-missing", [
        "agent: true",
        `knownHostsPath: ${knownHosts("agent-missing")}`,
        `jumpHost: ${jumpHost()}`,
      ]);
      const node: NodeConfig = config.clusters[0]!.nodes[0]!;
      const missing = join(root, "no-agent.sock");
      const refusedBy = (env: NodeJS.ProcessEnv, message: string) =>
        assert.rejects(new SshConnector(env).transport(node).run("true\n"), (err: Error) => {
          assert.ok(err instanceof TransportError);
          assert.equal(err.message, message);
          return true;
        });
      await refusedBy(
        { SSH_AUTH_SOCK: missing },
        `cannot use the ssh-agent at ${missing} (SSH_AUTH_SOCK): no such socket (is the agent running?)`,
      );
      await refusedBy(
        {},
        "ssh.agent is true, but SSH_AUTH_SOCK is not set: point it at the ssh-agent's socket",
      );

      // An agent that died: its socket file is still there, nothing answers on it.
      const dead = await startAgent(join(root, "dead-agent.sock"), users.clientKeyPath);
      await dead.kill();
      assert.ok(existsSync(dead.socket));
      await refusedBy(
        { SSH_AUTH_SOCK: dead.socket },
        `cannot use the ssh-agent at ${dead.socket} (SSH_AUTH_SOCK): nothing answers on the socket (is the agent still running?)`,
      );

      // What a person sees from the CLI: the reason per node, and nothing of any key.
      const result = await cli(
        { PATH: process.env.PATH, SSH_AUTH_SOCK: missing },
        "scan",
        "--config",
        config.file,
      );
      const seen = result.stdout + result.stderr;
      assert.equal(result.code, 3, seen);
      assert.match(
        seen,
        new RegExp(`cannot use the ssh-agent at ${missing.replace(/\./g, "\\.")} \\(SSH_AUTH_SOCK\\)`),
      );
      const keyBody = readFileSync(users.clientKeyPath, "utf8").split("\n")[1]!;
      assert.doesNotMatch(seen, /PRIVATE KEY/);
      assert.equal(seen.includes(keyBody), false);
      assert.equal(seen.includes(users.clientPublicKey.split(" ")[1]!), false);
    });
  },
);
