// A Redis Sentinel group on loopback for failover tests: a master and a replica (private
// redis-servers, test/lab/redis.ts) and three redis-sentinel processes, each with its own port and
// a config in a private directory (sentinels rewrite their config file as they learn). Detection
// and failover are fast on purpose: a master gone for a second is down. With `password` the
// servers require it (the replica and the sentinels use it to reach the master); with
// `sentinelPassword` the sentinels require theirs.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./ports.js";
import { startRedis, type LabRedis } from "./redis.js";
import { until } from "./wait.js";

export interface LabSentinelOptions {
  name?: string;
  password?: string;
  sentinelPassword?: string;
}

export interface LabSentinelGroup {
  name: string;
  master: LabRedis;
  replica: LabRedis;
  /** The sentinels' ports on 127.0.0.1. */
  sentinelPorts: number[];
  /** What certs-bot is given: REDIS_SENTINELS, REDIS_SENTINEL_NAME (and REDIS_SENTINEL_PASSWORD). */
  env: Record<string, string>;
  /** "127.0.0.1:PORT" of the master, as the sentinel on `sentinelPorts[i]` names it. */
  masterAddress(i?: number): Promise<string>;
  stop(): Promise<void>;
}

const DOWN_AFTER_MS = 1000;

/** Asks the sentinel on `port`, with a connection that gives up at once rather than retry. */
async function askSentinel(port: number, password: string | undefined, ...args: string[]): Promise<unknown> {
  const client = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true,
    retryStrategy: () => null,
    ...(password ? { password } : {}),
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return await client.call("SENTINEL", ...args);
  } finally {
    client.disconnect();
  }
}

export async function startSentinelGroup(options: LabSentinelOptions = {}): Promise<LabSentinelGroup> {
  const { name = "certsbot", password, sentinelPassword } = options;
  const dir = mkdtempSync(join(tmpdir(), "certs-bot-sentinel-"));
  const auth = password ? { password } : {};
  const master = await startRedis({ ...auth, args: password ? ["--masterauth", password] : [] });
  const replica = await startRedis({
    ...auth,
    args: ["--replicaof", "127.0.0.1", String(master.port), ...(password ? ["--masterauth", password] : [])],
  });
  const sentinelPorts = await Promise.all([1, 2, 3].map(() => freePort("127.0.0.1")));
  const sentinels: ChildProcess[] = sentinelPorts.map((port, i) => {
    const conf = join(dir, `sentinel-${i + 1}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} ${DOWN_AFTER_MS}`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
        ...(password ? [`sentinel auth-pass ${name} ${password}`] : []),
        // The sentinels also authenticate to each other with it.
        ...(sentinelPassword ? [`requirepass ${sentinelPassword}`] : []),
        "",
      ].join("\n"),
    );
    return spawn("redis-sentinel", [conf], { stdio: "ignore" });
  });
  const masterAddress = async (i = 0) => {
    const [host, port] = (await askSentinel(
      sentinelPorts[i]!,
      sentinelPassword,
      "get-master-addr-by-name",
      name,
    )) as string[];
    return `${host}:${port}`;
  };
  const stop = async () => {
    await Promise.all(
      sentinels.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGKILL");
          }),
      ),
    );
    await Promise.all([master.stop(), replica.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // A failover needs every sentinel to know the replica and a majority to know each other.
    for (const port of sentinelPorts) {
      await until(
        `the sentinel on ${port} to know the replica and the other sentinels`,
        async () => {
          const known = async (what: string) =>
            ((await askSentinel(port, sentinelPassword, what, name).catch(() => [])) as unknown[]).length;
          return (await known("replicas")) === 1 && (await known("sentinels")) === 2;
        },
        30_000,
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name,
    master,
    replica,
    sentinelPorts,
    env: {
      REDIS_SENTINELS: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(","),
      REDIS_SENTINEL_NAME: name,
      ...(sentinelPassword ? { REDIS_SENTINEL_PASSWORD: sentinelPassword } : {}),
    },
    masterAddress,
    stop,
  };
}
