import { test } from "node:test";
import assert from "node:assert/strict";
import { nodeAddress, nodeWhere } from "../../src/core/transport/address.js";

test("a node's address: host, host:port, an IPv6 literal in brackets before its port", () => {
  assert.equal(nodeAddress("cp-1.example.com"), "cp-1.example.com");
  assert.equal(nodeAddress("fd00::1"), "fd00::1", "no port, nothing to tell apart");
  assert.equal(nodeAddress("cp-1.example.com", 22022), "cp-1.example.com:22022");
  assert.equal(nodeAddress("10.0.0.1", 22), "10.0.0.1:22");
  assert.equal(nodeAddress("fd00::1", 6443), "[fd00::1]:6443");
  assert.equal(nodeAddress("::1", 22), "[::1]:22");
});

test("where a scanned node is: its SSH address, or the host and `local` for the local transport", () => {
  assert.equal(nodeWhere({ host: "fd00::1", port: 22 }), "[fd00::1]:22");
  assert.equal(nodeWhere({ host: "cp-1", port: 22022 }), "cp-1:22022");
  assert.equal(nodeWhere({ host: "cp-1" }), "cp-1, local");
});
