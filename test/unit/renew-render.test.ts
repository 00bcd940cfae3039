import { test } from "node:test";
import assert from "node:assert/strict";
import { planRenewal, type RenewalPlan } from "../../src/core/renew/plan.js";
import { renderPlanBlocks, renderPlanText, renderRefusalText } from "../../src/present/renewal.js";
import { BLOCK_LIMITS, blockTexts, checkBlockLimits } from "../../src/present/slack-types.js";
import { NOW, clusterReport, config, node } from "../fixtures/prod-cluster.js";

function plan(version: string, nodes = ["m1", "m2", "m3"], requestedBy?: string): RenewalPlan {
  const cfg = config("", nodes);
  const result = planRenewal({
    cluster: cfg.clusters[0]!,
    report: clusterReport(
      ...nodes.map((n) => node(n, { version, days: { "kubelet-client": -1 }, embeddedKubeletConf: false })),
    ),
    renewal: cfg.renewal,
    now: NOW,
    ...(requestedBy ? { requestedBy } : {}),
  });
  assert.ok(result.ok, result.ok ? "" : result.reason);
  return result.plan;
}

test("terminal text: every node, step, command, verify, undo and rollback trigger", () => {
  const p = plan("v1.11.10");
  const text = renderPlanText(p, "Europe/Berlin");
  assert.match(text, /^renewal plan for cluster prod at 2026-11-28 10:00 CET/);
  assert.match(
    text,
    /node 1\/3: m1 \(10\.0\.0\.1\) — kubeadm v1\.11\.10, row 1\.8–1\.12 \(phases, old pair moved aside\)/,
  );
  assert.match(text, /node 3\/3: m3/);
  for (const n of p.nodes) {
    for (const s of n.steps)
      for (const c of [...s.commands, ...s.undoCommands]) assert.ok(text.includes(`$ ${c.line}`), c.line);
  }
  assert.match(text, /\$ kubeadm alpha phase certs apiserver-kubelet-client --config '/);
  assert.match(
    text,
    /\$ mv '[^']+\/manifests\/etcd\.yaml' '[^']+\.aside\/manifests\/etcd\.yaml'\n\s+… wait until no container of kube-apiserver, kube-controller-manager, kube-scheduler, etcd runs in kube-system \(at most 120 s\)\n\s+\$ mv '[^']+\.aside\/manifests\/kube-apiserver\.yaml'/,
    "the manifests come back only after their containers are gone",
  );
  assert.match(text, /rollback when:/);
  assert.match(text, /not renewed \(expired\): kubelet-client: .*\n\s+→ If it has expired/);
  assert.match(text, /approval: 1 approver, not the requester; the request expires 2026-11-28 14:00 CET/);
});

test("terminal text names the maintenance window the run would use", () => {
  const p = plan("v1.30.4");
  const sat = { days: ["sat" as const], startMinute: 23 * 60, durationMinutes: 240 };
  const windows = { windows: [sat], windowMarginMinutes: 30, now: NOW };
  assert.match(
    renderPlanText(p, "Europe/Berlin", windows),
    /\nwindow: Runs in the maintenance window Sat 28 Nov 23:00 – Sun 29 Nov 03:00 CET \(windows: sat 23:00 for 4h \(Europe\/Berlin\); a node is not started with less than 30 min of its window left\)\.\n/,
  );
  assert.doesNotMatch(renderPlanText(p, "Europe/Berlin", { ...windows, windows: [] }), /window/);
});

test("refusal text lists each reason", () => {
  assert.equal(
    renderRefusalText("prod", "node m1: a\nnode m2: b"),
    "certs-bot cannot renew cluster prod:\n  - node m1: a\n  - node m2: b",
  );
});

test("the approval card stays within Block Kit limits for a 3-node HA cluster of any generation", () => {
  for (const version of ["v1.30.4", "v1.19.16", "v1.13.5", "v1.11.10"]) {
    const p = plan(version, ["m1", "m2", "m3"], "U0ALICE01");
    const message = renderPlanBlocks(p, { channel: "C0PROD0001", timeZone: "Europe/Berlin" });
    assert.deepEqual(checkBlockLimits(message), [], version);
    assert.ok(message.blocks.length <= BLOCK_LIMITS.maxBlocks);
    const all = blockTexts(message.blocks).join("\n");
    assert.match(all, /Renewal plan: prod/);
    assert.match(all, /<@U0ALICE01>/);
    for (const n of ["m1", "m2", "m3"])
      assert.match(all, new RegExp(`${n}/20261128T090000Z\\.tar\\.gz`), version);
    assert.ok(!message.blocks.some((b) => b.type === "actions"), "no buttons yet");
  }
  const modern = blockTexts(
    renderPlanBlocks(plan("v1.30.4"), { channel: "C0PROD0001", timeZone: "UTC" }).blocks,
  ).join("\n");
  assert.match(modern, /\$ kubeadm certs renew all/, "full detail when it fits");
});

test("a large cluster falls back to less detail but still fits", () => {
  const nodes = Array.from({ length: 9 }, (_, i) => `master-${i + 1}`);
  const message = renderPlanBlocks(plan("v1.11.10", nodes), { channel: "C0PROD0001", timeZone: "UTC" });
  assert.deepEqual(checkBlockLimits(message), []);
  assert.match(blockTexts(message.blocks).join("\n"), /master-9/);
});

test("a kubelet.conf the run repairs is listed with what it renews, on the card and in the text", () => {
  const cfg = config("", ["m1"]);
  const result = planRenewal({
    cluster: cfg.clusters[0]!,
    report: clusterReport(
      node("m1", { version: "v1.11.10", embeddedKubeletConf: true, days: { "kubelet.conf": -2 } }),
    ),
    renewal: cfg.renewal,
    now: NOW,
  });
  assert.ok(result.ok, result.ok ? "" : result.reason);
  const text = renderPlanText(result.plan, "UTC");
  assert.match(
    text,
    /\n {4}kubelet\.conf {15}EXPIRED {5}expires 2026-11-26 09:00 UTC \(expired 2d ago\) \(its own step: kubelet-conf\)\n/,
  );
  assert.match(
    text,
    /\n {2}4\. kubelet\.conf: regenerate it: kubeadm v1\.11\.10 embeds a one-year client certificate/,
  );
  assert.doesNotMatch(text, /not renewed .*kubelet\.conf/);
  const card = blockTexts(renderPlanBlocks(result.plan, { channel: "C", timeZone: "UTC" }).blocks).join("\n");
  assert.match(card, /• `kubelet\.conf` expired, expires .* \(its own step: kubelet-conf\)/);
  assert.match(card, /\$ kubeadm alpha phase kubeconfig kubelet --node-name m1 /);
});
