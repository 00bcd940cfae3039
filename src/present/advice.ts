// "What to do" for a warning. Pure.
//
// Why it is its own module: the advice is the part of a warning someone acts on at 3 a.m., and it
// depends on what the certificate is, not on how bad it is. A kubeadm leaf is renewed by
// `kubeadm certs renew` and only counts once the static pods restart (the origin story's trap); a
// CA cannot be renewed that way at all; the kubelet's client certificate rotates itself and only
// needs a look when that stopped working (once expired, the kubelet is bootstrapped again);
// kubelet.conf is what a renewal repairs (or cannot) on that kubeadm version; kubespray's etcd
// certificates are kubespray's to re-issue; an unknown (unreachable, unreadable, missing) needs a
// different look. One place decides this, and it is tested on its own.
import { findEntry, isRenewable, KUBELET_KUBECONFIG, notRenewed } from "../core/kubeadm/catalogue.js";
import { kubeletConfAdvice, kubeletConfRepair } from "../core/kubeadm/kubelet-conf.js";
import { neverRenewed } from "../core/scan/roles.js";
import type { CertificateReport, NodeReport, Status } from "../core/report/types.js";
import { code, plain } from "./format.js";
import { nodeWhere } from "../core/transport/address.js";

/** Beyond this many names on one node, `kubeadm certs renew all` reads better than a list. */
const RENEW_ALL_FROM = 4;

/** What a warning is about, as advice needs it. */
type AdviceSubject =
  | { kind: "certificate"; node: NodeReport; certificate: CertificateReport; level: Status }
  | { kind: "served"; node: NodeReport; level: Status }
  | { kind: "node"; node: NodeReport; level: Status };

const RESTART =
  "then restart the control-plane static pods so they load the new files (move their manifests out of " +
  "the manifests directory and back, or remove the pods with `crictl`)";

function one(subject: AdviceSubject): { group: string; text: string } {
  const node = code(subject.node.name, 80);
  if (subject.kind === "node") {
    const where = nodeWhere(subject.node);
    return {
      group: "unreachable",
      text:
        `Check that certs-bot reaches ${code(where, 120)} over SSH: network and firewall, sshd, ` +
        "the host key in known_hosts, the key and the user (and sudo, with become: sudo).",
    };
  }
  if (subject.kind === "served") {
    return {
      group: "served",
      text:
        `The apiserver on ${node} serves an older certificate than apiserver.crt on disk (renewed but not ` +
        "restarted): restart kube-apiserver there (move kube-apiserver.yaml out of the manifests directory and back).",
    };
  }
  const { certificate: cert, level } = subject;
  const name = code(cert.name, 80);
  const never = neverRenewed(cert.name); // CAs, the kubelet's own files, kubespray's
  if (level === "unreadable") {
    return {
      group: `unreadable:${cert.name}`,
      text: `certs-bot could not use ${name} on ${node}: ${plain(cert.error ?? "unreadable")}. Check the file's content and permissions.`,
    };
  }
  if (level === "missing") {
    if (never?.missing) return { group: `missing:${cert.name}`, text: never.missing(node) };
    return {
      group: `missing:${cert.name}`,
      text:
        `${name} is missing on ${node}: restore it from a backup or another control-plane node; kubeadm ` +
        "regenerates leaves with `kubeadm init phase certs` and kubeconfigs with `kubeadm init phase kubeconfig`.",
    };
  }
  if (level === "not-yet-valid") {
    return {
      group: "clock",
      text: `A certificate on ${node} is not valid yet: check the clock (NTP) of ${node} and of the machine that issued it.`,
    };
  }
  if (level === "expired" && never?.expired) return { group: cert.name, text: never.expired(node) };
  // kubespray's etcd CA: kubeadm's CA advice does not apply.
  if (cert.isCA && never && !findEntry(cert.name))
    return { group: `ca:${cert.name}`, text: `${name} is a CA. ${never.repair}` };
  if (cert.isCA) {
    return {
      group: `ca:${cert.name}`,
      text:
        `${name} is a CA: \`kubeadm certs renew\` cannot renew it, and no leaf outlives it. CA rotation is ` +
        "manual (kubeadm docs: 'Manual rotation of CA certificates').",
    };
  }
  if (cert.name === KUBELET_KUBECONFIG)
    return {
      group: cert.name,
      text: kubeletConfAdvice(subject.node, node, notRenewed("kubelet-client")!.repair),
    };
  const own = never?.advice; // the kubelet's own files, kubespray's
  if (own) return { group: cert.name, text: own(node) };
  if (isRenewable(cert.name)) return { group: "renew", text: cert.name };
  return { group: `other:${cert.name}`, text: `Renew ${name} on ${node}.` };
}

/**
 * Whether a renewal of the node fixes this subject: a kubeadm leaf, an apiserver serving another
 * certificate (the renewal restarts it), or a kubelet.conf the renewal repairs on this node. Not a
 * CA, not the kubelet's rotating files, not a node that does not answer.
 */
export function renewalFixes(subject: AdviceSubject): boolean {
  if (subject.kind === "node") return false;
  if (subject.kind === "served") return true;
  const name = subject.certificate.name;
  if (name === KUBELET_KUBECONFIG) return kubeletConfRepair(subject.node)?.ok === true;
  return isRenewable(name);
}

/**
 * The advice for one node's subjects, one line per distinct action, in the order the subjects come
 * (worst first, when they are sorted so). kubeadm leaves on the node merge into one renew line.
 */
export function adviceFor(subjects: readonly AdviceSubject[]): string[] {
  const lines = new Map<string, string>();
  const renew: string[] = [];
  for (const subject of subjects) {
    if (subject.level === "ok") continue;
    const { group, text } = one(subject);
    if (group === "renew") {
      if (!renew.includes(text)) renew.push(text);
      if (!lines.has(group)) lines.set(group, "");
    } else if (!lines.has(group)) {
      lines.set(group, text);
    }
  }
  const node = subjects[0] ? code(subjects[0].node.name, 80) : "the node";
  if (lines.has("renew")) {
    const commands =
      renew.length >= RENEW_ALL_FROM
        ? "`kubeadm certs renew all`"
        : renew.map((name) => code(`kubeadm certs renew ${name}`, 120)).join(", ");
    lines.set("renew", `Renew on ${node}: ${commands}, ${RESTART}.`);
  }
  return [...lines.values()];
}
