import { test } from "node:test";
import assert from "node:assert/strict";
import {
  UnsafeCommandError,
  command,
  healthPath,
  knows,
  parseKubeadmVersion,
  renewCommands,
  ruleFor,
} from "../../src/core/kubeadm/versions.js";
import {
  CATALOGUE,
  NOT_RENEWED,
  RENEWABLE,
  notRenewed,
  type RenewableName,
} from "../../src/core/kubeadm/catalogue.js";

const rule = (v: string) => {
  const found = ruleFor(v);
  assert.ok(found.ok, `${v}: ${found.ok ? "" : found.reason}`);
  return found;
};

test("each version range, at its boundaries", () => {
  for (const [version, label] of [
    ["v1.8.0", "1.8–1.12"],
    ["v1.11.10", "1.8–1.12"],
    ["v1.12.10", "1.8–1.12"],
    ["v1.13.0", "1.13–1.14"],
    ["v1.14.10", "1.13–1.14"],
    ["v1.15.0", "1.15–1.19"],
    ["1.19.16", "1.15–1.19"],
    ["v1.20.0", "1.20+"],
    ["v1.30.4", "1.20+"],
    ["v1.11.10-rc.1+abcdef", "1.8–1.12"],
  ] as const) {
    assert.equal(rule(version).rule.label, label, version);
  }
});

test("unparseable, too old, not 1.x and no kubeadm are refused with a reason", () => {
  const reason = (v: string | undefined) => {
    const found = ruleFor(v);
    assert.equal(found.ok, false, String(v));
    return found.ok ? "" : found.reason;
  };
  assert.match(reason("v1.7.16"), /kubeadm v1\.7\.16 is older than 1\.8.*renew by hand/);
  assert.match(reason("v1.7.0"), /older than 1\.8/);
  assert.match(reason("garbage; rm -rf /"), /is not a version certs-bot can read/);
  assert.match(reason("v1.28"), /not a version/);
  assert.match(reason("v2.0.0"), /not a 1\.x release/);
  assert.match(reason(undefined), /no kubeadm found on the node/);
  assert.match(reason("  "), /no kubeadm found/);
  assert.equal(parseKubeadmVersion("v1.28.4")?.minor, 28);
});

const names = (...n: RenewableName[]) => n;
const input = (version: string, list: RenewableName[], all = false, kubernetesDir = "/etc/kubernetes") => {
  const { rule: r, version: v } = rule(version);
  return renewCommands({
    rule: r,
    version: v,
    names: list,
    all,
    kubernetesDir,
    asideDir: "/var/lib/certs-bot/backups/prod/m1/20261128T090000Z.aside",
    configFile: "/var/lib/certs-bot/backups/prod/m1/20261128T090000Z.kubeadm.yaml",
  }).map((c) => c.line);
};

test("1.20+: kubeadm certs renew all, or per name; --cert-dir only off the default", () => {
  assert.deepEqual(input("v1.28.4", names("apiserver", "admin.conf"), true), ["kubeadm certs renew all"]);
  assert.deepEqual(input("v1.20.0", names("apiserver-kubelet-client", "super-admin.conf")), [
    "kubeadm certs renew apiserver-kubelet-client",
    "kubeadm certs renew super-admin.conf",
  ]);
  assert.deepEqual(input("v1.30.4", names("etcd-peer"), false, "/srv/k8s"), [
    "kubeadm certs renew etcd-peer --cert-dir '/srv/k8s/pki'",
  ]);
});

test("1.15–1.19: kubeadm alpha certs renew", () => {
  assert.deepEqual(input("v1.19.16", names("apiserver"), true), ["kubeadm alpha certs renew all"]);
  assert.deepEqual(input("v1.15.0", names("apiserver-kubelet-client", "controller-manager.conf")), [
    "kubeadm alpha certs renew apiserver-kubelet-client",
    "kubeadm alpha certs renew controller-manager.conf",
  ]);
});

const B = "/var/lib/certs-bot/backups/prod/m1/20261128T090000Z";

test("1.13–1.14: export the config, move the old pair aside, kubeadm init phase certs / kubeconfig", () => {
  assert.deepEqual(input("v1.14.10", names("apiserver-kubelet-client", "admin.conf"), true), [
    `kubeadm config view --kubeconfig '/etc/kubernetes/admin.conf' > '${B}.kubeadm.yaml'`,
    `mkdir -p '${B}.aside'`,
    `mv '/etc/kubernetes/pki/apiserver-kubelet-client.crt' '${B}.aside/apiserver-kubelet-client.crt'`,
    `mv '/etc/kubernetes/pki/apiserver-kubelet-client.key' '${B}.aside/apiserver-kubelet-client.key'`,
    `kubeadm init phase certs apiserver-kubelet-client --config '${B}.kubeadm.yaml'`,
    `mv '/etc/kubernetes/admin.conf' '${B}.aside/admin.conf'`,
    `kubeadm init phase kubeconfig admin --config '${B}.kubeadm.yaml'`,
  ]);
});

test("1.8–1.12: kubeadm alpha phase certs / kubeconfig (the origin story's procedure)", () => {
  const lines = input(
    "v1.11.10",
    names("apiserver-kubelet-client", "etcd-server", "scheduler.conf"),
    false,
    "/srv/k8s",
  );
  assert.deepEqual(lines.slice(2), [
    `mv '/srv/k8s/pki/apiserver-kubelet-client.crt' '${B}.aside/apiserver-kubelet-client.crt'`,
    `mv '/srv/k8s/pki/apiserver-kubelet-client.key' '${B}.aside/apiserver-kubelet-client.key'`,
    `kubeadm alpha phase certs apiserver-kubelet-client --config '${B}.kubeadm.yaml'`,
    `mv '/srv/k8s/pki/etcd/server.crt' '${B}.aside/etcd-server.crt'`,
    `mv '/srv/k8s/pki/etcd/server.key' '${B}.aside/etcd-server.key'`,
    `kubeadm alpha phase certs etcd-server --config '${B}.kubeadm.yaml'`,
    `mv '/srv/k8s/scheduler.conf' '${B}.aside/scheduler.conf'`,
    `kubeadm alpha phase kubeconfig scheduler --config '${B}.kubeadm.yaml' --kubeconfig-dir '/srv/k8s'`,
  ]);
});

test("what each version knows: etcd phases from 1.10, super-admin.conf from 1.29", () => {
  const k = (v: string, name: RenewableName) => {
    const { rule: r, version } = rule(v);
    return knows(r, version, name);
  };
  assert.equal(k("v1.9.11", "etcd-server"), false);
  assert.equal(k("v1.10.0", "etcd-server"), true);
  assert.equal(k("v1.28.4", "super-admin.conf"), false);
  assert.equal(k("v1.29.0", "super-admin.conf"), true);
  assert.equal(k("v1.8.0", "apiserver-kubelet-client"), true);
});

test("the apiserver health endpoint: /healthz before 1.16, /readyz after", () => {
  const h = (v: string) => {
    const { rule: r, version } = rule(v);
    return healthPath(r, version);
  };
  assert.deepEqual(["v1.11.1", "v1.14.0", "v1.15.12", "v1.16.0", "v1.30.4"].map(h), [
    "/healthz",
    "/healthz",
    "/healthz",
    "/readyz",
    "/readyz",
  ]);
});

test("every catalogue entry is either renewable or documented as never renewed", () => {
  for (const entry of CATALOGUE) {
    const renewable = (RENEWABLE as readonly string[]).includes(entry.name);
    assert.notEqual(renewable, (NOT_RENEWED as readonly string[]).includes(entry.name), entry.name);
  }
  assert.match(notRenewed("kubelet-client")!.repair, /kubeadm kubeconfig user --org system:nodes/);
  assert.match(notRenewed("kubelet.conf")!.repair, /kubelet-client-current\.pem/);
});

test("commands take fixed words and validated, single-quoted paths only", () => {
  assert.equal(command("mv", { path: "/a b/c" }, { path: "/d" }).line, "mv '/a b/c' '/d'");
  for (const bad of ["a;b", "$(id)", "`id`", "a b", "'", "x\ny", ""]) {
    assert.throws(() => command("kubeadm", bad), UnsafeCommandError, JSON.stringify(bad));
  }
  for (const bad of ["relative", "/a/../b", "/a'b", "/a\nb", "/a\u0007"]) {
    assert.throws(() => command("mv", { path: bad }), UnsafeCommandError, JSON.stringify(bad));
  }
});
