import { test } from "node:test";
import assert from "node:assert/strict";
import {
  buildScanScript,
  parseScanOutput,
  ScriptOutputError,
  shellQuote,
} from "../../src/core/scan/script.js";
import { CATALOGUE } from "../../src/core/kubeadm/catalogue.js";

const paths = {
  kubernetesDir: "/etc/kubernetes",
  kubeletPkiDir: "/var/lib/kubelet/pki",
  etcdPkiDir: "/etc/kubernetes/pki/etcd",
};
const dirs = { role: "control-plane" as const, name: "cp-1", paths };

test("a control-plane node's script reads every kubeadm catalogue entry, with paths single-quoted", () => {
  const script = buildScanScript({
    ...dirs,
    paths: { ...paths, kubernetesDir: "/srv/k 8s/", etcdPkiDir: "/srv/etcd pki" },
  });
  for (const entry of CATALOGUE)
    assert.match(script, new RegExp(`^entry ${entry.name} \\w+ '/`, "m"), entry.name);
  assert.ok(script.includes("'/srv/k 8s/pki/apiserver.crt'"));
  assert.ok(
    script.includes("entry etcd-server der '/srv/etcd pki/server.crt'"),
    "a local etcd's, from etcdPkiDir",
  );
  assert.ok(script.includes("if [ -d '/srv/etcd pki' ]; then"), "etcdPkiDir is the local-etcd marker");
  assert.ok(script.includes("kubeadm version -o short"));
  assert.ok(!/\.key'/.test(script), "never names a private key file");
});

test("shellQuote survives quotes", () => {
  assert.equal(shellQuote("a'b"), `'a'\\''b'`);
});

test("parses entries, refs, versions and the etcd marker", () => {
  const out = [
    "@certs-bot 1",
    "@kubeadm v1.30.4",
    "@etcd yes",
    "@entry ca pem",
    "-----BEGIN CERTIFICATE-----",
    "AAAA",
    "-----END CERTIFICATE-----",
    "@end",
    "@entry apiserver unreadable Permission denied",
    "@entry etcd-ca missing",
    "@ref kubelet.conf /var/lib/kubelet/pki//kubelet-client-current.pem",
    "@entry kubelet.conf pem",
    "@end",
    "@done",
    "",
  ].join("\n");
  const read = parseScanOutput(out, dirs);
  assert.equal(read.kubeadmVersion, "v1.30.4");
  assert.equal(read.localEtcd, true);
  assert.deepEqual(read.entries.get("apiserver"), {
    state: "unreadable",
    path: "/etc/kubernetes/pki/apiserver.crt",
    reason: "Permission denied",
  });
  assert.deepEqual(read.entries.get("etcd-ca"), {
    state: "missing",
    path: "/etc/kubernetes/pki/etcd/ca.crt",
  });
  assert.equal(read.entries.get("kubelet.conf")!.path, "/var/lib/kubelet/pki/kubelet-client-current.pem");
  const ca = read.entries.get("ca")!;
  assert.equal(
    ca.state === "content" && ca.body,
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
  );
});

test("skips what a login shell prints before the header", () => {
  const read = parseScanOutput("Welcome!\n@entry fake pem\n@certs-bot 1\n@etcd no\n@done\n", dirs);
  assert.equal(read.entries.size, 0);
});

for (const [what, out, message] of [
  ["a foreign program", "Welcome to host\n", /no @certs-bot header/],
  ["a cut-off output", "@certs-bot 1\n@entry ca pem\nAAAA\n", /cut off/],
  ["no @done", "@certs-bot 1\n@etcd no\n", /cut off/],
  ["an unknown entry", "@certs-bot 1\n@entry id_rsa pem\n@end\n@done\n", /unexpected entry "id_rsa"/],
  ["an unknown line", "@certs-bot 1\nroot:x:0:0\n@done\n", /unexpected line/],
] as const) {
  test(`rejects ${what}`, () => {
    assert.throws(
      () => parseScanOutput(out, dirs),
      (err: Error) => err instanceof ScriptOutputError && message.test(err.message),
    );
  });
}

test("mapBounded keeps order and never exceeds its bound", async () => {
  const { mapBounded } = await import("../../src/adapters/nodes/scan.js");
  let inFlight = 0;
  let peak = 0;
  const out = await mapBounded([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
    peak = Math.max(peak, ++inFlight);
    await new Promise((r) => setTimeout(r, n * 3));
    inFlight--;
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30, 0, 60]);
  assert.equal(peak, 3);
});
