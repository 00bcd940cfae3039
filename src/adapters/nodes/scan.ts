// Scanning: for each node, one script run over its transport and (optionally, on control-plane
// nodes only: config resolves `apiserver.probe` so) one TLS probe of its apiserver, side by side; then the pure judge. Nodes of all selected clusters share one bounded
// pool, and a node that fails is reported, never allowed to stall or fail the scan.
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { CertificateCache } from "../../core/certs/certificate.js";
import type { ServedObservation } from "../../core/certs/served.js";
import { findCluster, type ClusterConfig, type Config, type NodeConfig } from "../../config/load.js";
import { worstOf, type ClusterReport, type NodeReport, type ScanReport } from "../../core/report/types.js";
import { LocalTransport } from "./local.js";
import { SshConnector } from "./ssh.js";
import { probeServedCertificate } from "./tls-probe.js";
import { apiserverHealthy } from "./health.js";
import type { Transport } from "../../core/transport/transport.js";
import { nodeAddress } from "../../core/transport/address.js";
import { suggestNames } from "../../config/suggest.js";
import { judgeNode, unreachableNode } from "../../core/scan/judge.js";
import { buildScanScript, parseScanOutput } from "../../core/scan/script.js";
import { OperatorError } from "../../config/operator-error.js";

export interface ScanDependencies {
  cache: CertificateCache;
  transportFor(node: NodeConfig): Transport;
  /** What the node's apiserver serves, reached the way its SSH is: directly or through its bastion. */
  probe(node: NodeConfig, timeoutMs: number): Promise<ServedObservation>;
  /** Whether the node's apiserver health URL answers 200 "ok", reached the same way. */
  health(node: NodeConfig, url: string, timeoutMs: number): Promise<boolean>;
  now(): Date;
  logger?: Logger;
}

export function defaultDependencies(logger?: Logger): ScanDependencies {
  const ssh = new SshConnector();
  /** Through the node's bastion, if it has one; a bot running on the node needs none. */
  const reach = <T>(node: NodeConfig, port: number, use: (through?: Duplex) => Promise<T>) =>
    node.transport === "local" ? use() : ssh.reach(node, port, use);
  return {
    cache: new CertificateCache(),
    transportFor: (node) => (node.transport === "local" ? new LocalTransport(node.ssh) : ssh.transport(node)),
    probe: (node, timeoutMs) => {
      const { port } = node.apiserver;
      return reach(node, port, (through) =>
        probeServedCertificate(node.host, port, timeoutMs, through),
      ).catch((err: Error) => ({ port, error: err.message }));
    },
    health: (node, url, timeoutMs) =>
      reach(node, Number(new URL(url).port || 443), (through) =>
        apiserverHealthy(url, timeoutMs, through),
      ).catch(() => false),
    now: () => new Date(),
    ...(logger ? { logger } : {}),
  };
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function readNode(node: NodeConfig, deps: Pick<ScanDependencies, "transportFor">) {
  const result = await deps.transportFor(node).run(buildScanScript(node));
  if (result.code !== 0 && !result.stdout.includes("@certs-bot 1\n")) {
    const detail =
      result.stderr.trim().split("\n").slice(-2).join(" ").slice(0, 300) || `exit status ${result.code}`;
    const hint =
      node.ssh.become === "sudo" ? " (ssh.become is sudo: the user needs NOPASSWD for /bin/sh -s)" : "";
    throw new Error(`the scan script failed: ${detail}${hint}`);
  }
  return parseScanOutput(result.stdout, node);
}

export async function scanNode(
  node: NodeConfig,
  cluster: ClusterConfig,
  deps: Omit<ScanDependencies, "health">,
): Promise<NodeReport> {
  const started = Date.now();
  const port = node.transport === "local" ? 0 : node.ssh.port;
  const probe = node.apiserver.probe
    ? deps.probe(node, node.ssh.connectTimeoutMs)
    : Promise.resolve(undefined);
  let report: NodeReport;
  try {
    const [read, served] = await Promise.all([readNode(node, deps), probe]);
    report = judgeNode(
      { name: node.name, host: node.host, port, role: node.role, read, ...(served ? { served } : {}) },
      { now: deps.now(), thresholds: cluster.thresholds, cache: deps.cache },
    );
  } catch (err) {
    await probe; // never leave a probe running past the node's report
    report = unreachableNode(node, port, (err as Error).message);
  }
  deps.logger?.info(
    { cluster: cluster.name, node: node.name, status: report.status, ms: Date.now() - started },
    report.reachable ? "node scanned" : `node not scanned: ${report.error}`,
  );
  return report;
}

/**
 * How a renewal reaches the nodes of one cluster, by the node names its plan uses: the same
 * transports and probe as a scan, and a rescan of one node.
 */
export function nodeAccess(cluster: ClusterConfig, deps: ScanDependencies) {
  const nodeConfig = ({ node }: { node: string }): NodeConfig => {
    const found = cluster.nodes.find((n) => n.name === node);
    if (!found) throw new Error(`node ${node} is no longer in ${cluster.name}'s configuration`);
    return found;
  };
  // A plan names its apiserver by the address in its health URL, which is its node's host and
  // apiserver port: that finds the node, and so the way to reach it.
  const apiserverAt = (address: string): NodeConfig | undefined =>
    cluster.nodes.find((n) => new URL(`https://${nodeAddress(n.host, n.apiserver.port)}`).host === address);
  const notConfigured = (address: string) =>
    `no node of ${cluster.name} serves its apiserver at ${address} in the configuration`;
  return {
    transportFor: (node: { node: string }): Transport => deps.transportFor(nodeConfig(node)),
    rescan: (node: { node: string }): Promise<NodeReport> => scanNode(nodeConfig(node), cluster, deps),
    probe: async (host: string, port: number, timeoutMs: number): Promise<ServedObservation> => {
      const address = new URL(`https://${nodeAddress(host, port)}`).host;
      const node = apiserverAt(address);
      return node ? deps.probe(node, timeoutMs) : { port, error: notConfigured(address) };
    },
    health: async (url: string, timeoutMs: number): Promise<boolean> => {
      const node = apiserverAt(new URL(url).host);
      return node ? deps.health(node, url, timeoutMs) : false;
    },
  };
}

export class UnknownClusterError extends OperatorError {}

export function selectClusters(config: Config, names: readonly string[]): ClusterConfig[] {
  if (names.length === 0) return config.clusters;
  return names.map((name) => {
    const cluster = findCluster(config, name);
    if (!cluster) {
      const close = suggestNames(
        name,
        config.clusters.map((c) => c.name),
      );
      throw new UnknownClusterError(
        `unknown cluster "${name}"${close.length ? `; did you mean ${close.join(", ")}?` : ""} ` +
          `(configured: ${config.clusters.map((c) => c.name).join(", ")})`,
      );
    }
    return cluster;
  });
}

export async function scanClusters(
  config: Config,
  clusters: readonly ClusterConfig[],
  deps: ScanDependencies,
): Promise<ScanReport> {
  const scannedAt = deps.now();
  const work = clusters.flatMap((cluster) => cluster.nodes.map((node) => ({ cluster, node })));
  const nodes = await mapBounded(work, config.scanConcurrency, ({ cluster, node }) =>
    scanNode(node, cluster, deps),
  );
  let i = 0;
  const reports: ClusterReport[] = clusters.map((cluster) => {
    const own = nodes.slice(i, (i += cluster.nodes.length));
    return { name: cluster.name, status: worstOf(own.map((n) => n.status)), nodes: own };
  });
  return { scannedAt, clusters: reports };
}
