// A renewal plan from a fresh scan: per node (one at a time, in config order) the kubeadm version,
// what will be renewed, the exact commands for that version, the backup, the restart, how it is
// verified and what triggers a rollback; or a refusal with a clear reason. Pure: the clock comes in
// as `now`, the scan as `report`. The workflow is data: each step has run, verify and undo (here
// their descriptions and commands; the executor comes later and runs exactly these).
import type { ClusterConfig, NodeConfig, RenewalSettings } from "../config/load.js";
import { catalogueEntry } from "../kubeadm/catalogue.js";
import {
  DEFAULT_KUBERNETES_DIR,
  NOT_RENEWED,
  RENEWABLE,
  checkPath,
  command,
  healthPath,
  isRenewable,
  knows,
  renewCommands,
  ruleFor,
  type Command,
  type RenewMethod,
  type RenewableName,
} from "../kubeadm/versions.js";
import type { CertificateReport, CertificateStatus, ClusterReport, NodeReport } from "../report/types.js";
import { RENEWED_LEAF_VALIDITY_DAYS } from "../scan/judge.js";
import { suggestNames } from "../config/suggest.js";

const DAY_MS = 86_400_000;
/** Bounded waits the executor will use; in the plan so approvers see them. */
export const WAITS = { containersGoneSeconds: 120, readySeconds: 300 } as const;

export type RestartStrategy = RenewalSettings["restartStrategy"];
export type StepId = "preflight" | "backup" | "renew" | "restart" | "verify";

/** One unit of the workflow: what run does, its postcondition, and how it is undone. */
export interface PlanStep {
  id: StepId;
  title: string;
  run: string;
  commands: Command[];
  /** A bounded wait the executor does before `commands[before]` (shown in the plan, not a command). */
  wait?: { before: number; what: string };
  verify: string;
  undo: string;
  undoCommands: Command[];
}

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
  /** Renewable files left out on this node, and why. */
  skipped: { name: string; why: string }[];
  backup: string;
  restart: RestartStrategy;
  /** Where /readyz (or /healthz before 1.16) is asked, from certs-bot. */
  healthUrl: string;
  /** The node's kubernetesDir: what the backup holds (pki/ and the kubeconfigs). */
  kubernetesDir: string;
  steps: PlanStep[];
  rollbackTriggers: string[];
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

const isoDay = (d: Date): string => d.toISOString().slice(0, 10);

const CONTROL_PLANE = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;

const NEVER_RENEWED_NOTE =
  "Never renewed by kubeadm, so never by certs-bot: the CAs, kubelet.conf, kubelet-client and " +
  "kubelet-serving. Where one of them needs attention, the node's plan says what to do by hand.";

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
    const never = NOT_RENEWED[name];
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
  node.certificates.some((c) => catalogueEntry(c.name).ca === "etcd-ca" || c.name === "etcd-ca");

/** The CAs that sign what is renewed must outlive the renewed leaves. */
function caProblems(node: NodeReport, names: readonly RenewableName[], now: Date): string[] {
  const renewedUntil = new Date(now.getTime() + RENEWED_LEAF_VALIDITY_DAYS * DAY_MS);
  const cas = [...new Set(names.map((n) => catalogueEntry(n).ca).filter((c): c is string => c !== null))];
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

function notRenewedOnNode(node: NodeReport): NodePlan["notRenewed"] {
  const out: NodePlan["notRenewed"] = [];
  for (const cert of node.certificates) {
    const never = NOT_RENEWED[cert.name];
    if (!never || cert.status === "ok") continue;
    out.push({ name: cert.name, status: cert.status, ...never });
  }
  if (
    node.findings.some((f) => f.code === "kubelet-conf-embedded") &&
    !out.some((n) => n.name === "kubelet.conf")
  ) {
    out.push({ name: "kubelet.conf", status: "embedded", ...NOT_RENEWED["kubelet.conf"]! });
  }
  return out;
}

interface Paths {
  kubernetesDir: string;
  base: string;
  backup: string;
  aside: string;
  config: string;
}

function restartStep(strategy: RestartStrategy, paths: Paths, components: readonly string[]): PlanStep {
  const manifest = (c: string) => ({ path: `${paths.kubernetesDir}/manifests/${c}.yaml` });
  const parked = (c: string) => ({ path: `${paths.aside}/manifests/${c}.yaml` });
  const kubelet = command("systemctl", "restart", "kubelet");
  const list = components.join(", ");
  switch (strategy) {
    case "manifests":
      return {
        id: "restart",
        title: "restart the control plane (static pod manifests)",
        run:
          `Move the static pod manifests of ${list} out of manifests/, wait (at most ${WAITS.containersGoneSeconds} s) ` +
          "until the kubelet has stopped their containers, move them back, then restart the kubelet.",
        commands: [
          command("mkdir", "-p", { path: `${paths.aside}/manifests` }),
          ...components.map((c) => command("mv", manifest(c), parked(c))),
          ...components.map((c) => command("mv", parked(c), manifest(c))),
          kubelet,
        ],
        wait: {
          before: 1 + components.length,
          what: `until no container of ${list} runs (at most ${WAITS.containersGoneSeconds} s)`,
        },
        verify: `Every manifest is back in manifests/, the kubelet is active, and ${list} run again with new container ids.`,
        undo: "Move any manifest still parked back into manifests/ and restart the kubelet.",
        undoCommands: [...components.map((c) => command("mv", parked(c), manifest(c))), kubelet],
      };
    case "crictl":
      return {
        id: "restart",
        title: "restart the control plane (crictl)",
        run: `Remove the pods of ${list} with crictl (the kubelet re-creates static pods), then restart the kubelet.`,
        commands: [
          ...components.map((c) =>
            command("crictl", "pods", "-q", "--name", c, "|", "xargs", "-r", "crictl", "rmp", "-f"),
          ),
          kubelet,
        ],
        verify: `The kubelet is active and ${list} run again in new pods (crictl pods).`,
        undo: "Nothing to undo: the kubelet re-creates static pods; restart the kubelet once more.",
        undoCommands: [kubelet],
      };
    case "docker":
      return {
        id: "restart",
        title: "restart the control plane (docker)",
        run: `Stop the containers of ${list} (k8s_<name>_…), then restart the kubelet, which starts them again.`,
        commands: [
          ...components.map((c) =>
            command("docker", "ps", "-q", "--filter", `name=k8s_${c}_`, "|", "xargs", "-r", "docker", "stop"),
          ),
          kubelet,
        ],
        verify: `The kubelet is active and ${list} run again in new containers (docker ps).`,
        undo: "Nothing to undo: the kubelet starts the containers again; restart the kubelet once more.",
        undoCommands: [kubelet],
      };
  }
}

function nodePlan(
  config: NodeConfig,
  node: NodeReport,
  names: RenewableName[],
  all: boolean,
  skipped: NodePlan["skipped"],
  lookup: Extract<ReturnType<typeof ruleFor>, { ok: true }>,
  input: PlanInput,
  timestamp: string,
): NodePlan {
  const { rule, version } = lookup;
  const kubernetesDir = config.paths.kubernetesDir;
  const base = checkPath(`${input.renewal.backupDir}/${input.cluster.name}/${node.name}/${timestamp}`);
  const paths: Paths = {
    kubernetesDir,
    base,
    backup: `${base}.tar.gz`,
    aside: `${base}.aside`,
    config: `${base}.kubeadm.yaml`,
  };
  const kubeconfigs = node.certificates
    .filter((c) => catalogueEntry(c.name).kind === "kubeconfig" && c.status !== "missing")
    .map((c) => catalogueEntry(c.name).path);
  const backupDir = { path: `${input.renewal.backupDir}/${input.cluster.name}/${node.name}` };
  const restore = command("tar", "-xzf", { path: paths.backup }, "-C", { path: kubernetesDir });
  const components = [...CONTROL_PLANE, ...(hasLocalEtcd(node) ? ["etcd"] : [])];
  const health = healthPath(rule, version);
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const healthUrl = `https://${host}:${config.apiserver.port}${health}`;
  const renewed = names.map((name) => {
    const cert = present(node, name)!;
    return { name, path: cert.path, status: cert.status, notAfter: cert.notAfter };
  });
  const apiserverRenewed = names.includes("apiserver");
  const served = !config.apiserver.probe
    ? "The served certificate is not checked: apiserver.probe is false for this node."
    : apiserverRenewed
      ? `The certificate served on :${config.apiserver.port} is the new apiserver.crt (a new fingerprint, ` +
        "not the one served before): a renewed file with a process still serving the old one is the trap."
      : `The certificate served on :${config.apiserver.port} is apiserver.crt on disk (no drift).`;
  const renewRun =
    rule.method === "renew"
      ? `kubeadm ${version.text} re-issues ${all ? "every certificate it manages" : names.join(", ")} in place, ` +
        "keeping subject and SANs."
      : `kubeadm ${version.text} only creates missing pairs: export the cluster's kubeadm configuration ` +
        "(for the same SANs and endpoints), move each old pair aside, re-create it with --config.";
  const steps: PlanStep[] = [
    {
      id: "preflight",
      title: "preflight",
      run:
        "Connect over SSH, read `kubeadm version -o short`, check free space for the backup, and take the " +
        "cluster's renewal lock.",
      commands: [command("kubeadm", "version", "-o", "short")],
      verify:
        `kubeadm still says ${version.text}; free space under ${input.renewal.backupDir} is at least twice ` +
        "the size of pki/ and the kubeconfigs; no other renewal holds the lock.",
      undo: "Release the lock. Nothing on the node changed.",
      undoCommands: [],
    },
    {
      id: "backup",
      title: "backup",
      run: `A timestamped tarball of pki/ and the kubeconfigs, never overwriting an existing file: ${paths.backup}.`,
      commands: [
        command("mkdir", "-p", backupDir),
        command(
          "[",
          "!",
          "-e",
          { path: paths.backup },
          "]",
          "&&",
          "tar",
          "-czf",
          { path: paths.backup },
          "-C",
          { path: kubernetesDir },
          "pki",
          ...kubeconfigs,
        ),
      ],
      verify: `Listing the tarball (tar -tzf) shows pki/ca.crt${kubeconfigs.length ? ` and ${kubeconfigs.join(", ")}` : ""}.`,
      undo: "None: a backup is kept, never deleted or overwritten.",
      undoCommands: [],
    },
    {
      id: "renew",
      title: `renew (kubeadm ${rule.label})`,
      run: renewRun,
      commands: renewCommands({
        rule,
        version,
        names,
        all,
        kubernetesDir,
        asideDir: paths.aside,
        configFile: paths.config,
      }),
      verify:
        `Each renewed file is readable, signed by its CA, with a new fingerprint and notAfter about ` +
        `${RENEWED_LEAF_VALIDITY_DAYS} days away` +
        (rule.method === "phase"
          ? `; the exported configuration is not empty and its certificatesDir is ${kubernetesDir}/pki.`
          : "."),
      undo: "Restore the backup over the kubernetes directory.",
      undoCommands: [restore],
    },
    restartStep(input.renewal.restartStrategy, paths, components),
    {
      id: "verify",
      title: "verify",
      run:
        `Wait (at most ${WAITS.readySeconds} s) until ${healthUrl} answers, check what the apiserver serves, ` +
        "then rescan the node.",
      commands: [],
      verify: `${health} answers ok. ${served} The rescan shows nothing renewed still near expiry.`,
      undo: "Roll back (below).",
      undoCommands: [],
    },
  ];
  return {
    node: node.name,
    host: config.host,
    kubeadmVersion: version.text,
    versionRule: rule.label,
    method: rule.method,
    renew: renewed,
    notRenewed: notRenewedOnNode(node),
    skipped,
    backup: paths.backup,
    restart: input.renewal.restartStrategy,
    healthUrl,
    kubernetesDir,
    steps,
    rollbackTriggers: [
      "a step's command fails or its postcondition does not hold",
      `the control plane does not stop or come back within ${WAITS.containersGoneSeconds} s`,
      `${health} does not answer within ${WAITS.readySeconds} s`,
      ...(config.apiserver.probe && apiserverRenewed
        ? ["the apiserver still serves the old certificate"]
        : []),
      "the rescan shows a renewed certificate still near expiry",
      `→ restore ${paths.backup}, restart again, verify the old state serves, report both failures, stop`,
    ],
  };
}

/** Plan a renewal of `input.cluster` from a fresh scan, or refuse with every reason at once. */
export function planRenewal(input: PlanInput): PlanResult {
  const { cluster, report, now } = input;
  const refuse = (problems: string[]): PlanResult => ({ ok: false, reason: problems.join("\n") });

  let scope: "all" | RenewableName[] = "all";
  if (input.certs !== undefined) {
    const checked = validateCerts(input.certs);
    if ("reason" in checked) {
      return checked.usage ? { ok: false, reason: checked.reason, usage: true } : refuse([checked.reason]);
    }
    scope = checked.names;
  }

  let nodes = cluster.nodes;
  if (input.node !== undefined) {
    const found = nodes.find((n) => n.name === input.node);
    if (!found) {
      const close = suggestNames(
        input.node,
        nodes.map((n) => n.name),
      );
      return {
        ok: false,
        usage: true,
        reason:
          `unknown node "${input.node.slice(0, 64)}" in cluster ${cluster.name}` +
          (close.length ? `; did you mean ${close.join(", ")}?` : "") +
          ` (nodes: ${nodes.map((n) => n.name).join(", ")})`,
      };
    }
    nodes = [found];
  }

  const timestamp = backupTimestamp(now);
  const problems: string[] = [];
  const plans: NodePlan[] = [];
  for (const config of nodes) {
    const node = report.nodes.find((n) => n.name === config.name);
    if (!node) {
      problems.push(`node ${config.name}: not in the scan`);
      continue;
    }
    if (!node.reachable) {
      problems.push(
        `node ${node.name} was not reachable in the fresh scan: ${node.error ?? "unknown error"}`,
      );
      continue;
    }
    const lookup = ruleFor(node.kubeadmVersion);
    if (!lookup.ok) {
      problems.push(`node ${node.name}: ${lookup.reason}`);
      continue;
    }
    const { rule, version } = lookup;
    const customDir = config.paths.kubernetesDir !== DEFAULT_KUBERNETES_DIR;
    const kubeconfigStuck = (name: RenewableName) =>
      rule.method === "renew" && customDir && catalogueEntry(name).kind === "kubeconfig";
    const stuckWhy = `kubeadm ${rule.label} renews kubeconfigs only under ${DEFAULT_KUBERNETES_DIR}, and this node's kubernetesDir is ${config.paths.kubernetesDir}`;
    const names: RenewableName[] = [];
    const skipped: NodePlan["skipped"] = [];
    const nodeProblems: string[] = [];
    for (const name of scope === "all" ? RENEWABLE : scope) {
      const cert = present(node, name);
      const explicit = scope !== "all";
      const skip = (why: string) =>
        explicit
          ? nodeProblems.push(`node ${node.name}: cannot renew ${name}: ${why}`)
          : skipped.push({ name, why });
      if (!cert || cert.status === "missing") {
        if (explicit) skip("the scan found no such file on this node");
        continue;
      }
      if (!knows(rule, version, name)) skip(`kubeadm ${version.text} does not know it`);
      else if (cert.notAfter === null)
        nodeProblems.push(
          `node ${node.name}: ${name} is ${cert.status}${cert.error ? ` (${cert.error})` : ""}; fix it or leave it out with --certs`,
        );
      else if (kubeconfigStuck(name)) skip(stuckWhy);
      else names.push(name);
    }
    if (nodeProblems.length) {
      problems.push(...nodeProblems);
      continue;
    }
    const caIssues = caProblems(node, names, now);
    if (caIssues.length) {
      problems.push(...caIssues);
      continue;
    }
    if (names.length === 0) {
      problems.push(`node ${node.name}: nothing kubeadm ${version.text} can renew was found`);
      continue;
    }
    const all = scope === "all" && skipped.every((s) => s.why === "the scan found no such file on this node");
    plans.push(nodePlan(config, node, names, all && !customDir, skipped, lookup, input, timestamp));
  }
  if (problems.length) return refuse(problems);

  const notes = [
    NEVER_RENEWED_NOTE,
    "One node at a time, in config order; the first node that fails stops the run.",
  ];
  if (plans.some((p) => p.method === "phase")) {
    notes.push(
      "Phase-based nodes (kubeadm before 1.15) take their SANs and endpoints from the cluster's own kubeadm " +
        "configuration (`kubeadm config view`, which needs a working admin.conf).",
    );
  }
  return {
    ok: true,
    plan: {
      cluster: cluster.name,
      ...(input.requestedBy ? { requestedBy: input.requestedBy } : {}),
      createdAt: now,
      timestamp,
      scope,
      restartStrategy: input.renewal.restartStrategy,
      renewedUntil: new Date(now.getTime() + RENEWED_LEAF_VALIDITY_DAYS * DAY_MS),
      approval: {
        requiredApprovals: input.renewal.requiredApprovals,
        allowSelfApproval: input.renewal.allowSelfApproval,
        expiresAt: new Date(now.getTime() + input.renewal.approvalTtlMinutes * 60_000),
      },
      nodes: plans,
      notes,
    },
  };
}
