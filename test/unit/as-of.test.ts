// A stored scan as it stands now (core/scan/as-of.ts): a certificate past its notAfter since the
// scan is expired, its node and cluster with it; nothing else is judged again, and a scan with
// nothing expired since is returned as it is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { allAsOf, asOf } from "../../src/core/scan/as-of.js";
import type { StoredScan } from "../../src/core/report/types.js";
import { cert, node } from "../fixtures/stored-scan.js";

const HOUR = 3_600_000;
const SCANNED = new Date("2026-11-28T09:00:00Z");
const at = (hours: number) => new Date(SCANNED.getTime() + hours * HOUR);

/** One node m1: a critical apiserver with 3 h left at the scan, a superseded file past its date, an ok front-proxy. */
function scanOf(): StoredScan {
  const apiserver = cert("apiserver", 3 / 24, SCANNED);
  const old = { ...cert("kubelet", -2, SCANNED), status: "superseded" as const };
  const proxy = cert("front-proxy-client", 200, SCANNED);
  const m1 = { ...node("m1", [apiserver, old, proxy]), status: "critical" as const };
  return {
    cluster: "lab",
    scannedAt: SCANNED,
    durationMs: 900,
    report: { name: "lab", status: "critical", nodes: [m1, node("m2", [cert("apiserver", 200, SCANNED)])] },
  };
}

test("nothing expired since the scan: the very same scan", () => {
  const scan = scanOf();
  assert.equal(asOf(scan, at(1)), scan);
  assert.equal(asOf(scan, at(2.9)), scan);
});

test("a certificate past its notAfter is expired, with its days left now; its node and cluster are expired", () => {
  const scan = scanOf();
  const before = structuredClone(scan);
  const now = asOf(scan, at(30));
  assert.notEqual(now, scan);
  const [m1, m2] = now.report.nodes;
  assert.deepEqual(
    m1!.certificates.map((c) => [c.name, c.status, c.daysLeft]),
    [
      ["apiserver", "expired", -1],
      ["kubelet", "superseded", -2],
      ["front-proxy-client", "ok", 200],
    ],
    "only the critical one turns; a superseded file is never warned about, and days left of the rest stay the scan's",
  );
  assert.equal(m1!.status, "expired");
  assert.equal(m2, scan.report.nodes[1], "a node with nothing expired is the scan's own");
  assert.equal(now.report.status, "expired");
  assert.equal(now.scannedAt, scan.scannedAt, "still the scan of its time");
  assert.deepEqual(scan, before, "the stored scan is not changed");
});

test("the scan as of now is one object until the next certificate expires", () => {
  const scan = scanOf();
  const first = asOf(scan, at(4));
  assert.equal(asOf(scan, at(5)), first);
  assert.equal(asOf(scan, at(200 * 24 - 1)), first, "front-proxy-client and m2's apiserver still ahead");
  const later = asOf(scan, at(200 * 24 + 1));
  assert.notEqual(later, first);
  assert.deepEqual(
    later.report.nodes.map((n) => [n.name, n.status]),
    [
      ["m1", "expired"],
      ["m2", "expired"],
    ],
  );
});

test("the apiserver's served certificate expires too", () => {
  const scan = scanOf();
  const served = { port: 6443, reachable: true, notAfter: at(3), daysLeft: 0, status: "critical" as const };
  const m2 = { ...scan.report.nodes[1]!, apiserver: served };
  const withServed = { ...scan, report: { ...scan.report, nodes: [scan.report.nodes[0]!, m2] } };
  const now = asOf(withServed, at(4));
  assert.equal(now.report.nodes[1]!.apiserver?.status, "expired");
  assert.equal(now.report.nodes[1]!.status, "expired");
});

test("allAsOf: each scan as of now, in order (never scanned stays null), until the next expiry among them", () => {
  const soon = scanOf(); // its apiserver expires 3 h after the scan
  const later = { ...scanOf(), cluster: "later" };
  later.report.nodes = [node("m3", [cert("apiserver", 1, SCANNED)])]; // 24 h after
  const first = allAsOf([soon, null, later], at(1));
  assert.deepEqual(first.scans, [soon, null, later], "nothing expired: the very scans");
  assert.equal(first.until, at(3).getTime(), "the answer holds until the first expiry among them");
  const next = allAsOf([soon, null, later], at(4));
  assert.notEqual(next.scans[0], soon);
  assert.equal(next.scans[0]!.report.status, "expired");
  assert.equal(next.scans[2], later);
  assert.equal(next.until, at(24).getTime());
});
