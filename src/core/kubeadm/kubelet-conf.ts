// kubelet.conf, the kubelet's own kubeconfig, which kubeadm's renew never touches. Before 1.17 kubeadm
// wrote it with an embedded client certificate, valid for a year, that nothing rotates; from 1.17 it
// points at the kubelet's rotating kubelet-client-current.pem. A node upgraded from before 1.17 keeps
// the embedded one. One row per version range says how a renewal repairs it, and its commands are
// built here from fixed words and validated paths, like every kubeadm command (versions.ts).
// Pure.
import { catalogueEntry, KUBELET_KUBECONFIG } from "./catalogue.js";
import {
  DEFAULT_KUBERNETES_DIR,
  checkPath,
  command,
  parseKubeadmVersion,
  type Command,
  type KubeadmVersion,
  type Word,
} from "./versions.js";
import type { NodeReport } from "../report/types.js";

/**
 * - `regenerate`: move kubelet.conf aside and let that version's kubeadm write a new one (its kubeconfig
 *   phase only writes a missing file), with the node's name for the certificate's subject;
 * - `repoint`: point its client-certificate and client-key at kubelet-client-current.pem, which the
 *   kubelet rotates itself (kubeadm docs: 'Kubelet client certificate rotation fails').
 */
export type KubeletConfRepairKind = "regenerate" | "repoint";

interface RegenerateRow {
  readonly label: string;
  readonly from: number;
  readonly to: number;
  readonly repair: "regenerate";
  /** The phase that writes kubelet.conf. */
  readonly phase: readonly string[];
  /**
   * `flags`: this kubeadm refuses --node-name beside --config ("can not mix '--config' with
   * arguments"), so the endpoint and directories go as flags, the endpoint read from the old file;
   * `config`: the cluster's exported configuration (its controlPlaneEndpoint kept) and --node-name.
   */
  readonly via: "flags" | "config";
  /** The first minor that takes --kubeconfig-dir here (so a kubernetesDir of its own); null: none. */
  readonly kubeconfigDirSince: number | null;
}

interface RepointRow {
  readonly label: string;
  readonly from: number;
  readonly to: null;
  readonly repair: "repoint";
}

export type KubeletConfRow = RegenerateRow | RepointRow;

/** Newest first; minors of 1.x, inclusive. Older than 1.8 the planner refuses the node anyway. */
export const KUBELET_CONF_ROWS: readonly KubeletConfRow[] = [
  { label: "1.17+", from: 17, to: null, repair: "repoint" },
  {
    label: "1.13–1.16",
    from: 13,
    to: 16,
    repair: "regenerate",
    phase: ["kubeadm", "init", "phase", "kubeconfig", "kubelet"],
    via: "config",
    kubeconfigDirSince: 16, // allowed beside --config from then on
  },
  {
    label: "1.8–1.12",
    from: 8,
    to: 12,
    repair: "regenerate",
    phase: ["kubeadm", "alpha", "phase", "kubeconfig", "kubelet"],
    via: "flags",
    kubeconfigDirSince: 10, // the flag arrived in 1.10
  },
];

export const kubeletConfRow = (version: KubeadmVersion): KubeletConfRow | undefined =>
  version.major === 1
    ? KUBELET_CONF_ROWS.find((r) => version.minor >= r.from && (r.to === null || version.minor <= r.to))
    : undefined;

/** A Kubernetes node name (a DNS-1123 subdomain): also a fixed word of a command. */
const NODE_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const isNodeName = (name: unknown): name is string => typeof name === "string" && NODE_NAME.test(name);

/** The repair a renewal makes, as a plan records it. */
export type KubeletConfChoice = { repair: "regenerate"; nodeName: string } | { repair: "repoint" };

/** Statuses of kubelet.conf that a renewal repairs: it expires within the warning threshold, or has. */
const DUE = new Set(["warning", "critical", "expired"]);
/** kubelet-client-current.pem is something to point at: in its validity period (the kubelet renews it). */
const VALID = new Set(["ok", "warning", "critical"]);

/** The node name in a kubelet's client certificate subject (`O=system:nodes, CN=system:node:NAME`). */
export function nodeNameIn(subject: string | null): string | null {
  const name = /(?:^|,\s*)CN=system:node:([^,]+)/.exec(subject ?? "")?.[1]?.trim();
  return name && isNodeName(name) ? name : null;
}

const kubeletConfDir = (path: string): string => path.slice(0, -`/${KUBELET_KUBECONFIG}`.length);

/** Why this kubeadm cannot regenerate kubelet.conf in that directory, or null when it can. */
function directoryProblem(row: RegenerateRow, version: KubeadmVersion, kubernetesDir: string): string | null {
  if (kubernetesDir === DEFAULT_KUBERNETES_DIR) return null;
  if (row.kubeconfigDirSince !== null && version.minor >= row.kubeconfigDirSince) return null;
  return (
    `kubeadm ${version.text} writes kubelet.conf only under ${DEFAULT_KUBERNETES_DIR}` +
    `${row.via === "config" ? " when given --config" : ""}, and this node's kubernetesDir is ${kubernetesDir}`
  );
}

/**
 * What a renewal of this node does about its kubelet.conf, from a scan: null when there is nothing to
 * do (it does not embed a certificate, or that certificate is not yet within the warning threshold),
 * the repair, or why no renewal can repair it here.
 */
export function kubeletConfRepair(
  node: NodeReport,
): null | { ok: true; choice: KubeletConfChoice; row: KubeletConfRow } | { ok: false; why: string } {
  const embedded = node.findings.some((f) => f.code === "kubelet-conf-embedded");
  const conf = node.certificates.find((c) => c.name === KUBELET_KUBECONFIG);
  if (!embedded || !conf || !DUE.has(conf.status)) return null;
  const version = parseKubeadmVersion(node.kubeadmVersion);
  const row = version && kubeletConfRow(version);
  if (!version || !row)
    return {
      ok: false,
      why: `kubeadm ${node.kubeadmVersion ?? "(none found)"} is not a version certs-bot knows`,
    };
  if (row.repair === "regenerate") {
    const nodeName = nodeNameIn(conf.subject);
    if (!nodeName)
      return {
        ok: false,
        why: `its certificate's subject (${conf.subject ?? "none"}) names no node (system:node:NAME)`,
      };
    const problem = directoryProblem(row, version, kubeletConfDir(conf.path));
    return problem
      ? { ok: false, why: problem }
      : { ok: true, choice: { repair: "regenerate", nodeName }, row };
  }
  const client = node.certificates.find((c) => c.name === "kubelet-client");
  const foreign = node.findings.some(
    (f) => f.code === "not-signed-by-ca" && f.certificate === "kubelet-client",
  );
  if (!client || !VALID.has(client.status) || foreign)
    return {
      ok: false,
      why:
        `the kubelet's rotating ${catalogueEntry("kubelet-client").path} is ` +
        `${!client ? "missing" : foreign ? "not signed by this node's CA" : client.status}, so pointing kubelet.conf at it cannot help`,
    };
  return { ok: true, choice: { repair: "repoint" }, row };
}

/** Whether a stored choice is one this version's kubeadm can make in that directory. */
export function choiceFits(choice: KubeletConfChoice, versionText: string, kubernetesDir: string): boolean {
  const version = parseKubeadmVersion(versionText);
  const row = version && kubeletConfRow(version);
  if (!version || !row || row.repair !== choice.repair) return false;
  if (choice.repair === "repoint") return true;
  return (
    row.repair === "regenerate" &&
    isNodeName(choice.nodeName) &&
    directoryProblem(row, version, kubernetesDir) === null
  );
}

// --- Commands ----------------------------------------------------------------------------------

export interface KubeletConfPaths {
  kubernetesDir: string;
  /** Where the old kubelet.conf is kept (the run's aside directory). */
  asideDir: string;
  /** `config`: where the cluster's kubeadm configuration is exported. */
  configFile: string;
  /** `repoint`: kubelet-client-current.pem in the node's kubeletPkiDir. */
  pem: string;
}

const conf = (dir: string): { path: string } => ({ path: checkPath(`${dir}/${KUBELET_KUBECONFIG}`) });

/** The kept original: `<aside>/kubelet.conf`. */
export const keptKubeletConf = (asideDir: string): string => conf(asideDir).path;

/** The commands that repair kubelet.conf on a node of this version (the kubelet restart is the step's). */
export function kubeletConfCommands(
  choice: KubeletConfChoice,
  versionText: string,
  paths: KubeletConfPaths,
): Command[] {
  const version = parseKubeadmVersion(versionText);
  const row = version && kubeletConfRow(version);
  if (!row || row.repair !== choice.repair)
    throw new Error(`kubeadm ${versionText} cannot ${choice.repair} kubelet.conf`);
  const dir = checkPath(paths.kubernetesDir);
  const aside = checkPath(paths.asideDir);
  const keep = command("mkdir", "-p", { path: aside });
  if (choice.repair === "repoint") {
    // Copy (not move): the kubelet keeps a kubelet.conf to read until it restarts.
    return [
      keep,
      command("cp", "-p", conf(dir), conf(aside)),
      command("set", "--", { path: checkPath(paths.pem) }),
      command(
        {
          code:
            `PEM=$1 awk '/^ *client-certificate-data:/ { sub(/client-certificate-data:.*/, ""); ` +
            `print $0 "client-certificate: " ENVIRON["PEM"]; next } /^ *client-key-data:/ { ` +
            `sub(/client-key-data:.*/, ""); print $0 "client-key: " ENVIRON["PEM"]; next } { print }'`,
        },
        conf(aside),
        ">",
        conf(dir),
      ),
    ];
  }
  const regenerate = row as RegenerateRow;
  const custom = dir !== DEFAULT_KUBERNETES_DIR;
  const kubeconfigDir: Word[] = custom ? ["--kubeconfig-dir", { path: dir }] : [];
  const moveAside = command("mv", conf(dir), conf(aside));
  if (regenerate.via === "config")
    return [
      command("kubeadm", "config", "view", "--kubeconfig", { path: checkPath(`${dir}/admin.conf`) }, ">", {
        path: checkPath(paths.configFile),
      }),
      keep,
      moveAside,
      command(
        ...regenerate.phase,
        "--config",
        { path: checkPath(paths.configFile) },
        "--node-name",
        choice.nodeName,
        ...kubeconfigDir,
      ),
    ];
  return [
    keep,
    moveAside,
    // The endpoint the old file names: `https://HOST:PORT` (brackets dropped from an IPv6 host).
    command({ code: "server=$(sed -n 's|^ *server: *https://||p'" }, conf(aside), { code: "| head -n 1)" }),
    command({ code: "host=${server%:*}; host=${host#\\[}; host=${host%\\]}; port=${server##*:}" }),
    command(
      ...regenerate.phase,
      "--node-name",
      choice.nodeName,
      "--apiserver-advertise-address",
      { code: '"$host"' },
      "--apiserver-bind-port",
      { code: '"$port"' },
      ...(custom ? ["--cert-dir", { path: checkPath(`${dir}/pki`) }] : []),
      ...kubeconfigDir,
    ),
  ];
}

// --- In words ----------------------------------------------------------------------------------

/** The rotating file a repoint names: where the scan found it, else the default kubeletPkiDir's. */
const pemPath = (node: NodeReport): string =>
  node.certificates.find((c) => c.name === "kubelet-client")?.path ??
  `/var/lib/kubelet/pki/${catalogueEntry("kubelet-client").path}`;

/**
 * What to do about this node's embedded kubelet.conf, for a warning or a finding: what a renewal of
 * `label` (the node as shown) does about it, or why it cannot and the repair by hand (`byHand`).
 */
export function kubeletConfAdvice(node: NodeReport, label: string, byHand: string): string {
  const decision = kubeletConfRepair(node);
  const version = parseKubeadmVersion(node.kubeadmVersion);
  const row = version && kubeletConfRow(version);
  const pem = pemPath(node);
  const never = "embeds a client certificate that never rotates";
  if (decision?.ok === false)
    return `kubelet.conf on ${label} ${never}, and a renewal cannot repair it there: ${decision.why}. ${byHand}`;
  const ask = decision
    ? `a renewal of ${label} (Request renewal, or \`/certs renew\`)`
    : `a renewal of ${label}`;
  const when = decision ? "" : " once its certificate is within the warning threshold";
  if (row?.repair === "regenerate") {
    const subject = node.certificates.find((c) => c.name === KUBELET_KUBECONFIG)?.subject ?? null;
    const nodeName = nodeNameIn(subject) ?? "NODE";
    return (
      `kubelet.conf on ${label} embeds a one-year client certificate that kubeadm ${version!.text} never ` +
      `renews: ${ask} moves it aside and regenerates it${when} (\`${row.phase.join(" ")} --node-name ${nodeName}\`), ` +
      "then restarts the kubelet."
    );
  }
  if (row?.repair === "repoint")
    return (
      `kubelet.conf on ${label} ${never}: ${ask} points its client-certificate and client-key at ${pem}, ` +
      `which the kubelet rotates, and restarts the kubelet${when ? `${when}, while ${pem} is valid` : ""} ` +
      "(kubeadm docs: 'Kubelet client certificate rotation fails')."
    );
  return `kubelet.conf on ${label} ${never}. ${byHand}`;
}
