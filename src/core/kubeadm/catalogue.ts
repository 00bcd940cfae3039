// The catalogue of every certificate-bearing file kubeadm leaves on a control-plane node (the
// kubelet's own files on a worker too), one declarative entry each (the shape of kubeadm's cmd/kubeadm/app/phases/certs/certlist.go).
// What the scanner reads, when a file counts as missing and which CA signs what all hang off this
// table: code names a kubeadm file through it (its entries, SERVED_BY_APISERVER, KUBELET_KUBECONFIG);
// what remains spelled elsewhere is text for people (advice, findings) and the layout of pki/.
// The entries' shape is shared with the other catalogue a scan reads (kubespray/catalogue.ts).
import { posix } from "node:path";
import { ETCD_PKI_IN_KUBERNETES_DIR, type NodeRole } from "../../config/node-roles.js";

/** Which configured directory (`paths.*`) an entry's path is relative to. */
export type BaseDir = "kubernetesDir" | "kubeletPkiDir" | "etcdPkiDir";

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
 * - `always`: every node of its roles has it;
 * - `local-etcd`: only when etcdPkiDir (`pki/etcd/` by default) exists (none means external etcd);
 * - `rotating-kubelet`: unless kubelet.conf embeds its client certificate (pre-1.17 layout);
 * - `never`: optional (super-admin.conf lives only where `kubeadm init` ran, kubelet.crt only
 *   without serverTLSBootstrap).
 */
export type Requirement = "always" | "local-etcd" | "rotating-kubelet" | "never";

/**
 * Whether and how kubeadm re-issues a file:
 * - `kubeadm`: `renew` is its name for `kubeadm certs renew` (1.15+), `phase` for the
 *   `init phase certs|kubeconfig` of older releases; `since`: the first 1.x minor that knows it;
 * - `never`: kubeadm never renews it; `why` and `repair` are what the plan says instead, `advice`
 *   (when a warning's advice is specific to the file) what a warning about it says to do, given
 *   the node's name as shown, and `expired`, `missing` what it says in those cases instead.
 */
type Renewal = KubeadmRenewal | NeverRenewed;
export interface KubeadmRenewal {
  readonly by: "kubeadm";
  readonly renew: string;
  readonly phase: string;
  readonly since?: number;
}
export interface NeverRenewed {
  readonly by: "never";
  readonly why: string;
  readonly repair: string;
  readonly advice?: (node: string) => string;
  /** What a warning says once the file has expired, when that differs from `advice`. */
  readonly expired?: (node: string) => string;
  /** What a warning says when the file is missing, when the generic advice (kubeadm's phases) is wrong. */
  readonly missing?: (node: string) => string;
}

/** Stands for the node's name in an entry's path: kubespray names files after the host. */
export const NODE_IN_PATH = "<node>";

export interface Entry<Name extends string> {
  /** The name kubeadm uses (`kubeadm certs check-expiration`), for file entries the file's base name. */
  readonly name: Name;
  /** The roles of the nodes that have it: what a scan of a node with that role reads. */
  readonly roles: readonly NodeRole[];
  readonly base: BaseDir;
  /**
   * Relative to `base`; fixed strings, never from config or chat, except NODE_IN_PATH, which the
   * scan replaces with the node's (validated) name.
   */
  readonly path: string;
  readonly kind: "certificate" | "kubeconfig";
  readonly readAs: ReadAs;
  /** Name of the catalogue entry of the CA that signs it; null for CAs and self-signed files. */
  readonly ca: Name | null;
  readonly isCA: boolean;
  readonly required: Requirement;
  readonly renewal: Renewal;
  /** When this file holds a certificate, that entry's file is no longer used (reported `superseded`). */
  readonly supersedes?: Name;
}

const CONTROL_PLANE: readonly NodeRole[] = ["control-plane"];
/** The kubelet's own files: every kubeadm node has them, workers too. */
const KUBEADM_NODES: readonly NodeRole[] = ["control-plane", "worker"];

const pki = <const Name extends string, const Ca extends string | null, R extends Renewal>(
  name: Name,
  path: string,
  ca: Ca,
  renewal: R,
  required: Requirement = "always",
) =>
  ({
    name,
    roles: CONTROL_PLANE,
    base: "kubernetesDir",
    path,
    kind: "certificate",
    readAs: "cert",
    ca,
    isCA: ca === null,
    required,
    renewal,
  }) as const;

/** A local etcd's own files, in etcdPkiDir (kubeadm's pki/etcd unless configured). */
const etcd = <const Name extends string, const Ca extends string | null, R extends Renewal>(
  name: Name,
  path: string,
  ca: Ca,
  renewal: R,
) => ({ ...pki(name, path, ca, renewal, "local-etcd"), base: "etcdPkiDir" }) as const;

const kubeconfig = <const Name extends string, R extends Renewal>(
  name: Name,
  renewal: R,
  required: Requirement = "always",
  roles = CONTROL_PLANE,
) =>
  ({
    name,
    roles,
    base: "kubernetesDir",
    path: name,
    kind: "kubeconfig",
    readAs: "kubeconfig",
    ca: "ca",
    isCA: false,
    required,
    renewal,
  }) as const;

/** Renewed by kubeadm under `renew`; the phase drops a kubeconfig's `.conf`. */
const kubeadm = (renew: string, since?: number): KubeadmRenewal => ({
  by: "kubeadm",
  renew,
  phase: renew.replace(/\.conf$/, ""),
  ...(since === undefined ? {} : { since }),
});

const CA: NeverRenewed = {
  by: "never",
  why: "a CA is not renewed by kubeadm",
  repair: "Rotate it by hand (kubeadm docs: 'Manual rotation of CA certificates'), then renew the leaves.",
};

// kubeadm docs, "Kubelet client certificate rotation fails": a kubelet whose client certificate
// expired cannot rotate it any more; it is bootstrapped again from a control-plane node.
export const KUBELET_REBOOTSTRAP =
  "on a working control-plane node run `kubeadm kubeconfig user --org system:nodes " +
  "--client-name system:node:NODE > kubelet.conf` (`kubeadm alpha kubeconfig user` before 1.20), copy it " +
  "to the failed node's /etc/kubernetes/kubelet.conf, restart the kubelet, wait for " +
  "/var/lib/kubelet/pki/kubelet-client-current.pem, then point kubelet.conf's client-certificate and " +
  "client-key at that file and restart the kubelet again (kubeadm docs: 'Kubelet client certificate " +
  "rotation fails').";

const rebootstrap = (node: string, what: string): string =>
  `The kubelet on ${node} ${what}: bootstrap it again (NODE: its Kubernetes node name): ${KUBELET_REBOOTSTRAP}`;

const KUBELET_CLIENT: NeverRenewed = {
  by: "never",
  why: "the kubelet rotates its own client certificate; kubeadm does not renew it",
  repair: `If it has expired: ${KUBELET_REBOOTSTRAP}`,
  advice: (node) =>
    `The kubelet on ${node} renews its client certificate itself (rotateCertificates): look at its log ` +
    "(`journalctl -u kubelet`) and at pending CSRs (`kubectl get csr`); kubeadm docs: 'Kubelet client " +
    "certificate rotation fails'.",
  expired: (node) => rebootstrap(node, "cannot rotate its expired client certificate any more"),
  missing: (node) => rebootstrap(node, "has no client certificate"),
};

// What a renewal does about it is in kubelet-conf.ts (and the warnings' advice asks it, per node).
const KUBELET_CONF: NeverRenewed = {
  by: "never",
  why: "kubelet.conf is the kubelet's own credential; kubeadm's renew does not touch it",
  repair:
    "Before 1.17 it embeds a one-year client certificate that nothing rotates: a renewal of the whole node " +
    "(without --certs) regenerates it once it is within the warning threshold, with that version's kubeadm " +
    "(`kubeadm alpha phase kubeconfig kubelet` on 1.8–1.12, `kubeadm init phase kubeconfig kubelet` on " +
    "1.13–1.16, with --node-name). From 1.17 such a renewal points its client-certificate and client-key at " +
    "/var/lib/kubelet/pki/kubelet-client-current.pem instead, which the kubelet rotates, while that file is " +
    "valid (kubeadm docs: 'Kubelet client certificate rotation fails'). Either way the kubelet restarts.",
  missing: (node) => rebootstrap(node, "has no kubelet.conf"),
};

const KUBELET_SERVING: NeverRenewed = {
  by: "never",
  why: "the kubelet's serving certificate is the kubelet's own; kubeadm does not renew it",
  repair:
    "Self-signed kubelet.crt: move kubelet.crt and kubelet.key aside and restart the kubelet, which writes " +
    "new ones; or enable serverTLSBootstrap so it is signed by the cluster CA and rotates.",
  advice: (node) =>
    `The kubelet's serving certificate on ${node}: with serverTLSBootstrap, approve its CSR ` +
    "(`kubectl get csr`); without, remove kubelet.crt and kubelet.key and restart the kubelet to make a new one.",
};

const KUBELET_SERVER: NeverRenewed = {
  by: "never",
  why: "the kubelet rotates its serving certificate itself (serverTLSBootstrap); kubeadm does not renew it",
  repair:
    "Approve the kubelet's pending serving CSR (`kubectl get csr`, then `kubectl certificate approve`): " +
    "the kubelet writes the new kubelet-server-current.pem itself.",
  advice: (node) =>
    `The kubelet on ${node} renews its serving certificate through a CSR that someone (or an approver ` +
    "controller) must approve: look for a pending one with `kubectl get csr`, approve it, and check the " +
    "kubelet's log (`journalctl -u kubelet`).",
};

/** Local etcd TLS arrived in kubeadm 1.10, super-admin.conf in 1.29. */
const ENTRIES = [
  pki("ca", "pki/ca.crt", null, CA),
  pki("front-proxy-ca", "pki/front-proxy-ca.crt", null, CA),
  etcd("etcd-ca", "ca.crt", null, CA),
  pki("apiserver", "pki/apiserver.crt", "ca", kubeadm("apiserver")),
  pki(
    "apiserver-kubelet-client",
    "pki/apiserver-kubelet-client.crt",
    "ca",
    kubeadm("apiserver-kubelet-client"),
  ),
  pki("front-proxy-client", "pki/front-proxy-client.crt", "front-proxy-ca", kubeadm("front-proxy-client")),
  pki(
    "apiserver-etcd-client",
    "pki/apiserver-etcd-client.crt",
    "etcd-ca",
    kubeadm("apiserver-etcd-client", 10),
    "local-etcd",
  ),
  etcd("etcd-server", "server.crt", "etcd-ca", kubeadm("etcd-server", 10)),
  etcd("etcd-peer", "peer.crt", "etcd-ca", kubeadm("etcd-peer", 10)),
  etcd(
    "etcd-healthcheck-client",
    "healthcheck-client.crt",
    "etcd-ca",
    kubeadm("etcd-healthcheck-client", 10),
  ),
  kubeconfig("admin.conf", kubeadm("admin.conf")),
  kubeconfig("super-admin.conf", kubeadm("super-admin.conf", 29), "never"),
  kubeconfig("controller-manager.conf", kubeadm("controller-manager.conf")),
  kubeconfig("scheduler.conf", kubeadm("scheduler.conf")),
  kubeconfig("kubelet.conf", KUBELET_CONF, "always", KUBEADM_NODES),
  {
    name: "kubelet-client",
    roles: KUBEADM_NODES,
    base: "kubeletPkiDir",
    path: "kubelet-client-current.pem",
    kind: "certificate",
    readAs: "pem",
    ca: "ca",
    isCA: false,
    required: "rotating-kubelet",
    renewal: KUBELET_CLIENT,
  },
  {
    name: "kubelet-serving",
    roles: KUBEADM_NODES,
    base: "kubeletPkiDir",
    path: "kubelet.crt",
    kind: "certificate",
    readAs: "cert",
    ca: null, // the kubelet's own throwaway "<host>-ca@<unix>" CA (not the cluster's), or the cluster CA with serverTLSBootstrap
    isCA: false,
    required: "never",
    renewal: KUBELET_SERVING,
  },
  {
    // With serverTLSBootstrap the kubelet serves a cluster-signed certificate it rotates itself,
    // reached through this symlink; kubelet.crt then stays behind, stale and unused.
    name: "kubelet-server",
    roles: KUBEADM_NODES,
    base: "kubeletPkiDir",
    path: "kubelet-server-current.pem",
    kind: "certificate",
    readAs: "pem",
    ca: "ca",
    isCA: false,
    required: "never",
    renewal: KUBELET_SERVER,
    supersedes: "kubelet-serving",
  },
] as const satisfies readonly Entry<string>[];

/** Every name the catalogue knows: a misspelt one is a compile error. */
export type CertificateName = (typeof ENTRIES)[number]["name"];

export type CatalogueEntry = Entry<CertificateName>;

/** The table (its `ca` names are checked against its own names here). */
export const CATALOGUE: readonly CatalogueEntry[] = ENTRIES;

/** Every catalogue name, in catalogue order: what `--certs` may name. */
export const CERTIFICATE_NAMES: readonly CertificateName[] = CATALOGUE.map((e) => e.name);

/** For untrusted text (chat, stored JSON, a scan report). */
export const isCertificateName = (name: string): name is CertificateName =>
  (CERTIFICATE_NAMES as readonly string[]).includes(name);

type Renewable = Extract<(typeof ENTRIES)[number], { renewal: KubeadmRenewal }>;
type NotRenewed = Exclude<(typeof ENTRIES)[number], Renewable>;

/** The names of the entries kubeadm re-issues. */
export type RenewableName = Renewable["name"];
type NotRenewedName = NotRenewed["name"];

/** Leaves kubeadm can re-issue, in catalogue order. */
export const RENEWABLE: readonly RenewableName[] = ENTRIES.filter(
  (e): e is Renewable => e.renewal.by === "kubeadm",
).map((e) => e.name);

/**
 * Entries kubeadm never renews (the CAs and the kubelet's own files): the plan names them with their
 * documented repair instead of attempting them silently.
 */
export const NOT_RENEWED: readonly NotRenewedName[] = ENTRIES.filter(
  (e): e is NotRenewed => e.renewal.by === "never",
).map((e) => e.name);

export const isRenewable = (name: string): name is RenewableName =>
  (RENEWABLE as readonly string[]).includes(name);

/** The entry the apiserver serves on its secure port: what the TLS probe's certificate is compared with. */
export const SERVED_BY_APISERVER = "apiserver" satisfies RenewableName;

/** The kubelet's kubeconfig: before 1.17 it embeds a client certificate that never rotates. */
export const KUBELET_KUBECONFIG = "kubelet.conf" satisfies NotRenewedName;

const BY_NAME: ReadonlyMap<string, CatalogueEntry> = new Map(CATALOGUE.map((e) => [e.name, e]));

export const catalogueEntry = (name: CertificateName): CatalogueEntry => BY_NAME.get(name)!;

/** The entry of a name from outside (a scan report, stored JSON), if the catalogue has one. */
export const findEntry = (name: string): CatalogueEntry | undefined => BY_NAME.get(name);

/** Why kubeadm never renews `name` and what to do instead; undefined when it does (or no such entry). */
export function notRenewed(name: string): NeverRenewed | undefined {
  const renewal = BY_NAME.get(name)?.renewal;
  return renewal?.by === "never" ? renewal : undefined;
}

/** How kubeadm renews `name`. */
export const kubeadmRenewal = (name: RenewableName): KubeadmRenewal =>
  BY_NAME.get(name)!.renewal as KubeadmRenewal;

/** The directory whose presence means "this node runs a local (stacked) etcd": etcdPkiDir itself. */
export const LOCAL_ETCD_MARKER: { base: BaseDir; path: string } = { base: "etcdPkiDir", path: "" };

/** Where kubeadm itself keeps each base, relative to kubernetesDir; the kubelet's directory is not its. */
const KUBEADM_LAYOUT = { kubernetesDir: "", etcdPkiDir: ETCD_PKI_IN_KUBERNETES_DIR } as const;

/**
 * Where kubeadm writes an entry, relative to kubernetesDir (its certificatesDir is kubernetesDir/pki):
 * what a renewal moves, backs up and re-creates, whatever directory the scan reads it from.
 */
export function kubeadmPath(entry: CatalogueEntry): string {
  if (entry.base === "kubeletPkiDir") throw new Error(`${entry.name} is the kubelet's, not kubeadm's`);
  return posix.join(KUBEADM_LAYOUT[entry.base], entry.path);
}
