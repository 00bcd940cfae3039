// A network namespace of the lab's own (`ip netns`, root only): what listens on its loopback is
// out of reach of every process outside it, as nodes behind a bastion are out of reach of
// certs-bot. A test lets in exactly one server (the bastion) with `expose`: a relay from a port on
// the host's loopback into the namespace. No address but loopback is ever used, inside or out.
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { LabNode } from "./tree.js";
import { until } from "./wait.js";

const run = promisify(execFile);
const LAB_APISERVER = join(fileURLToPath(new URL("./bin", import.meta.url)), "lab-apiserver.mjs");

export interface LabNetns {
  name: string;
  /** The command line that runs `program` (and its arguments) inside the namespace. */
  command(program: string, ...args: string[]): [string, ...string[]];
  /** Whether a TCP socket listens on address:port inside. */
  listening(address: string, port: number): Promise<boolean>;
  /**
   * A port on `hostAddress` (the host's loopback) whose connections are relayed, byte for byte, to
   * address:port inside; each by a `busybox nc` run inside.
   */
  expose(hostAddress: string, address: string, port: number): Promise<LabRelay>;
  /** Stops every relay and deletes the namespace (its processes must be stopped first). */
  remove(): Promise<void>;
}

export interface LabRelay {
  address: string;
  port: number;
  /** Connections relayed so far. */
  readonly connections: number;
  close(): Promise<void>;
}

// A namespace left by a crashed test would stay until reboot; "exit" covers all but SIGKILL.
const live = new Set<string>();
process.on("exit", () => {
  for (const name of live) execFileSync("ip", ["netns", "delete", name], { stdio: "ignore" });
});

export async function createNetns(): Promise<LabNetns> {
  const name = `cb-lab-${process.pid}-${randomBytes(3).toString("hex")}`;
  await run("ip", ["netns", "add", name]);
  live.add(name);
  const command = (program: string, ...args: string[]): [string, ...string[]] => [
    "ip",
    ...["netns", "exec", name, program],
    ...args,
  ];
  const inside = (program: string, ...args: string[]) => {
    const [ip, ...rest] = command(program, ...args);
    return run(ip, rest, { timeout: 10_000 });
  };
  await inside("ip", "link", "set", "lo", "up"); // down in a new namespace: nothing could listen
  const relays = new Set<LabRelay>();

  return {
    name,
    command,
    async listening(address, port) {
      const { stdout } = await inside("ss", "-Hltn", `sport = :${port}`);
      return stdout.split("\n").some((line) => line.split(/\s+/).includes(`${address}:${port}`));
    },
    async expose(hostAddress, address, port) {
      const pipes = new Set<ChildProcess>();
      let connections = 0;
      const server = createServer((socket: Socket) => {
        connections += 1;
        const [ip, ...args] = command("/bin/busybox", "nc", address, String(port));
        const nc = spawn(ip, args, { stdio: ["pipe", "pipe", "ignore"] });
        pipes.add(nc);
        socket.pipe(nc.stdin);
        nc.stdout.pipe(socket);
        const end = () => {
          socket.destroy();
          nc.kill();
        };
        socket.on("error", end).on("close", end);
        nc.stdin.on("error", end);
        nc.on("close", () => {
          pipes.delete(nc);
          socket.destroy();
        });
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, hostAddress, resolve);
      });
      const relay: LabRelay = {
        address: hostAddress,
        port: (server.address() as AddressInfo).port,
        get connections() {
          return connections;
        },
        close: async () => {
          relays.delete(relay);
          for (const nc of pipes) nc.kill();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
      relays.add(relay);
      return relay;
    },
    async remove() {
      await Promise.all([...relays].map((r) => r.close()));
      await run("ip", ["netns", "delete", name]);
      live.delete(name);
    },
  };
}

export interface LabNetnsApiserver {
  stop(): Promise<void>;
}

/**
 * The lab apiserver (test/lab/bin/lab-apiserver.mjs) of `node`, inside the namespace on
 * address:port, serving the node's apiserver.crt; resolved once it listens.
 */
export async function startApiserverIn(
  netns: LabNetns,
  node: LabNode,
  address: string,
  port: number,
): Promise<LabNetnsApiserver> {
  const labDir = join(node.root, "lab");
  mkdirSync(labDir, { recursive: true });
  writeFileSync(join(labDir, "address"), `${address}\n`);
  writeFileSync(join(labDir, "port"), `${port}\n`);
  const [ip, ...args] = netns.command(process.execPath, LAB_APISERVER, node.root);
  const child = spawn(ip, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const closed = new Promise((resolve) => child.once("close", resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await closed;
  };
  try {
    await until(
      `the lab apiserver on ${address}:${port} in ${netns.name}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`the lab apiserver exited: ${stderr.trim()}`);
        return netns.listening(address, port);
      },
      10_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}
