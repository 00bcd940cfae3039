// What a test file of renewal runs shares: a temporary root for its lab clusters, the Redis stores
// (requests, audit, run lease) under a key prefix of its own, and, after the file, everything
// stopped and removed: control planes, sshds, its Redis keys and the root.
import { after } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import type { RunDependencies } from "../../src/app/renew/run.js";
import type { RunState } from "../../src/core/renew/run-state.js";
import type { RunReporter } from "../../src/core/renew/ports.js";
import { probeServedCertificate } from "../../src/adapters/nodes/tls-probe.js";
import { AuditLog } from "../../src/adapters/store/audit.js";
import { connectRedis, DEFAULT_REDIS_URL } from "../../src/adapters/store/redis.js";
import { RenewalStore } from "../../src/adapters/store/renewals.js";
import { RunLease } from "../../src/adapters/store/run-lease.js";
import { stopAllControlPlanes } from "./control-plane.js";
import { labNodeAccess, type LabCluster } from "./renewal-cluster.js";

export interface RenewalFixture {
  root: string;
  redis: Redis;
  prefix: string;
  renewals: RenewalStore;
  audit: AuditLog;
  lease: RunLease;
  /** Clusters to stop after the file (push each one started). */
  labs: LabCluster[];
}

/** Call once at the top of a test file; `name` names its root and key prefix. */
export function renewalFixture(name: string): RenewalFixture {
  const root = mkdtempSync(join(tmpdir(), `certs-bot-${name}-`));
  const redis = connectRedis(DEFAULT_REDIS_URL);
  const prefix = `${name}-${process.pid}`;
  const fixture: RenewalFixture = {
    root,
    redis,
    prefix,
    renewals: new RenewalStore(redis, prefix),
    audit: new AuditLog(redis, prefix),
    lease: new RunLease(redis, prefix),
    labs: [],
  };
  after(async () => {
    await stopAllControlPlanes();
    await Promise.all(fixture.labs.map((l) => l.stop()));
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    rmSync(root, { recursive: true, force: true });
  });
  return fixture;
}

/**
 * A run's dependencies on a lab cluster with the fixture's stores: the real probe and node access,
 * the wall clock, short waits; `save` keeps every state when given an array.
 */
export function labRunDependencies(
  f: RenewalFixture,
  lab: LabCluster,
  reporter: RunReporter,
  options: { saved?: RunState[]; waits?: RunDependencies["waits"] } = {},
): RunDependencies {
  return {
    config: { cluster: lab.cluster, renewal: lab.config.renewal, timeZone: lab.config.timezone },
    requests: f.renewals,
    audit: f.audit,
    reporter,
    lease: f.lease,
    ...labNodeAccess(lab.config),
    probe: probeServedCertificate,
    save: async (state) => void options.saved?.push(structuredClone(state)),
    now: () => new Date(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    waits: options.waits ?? { containersGoneMs: 10_000, readyMs: 10_000, pollMs: 100 },
  };
}

/** The audit entries of one request, oldest first, as `kind detail`. */
export async function auditOf(f: RenewalFixture, requestId: string, cluster: string): Promise<string[]> {
  const entries = await f.audit.latest(cluster, 200);
  return entries
    .filter((e) => e.requestId === requestId)
    .reverse()
    .map((e) => `${e.kind} ${e.detail}`);
}
