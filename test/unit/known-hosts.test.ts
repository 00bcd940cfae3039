import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { fingerprint, hostKeyAlgorithms, KnownHosts } from "../../src/adapters/nodes/known-hosts.js";

const keyA = randomBytes(51);
const keyB = randomBytes(51);
const b64 = (b: Buffer) => b.toString("base64");
const hashed = (token: string) => {
  const salt = randomBytes(20);
  return `|1|${b64(salt)}|${createHmac("sha1", salt).update(token).digest("base64")}`;
};

test("plain, bracketed, hashed, listed and wildcard entries match the right host and port", () => {
  const hosts = KnownHosts.parse(
    [
      "# comment",
      `10.0.0.1 ssh-ed25519 ${b64(keyA)}`,
      `[10.0.0.2]:2222 ssh-ed25519 ${b64(keyA)}`,
      `${hashed("[10.0.0.3]:2200")} ecdsa-sha2-nistp256 ${b64(keyB)}`,
      `${hashed("node4.example")} ssh-rsa ${b64(keyB)}`,
      `master*.corp,!master9.corp ssh-ed25519 ${b64(keyB)}`,
    ].join("\n"),
    "known_hosts",
  );
  assert.equal(hosts.keysFor("10.0.0.1", 22).length, 1);
  assert.equal(hosts.keysFor("10.0.0.1", 2222).length, 0, "port 22 entries do not cover other ports");
  assert.equal(hosts.keysFor("10.0.0.2", 2222).length, 1);
  assert.equal(hosts.keysFor("10.0.0.2", 22).length, 0);
  assert.ok(hosts.keysFor("10.0.0.3", 2200)[0]!.blob.equals(keyB));
  assert.equal(hosts.keysFor("10.0.0.3", 22).length, 0);
  assert.equal(hosts.keysFor("node4.example", 22)[0]!.type, "ssh-rsa");
  assert.equal(hosts.keysFor("master1.corp", 22).length, 1);
  assert.equal(hosts.keysFor("master9.corp", 22).length, 0, "negated");
  assert.equal(hosts.keysFor("10.0.0.99", 22).length, 0);
});

test("revoked keys are never pinned and are recognised", () => {
  const hosts = KnownHosts.parse(
    `@revoked * ssh-ed25519 ${b64(keyA)}\n10.0.0.1 ssh-ed25519 ${b64(keyA)}`,
    "f",
  );
  assert.ok(hosts.isRevoked(keyA));
  assert.ok(!hosts.isRevoked(keyB));
  assert.deepEqual(hosts.keysFor("10.0.0.1", 22), [], "a revoked key is not pinned, wherever it is listed");
  assert.ok(hosts.revokedFor("10.0.0.1", 22)[0]!.blob.equals(keyA), "and the refusal can say why");
  assert.deepEqual(hosts.revokedFor("10.0.0.2", 22), [], "a host it was never pinned for");
});

test("host key algorithms offered follow what is pinned", () => {
  assert.deepEqual(hostKeyAlgorithms([{ type: "ssh-rsa", blob: keyA }]), [
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
  ]);
  assert.deepEqual(hostKeyAlgorithms([{ type: "ssh-ed25519", blob: keyA }]), ["ssh-ed25519"]);
});

test("fingerprints read like ssh-keygen -l", () => {
  assert.match(fingerprint(keyA), /^SHA256:[A-Za-z0-9+/]{43}$/);
});
