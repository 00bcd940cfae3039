// kubeadm-like control-plane file trees under a chosen root: the paths, subjects, issuers, modes and
// file formats kubeadm and the kubelet really leave, plus the ways real nodes go wrong. Two other
// layouts: a kubeadm worker (kubelet.conf, pki/ca.crt and the kubelet's own files, as `kubeadm join`
// and the kubelet leave them) and an etcd-only node of kubespray's external etcd (its
// make-ssl-etcd.sh names and subjects in etc/ssl/etcd/ssl, each key a -key.pem of its own).
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  mkdirSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { issueCert, newKey, pooledKey, type KeyAlg, type LabCert, type LabKey } from "./pki.js";

export interface ClusterPki {
  ca: LabCert;
  frontProxyCa: LabCert;
  etcdCa: LabCert;
}

/** kubespray's files on an etcd node: ca.pem, member-<node>.pem, admin-<node>.pem, node-<node>.pem. */
export type KubesprayCertName =
  "kubespray-etcd-ca" | "kubespray-etcd-member" | "kubespray-etcd-admin" | "kubespray-etcd-node";

export type CertName = KubeadmCertName | KubesprayCertName;

type KubeadmCertName =
  | "ca"
  | "front-proxy-ca"
  | "etcd-ca"
  | "apiserver"
  | "apiserver-kubelet-client"
  | "apiserver-etcd-client"
  | "front-proxy-client"
  | "etcd-server"
  | "etcd-peer"
  | "etcd-healthcheck-client"
  | "admin.conf"
  | "super-admin.conf"
  | "controller-manager.conf"
  | "scheduler.conf"
  | "kubelet.conf"
  | "kubelet-client"
  | "kubelet-serving"
  | "kubelet-server";

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

export interface LabNodeSpec {
  /**
   * Receives etc/kubernetes, var/lib/kubelet/pki, etc/ssl/etcd/ssl and bin (as its layout has them);
   * those are replaced on every write.
   */
  root: string;
  /**
   * Default "control-plane". "worker": kubelet.conf, pki/ca.crt and the kubelet's own files only.
   * "kubespray-etcd": only kubespray's etcd certificates (and no kubeadm unless kubeadmVersion says so).
   */
  layout?: "control-plane" | "worker" | "kubespray-etcd";
  /**
   * kubespray-etcd: the other hosts whose member/admin/node files are here too, as on the first etcd
   * node, which issues them all.
   */
  kubesprayPeers?: string[];
  /** kubespray-etcd: node-<node>.pem too (the node is in kubespray's k8s_cluster group as well). */
  kubesprayNodeCert?: boolean;
  nodeName: string;
  address: string;
  pki: ClusterPki;
  now?: Date;
  /** Leaves' key algorithm; default "ecdsa". */
  keyAlg?: KeyAlg;
  /** Default "v1.30.4"; null: no bin/kubeadm. */
  kubeadmVersion?: string | null;
  /** Port in the kubeconfigs' server URL; default 6443. */
  apiserverPort?: number;
  /** Leaves are valid from now-(365-leafDays) days to now+leafDays days; default 300. */
  leafDays?: number;
  dates?: Partial<Record<CertName, Validity>>;
  /** No pki/etcd/ and no apiserver-etcd-client. */
  externalEtcd?: boolean;
  /** Default true. */
  superAdmin?: boolean;
  /** Pre-1.17 kubelet.conf with embedded client credentials and no kubelet-client-current.pem. */
  embeddedKubeletConf?: boolean;
  /**
   * With embeddedKubeletConf: kubelet-client-current.pem all the same, as on a node upgraded from
   * before 1.17 (kubelet.conf kept, the kubelet rotating its client certificate beside it).
   */
  rotatingKubeletClient?: boolean;
  /**
   * The kubelet's serverTLSBootstrap: a cluster-signed serving certificate (with its key) in a dated
   * file behind kubelet-server-current.pem; kubelet.crt stays beside it, as the kubelet leaves it.
   */
  serverTLSBootstrap?: boolean;
  /**
   * Write kubelet.crt the way the kubelet really does (client-go's GenerateSelfSignedCertKey):
   * the serving cert is signed by a throwaway "<node>-ca@<unix>" CA and followed by it. Default
   * false: a single self-signed certificate.
   */
  kubeletServingCa?: boolean;
  /** CRLF line endings in that PEM (for a kubeconfig: in the decoded client-certificate-data). */
  crlf?: CertName[];
  /** Only pki certificates and kubelet-serving. */
  der?: CertName[];
  /** Append the issuing CA after the leaf. */
  bundle?: CertName[];
  /**
   * This and the next three break the file a name is read from: the .crt, the .conf, or for
   * kubelet-client the dated file behind the symlink (`missing` drops the symlink too).
   */
  empty?: CertName[];
  garbage?: CertName[];
  /** Mode 0000, owner root:root, even with `owner`. */
  unreadable?: CertName[];
  missing?: CertName[];
  /** Signed by a freshly made CA with the right CA's subject; for a CA name, that CA's file is replaced. */
  foreignCa?: CertName[];
  /** Owner of every directory and file written (not of root's ancestors, which must be traversable). */
  owner?: { uid: number; gid: number };
}

export interface LabNode {
  root: string;
  kubernetesDir: string;
  kubeletPkiDir: string;
  /** kubeadm's pki/etcd (whether or not the node has a local etcd); kubespray's etc/ssl/etcd/ssl. */
  etcdPkiDir: string;
  binDir: string;
  /** A control-plane node's. */
  apiserver?: LabCert;
  /** Every private key written anywhere in the tree, as written (kubeconfigs hold them base64-encoded). */
  privateKeysPem: string[];
  certs: Partial<Record<CertName, LabCert>>;
}

type CaName = "ca" | "front-proxy-ca" | "etcd-ca";
type LeafName = Exclude<KubeadmCertName, CaName>;

interface NodeFacts {
  nodeName: string;
  address: string;
  unix: number;
}

interface Leaf {
  /** null: self-signed. */
  signer: CaName | null;
  subject(node: NodeFacts): string;
  usage: "server" | "client" | "both";
  sans?(node: NodeFacts): { dns: string[]; ip: string[] };
}

const DAY = 86_400_000;
const YEAR = 365 * DAY;

const CAS: Record<CaName, { subject: string; field: keyof ClusterPki }> = {
  ca: { subject: "CN=kubernetes", field: "ca" },
  "front-proxy-ca": { subject: "CN=front-proxy-ca", field: "frontProxyCa" },
  "etcd-ca": { subject: "CN=etcd-ca", field: "etcdCa" },
};

// Subjects in the RDN order Go's crypto/x509 encodes (O before CN), as of kubeadm 1.29+.
const nodeSubject = (n: NodeFacts) => `O=system:nodes, CN=system:node:${n.nodeName}`;
const etcdSans = (n: NodeFacts) => ({ dns: ["localhost", n.nodeName], ip: [n.address, "127.0.0.1", "::1"] });

const LEAVES: Record<LeafName, Leaf> = {
  apiserver: {
    signer: "ca",
    subject: () => "CN=kube-apiserver",
    usage: "server",
    sans: (n) => ({
      dns: [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        n.nodeName,
      ],
      ip: ["10.96.0.1", n.address],
    }),
  },
  "apiserver-kubelet-client": {
    signer: "ca",
    subject: () => "O=kubeadm:cluster-admins, CN=kube-apiserver-kubelet-client",
    usage: "client",
  },
  "apiserver-etcd-client": {
    signer: "etcd-ca",
    subject: () => "CN=kube-apiserver-etcd-client",
    usage: "client",
  },
  "front-proxy-client": { signer: "front-proxy-ca", subject: () => "CN=front-proxy-client", usage: "client" },
  "etcd-server": { signer: "etcd-ca", subject: (n) => `CN=${n.nodeName}`, usage: "both", sans: etcdSans },
  "etcd-peer": { signer: "etcd-ca", subject: (n) => `CN=${n.nodeName}`, usage: "both", sans: etcdSans },
  "etcd-healthcheck-client": {
    signer: "etcd-ca",
    subject: () => "CN=kube-etcd-healthcheck-client",
    usage: "client",
  },
  "admin.conf": {
    signer: "ca",
    subject: () => "O=kubeadm:cluster-admins, CN=kubernetes-admin",
    usage: "client",
  },
  "super-admin.conf": {
    signer: "ca",
    subject: () => "O=system:masters, CN=kubernetes-super-admin",
    usage: "client",
  },
  "controller-manager.conf": {
    signer: "ca",
    subject: () => "CN=system:kube-controller-manager",
    usage: "client",
  },
  "scheduler.conf": { signer: "ca", subject: () => "CN=system:kube-scheduler", usage: "client" },
  "kubelet.conf": { signer: "ca", subject: nodeSubject, usage: "client" },
  "kubelet-client": { signer: "ca", subject: nodeSubject, usage: "client" },
  "kubelet-serving": {
    signer: null,
    subject: (n) => `CN=${n.nodeName}@${n.unix}`,
    usage: "server",
    sans: (n) => ({ dns: [n.nodeName], ip: [] }),
  },
  "kubelet-server": {
    signer: "ca",
    subject: nodeSubject,
    usage: "server",
    sans: (n) => ({ dns: [n.nodeName], ip: [n.address] }),
  },
};
const LEAF_NAMES = Object.keys(LEAVES) as LeafName[];
// Pool indices past the leaves' own (one per leaf name).
const SA_KEY = LEAF_NAMES.length;
const KUBELET_SERVING_CA_KEY = LEAF_NAMES.length + 1;

/** Certificate files under pki/, without the .crt/.key extension. */
const PKI_PATHS: Partial<Record<CertName, string>> = {
  ca: "pki/ca",
  "front-proxy-ca": "pki/front-proxy-ca",
  "etcd-ca": "pki/etcd/ca",
  apiserver: "pki/apiserver",
  "apiserver-kubelet-client": "pki/apiserver-kubelet-client",
  "apiserver-etcd-client": "pki/apiserver-etcd-client",
  "front-proxy-client": "pki/front-proxy-client",
  "etcd-server": "pki/etcd/server",
  "etcd-peer": "pki/etcd/peer",
  "etcd-healthcheck-client": "pki/etcd/healthcheck-client",
};

const KUBECONFIG_USERS: Partial<Record<CertName, (n: NodeFacts) => string>> = {
  "admin.conf": () => "kubernetes-admin",
  "super-admin.conf": () => "kubernetes-super-admin",
  "controller-manager.conf": () => "system:kube-controller-manager",
  "scheduler.conf": () => "system:kube-scheduler",
  "kubelet.conf": (n) => `system:node:${n.nodeName}`,
};

function issueCa(name: CaName, key: LabKey, { notBefore, notAfter }: Validity): Promise<LabCert> {
  return issueCert({ subject: CAS[name].subject, key, isCA: true, notBefore, notAfter });
}

/** Fresh CA keys per cluster, so certificates of one cluster never verify against another's CA. */
export async function newClusterPki(
  opts: { keyAlg?: KeyAlg; now?: Date; caNotAfter?: Date } = {},
): Promise<ClusterPki> {
  const now = (opts.now ?? new Date()).getTime();
  const validity = { notBefore: new Date(now - YEAR), notAfter: opts.caNotAfter ?? new Date(now + 9 * YEAR) };
  const issue = async (name: CaName) => issueCa(name, await newKey(opts.keyAlg ?? "ecdsa"), validity);
  const [ca, frontProxyCa, etcdCa] = await Promise.all([
    issue("ca"),
    issue("front-proxy-ca"),
    issue("etcd-ca"),
  ]);
  return { ca, frontProxyCa, etcdCa };
}

function kubeconfigYaml(
  server: string,
  caPem: string,
  user: string,
  credentials: Record<string, string>,
): string {
  const context = `${user}@kubernetes`;
  return [
    "apiVersion: v1",
    "clusters:",
    "- cluster:",
    `    certificate-authority-data: ${base64(caPem)}`,
    `    server: ${server}`,
    "  name: kubernetes",
    "contexts:",
    "- context:",
    "    cluster: kubernetes",
    `    user: ${user}`,
    `  name: ${context}`,
    `current-context: ${context}`,
    "kind: Config",
    "preferences: {}",
    "users:",
    `- name: ${user}`,
    "  user:",
    ...Object.entries(credentials).map(([field, value]) => `    ${field}: ${value}`),
    "",
  ].join("\n");
}

function kubeadmScript(version: string): string {
  if (!/^[\w.+-]+$/.test(version)) throw new Error(`lab: unsafe kubeadm version ${JSON.stringify(version)}`);
  return `#!/bin/sh
# Lab stand-in for kubeadm: only \`kubeadm version -o short\` is implemented.
if [ "$#" -eq 3 ] && [ "$1" = version ] && [ "$2" = -o ] && [ "$3" = short ]; then
  echo '${version}'
  exit 0
fi
echo "lab kubeadm: unsupported arguments: $*" >&2
exit 1
`;
}

const base64 = (text: string) => Buffer.from(text).toString("base64");

/** The kubelet's file-name stamp for rotated client certificates (Go layout 2006-01-02-15-04-05). */
const stamp = (at: Date) => at.toISOString().slice(0, 19).replace(/[T:]/g, "-");

function put(path: string, data: string | Buffer, mode: number): void {
  writeFileSync(path, data);
  chmodSync(path, mode); // writeFileSync's mode is filtered by the umask
}

function chownTree(root: string, uid: number, gid: number): void {
  lchownSync(root, uid, gid);
  for (const top of ["etc", "var", "bin"]) {
    const base = join(root, top);
    if (!existsSync(base)) continue;
    lchownSync(base, uid, gid);
    for (const rel of readdirSync(base, { recursive: true, encoding: "utf8" }))
      lchownSync(join(base, rel), uid, gid);
  }
}

const has = (list: CertName[] | undefined, name: CertName) => list?.includes(name) ?? false;

/**
 * Writes certificate files as the spec breaks them (missing, empty, garbage, unreadable); `finish`
 * then hands the tree to its owner and makes the unreadable ones root-only.
 */
function certFiles(spec: LabNodeSpec) {
  const unreadable: string[] = [];
  return {
    write(name: CertName, path: string, data: string | Buffer, mode: number): void {
      if (has(spec.missing, name)) return;
      // 0xff first: never a DER SEQUENCE, never PEM.
      const garbage = () => Buffer.concat([Buffer.from([0xff]), randomBytes(511)]);
      put(path, has(spec.empty, name) ? "" : has(spec.garbage, name) ? garbage() : data, mode);
      if (has(spec.unreadable, name)) unreadable.push(path);
    },
    finish(): void {
      if (spec.owner) chownTree(spec.root, spec.owner.uid, spec.owner.gid);
      for (const path of unreadable) {
        chownSync(path, 0, 0);
        chmodSync(path, 0);
      }
    },
  };
}

/** The directories of a lab node under its root, each layout using some of them. */
const labDirs = (root: string) => ({
  kubernetesDir: join(root, "etc/kubernetes"),
  kubeletPkiDir: join(root, "var/lib/kubelet/pki"),
  kubesprayEtcdDir: join(root, "etc/ssl/etcd/ssl"),
  binDir: join(root, "bin"),
});

const KUBESPRAY_FILES: Record<Exclude<KubesprayCertName, "kubespray-etcd-ca">, string> = {
  "kubespray-etcd-member": "member",
  "kubespray-etcd-admin": "admin",
  "kubespray-etcd-node": "node",
};

/**
 * kubespray's etcd-only node: make-ssl-etcd.sh's files in etc/ssl/etcd/ssl (the CA `CN=etcd-ca`,
 * `member-`, `admin-` and `node-<host>.pem` with subjects `CN=etcd-<kind>-<host up to its first dot>`,
 * client and server usage, each key in its own `-key.pem`), for this node and any peers.
 */
async function writeKubesprayEtcd(spec: LabNodeSpec): Promise<LabNode> {
  const now = spec.now ?? new Date();
  const leafDays = spec.leafDays ?? 300;
  const dirs = labDirs(spec.root);
  for (const option of ["crlf", "der", "bundle", "kubeletServingCa", "serverTLSBootstrap"] as const)
    if (spec[option]) throw new Error(`lab: a kubespray etcd node cannot write ${option}`);
  for (const dir of [dirs.kubernetesDir, dirs.kubeletPkiDir, dirs.kubesprayEtcdDir, dirs.binDir])
    rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirs.kubesprayEtcdDir, { recursive: true, mode: 0o700 });
  mkdirSync(dirs.binDir, { recursive: true, mode: 0o755 });
  chmodSync(spec.root, 0o755);

  const leafValidity = (): Validity => ({
    notBefore: new Date(now.getTime() - (365 - leafDays) * DAY),
    notAfter: new Date(now.getTime() + leafDays * DAY),
  });
  // Only the two dates, as in writeLabNode.
  const validity = (name: CertName): Validity => {
    const { notBefore, notAfter } = spec.dates?.[name] ?? leafValidity();
    return { notBefore, notAfter };
  };
  const clusterCa = spec.pki.etcdCa;
  const caDates = spec.dates?.["kubespray-etcd-ca"];
  const ca = caDates ? await issueCa("etcd-ca", clusterCa.key, caDates) : clusterCa;
  // Another CA with the same subject, for the names in foreignCa (the CA itself, or a leaf it signs).
  const foreign = spec.foreignCa?.length ? await issueCa("etcd-ca", await newKey(ca.key.alg), ca) : undefined;
  const ownCa = has(spec.foreignCa, "kubespray-etcd-ca") ? foreign! : ca;
  const certs: Partial<Record<CertName, LabCert>> = { "kubespray-etcd-ca": ownCa };
  const keys = new Set<string>([ownCa.key.traditionalPem]);
  const files = certFiles(spec);
  const at = (file: string) => join(dirs.kubesprayEtcdDir, file);
  files.write("kubespray-etcd-ca", at("ca.pem"), ownCa.pem, 0o640);
  put(at("ca-key.pem"), ownCa.key.traditionalPem, 0o600);

  const hosts = [spec.nodeName, ...(spec.kubesprayPeers ?? [])];
  const kinds = Object.entries(KUBESPRAY_FILES) as [KubesprayCertName, string][];
  for (const [h, host] of hosts.entries()) {
    const own = h === 0;
    for (const [k, [name, file]] of kinds.entries()) {
      if (own && name === "kubespray-etcd-node" && !spec.kubesprayNodeCert) continue;
      const key = await pooledKey(spec.keyAlg ?? "ecdsa", 100 + h * kinds.length + k);
      const cert = await issueCert({
        subject: `CN=etcd-${file}-${host.split(".")[0]}`,
        key,
        issuer: own && has(spec.foreignCa, name) ? foreign : ca,
        usage: "both",
        sans: { dns: ["localhost", ...hosts], ip: ["127.0.0.1", spec.address] },
        ...(own ? validity(name) : leafValidity()),
      });
      keys.add(key.traditionalPem);
      const path = at(`${file}-${host}.pem`);
      if (own) {
        certs[name] = cert;
        files.write(name, path, cert.pem, 0o640);
      } else put(path, cert.pem, 0o640);
      put(at(`${file}-${host}-key.pem`), key.traditionalPem, 0o600);
    }
  }
  if (typeof spec.kubeadmVersion === "string")
    put(join(dirs.binDir, "kubeadm"), kubeadmScript(spec.kubeadmVersion), 0o755);
  files.finish();
  return {
    root: spec.root,
    kubernetesDir: dirs.kubernetesDir,
    kubeletPkiDir: dirs.kubeletPkiDir,
    etcdPkiDir: dirs.kubesprayEtcdDir,
    binDir: dirs.binDir,
    privateKeysPem: [...keys],
    certs,
  };
}

export async function writeLabNode(spec: LabNodeSpec): Promise<LabNode> {
  if (spec.layout === "kubespray-etcd") return writeKubesprayEtcd(spec);
  const worker = spec.layout === "worker";
  const now = spec.now ?? new Date();
  const keyAlg = spec.keyAlg ?? "ecdsa";
  const leafDays = spec.leafDays ?? 300;
  const facts: NodeFacts = {
    nodeName: spec.nodeName,
    address: spec.address,
    unix: Math.floor(now.getTime() / 1000),
  };
  const leafValidity: Validity = {
    notBefore: new Date(now.getTime() - (365 - leafDays) * DAY),
    notAfter: new Date(now.getTime() + leafDays * DAY),
  };

  // Re-dating a CA keeps its key and subject, so leaves signed by the cluster CA still verify.
  // `kubeadm join` of a worker leaves the cluster CA's certificate only.
  const caNames: CaName[] = worker
    ? ["ca"]
    : spec.externalEtcd
      ? ["ca", "front-proxy-ca"]
      : ["ca", "front-proxy-ca", "etcd-ca"];
  const issuers = {} as Record<CaName, LabCert>;
  for (const name of caNames) {
    const clusterCa = spec.pki[CAS[name].field];
    const dates = spec.dates?.[name];
    issuers[name] = dates ? await issueCa(name, clusterCa.key, dates) : clusterCa;
  }
  const foreign = new Map<CaName, Promise<LabCert>>();
  const foreignCa = (name: CaName): Promise<LabCert> => {
    let ca = foreign.get(name);
    if (!ca) {
      ca = newKey(issuers[name].key.alg).then((key) => issueCa(name, key, issuers[name]));
      foreign.set(name, ca);
    }
    return ca;
  };

  const certs: Partial<Record<CertName, LabCert>> = {};
  const issuerOf: Partial<Record<CertName, LabCert>> = {};
  for (const name of caNames) {
    certs[name] = has(spec.foreignCa, name) ? await foreignCa(name) : issuers[name];
  }
  // Only the two dates: a LabCert passed as a Validity must not smuggle in its key or subject.
  const validity = (name: CertName): Validity => {
    const { notBefore, notAfter } = spec.dates?.[name] ?? leafValidity;
    return { notBefore, notAfter };
  };
  const issuerFor = async (name: LeafName): Promise<LabCert | undefined> => {
    const signer = LEAVES[name].signer;
    if (signer !== null) return has(spec.foreignCa, name) ? foreignCa(signer) : issuers[signer];
    if (has(spec.foreignCa, name)) throw new Error(`lab: ${name} has no CA to replace`);
    if (!spec.kubeletServingCa) return undefined;
    const key = await pooledKey(keyAlg, KUBELET_SERVING_CA_KEY);
    return issueCert({
      subject: `CN=${facts.nodeName}-ca@${facts.unix}`,
      key,
      isCA: true,
      ...validity(name),
    });
  };
  const kubeletOwn: readonly LeafName[] = [
    "kubelet.conf",
    "kubelet-client",
    "kubelet-serving",
    "kubelet-server",
  ];
  const written = (name: LeafName): boolean => {
    if (worker && !kubeletOwn.includes(name)) return false;
    if (spec.externalEtcd && LEAVES[name].signer === "etcd-ca") return false;
    if (name === "super-admin.conf") return spec.superAdmin !== false;
    if (name === "kubelet.conf") return spec.embeddedKubeletConf === true;
    if (name === "kubelet-client") return !spec.embeddedKubeletConf || spec.rotatingKubeletClient === true;
    if (name === "kubelet-server") return spec.serverTLSBootstrap === true;
    return true;
  };
  await Promise.all(
    LEAF_NAMES.filter(written).map(async (name) => {
      const { subject, usage, sans } = LEAVES[name];
      const issuer = await issuerFor(name);
      issuerOf[name] = issuer;
      certs[name] = await issueCert({
        subject: subject(facts),
        key: await pooledKey(keyAlg, LEAF_NAMES.indexOf(name)),
        issuer,
        usage,
        sans: sans?.(facts),
        ...validity(name),
      });
    }),
  );
  for (const [option, names] of Object.entries({
    dates: Object.keys(spec.dates ?? {}) as CertName[],
    crlf: spec.crlf,
    der: spec.der,
    bundle: spec.bundle,
    foreignCa: spec.foreignCa,
  })) {
    const stray = names?.find(
      (name) => !certs[name] || (option === "der" && !PKI_PATHS[name] && name !== "kubelet-serving"),
    );
    if (stray) throw new Error(`lab: ${option} names ${stray}, which this node cannot write that way`);
  }
  if (spec.bundle?.some((name) => !issuerOf[name]))
    throw new Error("lab: bundle needs an issued (non-CA) certificate");

  const root = spec.root;
  const { kubernetesDir, kubeletPkiDir, kubesprayEtcdDir, binDir } = labDirs(root);
  for (const dir of [kubernetesDir, kubeletPkiDir, kubesprayEtcdDir, binDir])
    rmSync(dir, { recursive: true, force: true });
  const pkiDir = worker || spec.externalEtcd ? "pki" : "pki/etcd";
  for (const dir of [join(kubernetesDir, pkiDir), kubeletPkiDir, binDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  }
  chmodSync(root, 0o755);

  const keysWritten = new Set<string>();
  const keyPem = (key: LabKey) => {
    keysWritten.add(key.traditionalPem);
    return key.traditionalPem;
  };
  const eol = (name: CertName, text: string) => (has(spec.crlf, name) ? text.replace(/\n/g, "\r\n") : text);
  const pemText = (name: CertName): string => {
    const withCa = has(spec.bundle, name) || (name === "kubelet-serving" && spec.kubeletServingCa);
    return eol(name, certs[name]!.pem + (withCa ? issuerOf[name]!.pem : ""));
  };
  const certText = (name: CertName) => (has(spec.der, name) ? certs[name]!.der : pemText(name));
  const files = certFiles(spec);
  const writeCertFile = files.write;

  for (const [name, path] of Object.entries(PKI_PATHS) as [CertName, string][]) {
    const cert = certs[name];
    if (!cert) continue;
    writeCertFile(name, join(kubernetesDir, `${path}.crt`), certText(name), 0o644);
    if (!worker) put(join(kubernetesDir, `${path}.key`), keyPem(cert.key), 0o600);
  }
  if (!worker) {
    const saKey = await pooledKey(keyAlg, SA_KEY);
    put(join(kubernetesDir, "pki/sa.key"), keyPem(saKey), 0o600);
    put(join(kubernetesDir, "pki/sa.pub"), saKey.publicKeyPem, 0o644);
  }

  const server = `https://${spec.address.includes(":") ? `[${spec.address}]` : spec.address}:${spec.apiserverPort ?? 6443}`;
  const currentPem = join(kubeletPkiDir, "kubelet-client-current.pem");
  for (const [name, user] of Object.entries(KUBECONFIG_USERS) as [CertName, (n: NodeFacts) => string][]) {
    const cert = certs[name];
    const rotatingKubelet = name === "kubelet.conf" && !spec.embeddedKubeletConf;
    if (!cert && !rotatingKubelet) continue;
    const credentials: Record<string, string> = cert
      ? { "client-certificate-data": base64(pemText(name)), "client-key-data": base64(keyPem(cert.key)) }
      : { "client-certificate": currentPem, "client-key": currentPem };
    writeCertFile(
      name,
      join(kubernetesDir, name),
      kubeconfigYaml(server, issuers.ca.pem, user(facts), credentials),
      0o600,
    );
  }

  // The kubelet's rotated credentials: certificate then key in one file, reached through a symlink.
  for (const name of ["kubelet-client", "kubelet-server"] as const) {
    const rotatedCert = certs[name];
    if (!rotatedCert) continue;
    const rotated = join(kubeletPkiDir, `${name}-${stamp(now)}.pem`);
    writeCertFile(name, rotated, pemText(name) + eol(name, keyPem(rotatedCert.key)), 0o600);
    if (!has(spec.missing, name)) symlinkSync(rotated, join(kubeletPkiDir, `${name}-current.pem`));
  }
  const serving = certs["kubelet-serving"]!;
  writeCertFile("kubelet-serving", join(kubeletPkiDir, "kubelet.crt"), certText("kubelet-serving"), 0o644);
  put(join(kubeletPkiDir, "kubelet.key"), keyPem(serving.key), 0o600);

  if (spec.kubeadmVersion !== null)
    put(join(binDir, "kubeadm"), kubeadmScript(spec.kubeadmVersion ?? "v1.30.4"), 0o755);

  files.finish();

  return {
    root,
    kubernetesDir,
    kubeletPkiDir,
    etcdPkiDir: join(kubernetesDir, "pki/etcd"),
    binDir,
    ...(certs.apiserver ? { apiserver: certs.apiserver } : {}),
    privateKeysPem: [...keysWritten],
    certs,
  };
}
