import { test } from "node:test";
import assert from "node:assert/strict";
import { exitCode, renderJson, renderTable } from "../../src/present/report.js";
import type { NodeReport, ScanReport, Status } from "../../src/core/report/types.js";

const now = new Date("2026-11-28T09:00:00Z");
const node = (status: Status, certStatus = status): NodeReport => ({
  name: "n",
  host: "10.0.0.1",
  port: 22,
  status,
  reachable: status !== "unreachable",
  ...(status === "unreachable" ? { error: "connection refused" } : {}),
  certificates:
    status === "unreachable"
      ? []
      : [
          {
            name: "apiserver",
            path: "/etc/kubernetes/pki/apiserver.crt",
            kind: "certificate",
            status: certStatus as never,
            ca: "ca",
            subject: "CN=kube-apiserver",
            issuer: "CN=kubernetes",
            serialNumber: "01",
            notBefore: new Date("2025-11-28T09:00:00Z"),
            notAfter: new Date("2026-12-01T09:00:00Z"),
            daysLeft: 3,
            isCA: false,
            sans: [],
            keyAlgorithm: "RSA-2048",
            sha256: "ab".repeat(32),
          },
        ],
  findings: [],
});
const report = (...statuses: Status[]): ScanReport => ({
  scannedAt: now,
  clusters: [{ name: "c", status: "ok", nodes: statuses.map((s) => node(s)) }],
});

test("exit codes follow monitoring plugins", () => {
  assert.equal(exitCode(report("ok")), 0);
  assert.equal(exitCode(report("ok", "warning")), 1);
  assert.equal(exitCode(report("warning", "critical")), 2);
  assert.equal(exitCode(report("expired")), 2);
  assert.equal(exitCode(report("not-yet-valid")), 2);
  assert.equal(exitCode(report("unreachable")), 3);
  assert.equal(exitCode(report("missing", "warning")), 3);
  assert.equal(exitCode(report("unreadable", "expired")), 2, "a known outage outranks an unknown");
});

test("JSON dates are ISO-8601 UTC", () => {
  const parsed = JSON.parse(renderJson(report("warning")));
  assert.equal(parsed.scannedAt, "2026-11-28T09:00:00.000Z");
  assert.equal(parsed.clusters[0].nodes[0].certificates[0].notAfter, "2026-12-01T09:00:00.000Z");
});

test("the table groups by cluster and node and shows the columns", () => {
  const text = renderTable(report("critical", "unreachable"), "UTC");
  assert.match(text, /cluster c — OK/);
  assert.match(text, /CERTIFICATE\s+EXPIRES\s+RESIDUAL TIME\s+CA\s+STATUS/);
  assert.match(text, /apiserver\s+2026-12-01 09:00 UTC\s+3d\s+ca\s+CRITICAL/);
  assert.match(text, /node n \(10\.0\.0\.1:22\) — UNREACHABLE\n\s+not scanned: connection refused/);
});

test("an IPv6 node's port is told apart from its address", () => {
  const v6 = report("ok");
  v6.clusters[0]!.nodes[0]!.host = "fd00::1";
  assert.match(renderTable(v6, "UTC"), /node n \(\[fd00::1\]:22\) — OK/);
});
