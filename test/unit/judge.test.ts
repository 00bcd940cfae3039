import { test } from "node:test";
import assert from "node:assert/strict";
import { CertificateCache } from "../../src/core/certs/certificate.js";
import { CATALOGUE } from "../../src/core/kubeadm/catalogue.js";
import {
  certificateStatus,
  judgeNode,
  unreachableNode,
  type JudgeContext,
} from "../../src/core/scan/judge.js";
import type { RawEntry, RawNodeRead } from "../../src/core/scan/script.js";
import { worstOf } from "../../src/core/report/types.js";
import { issueCert, newKey, type LabCert } from "../lab/pki.js";

const DAY = 86_400_000;
const now = new Date("2026-06-01T12:00:00Z");
const at = (days: number) => new Date(now.getTime() + days * DAY);
const ctx = (): JudgeContext => ({
  now,
  thresholds: { warningDays: 30, criticalDays: 7 },
  cache: new CertificateCache(),
});

const key = await newKey("ecdsa");
const ca = await issueCert({
  subject: "CN=kubernetes",
  key,
  isCA: true,
  notBefore: at(-400),
  notAfter: at(3000),
});
const otherCa = await issueCert({
  subject: "CN=kubernetes",
  key: await newKey("ecdsa"),
  isCA: true,
  notBefore: at(-400),
  notAfter: at(3000),
});
const leaf = (days: number, issuer: LabCert = ca, notBefore = at(-300)) =>
  issueCert({
    subject: "CN=kube-apiserver",
    key,
    issuer,
    notBefore,
    notAfter: at(days),
    sans: { dns: ["kubernetes"], ip: ["10.96.0.1"] },
  });

const pem = (path: string, cert: LabCert): RawEntry => ({
  state: "content",
  path,
  format: "pem",
  body: cert.pem,
});

/** A node with every non-etcd entry present and healthy, plus overrides. */
async function read(
  overrides: Record<string, RawEntry | undefined> = {},
  localEtcd = false,
): Promise<RawNodeRead> {
  const healthy = await leaf(200);
  const entries = new Map<string, RawEntry>();
  for (const entry of CATALOGUE) {
    if (entry.required === "local-etcd" || entry.required === "never") continue;
    entries.set(entry.name, entry.isCA ? pem(entry.path, ca) : pem(entry.path, healthy));
  }
  entries.set("front-proxy-ca", pem("pki/front-proxy-ca.crt", ca));
  for (const [name, raw] of Object.entries(overrides)) {
    if (raw) entries.set(name, raw);
    else entries.delete(name);
  }
  return { localEtcd, entries, kubeadmVersion: "v1.30.4" };
}

const judge = async (r: RawNodeRead, served?: Parameters<typeof judgeNode>[0]["served"]) =>
  judgeNode(
    { name: "n1", host: "10.0.0.1", port: 22, role: "control-plane", read: r, ...(served ? { served } : {}) },
    ctx(),
  );

test("status thresholds: warning and critical are inclusive, expiry is at notAfter", async () => {
  const c = ctx();
  const s = (notAfter: Date, notBefore = at(-10)) => certificateStatus({ notBefore, notAfter }, c);
  assert.equal(s(at(31)), "ok");
  assert.equal(s(at(30)), "warning");
  assert.equal(s(at(7.5)), "warning");
  assert.equal(s(at(7)), "critical");
  assert.equal(s(new Date(now.getTime() + 1)), "critical");
  assert.equal(s(now), "expired");
  assert.equal(s(at(-1)), "expired");
  assert.equal(s(at(100), at(1)), "not-yet-valid");
});

test("a node's status is the worst of its certificates; time-bound statuses outrank unknowns", () => {
  assert.equal(worstOf(["ok", "warning"]), "warning");
  assert.equal(worstOf(["unreadable", "warning"]), "unreadable");
  assert.equal(worstOf(["unreachable", "critical"]), "critical");
  assert.equal(worstOf(["expired", "not-yet-valid", "critical"]), "expired");
  assert.equal(worstOf([]), "ok");
});

test("a healthy node reports every certificate with its fields", async () => {
  const report = await judge(await read());
  assert.equal(report.status, "ok");
  assert.deepEqual(report.findings, []);
  const apiserver = report.certificates.find((c) => c.name === "apiserver")!;
  assert.equal(apiserver.daysLeft, 200);
  assert.deepEqual(apiserver.sans, ["kubernetes", "10.96.0.1"]);
  assert.equal(apiserver.keyAlgorithm, "ECDSA-P-256");
  assert.equal(apiserver.subject, "CN=kube-apiserver");
  assert.equal(apiserver.issuer, "CN=kubernetes");
  assert.match(apiserver.sha256!, /^[0-9a-f]{64}$/);
  assert.equal(report.certificates.find((c) => c.name === "ca")!.isCA, true);
  assert.equal(report.kubeadmVersion, "v1.30.4");
});

test("the origin story: an expired apiserver-kubelet-client makes the node expired", async () => {
  const r = await read({
    "apiserver-kubelet-client": pem("pki/apiserver-kubelet-client.crt", await leaf(-3)),
  });
  const report = await judge(r);
  assert.equal(report.status, "expired");
  const c = report.certificates.find((x) => x.name === "apiserver-kubelet-client")!;
  assert.equal(c.status, "expired");
  assert.equal(c.daysLeft, -3);
});

test("serverTLSBootstrap: kubelet-server-current.pem is judged; the stale kubelet.crt is superseded, not a concern", async () => {
  const stale = pem("/var/lib/kubelet/pki/kubelet.crt", await leaf(-40, ca, at(-405)));
  const alone = await judge(await read({ "kubelet-serving": stale }));
  assert.equal(
    alone.certificates.find((c) => c.name === "kubelet-serving")!.status,
    "expired",
    "in use: expired",
  );
  assert.equal(alone.status, "expired");

  const rotated = pem("/var/lib/kubelet/pki/kubelet-server-current.pem", await leaf(20));
  const report = await judge(await read({ "kubelet-serving": stale, "kubelet-server": rotated }));
  const byName = new Map(report.certificates.map((c) => [c.name, c]));
  assert.equal(byName.get("kubelet-serving")!.status, "superseded");
  assert.equal(byName.get("kubelet-serving")!.daysLeft, -40, "its dates are still reported");
  assert.equal(byName.get("kubelet-server")!.status, "warning", "the one in use is judged as usual");
  assert.equal(report.status, "warning", "the superseded file makes the node no worse");

  // An unreadable rotated file supersedes nothing: kubelet.crt may be what the kubelet serves.
  const broken = await judge(
    await read({
      "kubelet-serving": stale,
      "kubelet-server": {
        state: "unreadable",
        path: "/var/lib/kubelet/pki/kubelet-server-current.pem",
        reason: "denied",
      },
    }),
  );
  assert.equal(broken.certificates.find((c) => c.name === "kubelet-serving")!.status, "expired");
  assert.equal(worstOf(["superseded"]), "ok", "a status of its own only for the file");
});

test("missing is reported only where the file should exist", async () => {
  const noEtcd = await judge(
    await read({
      "etcd-ca": { state: "missing", path: "pki/etcd/ca.crt" },
      "super-admin.conf": { state: "missing", path: "super-admin.conf" },
    }),
  );
  assert.equal(noEtcd.status, "ok", "external etcd and a node where kubeadm init did not run");
  assert.ok(!noEtcd.certificates.some((c) => c.name === "etcd-ca" || c.name === "super-admin.conf"));
  const localEtcd = await judge(
    await read({ "etcd-ca": { state: "missing", path: "pki/etcd/ca.crt" } }, true),
  );
  assert.equal(localEtcd.status, "missing");
  assert.equal(localEtcd.certificates.find((c) => c.name === "etcd-ca")!.error, "file not found");
  const noApiserver = await judge(await read({ apiserver: { state: "missing", path: "pki/apiserver.crt" } }));
  assert.equal(noApiserver.status, "missing");
});

test("unreadable files carry the reason and the scan goes on", async () => {
  const report = await judge(
    await read({
      apiserver: { state: "unreadable", path: "pki/apiserver.crt", reason: "Permission denied" },
      "front-proxy-client": {
        state: "content",
        path: "pki/front-proxy-client.crt",
        format: "der",
        body: Buffer.from("garbage!").toString("base64"),
      },
    }),
  );
  assert.equal(report.status, "unreadable");
  assert.equal(report.certificates.find((c) => c.name === "apiserver")!.error, "Permission denied");
  assert.match(report.certificates.find((c) => c.name === "front-proxy-client")!.error!, /not a certificate/);
  assert.equal(report.certificates.find((c) => c.name === "admin.conf")!.status, "ok");
});

test("a bundle counts by its first certificate", async () => {
  const first = await leaf(5);
  const r = await read({
    apiserver: { state: "content", path: "pki/apiserver.crt", format: "pem", body: first.pem + ca.pem },
  });
  assert.equal((await judge(r)).certificates.find((c) => c.name === "apiserver")!.status, "critical");
});

test("a leaf not signed by the node's CA is a finding", async () => {
  const report = await judge(await read({ "apiserver-kubelet-client": pem("x", await leaf(200, otherCa)) }));
  const finding = report.findings.find((f) => f.code === "not-signed-by-ca")!;
  assert.equal(finding.certificate, "apiserver-kubelet-client");
  assert.equal(finding.severity, "critical");
  assert.equal(report.findings.length, 1);
});

test("a CA that expires before a renewed leaf would is a finding", async () => {
  const shortCa = await issueCert({
    subject: "CN=kubernetes",
    key,
    isCA: true,
    notBefore: at(-3000),
    notAfter: at(100),
  });
  const report = await judge(await read({ ca: pem("pki/ca.crt", shortCa) }));
  const finding = report.findings.find((f) => f.code === "ca-expires-before-renewal")!;
  assert.equal(finding.certificate, "ca");
  assert.equal(finding.severity, "warning");
  assert.match(finding.advice, /Rotate the CA/);
});

test("an embedded kubelet.conf is a finding, and kubelet-client is then not required", async () => {
  const r = await read({
    "kubelet.conf": {
      state: "content",
      path: "kubelet.conf",
      format: "embedded",
      body: (await leaf(200)).pem,
    },
    "kubelet-client": { state: "missing", path: "/var/lib/kubelet/pki/kubelet-client-current.pem" },
  });
  const report = await judge(r);
  assert.equal(report.status, "ok");
  assert.ok(!report.certificates.some((c) => c.name === "kubelet-client"));
  assert.equal(report.findings[0]!.code, "kubelet-conf-embedded");
  // Its advice is what a renewal of the node does about it, for that node's kubeadm.
  assert.match(
    report.findings[0]!.advice,
    /^kubelet\.conf on this node embeds a client certificate that never rotates: a renewal of this node points its client-certificate and client-key at \/var\/lib\/kubelet\/pki\/kubelet-client-current\.pem, which the kubelet rotates, and restarts the kubelet once its certificate is within the warning threshold, while .* is valid/,
  );
  const old = await judge({ ...r, kubeadmVersion: "v1.12.10" });
  assert.match(
    old.findings[0]!.advice,
    /^kubelet\.conf on this node embeds a one-year client certificate that kubeadm v1\.12\.10 never renews: a renewal of this node moves it aside and regenerates it once its certificate is within the warning threshold \(`kubeadm alpha phase kubeconfig kubelet --node-name NODE`\)/,
  );
});

test("a kubeconfig that points at another entry's file is not reported twice", async () => {
  const shared = await leaf(200);
  const r = await read({
    "kubelet.conf": pem("/var/lib/kubelet/pki/kubelet-client-current.pem", shared),
    "kubelet-client": pem("/var/lib/kubelet/pki/kubelet-client-current.pem", shared),
  });
  const report = await judge(r);
  assert.ok(!report.certificates.some((c) => c.name === "kubelet.conf"));
  assert.ok(report.certificates.some((c) => c.name === "kubelet-client"));
});

test("drift: the apiserver serves an older certificate than the file on disk", async () => {
  const served = await leaf(3);
  const report = await judge(await read(), { port: 6443, chain: [served.der] });
  const finding = report.findings.find((f) => f.code === "apiserver-drift")!;
  assert.equal(finding.severity, "critical");
  assert.match(finding.message, /renewed but not restarted/);
  assert.equal(report.apiserver!.sha256!.length, 64);
  assert.equal(report.apiserver!.daysLeft, 3);
  assert.equal(report.status, "critical", "what is served counts toward the node's status");
});

test("no drift when the served certificate is the file on disk", async () => {
  const disk = await leaf(200);
  const report = await judge(await read({ apiserver: pem("pki/apiserver.crt", disk) }), {
    port: 6443,
    chain: [disk.der, ca.der],
  });
  assert.deepEqual(report.findings, []);
  assert.equal(report.apiserver!.status, "ok");
});

test("a closed apiserver port is a finding, not an error", async () => {
  const report = await judge(await read(), { port: 6443, error: "connection refused" });
  assert.equal(report.status, "ok");
  assert.equal(report.apiserver!.reachable, false);
  assert.equal(report.findings[0]!.code, "apiserver-unreachable");
  assert.equal(report.findings[0]!.severity, "info");
});

test("an unreachable node has no certificates and says why", () => {
  const report = unreachableNode({ name: "n1", host: "10.0.0.1", role: "worker" }, 22, "connection refused");
  assert.equal(report.status, "unreachable");
  assert.equal(report.role, "worker");
  assert.equal(report.reachable, false);
  assert.equal(report.error, "connection refused");
});

test("each distinct certificate is decoded once", async () => {
  const c = ctx();
  const disk = await leaf(200);
  for (let i = 0; i < 5; i++) c.cache.get(disk.der);
  assert.equal(c.cache.decoded, 1);
});

test("subject alternative names parse from OpenSSL's text form", async () => {
  const { subjectAltNames } = await import("../../src/core/certs/certificate.js");
  assert.deepEqual(subjectAltNames("DNS:kubernetes, IP Address:10.96.0.1, IP Address:FD00:0:0:0:0:0:0:1"), [
    "kubernetes",
    "10.96.0.1",
    "FD00:0:0:0:0:0:0:1",
  ]);
  assert.deepEqual(subjectAltNames('DNS:"odd, name", email:a@b.c'), ["odd, name", "a@b.c"]);
  assert.deepEqual(subjectAltNames(undefined), []);
});

test("multi-part names read like 'O=…, CN=…'", async () => {
  const client = await issueCert({
    subject: "O=system:nodes, CN=system:node:n1",
    key,
    issuer: ca,
    notBefore: at(-1),
    notAfter: at(300),
  });
  const cert = ctx().cache.get(client.der);
  assert.equal(cert.subject, "O=system:nodes, CN=system:node:n1");
  assert.equal(cert.isCA, false);
  assert.equal(cert.notAfter.getTime(), client.notAfter.getTime());
});
