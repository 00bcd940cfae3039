// A lab cluster to renew: lab nodes (renewal-lab.ts) sharing one cluster PKI, each with its own lab
// control plane on 127.0.0.N, a clusters.yaml naming them (local transport by default, or SSH through
// a lab sshd per node), and the run's node-level dependencies (transport, rescan) built from that
// config alone, so the worker fixture (renew-worker.ts) can build them in its own process.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CertificateCache } from "../../src/core/certs/certificate.js";
import { loadConfig, type ClusterConfig, type Config, type NodeConfig } from "../../src/config/load.js";
import { newRequest, type RenewalRequest } from "../../src/core/renew/approval.js";
import type { ProgressEvent } from "../../src/core/renew/progress.js";
import {
  planRenewal,
  type NodePlan,
  type RenewalPlan,
  type RestartStrategy,
} from "../../src/core/renew/plan.js";
import type { RenewalRecords, RunReporter } from "../../src/core/renew/ports.js";
import type { RunState } from "../../src/core/renew/run-state.js";
import type { NodeReport } from "../../src/core/report/types.js";
import { scanNode } from "../../src/adapters/nodes/scan.js";
import { SshConnector } from "../../src/adapters/nodes/ssh.js";
import { probeServedCertificate } from "../../src/adapters/nodes/tls-probe.js";
import type { Transport } from "../../src/core/transport/transport.js";
import { fingerprintOf, LAB_SYSTEM_PATH } from "./control-plane.js";
import { freePort } from "./ports.js";
import { labTransport, renewalLabNode, type RenewalLabNode } from "./renewal-lab.js";
import { ensureLabUsers, startSshd, writeKnownHosts, type LabSshd } from "./sshd.js";
import { newClusterPki, type CertName, type Validity } from "./tree.js";
import { apiserverHealthy } from "../../src/adapters/nodes/health.js";

export interface LabNodeDef {
  name: string;
  /** N of 127.0.0.N. */
  host: number;
  version: string;
  /** Certificates of this node with dates of their own. */
  dates?: Partial<Record<CertName, Validity>>;
  /** kubelet.conf embeds its client certificate (default: before 1.17). */
  embeddedKubeletConf?: boolean;
}

export interface LabClusterNode extends RenewalLabNode {
  sshd?: LabSshd;
}

export interface LabCluster {
  name: string;
  configPath: string;
  config: Config;
  cluster: ClusterConfig;
  nodes: LabClusterNode[];
  /** With `ssh`: the clusters.yaml `ssh:` settings that reach its nodes (for a config a test writes itself). */
  ssh?: { privateKeyPath: string; knownHostsPath: string };
  node(name: string): LabClusterNode;
  /** Stops the sshds (the control planes: stopAllControlPlanes). */
  stop(): Promise<void>;
}

export interface LabClusterSpec {
  /** A directory of its own (with `ssh`, the lab users must be able to traverse it). */
  root: string;
  name: string;
  nodes: LabNodeDef[];
  restartStrategy?: RestartStrategy;
  /** Certificates that expired yesterday, on every node. */
  expired?: CertName[];
  /** Reach the nodes over SSH (a lab sshd per node, the sudo lab user) instead of a local /bin/sh. */
  ssh?: boolean;
  /**
   * More of clusters.yaml: its `timezone` (default UTC), top-level lines (`slack:`, `scanCron:`) and
   * lines of the cluster's entry (`channel:`, `approvers:`, its `renewal:` windows).
   */
  yaml?: { timezone?: string; top?: string[]; cluster?: string[] };
}

/** Writes the nodes, starts their control planes (and sshds) and writes the cluster's clusters.yaml. */
export async function startLabCluster(spec: LabClusterSpec): Promise<LabCluster> {
  mkdirSync(spec.root, { recursive: true });
  const pki = await newClusterPki();
  const users = spec.ssh ? await ensureLabUsers(join(spec.root, "users")) : undefined;
  if (users) chmodSync(spec.root, 0o755);
  const nodes: LabClusterNode[] = await Promise.all(
    spec.nodes.map(async (def) => {
      const node = await renewalLabNode({
        root: spec.root,
        name: def.name,
        host: def.host,
        pki,
        version: def.version,
        ...(spec.expired ? { expired: spec.expired } : {}),
        ...(def.dates ? { dates: def.dates } : {}),
        ...(def.embeddedKubeletConf !== undefined ? { embeddedKubeletConf: def.embeddedKubeletConf } : {}),
      });
      if (!users) return node;
      const sshd = await startSshd({
        dir: join(spec.root, "sshd", def.name),
        address: node.address,
        port: await freePort(node.address),
        users,
        pathPrepend: node.tree.binDir,
        systemPath: LAB_SYSTEM_PATH,
      });
      // Over SSH: the same entry with the sshd's port and the sudo user instead of `transport: local`.
      const yaml = node.yaml.replace(
        "transport: local",
        `port: ${sshd.port}, ssh: { user: ${users.sudo}, become: sudo }`,
      );
      return { ...node, yaml, sshd };
    }),
  );
  const knownHosts = join(spec.root, "known_hosts");
  const ssh = users && { privateKeyPath: users.clientKeyPath, knownHostsPath: knownHosts };
  if (ssh)
    writeKnownHosts(
      knownHosts,
      nodes.map((n) => n.sshd!.knownHostsLine()),
    );
  const configPath = join(spec.root, "clusters.yaml");
  writeFileSync(
    configPath,
    [
      `timezone: ${spec.yaml?.timezone ?? "UTC"}`,
      ...(spec.yaml?.top ?? []),
      `renewal: { backupDir: "${join(spec.root, "backups")}", restartStrategy: ${spec.restartStrategy ?? "manifests"} }`,
      ...(ssh
        ? [`ssh: { privateKeyPath: ${ssh.privateKeyPath}, knownHostsPath: ${ssh.knownHostsPath} }`]
        : []),
      "clusters:",
      `  - name: ${spec.name}`,
      ...(spec.yaml?.cluster ?? []).map((line) => `    ${line}`),
      "    nodes:",
      ...nodes.map((n) => `      - ${n.yaml}`),
      "",
    ].join("\n"),
  );
  const config = loadConfig(configPath);
  return {
    name: spec.name,
    configPath,
    config,
    cluster: config.clusters[0]!,
    nodes,
    ...(ssh ? { ssh } : {}),
    node: (name) => nodes.find((n) => n.name === name) ?? assert.fail(`no lab node ${name}`),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.sshd?.stop()));
    },
  };
}

/** The node-level dependencies of a run, from a config whose nodes are lab nodes. */
export interface LabNodeAccess {
  transportFor(node: Pick<NodePlan, "node">): Transport;
  rescan(node: Pick<NodePlan, "node">): Promise<NodeReport>;
  health(url: string, timeoutMs: number): Promise<boolean>;
}

/**
 * Local nodes run their scripts with the node's lab tools first on PATH (preceded by `toolsFirst`,
 * e.g. wrappers that hang on purpose); SSH nodes get that PATH from their sshd.
 */
export function labNodeAccess(config: Config, options: { toolsFirst?: string } = {}): LabNodeAccess {
  const ssh = new SshConnector();
  const cache = new CertificateCache();
  const located = (name: string): { node: NodeConfig; cluster: ClusterConfig } => {
    for (const cluster of config.clusters) {
      const node = cluster.nodes.find((n) => n.name === name);
      if (node) return { node, cluster };
    }
    throw new Error(`no node ${name} in the lab config`);
  };
  // A lab node's tools are in <node root>/bin, next to its etc/kubernetes.
  const transport = (node: NodeConfig): Transport =>
    node.transport === "local"
      ? labTransport(join(node.paths.kubernetesDir, "../../bin"), node, options.toolsFirst)
      : ssh.transport(node);
  return {
    transportFor: (plan) => transport(located(plan.node).node),
    rescan: (plan) => {
      const { node, cluster } = located(plan.node);
      return scanNode(node, cluster, {
        cache,
        transportFor: transport,
        probe: (node, timeoutMs) => probeServedCertificate(node.host, node.apiserver.port, timeoutMs),
        now: () => new Date(),
      });
    },
    health: apiserverHealthy,
  };
}

/** A plan of the whole cluster from a fresh scan of every node, as `/certs renew` makes it. */
export async function planLabRenewal(lab: LabCluster, now = new Date()): Promise<RenewalPlan> {
  const access = labNodeAccess(lab.config);
  const reports = await Promise.all(lab.cluster.nodes.map((n) => access.rescan({ node: n.name })));
  for (const r of reports) assert.ok(r.reachable, `${r.name}: ${r.error}`);
  const result = planRenewal({
    cluster: lab.cluster,
    report: { name: lab.name, status: reports[0]!.status, nodes: reports },
    renewal: lab.config.renewal,
    now,
    requestedBy: "U0OPERATOR",
  });
  assert.ok(result.ok, result.ok ? "" : result.reason);
  return result.plan;
}

/** SHA-256 fingerprint (colon hex, as X509Certificate) of a pki file on the node. */
export const pkiFingerprint = (node: RenewalLabNode, file: string): string =>
  fingerprintOf(readFileSync(join(node.tree.kubernetesDir, "pki", file)));

/** A request as the approval flow leaves it (approved by someone other than the requester), saved with its plan. */
export async function approvedRequest(
  records: Pick<RenewalRecords, "create">,
  plan: RenewalPlan,
): Promise<RenewalRequest> {
  const now = new Date();
  const request: RenewalRequest = {
    ...newRequest({
      cluster: plan.cluster,
      requestedBy: "U0OPERATOR",
      now,
      settings: { approvalTtlMinutes: 240 },
    }),
    approvals: [{ user: "U0APPROVER", at: now }],
    state: "approved",
  };
  const created = await records.create(request, { plan });
  assert.ok(created.ok, created.ok ? "" : `held by ${created.active?.id ?? "a request with this id"}`);
  return request;
}

/**
 * A RunReporter that keeps what it was told, and lets a test act when a step ends (`onStep`) or
 * when the checklist changes (`onStatus`: a step turning "running", which is not a step reply).
 */
export class RecordingReporter implements RunReporter {
  readonly statuses: RunState[] = [];
  readonly steps: ProgressEvent[] = [];
  readonly summaries: RunState[] = [];

  constructor(
    private readonly onStep?: (event: ProgressEvent) => void | Promise<void>,
    private readonly onStatus?: (state: RunState) => void | Promise<void>,
  ) {}

  async status(state: RunState): Promise<void> {
    this.statuses.push(state);
    await this.onStatus?.(state);
  }

  async step(event: ProgressEvent): Promise<void> {
    this.steps.push(event);
    await this.onStep?.(event);
  }

  async finished(state: RunState): Promise<void> {
    this.summaries.push(state);
  }
}
