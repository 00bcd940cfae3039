import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CATALOGUE,
  CERTIFICATE_NAMES,
  NOT_RENEWED,
  RENEWABLE,
  catalogueEntry,
  findEntry,
  isCertificateName,
  isRenewable,
  notRenewed,
} from "../../src/core/kubeadm/catalogue.js";
import { VERSION_RULES, knows, parseKubeadmVersion, renewCommands } from "../../src/core/kubeadm/versions.js";

test("the catalogue's names are unique, and every CA it names is one of its CA entries", () => {
  assert.equal(new Set(CERTIFICATE_NAMES).size, CATALOGUE.length);
  for (const entry of CATALOGUE) {
    if (entry.ca !== null) assert.equal(catalogueEntry(entry.ca).isCA, true, `${entry.name} → ${entry.ca}`);
  }
});

test("renewable and never renewed split the catalogue, in catalogue order", () => {
  assert.deepEqual(
    [...RENEWABLE, ...NOT_RENEWED].sort(),
    CATALOGUE.map((e) => e.name).sort(),
    "every entry in exactly one list",
  );
  assert.equal(RENEWABLE.length + NOT_RENEWED.length, CATALOGUE.length);
  const order = (names: readonly string[]) => names.map((n) => CERTIFICATE_NAMES.indexOf(n as never));
  assert.deepEqual(
    order(RENEWABLE),
    [...order(RENEWABLE)].sort((a, b) => a - b),
  );
  assert.deepEqual(
    order(NOT_RENEWED),
    [...order(NOT_RENEWED)].sort((a, b) => a - b),
  );
});

test("never renewed: exactly the CAs and the kubelet's own files, each with a reason and a repair", () => {
  const kubeletOwn = CATALOGUE.filter((e) => e.base === "kubeletPkiDir" || e.name === "kubelet.conf");
  assert.deepEqual(
    [...NOT_RENEWED].sort(),
    [...CATALOGUE.filter((e) => e.isCA), ...kubeletOwn].map((e) => e.name).sort(),
  );
  for (const name of NOT_RENEWED) {
    const never = notRenewed(name);
    assert.ok(never?.why && never.repair, name);
    assert.equal(isRenewable(name), false, name);
    // A CA's advice is the CA advice; kubelet.conf's depends on the node (kubelet-conf.ts); the
    // kubelet's other files each have their own.
    assert.equal(never.advice !== undefined, !catalogueEntry(name).isCA && name !== "kubelet.conf", name);
  }
  for (const name of RENEWABLE) assert.equal(notRenewed(name), undefined, name);
});

test("every renewable name has a renew command for every version that knows it", () => {
  const configFile = "/var/lib/certs-bot/b.kubeadm.yaml";
  for (const rule of VERSION_RULES) {
    for (const minor of [rule.from, rule.to ?? 30]) {
      const version = parseKubeadmVersion(`v1.${minor}.0`)!;
      for (const name of RENEWABLE.filter((n) => knows(rule, version, n))) {
        const lines = renewCommands({
          rule,
          version,
          names: [name],
          all: false,
          kubernetesDir: "/etc/kubernetes",
          asideDir: "/var/lib/certs-bot/b.aside",
          configFile,
        }).map((c) => c.line);
        const words =
          rule.method === "renew" || catalogueEntry(name).kind === "certificate"
            ? rule.certs
            : rule.kubeconfigs;
        const renew = lines.find((l) => l.startsWith(words.join(" ")));
        assert.ok(renew, `${rule.label} v1.${minor} ${name}: ${lines.join(" | ")}`);
        const arg = renew.slice(words.join(" ").length + 1).split(" ")[0];
        // kubeadm's name is the catalogue's, a kubeconfig's phase without `.conf`.
        assert.equal(
          arg,
          rule.method === "phase" ? name.replace(/\.conf$/, "") : name,
          `${rule.label} ${name}`,
        );
      }
    }
  }
});

test("every renewable name is known to the newest kubeadm; the oldest knows the non-etcd leaves", () => {
  const newest = VERSION_RULES[0]!;
  const oldest = VERSION_RULES.at(-1)!;
  for (const name of RENEWABLE) assert.ok(knows(newest, parseKubeadmVersion("v1.30.0")!, name), name);
  const atOldest = RENEWABLE.filter((n) => knows(oldest, parseKubeadmVersion("v1.8.0")!, n));
  assert.deepEqual(
    atOldest,
    RENEWABLE.filter((n) => catalogueEntry(n).required !== "local-etcd" && n !== "super-admin.conf"),
  );
});

test("the type guards accept the catalogue's names only", () => {
  for (const name of CERTIFICATE_NAMES) assert.ok(isCertificateName(name) && findEntry(name), name);
  for (const bad of ["", "apiserver ", "APISERVER", "etcd/server", "constructor", "__proto__", "toString"]) {
    assert.equal(isCertificateName(bad), false, JSON.stringify(bad));
    assert.equal(isRenewable(bad), false, JSON.stringify(bad));
    assert.equal(findEntry(bad), undefined, JSON.stringify(bad));
    assert.equal(notRenewed(bad), undefined, JSON.stringify(bad));
  }
});
