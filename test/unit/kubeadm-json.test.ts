import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  ANNOTATIONS,
  expirationInfo,
  renderKubeadmJson,
  type CertificateExpirationInfo,
  type KubeadmCertificate,
} from "../../src/present/kubeadm-json.js";
import type { CertificateReport, NodeReport, ScanReport } from "../../src/core/report/types.js";
import { cert, node, NOW } from "../fixtures/prod-cluster.js";

const DAY = 86_400_000;
const FIXTURE = "test/fixtures/kubeadm-check-expiration.json";

/** kubeadm's certificate names and CA names, as `kubeadm certs check-expiration` sorts them. */
const KUBEADM_CERTIFICATES = [
  "admin.conf",
  "apiserver",
  "apiserver-etcd-client",
  "apiserver-kubelet-client",
  "controller-manager.conf",
  "etcd-healthcheck-client",
  "etcd-peer",
  "etcd-server",
  "front-proxy-client",
  "scheduler.conf",
  "super-admin.conf",
];
const KUBEADM_CAS = ["ca", "etcd-ca", "front-proxy-ca"];
const ETCD = ["etcd-ca", "etcd-server", "etcd-peer", "etcd-healthcheck-client"];

const names = (list: KubeadmCertificate[]) => list.map((c) => c.name);
const entry = (list: KubeadmCertificate[], name: string) => {
  const found = list.find((c) => c.name === name);
  assert.ok(found, `${name} is listed`);
  return found;
};
const MISSING = { expirationDate: null, residualTime: 0, externallyManaged: false, missing: true };

/** The node with these certificates replaced (same name). */
const withCerts = (base: NodeReport, ...certs: CertificateReport[]): NodeReport => ({
  ...base,
  certificates: base.certificates.map((c) => certs.find((r) => r.name === c.name) ?? c),
});
const unread = (name: string, status: "missing" | "unreadable"): CertificateReport => ({
  ...cert(name, 0),
  status,
  notBefore: null,
  notAfter: null,
  daysLeft: null,
  subject: null,
  issuer: null,
  sha256: null,
  error: status === "missing" ? "file not found" : "permission denied",
});

test("a 1.30 node with a local etcd: kubeadm's eleven certificates and three CAs, sorted, in kubeadm's shape", () => {
  const info = expirationInfo(node("m1", { version: "v1.30.4" }), NOW);
  assert.equal(info.kind, "CertificateExpirationInfo");
  assert.equal(info.apiVersion, "output.kubeadm.k8s.io/v1alpha3");
  assert.deepEqual(Object.keys(info), ["kind", "apiVersion", "certificates", "certificateAuthorities"]);
  assert.deepEqual(
    names(info.certificates),
    KUBEADM_CERTIFICATES,
    "no kubelet.conf, kubelet-client or -serving",
  );
  assert.deepEqual(names(info.certificateAuthorities), KUBEADM_CAS);
  const apiserver = entry(info.certificates, "front-proxy-client");
  assert.deepEqual(Object.keys(apiserver), [
    "name",
    "expirationDate",
    "residualTime",
    "externallyManaged",
    "caName",
    "missing",
  ]);
  assert.deepEqual(apiserver, {
    name: "front-proxy-client",
    expirationDate: new Date(NOW.getTime() + 300 * DAY).toISOString().replace(".000Z", "Z"),
    residualTime: 300 * 86_400,
    externallyManaged: false,
    caName: "front-proxy-ca",
    missing: false,
  });
  assert.equal(entry(info.certificates, "scheduler.conf").caName, "ca");
  assert.equal(entry(info.certificates, "etcd-peer").caName, "etcd-ca");
  for (const ca of info.certificateAuthorities) {
    assert.equal("caName" in ca, false, `${ca.name}: a CA has no caName`);
    assert.equal(ca.residualTime, 3000 * 86_400);
  }
});

test("the saved kubeadm output, byte for byte, from a report with its dates", () => {
  const text = readFileSync(FIXTURE, "utf8");
  const saved = JSON.parse(text) as CertificateExpirationInfo;
  // The fixture's clock: its residual times count from here.
  const at = new Date("2025-11-30T10:04:17Z");
  const expiry = new Map(
    [...saved.certificates, ...saved.certificateAuthorities].map((c) => [c.name, c.expirationDate]),
  );
  const base = node("joined", { version: "v1.30.4", absent: ["super-admin.conf"] });
  const report = withCerts(
    base,
    ...base.certificates
      .filter((c) => expiry.get(c.name))
      .map((c) => ({ ...c, notAfter: new Date(expiry.get(c.name)!) })),
  );
  const single: ScanReport = { scannedAt: at, clusters: [{ name: "prod", status: "ok", nodes: [report] }] };
  assert.equal(`${renderKubeadmJson(single)}\n`, text);
});

test("super-admin.conf: missing where absent from 1.29 (a joined node), not listed before, listed for an unknown version", () => {
  for (const version of ["v1.29.0", "v1.31.2", null]) {
    const info = expirationInfo(node("m2", { version, absent: ["super-admin.conf"] }), NOW);
    const superAdmin = entry(info.certificates, "super-admin.conf");
    assert.deepEqual(superAdmin, { name: "super-admin.conf", ...MISSING }, String(version));
    assert.deepEqual(Object.keys(superAdmin), [
      "name",
      "expirationDate",
      "residualTime",
      "externallyManaged",
      "missing",
    ]);
  }
  const old = expirationInfo(node("m3", { version: "v1.28.4" }), NOW);
  assert.deepEqual(
    names(old.certificates),
    KUBEADM_CERTIFICATES.filter((n) => n !== "super-admin.conf"),
  );
});

test("an external etcd: no etcd-ca and nothing it signs, even an apiserver-etcd-client.crt on disk", () => {
  const info = expirationInfo(node("legacy", { version: "v1.16.15", absent: ETCD }), NOW);
  assert.deepEqual(names(info.certificates), [
    "admin.conf",
    "apiserver",
    "apiserver-kubelet-client",
    "controller-manager.conf",
    "front-proxy-client",
    "scheduler.conf",
  ]);
  assert.deepEqual(names(info.certificateAuthorities), ["ca", "front-proxy-ca"]);
});

test("a local etcd whose CA is missing still lists the etcd certificates, the CA as missing", () => {
  const info = expirationInfo(
    withCerts(node("m1", { version: "v1.30.4" }), unread("etcd-ca", "missing")),
    NOW,
  );
  assert.deepEqual(entry(info.certificateAuthorities, "etcd-ca"), { name: "etcd-ca", ...MISSING });
  assert.equal(entry(info.certificates, "etcd-server").missing, false);
});

test("a missing or unreadable file reads as kubeadm's missing entry", () => {
  const info = expirationInfo(
    withCerts(
      node("m1", { version: "v1.30.4" }),
      unread("scheduler.conf", "missing"),
      unread("apiserver", "unreadable"),
      unread("ca", "missing"),
    ),
    NOW,
  );
  assert.deepEqual(entry(info.certificates, "scheduler.conf"), { name: "scheduler.conf", ...MISSING });
  assert.deepEqual(entry(info.certificates, "apiserver"), { name: "apiserver", ...MISSING });
  assert.deepEqual(entry(info.certificateAuthorities, "ca"), { name: "ca", ...MISSING });
  assert.deepEqual(names(info.certificates), KUBEADM_CERTIFICATES, "the order does not change");
});

test("residual time: whole seconds from the scan, truncated toward zero, negative once expired", () => {
  const at = (ms: number) => ({ ...cert("apiserver", 0), notAfter: new Date(NOW.getTime() + ms) });
  const residual = (ms: number) =>
    entry(
      expirationInfo(withCerts(node("m1", { version: "v1.30.4" }), at(ms)), NOW).certificates,
      "apiserver",
    ).residualTime;
  assert.equal(residual(2_900), 2);
  assert.equal(residual(-1_500), -1);
  assert.equal(residual(-3 * DAY), -3 * 86_400);
  assert.equal(Object.is(residual(-400), 0), true, "never -0");
});

test("several nodes: a List with one item per node, annotated with its cluster and node; one not scanned has empty lists and says why", () => {
  const report: ScanReport = {
    scannedAt: NOW,
    clusters: [
      { name: "prod", status: "ok", nodes: [node("m1", { version: "v1.30.4" })] },
      {
        name: "lab",
        status: "unreachable",
        nodes: [node("l1", { version: "v1.28.4" }), node("l2", { unreachable: "connect ECONNREFUSED" })],
      },
    ],
  };
  const text = renderKubeadmJson(report);
  assert.match(text, /^\{\n {4}"kind": "List",\n {4}"apiVersion": "v1",\n {4}"items": \[\n/);
  const list = JSON.parse(text) as { kind: string; apiVersion: string; items: CertificateExpirationInfo[] };
  assert.deepEqual(Object.keys(list), ["kind", "apiVersion", "items"]);
  assert.deepEqual(
    list.items.map((item) => item.metadata?.annotations),
    [
      { [ANNOTATIONS.cluster]: "prod", [ANNOTATIONS.node]: "m1" },
      { [ANNOTATIONS.cluster]: "lab", [ANNOTATIONS.node]: "l1" },
      { [ANNOTATIONS.cluster]: "lab", [ANNOTATIONS.node]: "l2", [ANNOTATIONS.error]: "connect ECONNREFUSED" },
    ],
  );
  assert.deepEqual(Object.keys(list.items[0]!), [
    "kind",
    "apiVersion",
    "metadata",
    "certificates",
    "certificateAuthorities",
  ]);
  assert.equal(list.items[0]!.certificates.length, 11);
  assert.equal(list.items[1]!.certificates.length, 10);
  assert.deepEqual([list.items[2]!.certificates, list.items[2]!.certificateAuthorities], [[], []]);

  const one = JSON.parse(renderKubeadmJson({ scannedAt: NOW, clusters: [report.clusters[0]!] }));
  assert.equal(one.kind, "CertificateExpirationInfo", "one node: the bare object");
  assert.equal("metadata" in one, false);
});
