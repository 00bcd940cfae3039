import { test } from "node:test";
import assert from "node:assert/strict";
import { scrubSecrets } from "../../src/core/secrets.js";

test("private keys and tokens are replaced wherever they appear; the rest is kept", () => {
  const key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----";
  assert.equal(scrubSecrets(`before ${key} after`), "before [private key removed] after");
  assert.equal(scrubSecrets("cut -----BEGIN PRIVATE KEY-----\nMIIE"), "cut [private key removed]");
  assert.equal(scrubSecrets("posted with xoxb-1234-5678-abcdef"), "posted with [token removed]");
  assert.equal(scrubSecrets("client-key-data: LS0tLS1CRUdJTg=="), "client-key-data: [redacted]");
  assert.equal(scrubSecrets('"password":"hunter2"'), '"password":[redacted]');
  assert.equal(scrubSecrets("Authorization: Bearer abc.def-ghi"), "Authorization: Bearer [redacted]");
  assert.equal(
    scrubSecrets("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2ln"),
    "[token removed]",
    "a service-account JWT",
  );
  assert.equal(scrubSecrets("join with abcdef.0123456789abcdef"), "join with [token removed]");
  const plain = "[certs] Using existing ca certificate authority; apiserver.crt renewed";
  assert.equal(scrubSecrets(plain), plain);
});
