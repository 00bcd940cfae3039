import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { renderOpenMetrics } from "../../src/present/openmetrics.js";
import { SCAN_GAUGES } from "../../src/present/metrics.js";
import { Metrics } from "../../src/adapters/http/metrics.js";
import { CATALOGUE } from "../../src/core/kubeadm/catalogue.js";
import type { ScanReport } from "../../src/core/report/types.js";
import { cert, node, NOW } from "../fixtures/prod-cluster.js";
import { parseExposition } from "../lab/exposition.js";

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);
/**
 * A century from NOW, or two days before it: /metrics judges expiry at the scrape (the wall clock),
 * and no wall clock this test meets falls between the two.
 */
const CENTURY = 36_500;
const days = {
  ...Object.fromEntries(CATALOGUE.map((e) => [e.name, CENTURY])),
  "apiserver-kubelet-client": -2,
};

/** Two clusters: an expired certificate, a node not scanned, and a path no label value can hold raw. */
function report(): ScanReport {
  const odd = { ...cert("apiserver", CENTURY, '/srv/k8s "blue"\\dir\nnext'), serialNumber: "ff" };
  const m1 = node("m1", { version: "v1.30.4", days });
  const m2 = { ...node("m2", { version: "v1.30.4" }), certificates: [odd] };
  return {
    scannedAt: NOW,
    clusters: [
      { name: "prod", status: "expired", nodes: [m1, node("m3", { unreachable: "connect ETIMEDOUT" })] },
      { name: "lab", status: "ok", nodes: [m2] },
    ],
  };
}

test("the scan's gauges with /metrics' names, help and labels, read back by a strict parser", () => {
  const text = `${renderOpenMetrics(report())}\n`;
  const families = parseExposition(text);
  assert.deepEqual(
    [...families.keys()],
    SCAN_GAUGES.map((g) => g.name),
  );
  for (const gauge of SCAN_GAUGES) {
    assert.equal(families.get(gauge.name)!.type, "gauge");
    assert.equal(families.get(gauge.name)!.help, gauge.help);
  }
  const notAfter = families.get("x509_cert_not_after")!.samples;
  const expired = families.get("x509_cert_expired")!.samples;
  const kubeletClient = notAfter.find(
    (s) => s.labels.node === "m1" && s.labels.name === "apiserver-kubelet-client",
  );
  assert.deepEqual(kubeletClient, {
    labels: {
      cluster: "prod",
      node: "m1",
      name: "apiserver-kubelet-client",
      status: "expired",
      filepath: "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
      filename: "apiserver-kubelet-client.crt",
      subject_CN: "apiserver-kubelet-client",
      issuer_CN: "kubernetes",
      serial_number: "1",
    },
    value: seconds(new Date(NOW.getTime() - 2 * 86_400_000)),
  });
  assert.deepEqual(
    expired.filter((s) => s.value === 1).map((s) => `${s.labels.node}/${s.labels.name}`),
    ["m1/apiserver-kubelet-client"],
  );
  const admin = notAfter.find((s) => s.labels.name === "admin.conf")!;
  assert.equal(admin.labels.embedded_kind, "user");
  const odd = notAfter.find((s) => s.labels.node === "m2")!;
  assert.equal(odd.labels.filepath, '/srv/k8s "blue"\\dir\nnext/pki/apiserver.crt', "escaped and read back");
  assert.equal(odd.labels.serial_number, "255");
  assert.deepEqual(
    families.get("certs_bot_node_up")!.samples.map((s) => [s.labels.node, s.value]),
    [
      ["m1", 1],
      ["m3", 0],
      ["m2", 1],
    ],
  );
  assert.deepEqual(families.get("certs_bot_last_scan_timestamp_seconds")!.samples, [
    { labels: { cluster: "prod" }, value: seconds(NOW) },
    { labels: { cluster: "lab" }, value: seconds(NOW) },
  ]);
});

test("a textfile for node_exporter: no timestamps, one line per sample, # EOF last", () => {
  const lines = renderOpenMetrics(report()).split("\n");
  assert.equal(lines.at(-1), "# EOF");
  for (const line of lines.filter((l) => !l.startsWith("#"))) {
    assert.match(line, /^[a-z_0-9]+(\{.*\})? -?\d+$/, "a value and no timestamp");
  }
});

test("each family is exactly what /metrics serves for the same scan", async () => {
  const scanned = report();
  const metrics = new Metrics({
    scans: async () =>
      scanned.clusters.map((cluster) => ({
        cluster: cluster.name,
        scannedAt: scanned.scannedAt,
        durationMs: 1000,
        report: cluster,
      })),
    jobCounts: async () => ({}),
    readiness: {},
    logger: pino({ level: "silent" }),
  });
  // Our text cut into its families: each from its # HELP line up to the next one (or # EOF).
  const ours = new Map(
    renderOpenMetrics(scanned)
      .replace(/\n# EOF$/, "")
      .split(/\n(?=# HELP )/)
      .map((block) => [block.split(" ")[2], block]),
  );
  assert.equal(ours.size, SCAN_GAUGES.length);
  for (const { name } of SCAN_GAUGES) {
    const served = await metrics.registry.getSingleMetricAsString(name);
    assert.equal(ours.get(name), served.trimEnd(), name);
  }
});
