// The catalogue of every certificate-bearing file kubeadm leaves on a control-plane node, one
// declarative entry each (the shape of kubeadm's cmd/kubeadm/app/phases/certs/certlist.go).
// What the scanner reads, when a file counts as missing and which CA signs what all hang off this
// table: nothing else in the code names a kubeadm file.

/** Which configured directory an entry's path is relative to. */
export type BaseDir = "kubernetesDir" | "kubeletPkiDir";

/**
 * How the file is read on the node:
 * - `cert`: PEM (certificate blocks only) or, when the file holds no PEM at all, DER bytes;
 * - `pem`: certificate blocks only, never DER (the file also holds a private key);
 * - `kubeconfig`: the `client-certificate-data` (decoded on the node, certificate blocks only) or
 *   the file that `client-certificate` points at.
 */
export type ReadAs = "cert" | "pem" | "kubeconfig";

/**
 * When an absent file is reported `missing`:
 * - `always`: every kubeadm control-plane node has it;
 * - `local-etcd`: only when `pki/etcd/` exists (no such directory means external etcd);
 * - `rotating-kubelet`: unless kubelet.conf embeds its client certificate (pre-1.17 layout);
 * - `never`: optional (super-admin.conf lives only where `kubeadm init` ran, kubelet.crt only
 *   without serverTLSBootstrap).
 */
export type Requirement = "always" | "local-etcd" | "rotating-kubelet" | "never";

export interface CatalogueEntry {
  /** The name kubeadm uses (`kubeadm certs check-expiration`), for file entries the file's base name. */
  readonly name: string;
  readonly base: BaseDir;
  /** Relative to `base`; fixed strings, never from config or chat. */
  readonly path: string;
  readonly kind: "certificate" | "kubeconfig";
  readonly readAs: ReadAs;
  /** Name of the catalogue entry of the CA that signs it; null for CAs and self-signed files. */
  readonly ca: string | null;
  readonly isCA: boolean;
  readonly required: Requirement;
}

const pki = (
  name: string,
  path: string,
  ca: string | null,
  required: Requirement = "always",
): CatalogueEntry => ({
  name,
  base: "kubernetesDir",
  path,
  kind: "certificate",
  readAs: "cert",
  ca,
  isCA: ca === null,
  required,
});

const kubeconfig = (name: string, required: Requirement = "always"): CatalogueEntry => ({
  name,
  base: "kubernetesDir",
  path: name,
  kind: "kubeconfig",
  readAs: "kubeconfig",
  ca: "ca",
  isCA: false,
  required,
});

export const CATALOGUE: readonly CatalogueEntry[] = [
  pki("ca", "pki/ca.crt", null),
  pki("front-proxy-ca", "pki/front-proxy-ca.crt", null),
  pki("etcd-ca", "pki/etcd/ca.crt", null, "local-etcd"),
  pki("apiserver", "pki/apiserver.crt", "ca"),
  pki("apiserver-kubelet-client", "pki/apiserver-kubelet-client.crt", "ca"),
  pki("apiserver-etcd-client", "pki/apiserver-etcd-client.crt", "etcd-ca", "local-etcd"),
  pki("front-proxy-client", "pki/front-proxy-client.crt", "front-proxy-ca"),
  pki("etcd-server", "pki/etcd/server.crt", "etcd-ca", "local-etcd"),
  pki("etcd-peer", "pki/etcd/peer.crt", "etcd-ca", "local-etcd"),
  pki("etcd-healthcheck-client", "pki/etcd/healthcheck-client.crt", "etcd-ca", "local-etcd"),
  kubeconfig("admin.conf"),
  kubeconfig("super-admin.conf", "never"),
  kubeconfig("controller-manager.conf"),
  kubeconfig("scheduler.conf"),
  kubeconfig("kubelet.conf"),
  {
    name: "kubelet-client",
    base: "kubeletPkiDir",
    path: "kubelet-client-current.pem",
    kind: "certificate",
    readAs: "pem",
    ca: "ca",
    isCA: false,
    required: "rotating-kubelet",
  },
  {
    name: "kubelet-serving",
    base: "kubeletPkiDir",
    path: "kubelet.crt",
    kind: "certificate",
    readAs: "cert",
    ca: null, // the kubelet's own throwaway "<host>-ca@<unix>" CA (not the cluster's), or the cluster CA with serverTLSBootstrap
    isCA: false,
    required: "never",
  },
];

/** The directory whose presence means "this node runs a local (stacked) etcd". */
export const LOCAL_ETCD_MARKER: { base: BaseDir; path: string } = { base: "kubernetesDir", path: "pki/etcd" };

export function catalogueEntry(name: string): CatalogueEntry {
  const entry = CATALOGUE.find((e) => e.name === name);
  if (!entry) throw new Error(`no catalogue entry named ${name}`);
  return entry;
}
