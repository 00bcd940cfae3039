// The catalogue of the certificates kubespray leaves on an etcd-only node of its external etcd
// (its roles/etcd: make-ssl-etcd.sh issues them, etcd.env points etcd and etcdctl at them), one
// declarative entry each, in the shape of the kubeadm catalogue. They are all in kubespray's
// etcd_cert_dir (/etc/ssl/etcd/ssl), the node's `paths.etcdPkiDir`. Each key is a `-key.pem` file
// of its own, never read.
//
// kubespray names a host's files after its Ansible inventory hostname (`member-node1.pem`):
// NODE_IN_PATH stands for it, and the scan puts the node's name there (`name:` in the config, its
// `host` without one), so an etcd node's `name` is its kubespray inventory name.
import { NODE_IN_PATH, type Entry, type NeverRenewed } from "../kubeadm/catalogue.js";

/** kubespray's documented way to issue its etcd certificates again. */
export const KUBESPRAY_ETCD_PLAYBOOK =
  "`ansible-playbook -i INVENTORY -b cluster.yml --tags=etcd`, from the kubespray checkout and inventory " +
  "that built the cluster, runs its etcd role, whose certificate tasks (tag etcd-secrets; " +
  "force_etcd_cert_refresh, true by default) issue the etcd certificates again from its CA on the first " +
  "etcd node, copy them to the etcd nodes and restart etcd (kubespray docs: operations/upgrades.md, " +
  "'Upgrade etcd').";

const LEAF: NeverRenewed = {
  by: "never",
  why: "kubespray issues the certificates of its external etcd; kubeadm does not renew them",
  repair: `Re-issue it with kubespray: ${KUBESPRAY_ETCD_PLAYBOOK}`,
  advice: (node) =>
    `kubespray issued this etcd certificate on ${node}; re-issue it: ${KUBESPRAY_ETCD_PLAYBOOK}`,
  missing: (node) =>
    `kubespray writes this etcd certificate on ${node}; have it write it again: ${KUBESPRAY_ETCD_PLAYBOOK}`,
};

const CA: NeverRenewed = {
  by: "never",
  why: "the etcd CA kubespray made is not renewed by kubespray or kubeadm",
  repair:
    "kubespray keeps the etcd CA while ca-key.pem is in the first etcd node's certificate directory, " +
    "and makes a new one (and new certificates for every member and client) only when it is not there. " +
    "A new CA must reach every etcd member and every apiserver at once: plan it as a maintenance.",
  missing: (node) =>
    `The etcd CA is missing on ${node}: copy ca.pem from the first etcd node's certificate directory, ` +
    "or run kubespray's `cluster.yml --tags=etcd` again.",
};

const leaf = <const Name extends string>(name: Name, file: string, required: "always" | "never") =>
  ({
    name,
    roles: ["etcd"],
    base: "etcdPkiDir",
    path: `${file}-${NODE_IN_PATH}.pem`,
    kind: "certificate",
    readAs: "pem",
    ca: "kubespray-etcd-ca",
    isCA: false,
    required,
    renewal: LEAF,
  }) as const;

const ENTRIES = [
  {
    name: "kubespray-etcd-ca",
    roles: ["etcd"],
    base: "etcdPkiDir",
    path: "ca.pem",
    kind: "certificate",
    readAs: "pem",
    ca: null,
    isCA: true,
    required: "always",
    renewal: CA,
  },
  // etcd's server and peer certificate at once (ETCD_CERT_FILE and ETCD_PEER_CERT_FILE).
  leaf("kubespray-etcd-member", "member", "always"),
  // etcdctl's client certificate on the node (ETCDCTL_CERT).
  leaf("kubespray-etcd-admin", "admin", "always"),
  // The client certificate of a Kubernetes node (its apiserver, an etcd-backed network plugin):
  // only where the etcd node is in kubespray's k8s_cluster group too.
  leaf("kubespray-etcd-node", "node", "never"),
] as const satisfies readonly Entry<string>[];

export type KubesprayName = (typeof ENTRIES)[number]["name"];

export type KubesprayEntry = Entry<KubesprayName>;

/** The table (its `ca` names are checked against its own names here). */
export const KUBESPRAY_ETCD: readonly KubesprayEntry[] = ENTRIES;
