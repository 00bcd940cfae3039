import { test } from "node:test";
import assert from "node:assert/strict";
import { rankConcerns } from "../../src/core/alerts/rank.js";
import type { ClusterReport, Finding, NodeReport } from "../../src/core/report/types.js";
import { APISERVER_DRIFT, certificateAt } from "../fixtures/certificate.js";

const NOW = new Date("2026-11-28T09:00:00Z");

function cluster(findings: Finding[]): ClusterReport {
  const node: NodeReport = {
    name: "m1",
    host: "m1.example",
    port: 22,
    status: "critical",
    reachable: true,
    certificates: [certificateAt(NOW, "apiserver", "ok", 365)],
    findings,
    apiserver: {
      port: 6443,
      reachable: true,
      sha256: "the-old-one",
      notAfter: new Date(NOW.getTime() + 86_400_000),
      status: "critical",
    },
  };
  return { name: "prod", status: "critical", nodes: [node] };
}

test("the served certificate is a concern when the judge found drift, not on a sha256 comparison of its own", () => {
  assert.deepEqual(
    rankConcerns(cluster([APISERVER_DRIFT]), { includeOk: false }).map((c) => [c.label, c.status]),
    [["m1/apiserver (served)", "critical"]],
  );
  assert.deepEqual(rankConcerns(cluster([]), { includeOk: false }), []);
});
