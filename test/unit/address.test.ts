import { test } from "node:test";
import assert from "node:assert/strict";
import { nodeAddress } from "../../src/core/transport/address.js";

test("a node's address: host, host:port, an IPv6 literal in brackets before its port", () => {
  assert.equal(nodeAddress("cp-1.example.com"), "cp-1.example.com");
  assert.equal(nodeAddress("fd00::1"), "fd00::1", "no port, nothing to tell apart");
  assert.equal(nodeAddress("cp-1.example.com", 22022), "cp-1.example.com:22022");
  assert.equal(nodeAddress("10.0.0.1", 22), "10.0.0.1:22");
  assert.equal(nodeAddress("fd00::1", 6443), "[fd00::1]:6443");
  assert.equal(nodeAddress("::1", 22), "[::1]:22");
});
