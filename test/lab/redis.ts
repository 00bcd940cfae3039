// A private redis-server for tests that restart Redis under a running service: the machine's
// shared Redis on :6379 is never stopped. With `persistent`, an append-only file in the lab dir
// keeps data across a restart, as a production Redis would. `dropKeys` cleans a prefix of its own on
// the shared Redis after a test or the demo.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { connectRedisWithin } from "../../src/store/redis.js";
import { freePort } from "./ports.js";

export interface LabRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL: no goodbye to clients) and starts it again on the same port. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function waitForPing(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis({
      port,
      host: "127.0.0.1",
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on("error", () => undefined); // refused while the server starts: expected
    try {
      await client.connect();
      if ((await client.ping()) === "PONG") return;
    } catch {
      if (Date.now() > deadline) throw new Error(`lab redis on ${port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      client.disconnect();
    }
  }
}

export async function startRedis(options: { persistent?: boolean } = {}): Promise<LabRedis> {
  const dir = mkdtempSync(join(tmpdir(), "certs-bot-redis-"));
  const port = await freePort("127.0.0.1");
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    options.persistent ? "yes" : "no",
    "--appendfsync",
    "always",
  ];
  let child: ChildProcess;
  const launch = async () => {
    child = spawn("redis-server", args, { stdio: "ignore" });
    child.unref();
    await waitForPing(port);
  };
  const kill = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart(downMs = 500) {
      await kill();
      await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deletes every key under `<prefix>:` at `url`; nothing to do when no Redis answers there. */
export async function dropKeys(url: string, prefix: string): Promise<void> {
  const connected = await connectRedisWithin(url, 3000);
  if (!connected.ok) return;
  const { redis } = connected;
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
