// Node roles: what an etcd-only node of kubespray's external etcd and a kubeadm worker are read for
// (the second catalogue, the script, the judge), what a warning advises about their files, and how a
// renewal leaves them out with the documented repair.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CertificateCache } from "../../src/core/certs/certificate.js";
import { CATALOGUE, CERTIFICATE_NAMES } from "../../src/core/kubeadm/catalogue.js";
import { KUBESPRAY_ETCD } from "../../src/core/kubespray/catalogue.js";
import { entriesFor, entryPath, findFileEntry, neverRenewed } from "../../src/core/scan/roles.js";
import {
  buildScanScript,
  parseScanOutput,
  ScriptOutputError,
  type RawEntry,
} from "../../src/core/scan/script.js";
import { judgeNode } from "../../src/core/scan/judge.js";
import type { CertificateReport, NodeReport } from "../../src/core/report/types.js";
import { checkPlan, planRenewal, type RenewalPlan } from "../../src/core/renew/plan.js";
import { adviceFor } from "../../src/present/advice.js";
import { renderPlanBlocks, renderPlanText } from "../../src/present/renewal.js";
import { expirationInfo, renderKubeadmJson } from "../../src/present/kubeadm-json.js";
import { renderTable } from "../../src/present/report.js";
import { renderStatus } from "../../src/present/views.js";
import { parseConfig } from "../../src/config/load.js";
import { NOW, clusterReport, node as controlPlane } from "../fixtures/prod-cluster.js";
import { issueCert, newKey, type LabCert } from "../lab/pki.js";

const DAY = 86_400_000;
const KUBESPRAY_DIR = "/etc/ssl/etcd/ssl";
const PLAYBOOK = "`ansible-playbook -i INVENTORY -b cluster.yml --tags=etcd`";
const REBOOTSTRAP =
  "`kubeadm kubeconfig user --org system:nodes --client-name system:node:NODE > kubelet.conf`";

const etcdNode = {
  role: "etcd" as const,
  name: "etcd-1",
  paths: {
    kubernetesDir: "/etc/kubernetes",
    kubeletPkiDir: "/var/lib/kubelet/pki",
    etcdPkiDir: KUBESPRAY_DIR,
  },
};
const workerNode = {
  role: "worker" as const,
  name: "w-1",
  paths: { ...etcdNode.paths, etcdPkiDir: "/etc/kubernetes/pki/etcd" },
};
const entryLines = (script: string) =>
  script
    .split("\n")
    .filter((l) => l.startsWith("entry "))
    .map((l) => l.split(" ").slice(1).join(" "));

// --- the second catalogue and the roles -------------------------------------------------------

test("the kubespray catalogue: one entry per file of kubespray's etcd role, the host's name in its file names", () => {
  assert.deepEqual(
    KUBESPRAY_ETCD.map((e) => [e.name, entryPath(e, etcdNode), e.isCA, e.required]),
    [
      ["kubespray-etcd-ca", "/etc/ssl/etcd/ssl/ca.pem", true, "always"],
      ["kubespray-etcd-member", "/etc/ssl/etcd/ssl/member-etcd-1.pem", false, "always"],
      ["kubespray-etcd-admin", "/etc/ssl/etcd/ssl/admin-etcd-1.pem", false, "always"],
      // Only where the etcd node is a Kubernetes node too.
      ["kubespray-etcd-node", "/etc/ssl/etcd/ssl/node-etcd-1.pem", false, "never"],
    ],
  );
  for (const entry of KUBESPRAY_ETCD) {
    assert.ok(!CERTIFICATE_NAMES.includes(entry.name as never), `${entry.name} is not a kubeadm name`);
    assert.deepEqual(entry.roles, ["etcd"]);
    assert.equal(entry.base, "etcdPkiDir");
    assert.equal(entry.readAs, "pem", "certificate blocks only, never DER");
    assert.doesNotMatch(entry.path, /-key\.pem$/, "never a key file");
    if (entry.ca !== null) assert.equal(findFileEntry(entry.ca)?.isCA, true, `${entry.name} → ${entry.ca}`);
    const never = neverRenewed(entry.name);
    assert.ok(never, entry.name);
    assert.match(never.why, /kubespray/, entry.name);
    assert.ok(never.missing, `${entry.name}: its own advice when missing`);
  }
  assert.ok(neverRenewed("kubespray-etcd-member")!.repair.includes(PLAYBOOK));
  assert.ok(neverRenewed("kubespray-etcd-member")!.advice!("`etcd-1`").includes(PLAYBOOK));
});

test("each role reads its own entries: control-plane the kubeadm catalogue, worker the kubelet's, etcd kubespray's", () => {
  const names = (role: "control-plane" | "etcd" | "worker") => entriesFor(role).map((e) => e.name);
  assert.deepEqual(
    names("control-plane"),
    CATALOGUE.map((e) => e.name),
  );
  assert.deepEqual(names("worker"), ["kubelet.conf", "kubelet-client", "kubelet-serving", "kubelet-server"]);
  assert.deepEqual(names("etcd"), [
    "kubespray-etcd-ca",
    "kubespray-etcd-member",
    "kubespray-etcd-admin",
    "kubespray-etcd-node",
  ]);
  // A control-plane node's local etcd files come from its etcdPkiDir.
  const cp = {
    ...workerNode,
    role: "control-plane" as const,
    paths: { ...workerNode.paths, etcdPkiDir: "/srv/etcd" },
  };
  assert.deepEqual(
    entriesFor("control-plane")
      .filter((e) => e.base === "etcdPkiDir")
      .map((e) => entryPath(e, cp)),
    ["/srv/etcd/ca.crt", "/srv/etcd/server.crt", "/srv/etcd/peer.crt", "/srv/etcd/healthcheck-client.crt"],
  );
});

// --- the script -----------------------------------------------------------------------------------

test("an etcd node's script reads kubespray's four files in etcdPkiDir, asks no kubeadm and looks for no local etcd", () => {
  const script = buildScanScript(etcdNode);
  assert.deepEqual(entryLines(script), [
    "kubespray-etcd-ca pem '/etc/ssl/etcd/ssl/ca.pem'",
    "kubespray-etcd-member pem '/etc/ssl/etcd/ssl/member-etcd-1.pem'",
    "kubespray-etcd-admin pem '/etc/ssl/etcd/ssl/admin-etcd-1.pem'",
    "kubespray-etcd-node pem '/etc/ssl/etcd/ssl/node-etcd-1.pem'",
  ]);
  assert.doesNotMatch(script, /kubeadm version|@etcd/);
  assert.doesNotMatch(script, /-key\.pem/, "never names a key");
});

test("a worker's script reads kubelet.conf and the kubelet's certificates, and asks kubeadm its version", () => {
  const script = buildScanScript(workerNode);
  assert.deepEqual(entryLines(script), [
    "kubelet.conf kubeconfig '/etc/kubernetes/kubelet.conf'",
    "kubelet-client pem '/var/lib/kubelet/pki/kubelet-client-current.pem'",
    "kubelet-serving der '/var/lib/kubelet/pki/kubelet.crt'",
    "kubelet-server pem '/var/lib/kubelet/pki/kubelet-server-current.pem'",
  ]);
  assert.match(script, /kubeadm version -o short/);
  assert.doesNotMatch(script, /@etcd/);
});

test("the parser knows each role's entries only, with their paths on that node", () => {
  const read = parseScanOutput(
    "@certs-bot 1\n@entry kubespray-etcd-node missing\n@entry kubespray-etcd-admin unreadable Permission denied\n@done\n",
    etcdNode,
  );
  assert.deepEqual(read.entries.get("kubespray-etcd-node"), {
    state: "missing",
    path: "/etc/ssl/etcd/ssl/node-etcd-1.pem",
  });
  assert.equal(read.entries.get("kubespray-etcd-admin")?.path, "/etc/ssl/etcd/ssl/admin-etcd-1.pem");
  for (const [node, name] of [
    [etcdNode, "apiserver"],
    [workerNode, "apiserver"],
    [workerNode, "kubespray-etcd-ca"],
    [{ ...workerNode, role: "control-plane" as const }, "kubespray-etcd-member"],
  ] as const) {
    assert.throws(
      () => parseScanOutput(`@certs-bot 1\n@entry ${name} missing\n@done\n`, node),
      (err: Error) =>
        err instanceof ScriptOutputError && err.message === `unexpected entry "${name}" in scan output`,
      `${node.role}: ${name}`,
    );
  }
});

// --- the judge ------------------------------------------------------------------------------------

const at = (days: number) => new Date(NOW.getTime() + days * DAY);
const etcdCaKey = await newKey("ecdsa");
const etcdCa = await issueCert({
  subject: "CN=etcd-ca",
  key: etcdCaKey,
  isCA: true,
  notBefore: at(-400),
  notAfter: at(36_000),
});
const strangerCa = await issueCert({
  subject: "CN=etcd-ca",
  key: await newKey("ecdsa"),
  isCA: true,
  notBefore: at(-400),
  notAfter: at(36_000),
});
const etcdLeaf = (cn: string, days: number, issuer: LabCert = etcdCa) =>
  issueCert({
    subject: `CN=${cn}`,
    key: etcdCaKey,
    issuer,
    notBefore: at(-300),
    notAfter: at(days),
    usage: "both",
  });
const pem = (path: string, cert: LabCert): RawEntry => ({
  state: "content",
  path,
  format: "pem",
  body: cert.pem,
});
const ctx = () => ({
  now: NOW,
  thresholds: { warningDays: 30, criticalDays: 7 },
  cache: new CertificateCache(),
});

test("an etcd node is judged against kubespray's CA; node-<host>.pem is optional, the others are not", async () => {
  const entries = new Map<string, RawEntry>([
    ["kubespray-etcd-ca", pem(`${KUBESPRAY_DIR}/ca.pem`, etcdCa)],
    [
      "kubespray-etcd-member",
      pem(`${KUBESPRAY_DIR}/member-etcd-1.pem`, await etcdLeaf("etcd-member-etcd-1", 20)),
    ],
    [
      "kubespray-etcd-admin",
      pem(`${KUBESPRAY_DIR}/admin-etcd-1.pem`, await etcdLeaf("etcd-admin-etcd-1", 200, strangerCa)),
    ],
    ["kubespray-etcd-node", { state: "missing", path: `${KUBESPRAY_DIR}/node-etcd-1.pem` }],
  ]);
  const report = judgeNode(
    { name: "etcd-1", host: "10.0.0.7", port: 22, role: "etcd", read: { localEtcd: false, entries } },
    ctx(),
  );
  assert.equal(report.role, "etcd");
  assert.deepEqual(
    report.certificates.map((c) => [c.name, c.status, c.ca]),
    [
      ["kubespray-etcd-ca", "ok", null],
      ["kubespray-etcd-member", "warning", "kubespray-etcd-ca"],
      ["kubespray-etcd-admin", "ok", "kubespray-etcd-ca"],
    ],
  );
  assert.deepEqual(
    report.findings.map((f) => [f.code, f.certificate]),
    [["not-signed-by-ca", "kubespray-etcd-admin"]],
  );
  assert.ok(report.findings[0]!.advice.includes(PLAYBOOK), report.findings[0]!.advice);
  assert.doesNotMatch(report.findings[0]!.advice, /kubeadm certs renew/);

  entries.set("kubespray-etcd-member", { state: "missing", path: `${KUBESPRAY_DIR}/member-etcd-1.pem` });
  const missing = judgeNode(
    { name: "etcd-1", host: "10.0.0.7", port: 22, role: "etcd", read: { localEtcd: false, entries } },
    ctx(),
  );
  assert.equal(missing.certificates.find((c) => c.name === "kubespray-etcd-member")?.status, "missing");
  assert.equal(missing.status, "missing");
});

// --- advice, views and outputs ----------------------------------------------------------------------

/** A report line for any entry of either catalogue, `days` left. */
function certOf(name: string, days: number, path = "/x"): CertificateReport {
  const entry = findFileEntry(name)!;
  const notAfter = at(days);
  return {
    name,
    path,
    kind: entry.kind,
    status: days <= 0 ? "expired" : days <= 7 ? "critical" : days <= 30 ? "warning" : "ok",
    ca: entry.ca,
    subject: `CN=${name}`,
    issuer: "CN=issuer",
    serialNumber: "01",
    notBefore: new Date(notAfter.getTime() - 365 * DAY),
    notAfter,
    daysLeft: days,
    isCA: entry.isCA,
    sans: [],
    keyAlgorithm: "ECDSA-P256",
    sha256: `${name}-${days}`,
  };
}

function roleNode(
  name: string,
  role: "etcd" | "worker",
  host: string,
  days: Record<string, number>,
): NodeReport {
  const certificates = Object.entries(days).map(([n, d]) => certOf(n, d));
  return { name, host, port: 22, role, status: "ok", reachable: true, certificates, findings: [] };
}

const worker = (days = -2) =>
  roleNode("w-1", "worker", "10.0.0.4", {
    "kubelet.conf": 200,
    "kubelet-client": days,
    "kubelet-serving": 200,
  });
const etcd = (days = -1) =>
  roleNode("etcd-1", "etcd", "10.0.0.5", {
    "kubespray-etcd-ca": 36_000,
    "kubespray-etcd-member": days,
    "kubespray-etcd-admin": 300,
  });

const advice = (node: NodeReport, name: string, level: "critical" | "expired" | "missing") =>
  adviceFor([
    { kind: "certificate", node, certificate: node.certificates.find((c) => c.name === name)!, level },
  ]);

test("advice: an expired kubelet client certificate is bootstrapped again; a critical one is looked at", () => {
  const [expired] = advice(worker(), "kubelet-client", "expired");
  assert.ok(expired!.includes(REBOOTSTRAP), expired);
  assert.match(
    expired!,
    /^The kubelet on `w-1` cannot rotate its expired client certificate any more: bootstrap it again/,
  );
  const [critical] = advice(worker(3), "kubelet-client", "critical");
  assert.match(critical!, /journalctl -u kubelet/);
  assert.ok(!critical!.includes(REBOOTSTRAP));
  const [missing] = advice(worker(), "kubelet.conf", "missing");
  assert.match(missing!, /^The kubelet on `w-1` has no kubelet\.conf: bootstrap it again/);
});

test("advice: kubespray's etcd files are re-issued kubespray's way, its CA is not kubeadm's", () => {
  const [member] = advice(etcd(), "kubespray-etcd-member", "expired");
  assert.ok(member!.includes(PLAYBOOK), member);
  assert.doesNotMatch(member!, /kubeadm/);
  const [ca] = advice(etcd(), "kubespray-etcd-ca", "critical");
  assert.match(ca!, /^`kubespray-etcd-ca` is a CA\. kubespray keeps the etcd CA while ca-key\.pem/);
  assert.doesNotMatch(ca!, /kubeadm/);
  const [missing] = advice(etcd(), "kubespray-etcd-admin", "missing");
  assert.match(missing!, /^kubespray writes this etcd certificate on `etcd-1`; have it write it again: /);
});

test("views and outputs say a node's role; kubeadm-json lists nothing of an etcd or worker node", () => {
  const report = {
    scannedAt: NOW,
    clusters: [{ ...clusterReport(controlPlane("m1"), worker(), etcd()), status: "expired" as const }],
  };
  const table = renderTable(report, "UTC");
  assert.match(table, /node w-1 \(10\.0\.0\.4:22\) — OK · worker node\n/);
  assert.match(table, /node etcd-1 \(10\.0\.0\.5:22\) — OK · etcd node\n/);
  assert.match(
    table,
    /node m1 \(10\.0\.0\.1:22\) — OK · kubeadm v1\.28\.4\n/,
    "a control-plane node says nothing",
  );
  const [status] = renderStatus({
    cluster: "prod",
    scan: { cluster: "prod", scannedAt: NOW, durationMs: 1, report: report.clusters[0]! },
    now: NOW,
    timeZone: "UTC",
    all: true,
  });
  assert.match(JSON.stringify(status), /\*w-1\* \(10\.0\.0\.4\) — \*ok\* · worker node/);
  for (const node of [worker(), etcd()]) {
    assert.deepEqual(
      [expirationInfo(node, NOW).certificates, expirationInfo(node, NOW).certificateAuthorities],
      [[], []],
    );
  }
  const list = JSON.parse(renderKubeadmJson(report)) as {
    items: { metadata: { annotations: Record<string, string> }; certificates: unknown[] }[];
  };
  assert.deepEqual(
    list.items.map((i) => [
      i.metadata.annotations["certs-bot.io/node"],
      i.metadata.annotations["certs-bot.io/role"],
      i.certificates.length > 0,
    ]),
    [
      ["m1", undefined, true],
      ["w-1", "worker", false],
      ["etcd-1", "etcd", false],
    ],
  );
});

// --- renewal ----------------------------------------------------------------------------------------

const mixed = (extra = "") =>
  parseConfig(
    [
      "clusters:",
      "  - name: prod",
      "    nodes:",
      `      - { host: 10.0.0.1, name: m1${extra} }`,
      "      - { host: 10.0.0.4, name: w-1, role: worker }",
      `      - { host: 10.0.0.5, name: etcd-1, role: etcd, paths: { etcdPkiDir: ${KUBESPRAY_DIR} } }`,
      "",
    ].join("\n"),
    "clusters.yaml",
  );

function plan(nodes: NodeReport[], extra: { node?: string } = {}, cfg = mixed()) {
  return planRenewal({
    cluster: cfg.clusters[0]!,
    report: clusterReport(...nodes),
    renewal: cfg.renewal,
    now: NOW,
    ...extra,
  });
}

test("a renewal leaves etcd and worker nodes out, each with why and the documented repair", () => {
  const result = plan([controlPlane("m1"), worker(), etcd()]);
  assert.ok(result.ok, result.ok ? "" : result.reason);
  const { plan: p } = result;
  assert.deepEqual(
    p.nodes.map((n) => n.node),
    ["m1"],
  );
  assert.deepEqual(
    p.leftOut!.map((l) => [l.node, l.role, l.notRenewed.map((f) => `${f.name} ${f.status}`)]),
    [
      ["w-1", "worker", ["kubelet-client expired"]],
      ["etcd-1", "etcd", ["kubespray-etcd-member expired"]],
    ],
  );
  const [w, e] = p.leftOut!;
  assert.match(w!.why, /^a worker node: kubeadm renews certificates on control-plane nodes only/);
  assert.ok(
    w!.repair.startsWith("If its kubelet client certificate (kubelet-client-current.pem) has expired: "),
  );
  assert.ok(w!.repair.includes(REBOOTSTRAP));
  assert.ok(w!.notRenewed[0]!.repair.includes(REBOOTSTRAP), "the catalogue's KUBELET_CLIENT repair");
  assert.match(e!.why, /^an etcd-only node of kubespray's external etcd/);
  assert.ok(e!.repair.includes(PLAYBOOK));

  const text = renderPlanText(p, "UTC");
  assert.match(text, /renews: every certificate kubeadm manages, on 1 node, one at a time/);
  assert.ok(
    text.includes(
      "left out, 1 worker node (w-1 (10.0.0.4)): each is a worker node: kubeadm renews certificates on " +
        "control-plane nodes only, and a worker's kubelet rotates its own.\n  → If its kubelet client certificate",
    ),
    text,
  );
  assert.match(
    text,
    /\n {2}w-1: not renewed \(expired\): kubelet-client: the kubelet rotates its own client certificate/,
  );
  assert.match(text, /\n {2}etcd-1: not renewed \(expired\): kubespray-etcd-member: kubespray issues/);
  const card = JSON.stringify(renderPlanBlocks(p, { channel: "C0PROD", timeZone: "UTC" }).blocks);
  assert.match(card, /:no_entry_sign: Left out, 1 worker node \(w-1\): a worker node: /);
  assert.match(card, /:no_entry_sign: Left out, 1 etcd node \(etcd-1\): an etcd-only node/);
  assert.ok(!card.includes("w-1* ("), "no node section of its own");
});

test("a cluster of etcd and worker nodes only, or a request for one of them, is refused with the reason", () => {
  const cfg = parseConfig(
    [
      "clusters:",
      "  - name: prod",
      "    nodes:",
      "      - { host: 10.0.0.4, name: w-1, role: worker }",
      `      - { host: 10.0.0.5, name: etcd-1, role: etcd, paths: { etcdPkiDir: ${KUBESPRAY_DIR} } }`,
      "",
    ].join("\n"),
    "clusters.yaml",
  );
  const only = plan([worker(), etcd()], {}, cfg);
  assert.equal(only.ok, false);
  const reason = only.ok ? "" : only.reason;
  const lines = reason.split("\n");
  assert.equal(
    lines[0],
    "cluster prod has no control-plane node: certs-bot renews kubeadm's certificates on control-plane nodes only.",
  );
  assert.ok(
    lines[1]!.startsWith(
      "node w-1 is a worker node: kubeadm renews certificates on control-plane nodes only",
    ),
  );
  assert.ok(lines[1]!.includes(REBOOTSTRAP), lines[1]);
  assert.ok(lines[2]!.startsWith("node etcd-1 is an etcd-only node of kubespray's external etcd"));
  assert.ok(lines[2]!.includes(PLAYBOOK), lines[2]);
  assert.equal("usage" in only, false, "not a usage error: the cluster is what it is");

  const named = plan([controlPlane("m1"), worker(), etcd()], { node: "w-1" });
  assert.equal(named.ok, false);
  assert.match(
    named.ok ? "" : named.reason,
    /^the request names no control-plane node: [^\n]*\nnode w-1 is a worker node: /,
  );
});

test("a stored plan whose node has become a worker does not run", () => {
  const result = plan([controlPlane("m1"), worker(), etcd()]);
  assert.ok(result.ok);
  const stored: RenewalPlan = JSON.parse(JSON.stringify(result.plan), (k, v) =>
    ["createdAt", "renewedUntil", "expiresAt", "notAfter"].includes(k) && typeof v === "string"
      ? new Date(v)
      : v,
  );
  assert.deepEqual(checkPlan(stored, mixed().clusters[0]!, mixed().renewal), []);
  const demoted = parseConfig(
    [
      "clusters:",
      "  - name: prod",
      "    nodes:",
      "      - { host: 10.0.0.1, name: m1, role: worker }",
      "",
    ].join("\n"),
    "clusters.yaml",
  );
  assert.deepEqual(checkPlan(stored, demoted.clusters[0]!, demoted.renewal), [
    "node m1: today's config says it is a worker node: kubeadm renews certificates on control-plane " +
      "nodes only, and a worker's kubelet rotates its own",
  ]);
});

test("a control-plane node whose etcdPkiDir is not kubeadm's pki/etcd: its etcd certificates are skipped, with why", () => {
  const result = plan(
    [controlPlane("m1"), worker(), etcd()],
    {},
    mixed(", paths: { etcdPkiDir: /srv/etcd }"),
  );
  assert.ok(result.ok, result.ok ? "" : result.reason);
  const m1 = result.plan.nodes[0]!;
  assert.deepEqual(
    m1.skipped.map((s) => s.name),
    ["etcd-server", "etcd-peer", "etcd-healthcheck-client"],
  );
  assert.equal(
    m1.skipped[0]!.why,
    "kubeadm renews a local etcd's certificates only in /etc/kubernetes/pki/etcd, and this node's etcdPkiDir is /srv/etcd",
  );
  assert.ok(
    m1.renew.some((c) => c.name === "apiserver-etcd-client"),
    "in pki/, where kubeadm writes it",
  );
});
