import { test } from "node:test";
import assert from "node:assert/strict";
import { commonName, decimalSerial, scanSamples } from "../../src/present/metrics.js";
import { metricsPort } from "../../src/adapters/http/metrics.js";
import { OperatorError } from "../../src/config/operator-error.js";
import type { CertificateReport, NodeReport, StoredScan } from "../../src/core/report/types.js";

const now = new Date("2026-11-28T09:00:00Z");

const cert = (over: Partial<CertificateReport>): CertificateReport => ({
  name: "apiserver-kubelet-client",
  path: "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
  kind: "certificate",
  status: "expired",
  ca: "ca",
  subject: "O=kubeadm:cluster-admins, CN=kube-apiserver-kubelet-client",
  issuer: "CN=kubernetes",
  serialNumber: "0a1b",
  notBefore: new Date("2025-11-25T09:00:00Z"),
  notAfter: new Date("2026-11-25T09:00:00Z"),
  daysLeft: -3,
  isCA: false,
  sans: [],
  keyAlgorithm: "RSA-2048",
  sha256: "ab",
  ...over,
});

const node = (over: Partial<NodeReport>): NodeReport => ({
  name: "cp-1",
  host: "10.0.0.1",
  port: 22,
  status: "expired",
  reachable: true,
  certificates: [],
  findings: [],
  ...over,
});

const scan = (nodes: NodeReport[]): StoredScan => ({
  cluster: "prod",
  scannedAt: new Date("2026-11-28T08:30:00Z"),
  durationMs: 1200,
  report: { name: "prod", status: "expired", nodes },
});

test("a certificate gives the exporter's three series with its labels and certs-bot's", () => {
  const samples = scanSamples([scan([node({ certificates: [cert({})] })])], now);
  const labels = {
    cluster: "prod",
    node: "cp-1",
    name: "apiserver-kubelet-client",
    status: "expired",
    filepath: "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
    filename: "apiserver-kubelet-client.crt",
    subject_CN: "kube-apiserver-kubelet-client",
    issuer_CN: "kubernetes",
    serial_number: "2587",
  };
  assert.deepEqual(samples.notAfter, [{ labels, value: Date.parse("2026-11-25T09:00:00Z") / 1000 }]);
  assert.deepEqual(samples.notBefore, [{ labels, value: Date.parse("2025-11-25T09:00:00Z") / 1000 }]);
  assert.deepEqual(samples.expired, [{ labels, value: 1 }]);
  assert.deepEqual(samples.lastScan, [
    { labels: { cluster: "prod" }, value: Date.parse("2026-11-28T08:30:00Z") / 1000 },
  ]);
});

test("expired is judged at the scrape, not at the scan", () => {
  const valid = cert({ status: "critical", notAfter: new Date("2026-11-28T10:00:00Z") });
  const at = (iso: string) => scanSamples([scan([node({ certificates: [valid] })])], new Date(iso));
  assert.equal(at("2026-11-28T09:59:59Z").expired[0]!.value, 0);
  assert.equal(at("2026-11-28T10:00:00Z").expired[0]!.value, 1);
});

test("a superseded file (kubelet.crt beside kubelet-server-current.pem) is not exported: no alert for a file nobody uses", () => {
  const stale = cert({
    name: "kubelet-serving",
    path: "/var/lib/kubelet/pki/kubelet.crt",
    status: "superseded",
  });
  const samples = scanSamples([scan([node({ certificates: [stale, cert({})] })])], now);
  assert.deepEqual(
    samples.expired.map((s) => s.labels.name),
    ["apiserver-kubelet-client"],
  );
  assert.equal(samples.notAfter.length, 1);
  assert.deepEqual(samples.readErrors, [{ labels: { cluster: "prod", node: "cp-1" }, value: 0 }]);
});

test("a kubeconfig is labelled as the exporter labels an embedded user certificate", () => {
  const admin = cert({
    name: "admin.conf",
    path: "/etc/kubernetes/admin.conf",
    kind: "kubeconfig",
    subject: "O=kubeadm:cluster-admins, CN=kubernetes-admin",
  });
  const [sample] = scanSamples([scan([node({ certificates: [admin] })])], now).notAfter;
  assert.equal(sample!.labels.embedded_kind, "user");
  assert.equal(sample!.labels.embedded_key, "kubernetes-admin");
  assert.equal(sample!.labels.filename, "admin.conf");
});

test("unread files count as read errors; they and unreachable nodes give no certificate series", () => {
  const unread = cert({ name: "front-proxy-client", status: "unreadable", notAfter: null, notBefore: null });
  const missing = cert({ name: "sa", status: "missing", notAfter: null, notBefore: null });
  const samples = scanSamples(
    [
      scan([
        node({ certificates: [unread, missing, cert({})] }),
        node({ name: "cp-2", reachable: false, status: "unreachable" }),
      ]),
    ],
    now,
  );
  assert.equal(samples.notAfter.length, 1);
  assert.deepEqual(samples.readErrors, [{ labels: { cluster: "prod", node: "cp-1" }, value: 2 }]);
  assert.deepEqual(samples.nodeUp, [
    { labels: { cluster: "prod", node: "cp-1" }, value: 1 },
    { labels: { cluster: "prod", node: "cp-2" }, value: 0 },
  ]);
});

test("apiserver drift comes from the judge's finding", () => {
  const drift = node({
    findings: [{ code: "apiserver-drift", severity: "warning", message: "m", advice: "a" }],
  });
  const samples = scanSamples([scan([drift, node({ name: "cp-2" })])], now);
  assert.deepEqual(
    samples.apiserverDrift.map((s) => [s.labels.node, s.value]),
    [
      ["cp-1", 1],
      ["cp-2", 0],
    ],
  );
});

test("CN and serial number parsing", () => {
  assert.equal(commonName("C=DE, O=a, CN=b"), "b");
  assert.equal(commonName("O=a"), undefined);
  assert.equal(commonName(null), undefined);
  assert.equal(decimalSerial("ff"), "255");
  assert.equal(decimalSerial(""), undefined);
});

test("METRICS_PORT: default 9464, 0 turns the listener off, anything else but a port is refused", () => {
  assert.equal(metricsPort({}), 9464);
  assert.equal(metricsPort({ METRICS_PORT: "" }), 9464);
  assert.equal(metricsPort({ METRICS_PORT: "0" }), 0);
  assert.equal(metricsPort({ METRICS_PORT: "9100" }), 9100);
  for (const bad of ["http", "-1", "65536", "9.5"]) {
    assert.throws(() => metricsPort({ METRICS_PORT: bad }), OperatorError, bad);
  }
});
