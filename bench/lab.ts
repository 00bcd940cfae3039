// The benchmark's lab: N kubeadm control-plane nodes on 127.0.0.2…, one real sshd each, grouped
// into clusters of three that share one cluster PKI, trees owned by the plain lab user. Everything
// lives under one temporary directory that destroy() removes after stopping every sshd.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mapBounded } from "../src/adapters/nodes/scan.js";
import { freePort, labAddress } from "../test/lab/ports.js";
import { ensureLabUsers, startSshd, writeKnownHosts, type LabSshd, type LabUsers } from "../test/lab/sshd.js";
import { newClusterPki, writeLabNode, type ClusterPki, type LabNode } from "../test/lab/tree.js";

export const CLUSTER_SIZE = 3;
/** labAddress(2) … labAddress(254). */
export const MAX_NODES = 253;

export interface BenchNode {
  cluster: string;
  name: string;
  address: string;
  port: number;
  lab: LabNode;
}

export class BenchLab {
  readonly root: string;
  readonly nodes: BenchNode[] = [];
  private readonly sshds: LabSshd[] = [];
  private usersValue: LabUsers | undefined;
  private destroyed: Promise<void> | undefined;

  constructor() {
    this.root = mkdtempSync(join(tmpdir(), "certs-bot-bench-"));
    chmodSync(this.root, 0o755); // the lab user traverses it to its tree and authorized_keys
  }

  get users(): LabUsers {
    if (!this.usersValue) throw new Error("bench lab: not built yet");
    return this.usersValue;
  }

  get knownHostsPath(): string {
    return join(this.root, "known_hosts");
  }

  /** Builds `count` nodes and starts their sshds, `parallel` at a time. */
  async build(count: number, parallel: number, progress: (done: number) => void): Promise<void> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_NODES)
      throw new Error(`bench lab: --nodes must be 1..${MAX_NODES} (one loopback address each)`);
    this.usersValue = await ensureLabUsers(join(this.root, "users"));
    const users = this.usersValue;
    for (const dir of ["nodes", "sshd"]) {
      mkdirSync(join(this.root, dir), { recursive: true });
      chmodSync(join(this.root, dir), 0o755);
    }
    const clusterCount = Math.ceil(count / CLUSTER_SIZE);
    const clusterName = (c: number) => `bench-${String(c + 1).padStart(3, "0")}`;
    const pkis: ClusterPki[] = await mapBounded(
      Array.from({ length: clusterCount }, (_, c) => c),
      parallel,
      () => newClusterPki(),
    );
    let done = 0;
    const built = await mapBounded(
      Array.from({ length: count }, (_, i) => i),
      parallel,
      async (i): Promise<BenchNode> => {
        const c = Math.floor(i / CLUSTER_SIZE);
        const cluster = clusterName(c);
        const name = `${cluster}-cp${(i % CLUSTER_SIZE) + 1}`;
        const address = labAddress(i + 2);
        const lab = await writeLabNode({
          root: join(this.root, "nodes", name),
          nodeName: name,
          address,
          pki: pkis[c]!,
          keyAlg: "ecdsa",
          owner: { uid: users.plainUid, gid: users.plainGid },
        });
        const port = await freePort(address);
        const sshd = await startSshd({
          dir: join(this.root, "sshd", name),
          address,
          port,
          users,
          pathPrepend: lab.binDir,
        });
        this.sshds.push(sshd);
        progress(++done);
        return { cluster, name, address, port, lab };
      },
    );
    this.nodes.push(...built);
    writeKnownHosts(
      this.knownHostsPath,
      this.sshds.map((s) => s.knownHostsLine()),
    );
  }

  /** A clusters.yaml for `nodes` (grouped by their cluster, in order). */
  writeConfig(file: string, nodes: readonly BenchNode[], scanConcurrency: number): string {
    const clusters = new Map<string, BenchNode[]>();
    for (const node of nodes) clusters.set(node.cluster, [...(clusters.get(node.cluster) ?? []), node]);
    const lines = [
      "# certs-bot benchmark lab (generated)",
      "timezone: UTC",
      "thresholds: { warningDays: 30, criticalDays: 7 }",
      `scanConcurrency: ${scanConcurrency}`,
      "ssh:",
      `  user: ${this.users.plain}`,
      `  privateKeyPath: "${this.users.clientKeyPath}"`,
      `  knownHostsPath: "${this.knownHostsPath}"`,
      "  connectTimeoutMs: 30000",
      "  commandTimeoutMs: 120000",
      "# No lab apiservers: the TLS probe is off for every node.",
      "apiserver: { probe: false }",
      "clusters:",
    ];
    for (const [cluster, members] of clusters) {
      lines.push(`  - name: ${cluster}`, "    nodes:");
      for (const n of members) {
        lines.push(
          `      - host: ${n.address}`,
          `        name: ${n.name}`,
          `        port: ${n.port}`,
          `        paths: { kubernetesDir: "${n.lab.kubernetesDir}", kubeletPkiDir: "${n.lab.kubeletPkiDir}" }`,
        );
      }
    }
    writeFileSync(file, `${lines.join("\n")}\n`);
    return file;
  }

  /** Stops every sshd and removes the directory; idempotent, safe to call mid-build. */
  destroy(): Promise<void> {
    this.destroyed ??= (async () => {
      await Promise.allSettled(this.sshds.map((s) => s.stop()));
      rmSync(this.root, { recursive: true, force: true });
    })();
    return this.destroyed;
  }
}
