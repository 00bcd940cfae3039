// Lab nodes to renew: a kubeadm-like tree on 127.0.0.N with its lab control plane, the clusters.yaml
// entry that names it (local transport), and scan dependencies that run each node's scripts with its
// lab tools first on PATH, as a real node would find kubeadm.
import { join } from "node:path";
import type { NodeConfig } from "../../src/config/load.js";
import { defaultDependencies, type ScanDependencies } from "../../src/adapters/nodes/scan.js";
import { LocalTransport } from "../../src/adapters/nodes/local.js";
import type { Transport } from "../../src/core/transport/transport.js";
import { LAB_SYSTEM_PATH, startControlPlane, type LabControlPlane } from "./control-plane.js";
import { freePort, labAddress } from "./ports.js";
import { writeLabNode, type CertName, type ClusterPki, type LabNode, type Validity } from "./tree.js";

const DAY = 86_400_000;

export interface RenewalLabNodeSpec {
  /** The node's tree goes to <root>/<name>. */
  root: string;
  name: string;
  /** N of 127.0.0.N. */
  host: number;
  /** Shared by the nodes of one cluster. */
  pki: ClusterPki;
  /** Default "v1.28.4". */
  version?: string;
  /** Certificates that expired yesterday. */
  expired?: CertName[];
  /** Certificates with dates of their own (a CA keeps its key, so what it signed still verifies). */
  dates?: Partial<Record<CertName, Validity>>;
  /**
   * kubelet.conf embeds its client certificate; default: before 1.17 (kubeadm's layout then). From
   * 1.17 the node also has kubelet-client-current.pem (upgraded from before 1.17).
   */
  embeddedKubeletConf?: boolean;
}

export interface RenewalLabNode {
  name: string;
  address: string;
  tree: LabNode;
  cp: LabControlPlane;
  /** The node's entry in a clusters.yaml `nodes:` list (one line, after "- "). */
  yaml: string;
}

const minorOf = (version: string): number => Number(/^v1\.(\d+)\./.exec(version)?.[1]);

/** Writes the node's tree, starts its control plane and waits until it serves. */
export async function renewalLabNode(spec: RenewalLabNodeSpec): Promise<RenewalLabNode> {
  const version = spec.version ?? "v1.28.4";
  const address = labAddress(spec.host);
  const port = await freePort(address);
  const now = Date.now();
  const tree = await writeLabNode({
    root: join(spec.root, spec.name),
    nodeName: spec.name,
    address,
    pki: spec.pki,
    kubeadmVersion: version,
    apiserverPort: port,
    superAdmin: minorOf(version) >= 29,
    embeddedKubeletConf: spec.embeddedKubeletConf ?? minorOf(version) < 17,
    rotatingKubeletClient: minorOf(version) >= 17,
    dates: {
      ...Object.fromEntries(
        (spec.expired ?? []).map((name) => [
          name,
          { notBefore: new Date(now - 366 * DAY), notAfter: new Date(now - DAY) },
        ]),
      ),
      ...spec.dates,
    },
  });
  const cp = await startControlPlane({ tree, nodeName: spec.name, address, port, version });
  const yaml =
    `{ host: ${address}, name: ${spec.name}, transport: local, ` +
    `paths: { kubernetesDir: "${tree.kubernetesDir}", kubeletPkiDir: "${tree.kubeletPkiDir}" }, ` +
    `apiserver: { port: ${port} } }`;
  return { name: spec.name, address, tree, cp, yaml };
}

/**
 * A local node's transport with its lab tools (and `toolsFirst`, if given) first on PATH, then the
 * lab's system PATH (never a real crictl or docker).
 */
export function labTransport(binDir: string, node: NodeConfig, toolsFirst?: string): Transport {
  const local = new LocalTransport(node.ssh);
  const path = [toolsFirst, binDir, LAB_SYSTEM_PATH].filter(Boolean).join(":");
  return { run: (script, options) => local.run(`PATH='${path}'; export PATH\n${script}`, options) };
}

/** The default scan dependencies, except that the lab nodes run with their lab tools. */
export function labScanDependencies(nodes: readonly RenewalLabNode[]): ScanDependencies {
  const deps = defaultDependencies();
  return {
    ...deps,
    transportFor: (node) => {
      const lab = nodes.find((n) => n.name === node.name);
      return lab && node.transport === "local"
        ? labTransport(lab.tree.binDir, node)
        : deps.transportFor(node);
    },
  };
}
