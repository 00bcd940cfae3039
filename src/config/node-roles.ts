// What a configured node is, and where kubeadm keeps a local etcd's files: facts the schema and the
// core both need, in a module without the schema's validation library (the CLI's quick paths load
// the catalogue, not zod).

/**
 * What a node is, which decides what its scan reads: a kubeadm control-plane node, an etcd-only
 * node of kubespray's external etcd, or a worker (its kubelet's own files). Only control-plane
 * nodes are renewed and have an apiserver.
 */
export const NODE_ROLES = ["control-plane", "etcd", "worker"] as const;
export type NodeRole = (typeof NODE_ROLES)[number];

/** Where kubeadm keeps a local etcd's certificates, under kubernetesDir: `paths.etcdPkiDir`'s default. */
export const ETCD_PKI_IN_KUBERNETES_DIR = "pki/etcd";
