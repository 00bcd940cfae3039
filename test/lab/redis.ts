// A private redis-server for tests that restart Redis under a running service: the machine's
// shared Redis on :6379 is never stopped. With `persistent`, an append-only file in the lab dir
// keeps data across a restart, as a production Redis would. With `password`, `users` and `tls` it
// is locked down as production Redis should be: a password, ACL users, TLS only. `dropKeys` cleans
// a prefix of its own on the shared Redis after a test or the demo.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { connectRedisWithin } from "../../src/adapters/store/redis.js";
import { freePort } from "./ports.js";

export interface LabRedisOptions {
  persistent?: boolean;
  /** `requirepass`: the default user's password. */
  password?: string;
  /** ACL users, each a rule list as `--user` takes it: ["certs-bot", "on", ">secret", "~*", "&*", "+@all"]. */
  users?: string[][];
  /** TLS only, no plain port: the server's certificate and key, and the CA that signed them (PEM files). */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** The port to listen on (default: a free one), for a Redis that comes up where a client already waits. */
  port?: number;
  /** More server arguments, last so they win: ["--maxmemory-policy", "allkeys-lru"]. */
  args?: string[];
}

export interface LabRedis {
  /** `redis://127.0.0.1:PORT`, or `rediss://…` with `tls`; no credentials in it. */
  url: string;
  port: number;
  /** Kills the server (SIGKILL: no goodbye to clients) and starts it again on the same port. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function waitForPing(port: number, options: LabRedisOptions, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis({
      port,
      host: "127.0.0.1",
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(options.password ? { password: options.password } : {}),
      ...(options.tls ? { tls: { ca: readFileSync(options.tls.caFile) } } : {}),
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

export async function startRedis(options: LabRedisOptions = {}): Promise<LabRedis> {
  const dir = mkdtempSync(join(tmpdir(), "certs-bot-redis-"));
  const port = options.port ?? (await freePort("127.0.0.1"));
  const { tls } = options;
  const tlsArgs = tls
    ? ["--tls-port", String(port), "--tls-auth-clients", "no", "--tls-cert-file", tls.certFile]
    : [];
  const args = [
    // With TLS the plain port is closed (0), as certs-bot's production Redis should have it.
    "--port",
    tls ? "0" : String(port),
    ...tlsArgs,
    ...(tls ? ["--tls-key-file", tls.keyFile, "--tls-ca-cert-file", tls.caFile] : []),
    ...(options.password ? ["--requirepass", options.password] : []),
    ...(options.users ?? []).flatMap((rules) => ["--user", ...rules]),
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
    ...(options.args ?? []),
  ];
  let child: ChildProcess;
  const launch = async () => {
    child = spawn("redis-server", args, { stdio: "ignore" });
    child.unref();
    await waitForPing(port, options);
  };
  const kill = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  await launch();
  return {
    url: `${tls ? "rediss" : "redis"}://127.0.0.1:${port}`,
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
