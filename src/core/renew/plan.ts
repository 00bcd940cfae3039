// A renewal plan from a fresh scan: per node (one at a time, in config order) the kubeadm version,
// what will be renewed, the exact commands for that version, the backup, the restart, how it is
// verified and what triggers a rollback; or a refusal with a clear reason. Pure: the clock comes in
// as `now`, the scan as `report`. Each node's plan keeps its `NodeSpec` (structured data); its steps
// (steps/) are derived from it, and at run time `checkPlan` derives them again and refuses a stored
// plan whose spec or shown commands differ from what the current config and the planner give.
import { posix } from "node:path";
import type { ClusterConfig, NodeConfig, RenewalSettings } from "../../config/load.js";
import { ETCD_PKI_IN_KUBERNETES_DIR } from "../../config/node-roles.js";
import {
  CATALOGUE,
  KUBELET_KUBECONFIG,
  NOT_RENEWED,
  RENEWABLE,
  SERVED_BY_APISERVER,
  catalogueEntry,
  findEntry,
  isRenewable,
  notRenewed,
  type CertificateName,
  type RenewableName,
} from "../kubeadm/catalogue.js";
import { choiceFits, kubeletConfRepair, type KubeletConfChoice } from "../kubeadm/kubelet-conf.js";
import {
  DEFAULT_KUBERNETES_DIR,
  METHOD_NOTES,
  checkPath,
  healthPath,
  knows,
  ruleFor,
  UnsafeCommandError,
  type RenewMethod,
  type RuleLookup,
} from "../kubeadm/versions.js";
import {
  isFine,
  type CertificateReport,
  type CertificateStatus,
  type ClusterReport,
  type NodeReport,
} from "../report/types.js";
import { isoDay, renewedLeafUntil } from "../scan/judge.js";
import { NOT_RENEWED_ROLE, neverRenewed } from "../scan/roles.js";
import { suggestNames } from "../../config/suggest.js";
import { nodeAddress } from "../transport/address.js";
import { stepsFor } from "./steps/index.js";
import { WAITS, type NodeSpec, type PlanStep, type RestartStrategy } from "./steps/step.js";

export { WAITS, type NodeSpec, type PlanStep, type RestartStrategy, type StepId } from "./steps/step.js";

export interface PlannedCertificate {
  name: RenewableName;
  path: string;
  status: CertificateStatus;
  notAfter: Date | null;
}

export interface NodePlan {
  node: string;
  host: string;
  kubeadmVersion: string;
  /** The version row that applies ("1.20+", "1.8–1.12", …). */
  versionRule: string;
  method: RenewMethod;
  renew: PlannedCertificate[];
  /** Files on this node kubeadm never renews that need a look, with the documented repair. */
  notRenewed: { name: string; status: CertificateStatus | "embedded"; why: string; repair: string }[];
  /** kubelet.conf as scanned, when this run repairs it (its own step); absent: it does not. */
  kubeletConf?: { path: string; status: CertificateStatus; notAfter: Date | null };
  /** Renewable files left out on this node, and why. */
  skipped: { name: string; why: string }[];
  backup: string;
  restart: RestartStrategy;
  /** Where /readyz (or /healthz before 1.16) is asked, from certs-bot. */
  healthUrl: string;
  /** The node's kubernetesDir: what the backup holds (pki/ and the kubeconfigs). */
  kubernetesDir: string;
  /** The structured data every step is derived from (again at run time). */
  spec: NodeSpec;
  steps: PlanStep[];
  rollbackTriggers: string[];
}

/** A node of the cluster that the run leaves out because of its role, why, and what to do instead. */
export interface LeftOutNode {
  node: string;
  host: string;
  role: Exclude<NodeConfig["role"], "control-plane">;
  why: string;
  repair: string;
  /** Its files that need a look, each with its documented repair (none when it was not reachable). */
  notRenewed: NodePlan["notRenewed"];
}

export interface RenewalPlan {
  cluster: string;
  requestedBy?: string;
  createdAt: Date;
  /** Names every backup of this run: `<backupDir>/<cluster>/<node>/<timestamp>.tar.gz`. */
  timestamp: string;
  /** What was asked for: every renewable certificate, or these. */
  scope: "all" | RenewableName[];
  restartStrategy: RestartStrategy;
  /** A renewed leaf is valid until about then (kubeadm's default validity). */
  renewedUntil: Date;
  approval: { requiredApprovals: number; allowSelfApproval: boolean; expiresAt: Date };
  nodes: NodePlan[];
  /** The etcd and worker nodes of the request: never renewed (absent in plans stored before roles). */
  leftOut?: LeftOutNode[];
  notes: string[];
}

/**
 * A refusal. `usage`: the request names a node or certificate that does not exist (the caller's
 * mistake, not a judgement about the cluster).
 */
export type PlanResult = { ok: true; plan: RenewalPlan } | { ok: false; reason: string; usage?: true };

export interface PlanInput {
  cluster: ClusterConfig;
  /** A fresh scan of that cluster. */
  report: ClusterReport;
  renewal: RenewalSettings;
  node?: string;
  certs?: readonly string[];
  now: Date;
  requestedBy?: string;
}

/** `20260105T031500Z`: sortable, no characters a path or a shell cares about. */
export const backupTimestamp = (now: Date): string =>
  now
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");

const CONTROL_PLANE = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;

/** "a, b and c" */
const listed = (names: readonly string[]): string =>
  names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : names.join("");

const NEVER_RENEWED_NOTE =
  `Never renewed by kubeadm, so never by certs-bot: the CAs, ${listed(NOT_RENEWED.filter((n) => !catalogueEntry(n).isCA))}. ` +
  "Where one of them needs attention, the node's plan says what to do by hand.";

function validateCerts(
  certs: readonly string[],
): { names: RenewableName[] } | { reason: string; usage: boolean } {
  const problems: string[] = [];
  let usage = false;
  const names: RenewableName[] = [];
  for (const raw of certs) {
    const name = raw.trim();
    if (isRenewable(name)) {
      if (!names.includes(name)) names.push(name);
      continue;
    }
    const never = notRenewed(name);
    if (never) {
      problems.push(`${name}: ${never.why}. ${never.repair}`);
      continue;
    }
    const close = suggestNames(name, RENEWABLE);
    usage = true;
    problems.push(
      `unknown certificate "${name.slice(0, 64)}"` +
        (close.length ? `; did you mean ${close.join(", ")}?` : "") +
        ` (renewable: ${RENEWABLE.join(", ")})`,
    );
  }
  if (names.length === 0 && problems.length === 0) {
    problems.push("--certs names no certificate");
    usage = true;
  }
  return problems.length ? { reason: problems.join("\n"), usage } : { names };
}

const present = (node: NodeReport, name: string): CertificateReport | undefined =>
  node.certificates.find((c) => c.name === name);

const hasLocalEtcd = (node: NodeReport): boolean =>
  node.certificates.some((c) => findEntry(c.name)?.required === "local-etcd");

/** The CAs that sign what is renewed must outlive the renewed leaves. */
function caProblems(node: NodeReport, names: readonly RenewableName[], now: Date): string[] {
  const renewedUntil = renewedLeafUntil(now);
  const cas = [
    ...new Set(names.map((n) => catalogueEntry(n).ca).filter((c): c is CertificateName => c !== null)),
  ];
  const problems: string[] = [];
  for (const caName of cas) {
    const ca = present(node, caName);
    if (!ca?.notAfter) {
      problems.push(
        `node ${node.name}: CA ${caName} is ${ca?.status ?? "missing"}${ca?.error ? ` (${ca.error})` : ""}; kubeadm cannot sign without it`,
      );
    } else if (ca.notAfter <= now) {
      problems.push(
        `node ${node.name}: CA ${caName} expired on ${isoDay(ca.notAfter)}, so renewing what it signs cannot help. ` +
          "Rotate the CA by hand (kubeadm docs: 'Manual rotation of CA certificates'), then renew the leaves.",
      );
    } else if (ca.notAfter < renewedUntil) {
      problems.push(
        `node ${node.name}: CA ${caName} expires on ${isoDay(ca.notAfter)}, before the renewed leaves would ` +
          `(${isoDay(renewedUntil)}), so renewing cannot help past that day. Rotate the CA first ` +
          "(kubeadm docs: 'Manual rotation of CA certificates').",
      );
    }
  }
  return problems;
}

/**
 * The never-renewed files that need a look, with their repair; kubelet.conf not when this run repairs
 * it, and with the reason when a renewal could not.
 */
function notRenewedOnNode(node: NodeReport, kubelet: KubeletConfDecision): NodePlan["notRenewed"] {
  const out: NodePlan["notRenewed"] = [];
  const repairOf = (name: string, repair: string): string =>
    name === KUBELET_KUBECONFIG && kubelet?.ok === false
      ? `A renewal cannot repair it on this node: ${kubelet.why}. ${notRenewed("kubelet-client")!.repair}`
      : repair;
  for (const cert of node.certificates) {
    const never = neverRenewed(cert.name);
    if (!never || isFine(cert.status)) continue;
    if (cert.name === KUBELET_KUBECONFIG && kubelet?.ok) continue;
    out.push({
      name: cert.name,
      status: cert.status,
      why: never.why,
      repair: repairOf(cert.name, never.repair),
    });
  }
  for (const finding of node.findings) {
    const name = finding.code === "kubelet-conf-embedded" ? finding.certificate : undefined;
    const never = name === undefined ? undefined : notRenewed(name);
    if (name !== undefined && never && !kubelet?.ok && !out.some((n) => n.name === name))
      out.push({ name, status: "embedded", why: never.why, repair: repairOf(name, never.repair) });
  }
  return out;
}

/** What this run does about kubelet.conf: a renewal of every certificate repairs it when it is due. */
type KubeletConfDecision = ReturnType<typeof kubeletConfRepair>;

/** The structured data of one node's renewal: everything its steps are derived from. */
export function nodeSpec(input: {
  cluster: string;
  node: NodeConfig;
  renewal: RenewalSettings;
  kubeadmVersion: string;
  names: RenewableName[];
  all: boolean;
  kubeconfigs: string[];
  localEtcd: boolean;
  timestamp: string;
  kubeletConf: KubeletConfChoice | null;
}): NodeSpec {
  const { node, renewal } = input;
  const lookup = ruleFor(input.kubeadmVersion);
  if (!lookup.ok) throw new UnsafeCommandError(lookup.reason);
  const base = checkPath(`${renewal.backupDir}/${input.cluster}/${node.name}/${input.timestamp}`);
  return {
    node: node.name,
    host: node.host,
    kubeadmVersion: input.kubeadmVersion,
    kubernetesDir: checkPath(node.paths.kubernetesDir),
    kubeletPkiDir: checkPath(node.paths.kubeletPkiDir),
    names: input.names,
    all: input.all,
    kubeconfigs: input.kubeconfigs,
    components: [...CONTROL_PLANE, ...(input.localEtcd ? ["etcd"] : [])],
    restart: renewal.restartStrategy,
    backupRoot: checkPath(renewal.backupDir),
    backup: `${base}.tar.gz`,
    aside: `${base}.aside`,
    configFile: `${base}.kubeadm.yaml`,
    kubeletConf: input.kubeletConf,
    // Copies of admin.conf are refreshed only with a renewed admin.conf to copy.
    refreshKubeconfigs: input.names.includes("admin.conf") ? node.refreshKubeconfigs.map(checkPath) : [],
    healthUrl: `https://${nodeAddress(node.host, node.apiserver.port)}${healthPath(lookup.rule, lookup.version)}`,
    probeServed: node.apiserver.probe,
  };
}

function nodePlan(
  config: NodeConfig,
  node: NodeReport,
  names: RenewableName[],
  all: boolean,
  skipped: NodePlan["skipped"],
  lookup: Extract<RuleLookup, { ok: true }>,
  input: PlanInput,
  timestamp: string,
  kubelet: KubeletConfDecision,
): NodePlan {
  const { rule, version } = lookup;
  const spec = nodeSpec({
    cluster: input.cluster.name,
    node: config,
    renewal: input.renewal,
    kubeadmVersion: version.text,
    names,
    all,
    kubeconfigs: node.certificates.flatMap((c) => {
      const entry = findEntry(c.name);
      return entry?.kind === "kubeconfig" && c.status !== "missing" ? [entry.path] : [];
    }),
    localEtcd: hasLocalEtcd(node),
    timestamp,
    kubeletConf: kubelet?.ok ? kubelet.choice : null,
  });
  const health = new URL(spec.healthUrl).pathname;
  const conf = present(node, KUBELET_KUBECONFIG);
  const copiesLeft =
    config.refreshKubeconfigs.length > 0 && spec.refreshKubeconfigs.length === 0
      ? [
          {
            name: "refreshKubeconfigs",
            why: "admin.conf is not renewed on this node, so its copies are left alone",
          },
        ]
      : [];
  return {
    node: node.name,
    host: config.host,
    kubeadmVersion: version.text,
    versionRule: rule.label,
    method: rule.method,
    renew: names.map((name) => {
      const cert = present(node, name)!;
      return { name, path: cert.path, status: cert.status, notAfter: cert.notAfter };
    }),
    notRenewed: notRenewedOnNode(node, kubelet),
    ...(spec.kubeletConf && conf
      ? { kubeletConf: { path: conf.path, status: conf.status, notAfter: conf.notAfter } }
      : {}),
    skipped: [...skipped, ...copiesLeft],
    backup: spec.backup,
    restart: spec.restart,
    healthUrl: spec.healthUrl,
    kubernetesDir: spec.kubernetesDir,
    spec,
    steps: stepsFor(spec).map((s) => s.shown),
    rollbackTriggers: [
      "a step's command fails or its postcondition does not hold",
      `the control plane does not stop or come back within ${WAITS.containersGoneSeconds} s`,
      `${health} does not answer within ${WAITS.readySeconds} s`,
      ...(spec.probeServed && names.includes(SERVED_BY_APISERVER)
        ? ["the apiserver still serves the old certificate"]
        : []),
      "the rescan shows a renewed certificate still near expiry",
      `→ put back any parked manifest, restore ${spec.backup}, restart with the manifests only (no runtime ` +
        "tool), verify the old certificate serves, report both failures, stop",
    ],
  };
}

type Refusal = Extract<PlanResult, { ok: false }>;

const refuse = (problems: string[]): Refusal => ({ ok: false, reason: problems.join("\n") });

/** What `--certs` asks for (every renewable certificate without it), or why not. */
function scopeOf(input: PlanInput): { scope: RenewalPlan["scope"] } | Refusal {
  if (input.certs === undefined) return { scope: "all" };
  const checked = validateCerts(input.certs);
  if ("names" in checked) return { scope: checked.names };
  return checked.usage ? { ok: false, reason: checked.reason, usage: true } : refuse([checked.reason]);
}

/** The configured nodes `--node` names (all of them without it), or a usage refusal. */
function nodesOf(input: PlanInput): { nodes: NodeConfig[] } | Refusal {
  const { cluster } = input;
  if (input.node === undefined) return { nodes: cluster.nodes };
  const found = cluster.nodes.find((n) => n.name === input.node);
  if (found) return { nodes: [found] };
  const names = cluster.nodes.map((n) => n.name);
  const close = suggestNames(input.node, names);
  return {
    ok: false,
    usage: true,
    reason:
      `unknown node "${input.node.slice(0, 64)}" in cluster ${cluster.name}` +
      (close.length ? `; did you mean ${close.join(", ")}?` : "") +
      ` (nodes: ${names.join(", ")})`,
  };
}

/** What one node renews and skips of the scope, or why it cannot. */
function chooseOnNode(
  config: NodeConfig,
  node: NodeReport,
  { rule, version }: Extract<RuleLookup, { ok: true }>,
  scope: RenewalPlan["scope"],
): { names: RenewableName[]; skipped: NodePlan["skipped"]; problems: string[] } {
  const customDir = config.paths.kubernetesDir !== DEFAULT_KUBERNETES_DIR;
  const kubeconfigStuck = (name: RenewableName) =>
    rule.method === "renew" && customDir && catalogueEntry(name).kind === "kubeconfig";
  const stuckWhy = `kubeadm ${rule.label} renews kubeconfigs only under ${DEFAULT_KUBERNETES_DIR}, and this node's kubernetesDir is ${config.paths.kubernetesDir}`;
  // kubeadm writes a local etcd's certificates under its --cert-dir (kubernetesDir/pki), never elsewhere.
  const kubeadmEtcdDir = posix.join(config.paths.kubernetesDir, ETCD_PKI_IN_KUBERNETES_DIR);
  const etcdStuck = (name: RenewableName) =>
    config.paths.etcdPkiDir !== kubeadmEtcdDir && catalogueEntry(name).base === "etcdPkiDir";
  const etcdWhy = `kubeadm renews a local etcd's certificates only in ${kubeadmEtcdDir}, and this node's etcdPkiDir is ${config.paths.etcdPkiDir}`;
  const names: RenewableName[] = [];
  const skipped: NodePlan["skipped"] = [];
  const problems: string[] = [];
  const explicit = scope !== "all";
  for (const name of explicit ? scope : RENEWABLE) {
    const cert = present(node, name);
    const skip = (why: string) =>
      explicit
        ? problems.push(`node ${node.name}: cannot renew ${name}: ${why}`)
        : skipped.push({ name, why });
    if (!cert || cert.status === "missing") {
      if (explicit) skip("the scan found no such file on this node");
      continue;
    }
    if (!knows(rule, version, name)) skip(`kubeadm ${version.text} does not know it`);
    else if (cert.notAfter === null)
      problems.push(
        `node ${node.name}: ${name} is ${cert.status}${cert.error ? ` (${cert.error})` : ""}; fix it or leave it out with --certs`,
      );
    else if (kubeconfigStuck(name)) skip(stuckWhy);
    else if (etcdStuck(name)) skip(etcdWhy);
    else names.push(name);
  }
  return { names, skipped, problems };
}

/** One node's plan, or every reason it cannot be renewed. */
function planNode(
  config: NodeConfig,
  input: PlanInput,
  scope: RenewalPlan["scope"],
  timestamp: string,
): NodePlan | string[] {
  const node = input.report.nodes.find((n) => n.name === config.name);
  if (!node) return [`node ${config.name}: not in the scan`];
  if (!node.reachable)
    return [`node ${node.name} was not reachable in the fresh scan: ${node.error ?? "unknown error"}`];
  const lookup = ruleFor(node.kubeadmVersion);
  if (!lookup.ok) return [`node ${node.name}: ${lookup.reason}`];
  const { names, skipped, problems } = chooseOnNode(config, node, lookup, scope);
  if (problems.length) return problems;
  const caIssues = caProblems(node, names, input.now);
  if (caIssues.length) return caIssues;
  if (names.length === 0)
    return [`node ${node.name}: nothing kubeadm ${lookup.version.text} can renew was found`];
  const customDir = config.paths.kubernetesDir !== DEFAULT_KUBERNETES_DIR;
  const all = scope === "all" && skipped.every((s) => s.why === "the scan found no such file on this node");
  // Only a renewal of every certificate takes kubelet.conf along (--certs names kubeadm's files).
  const kubelet = scope === "all" ? kubeletConfRepair(node) : null;
  return nodePlan(config, node, names, all && !customDir, skipped, lookup, input, timestamp, kubelet);
}

/** A node the run leaves out for its role: why, and the documented repair of what needs a look. */
function leftOutNode(config: NodeConfig & { role: LeftOutNode["role"] }, report: ClusterReport): LeftOutNode {
  const node = report.nodes.find((n) => n.name === config.name);
  return {
    node: config.name,
    host: config.host,
    role: config.role,
    ...NOT_RENEWED_ROLE[config.role],
    notRenewed: node?.reachable ? notRenewedOnNode(node, null) : [],
  };
}

/** "node w-1 is a worker node: …. <repair>": one line of a refusal. */
export const leftOutReason = (left: LeftOutNode): string =>
  `node ${left.node} is ${left.why}. ${left.repair}`;

const isLeftOut = (node: NodeConfig): node is NodeConfig & { role: LeftOutNode["role"] } =>
  node.role !== "control-plane";

function assemble(
  input: PlanInput,
  scope: RenewalPlan["scope"],
  timestamp: string,
  plans: NodePlan[],
  leftOut: LeftOutNode[],
): RenewalPlan {
  const { now, renewal } = input;
  const notes = [
    NEVER_RENEWED_NOTE,
    "One node at a time, in config order; the first node that fails stops the run.",
  ];
  for (const method of new Set(plans.map((p) => p.method))) {
    const note = METHOD_NOTES[method];
    if (note) notes.push(note);
  }
  return {
    cluster: input.cluster.name,
    ...(input.requestedBy ? { requestedBy: input.requestedBy } : {}),
    createdAt: now,
    timestamp,
    scope,
    restartStrategy: renewal.restartStrategy,
    renewedUntil: renewedLeafUntil(now),
    approval: {
      requiredApprovals: renewal.requiredApprovals,
      allowSelfApproval: renewal.allowSelfApproval,
      expiresAt: new Date(now.getTime() + renewal.approvalTtlMinutes * 60_000),
    },
    nodes: plans,
    leftOut,
    notes,
  };
}

/** Plan a renewal of `input.cluster` from a fresh scan, or refuse with every reason at once. */
export function planRenewal(input: PlanInput): PlanResult {
  const scoped = scopeOf(input);
  if ("ok" in scoped) return scoped;
  const chosen = nodesOf(input);
  if ("ok" in chosen) return chosen;
  const timestamp = backupTimestamp(input.now);
  const leftOut = chosen.nodes.filter(isLeftOut).map((node) => leftOutNode(node, input.report));
  const renewed = chosen.nodes.filter((node) => !isLeftOut(node));
  if (renewed.length === 0) {
    const which = input.node === undefined ? `cluster ${input.cluster.name} has` : "the request names";
    return refuse([
      `${which} no control-plane node: certs-bot renews kubeadm's certificates on control-plane nodes only.`,
      ...leftOut.map(leftOutReason),
    ]);
  }
  const problems: string[] = [];
  const plans: NodePlan[] = [];
  for (const config of renewed) {
    const planned = planNode(config, input, scoped.scope, timestamp);
    if (Array.isArray(planned)) problems.push(...planned);
    else plans.push(planned);
  }
  if (problems.length) return refuse(problems);
  return { ok: true, plan: assemble(input, scoped.scope, timestamp, plans, leftOut) };
}

const KUBECONFIGS: readonly string[] = CATALOGUE.filter((e) => e.kind === "kubeconfig").map((e) => e.path);

/** Spec keys a plan stored before kubelet.conf and the kubeconfig copies were planned does not have. */
const LATER_KEYS: readonly (keyof NodeSpec)[] = ["kubeletPkiDir", "kubeletConf", "refreshKubeconfigs"];

/** The stored spec's own choices, checked against the fixed sets they come from. */
function choiceProblems(spec: NodeSpec, plan: RenewalPlan, node: NodeConfig): string[] {
  const problems: string[] = [];
  const names = Array.isArray(spec.names) ? spec.names : [];
  if (names.length === 0 || !names.every((n) => isRenewable(n)) || new Set(names).size !== names.length)
    problems.push("its certificate names are not renewable names");
  if (!Array.isArray(spec.kubeconfigs) || !spec.kubeconfigs.every((k) => KUBECONFIGS.includes(k)))
    problems.push("its kubeconfigs are not kubeadm's");
  if (!["manifests", "crictl", "docker"].includes(spec.restart))
    problems.push("its restart strategy is unknown");
  if (!ruleFor(spec.kubeadmVersion).ok) problems.push("its kubeadm version is not one certs-bot knows");
  if (!/^\d{8}T\d{6}Z$/.test(plan.timestamp)) problems.push("its backup timestamp is malformed");
  if (
    spec.kubeletConf !== null &&
    spec.kubeletConf !== undefined &&
    !choiceFits(spec.kubeletConf, String(spec.kubeadmVersion), node.paths.kubernetesDir)
  )
    problems.push("its kubelet.conf repair is not one its kubeadm version makes");
  return problems;
}

/**
 * Why a stored plan may not run under today's config, or [] when every node's spec is what the
 * planner derives from the config and the plan's own choices (version, certificates, strategy,
 * timestamp), and every step shown to the approvers is what that spec derives. The commands that run
 * are derived from the spec again, never read from storage, so this is what stands between write
 * access to Redis and a root shell on the nodes.
 */
export function checkPlan(plan: RenewalPlan, cluster: ClusterConfig, renewal: RenewalSettings): string[] {
  if (plan.cluster !== cluster.name) return [`the plan is for ${String(plan.cluster)}, not ${cluster.name}`];
  const problems: string[] = [];
  for (const stored of plan.nodes) {
    const where = `node ${String(stored.node).slice(0, 64)}`;
    const node = cluster.nodes.find((n) => n.name === stored.node);
    if (!node) {
      problems.push(`${where}: not in today's config`);
      continue;
    }
    if (isLeftOut(node)) {
      problems.push(`${where}: today's config says it is ${NOT_RENEWED_ROLE[node.role].why}`);
      continue;
    }
    const spec = stored.spec;
    const choices = spec ? choiceProblems(spec, plan, node) : ["it has no spec"];
    if (choices.length) {
      problems.push(`${where}: ${choices.join(", ")}`);
      continue;
    }
    let derived: NodeSpec;
    try {
      derived = nodeSpec({
        cluster: cluster.name,
        node,
        renewal: { ...renewal, restartStrategy: spec.restart },
        kubeadmVersion: spec.kubeadmVersion,
        names: spec.names,
        all: spec.all === true,
        kubeconfigs: spec.kubeconfigs,
        localEtcd: spec.components?.includes("etcd") === true,
        timestamp: plan.timestamp,
        kubeletConf: spec.kubeletConf ?? null,
      });
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
      continue;
    }
    const missing = LATER_KEYS.filter((k) => !(k in spec));
    if (missing.length) {
      problems.push(`${where}: made by an earlier certs-bot (no ${missing.join(", ")}); request it again`);
      continue;
    }
    const fields = (Object.keys(derived) as (keyof NodeSpec)[]).filter(
      (k) => JSON.stringify(derived[k]) !== JSON.stringify(spec[k]),
    );
    if (Object.keys(spec).length !== Object.keys(derived).length) fields.push("node" as keyof NodeSpec);
    if (fields.length) {
      problems.push(`${where}: ${[...new Set(fields)].join(", ")} differ from today's config`);
      continue;
    }
    const shown = stepsFor(derived).map((s) => s.shown);
    const differing = shown.filter((s, i) => JSON.stringify(s) !== JSON.stringify(stored.steps?.[i]));
    if (differing.length || stored.steps?.length !== shown.length)
      problems.push(
        `${where}: the stored ${differing.map((s) => s.id).join(", ") || "steps"} differ from what its spec derives`,
      );
  }
  return problems;
}
