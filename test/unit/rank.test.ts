import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compareClusters,
  rankConcerns,
  type Concern,
  type RankedCluster,
} from "../../src/core/alerts/rank.js";
import type { CertificateReport, ClusterReport, Status } from "../../src/core/report/types.js";

const day = (n: number): Date => new Date(Date.UTC(2026, 11, n));
const concern = (status: Status, notAfter: Date | null): Concern => ({
  status,
  label: "n/c",
  notBefore: null,
  notAfter,
});

test("clusters worst first: status, then the soonest expiry, then the name; never scanned last", () => {
  const clusters: RankedCluster[] = [
    { name: "unscanned-b", status: null },
    { name: "ok-late", status: "ok", worst: concern("ok", day(20)) },
    { name: "warn-b", status: "warning", worst: concern("warning", day(5)) },
    { name: "unscanned-a", status: null },
    { name: "warn-a", status: "warning", worst: concern("warning", day(5)) },
    { name: "warn-soon", status: "warning", worst: concern("warning", day(2)) },
    { name: "expired", status: "expired", worst: concern("expired", day(1)) },
    { name: "down", status: "unreachable", worst: concern("unreachable", null) },
    { name: "ok-no-date", status: "ok" },
  ];
  assert.deepEqual(
    clusters.sort(compareClusters).map((c) => c.name),
    [
      "expired",
      "down",
      "warn-soon",
      "warn-a",
      "warn-b",
      "ok-late",
      "ok-no-date",
      "unscanned-a",
      "unscanned-b",
    ],
  );
});

test("a cluster's concerns in the same order, by label", () => {
  const cert = (name: string, status: Status, notAfter: Date): CertificateReport =>
    ({ name, status, notBefore: null, notAfter }) as CertificateReport;
  const report = {
    name: "c",
    status: "ok",
    nodes: [
      {
        name: "n",
        reachable: true,
        certificates: [
          cert("b", "warning", day(9)),
          cert("a", "warning", day(9)),
          cert("x", "critical", day(12)),
        ],
      },
    ],
  } as unknown as ClusterReport;
  assert.deepEqual(
    rankConcerns(report, { includeOk: false }).map((c) => c.label),
    ["n/x", "n/a", "n/b"],
  );
});
