// What a scan reads on a node of each role, and why a renewal leaves the node out. Pure.
//
// - control-plane: the kubeadm catalogue (its pki/, kubeconfigs, a local etcd's files from
//   etcdPkiDir, the kubelet's own files); the node certs-bot renews, and whose apiserver it probes.
// - worker: the kubelet's own files from the same catalogue (kubelet.conf, its client and serving
//   certificates); kubeadm renews nothing there, the kubelet rotates them itself.
// - etcd: an etcd-only node of kubespray's external etcd: the kubespray catalogue, from etcdPkiDir.
import { posix } from "node:path";
import { NODE_ROLES, type NodeRole } from "../../config/node-roles.js";
import {
  CATALOGUE,
  KUBELET_REBOOTSTRAP,
  NODE_IN_PATH,
  type BaseDir,
  type Entry,
  type NeverRenewed,
} from "../kubeadm/catalogue.js";
import { KUBESPRAY_ETCD, KUBESPRAY_ETCD_PLAYBOOK } from "../kubespray/catalogue.js";

/** An entry of either catalogue. */
export type FileEntry = Entry<string>;

const EVERY_ENTRY: readonly FileEntry[] = [...CATALOGUE, ...KUBESPRAY_ETCD];

const BY_ROLE = new Map<NodeRole, readonly FileEntry[]>(
  NODE_ROLES.map((role) => [role, EVERY_ENTRY.filter((e) => e.roles.includes(role))]),
);

/** The entries a scan of a node with this role reads, in catalogue order. */
export const entriesFor = (role: NodeRole): readonly FileEntry[] => BY_ROLE.get(role)!;

const BY_NAME: ReadonlyMap<string, FileEntry> = new Map(EVERY_ENTRY.map((e) => [e.name, e]));

/** The entry of a name from outside (a scan report, stored JSON), in either catalogue. */
export const findFileEntry = (name: string): FileEntry | undefined => BY_NAME.get(name);

/** Why nobody renews `name` and what to do instead (advice included), in either catalogue. */
export function neverRenewed(name: string): NeverRenewed | undefined {
  const renewal = BY_NAME.get(name)?.renewal;
  return renewal?.by === "never" ? renewal : undefined;
}

/** What a scan needs to know about a node: NodeConfig has it. */
export interface ScanTarget {
  role: NodeRole;
  /** Replaces NODE_IN_PATH in kubespray's file names. */
  name: string;
  paths: Record<BaseDir, string>;
}

/** Where an entry is on that node. */
export const entryPath = (entry: Pick<FileEntry, "base" | "path">, node: ScanTarget): string =>
  posix.join(node.paths[entry.base], entry.path.replaceAll(NODE_IN_PATH, node.name));

/** Whether the node's scan asks kubeadm its version: only a kubeadm node has one that matters. */
export const hasKubeadm = (role: NodeRole): boolean => role !== "etcd";

/** Why a renewal leaves out a node of a role other than control-plane, and the documented repair. */
export const NOT_RENEWED_ROLE: Record<Exclude<NodeRole, "control-plane">, { why: string; repair: string }> = {
  worker: {
    why:
      "a worker node: kubeadm renews certificates on control-plane nodes only, and a worker's kubelet " +
      "rotates its own",
    repair: `If its kubelet client certificate (kubelet-client-current.pem) has expired: ${KUBELET_REBOOTSTRAP}`,
  },
  etcd: {
    why: "an etcd-only node of kubespray's external etcd: kubespray issues its certificates, not kubeadm",
    repair: `Re-issue its certificates with kubespray: ${KUBESPRAY_ETCD_PLAYBOOK}`,
  },
};
