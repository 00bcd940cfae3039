// The console's line handling, pure part: commands, quitting and clicking buttons by their label.
// No view the router answers with has a button today (App Home's "Scan now" is in a Home view,
// not a reply), so clicking is tested here, on buttons made for the test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buttonCommand, interpretLine } from "../../src/adapters/console/session.js";
import type { ButtonElement } from "../../src/present/slack-types.js";

const button = (label: string, action_id: string, value?: string): ButtonElement => ({
  type: "button",
  text: { type: "plain_text", text: label },
  action_id,
  ...(value ? { value } : {}),
});

test("/certs lines are commands; the text after /certs is what Slack would send", () => {
  assert.deepEqual(interpretLine("/certs status lab-a --all", []), {
    kind: "command",
    text: "status lab-a --all",
  });
  assert.deepEqual(interpretLine("  /certs   list  ", []), { kind: "command", text: "list" });
  assert.deepEqual(interpretLine("/certs", []), { kind: "command", text: "" });
  assert.deepEqual(interpretLine("/certs status lab-a; rm -rf /", []), {
    kind: "command",
    text: "status lab-a; rm -rf /",
  });
});

test("empty lines, quit and exit, and anything else gets a hint", () => {
  assert.deepEqual(interpretLine("   ", []), { kind: "empty" });
  assert.deepEqual(interpretLine("quit", []), { kind: "quit" });
  assert.deepEqual(interpretLine("EXIT", []), { kind: "quit" });
  assert.deepEqual(interpretLine("help", []), { kind: "hint" });
  assert.deepEqual(interpretLine("status lab-a", []), { kind: "hint" });
  assert.deepEqual(interpretLine("/certsstatus", []), { kind: "hint" });
});

test("typing a shown button's label clicks it, in any case; Scan now routes through /certs scan", () => {
  const shown = [button("Details", "details"), button("Scan now", "scan_now", "lab-a")];
  assert.deepEqual(interpretLine("scan NOW", shown), { kind: "command", text: "scan lab-a" });
  assert.deepEqual(interpretLine("Details", shown), { kind: "no-action", label: "Details" });
  assert.deepEqual(interpretLine("Scan now", []), { kind: "hint" }, "no such button shown");
  const twice = [button("Scan now", "scan_now", "lab-a"), button("Scan now", "scan_now", "lab-b")];
  assert.deepEqual(interpretLine("scan now", twice), { kind: "ambiguous", label: "Scan now" });
  const same = [button("Scan now", "scan_now", "lab-a"), button("Scan now", "scan_now", "lab-a")];
  assert.deepEqual(interpretLine("scan now", same), { kind: "command", text: "scan lab-a" });
});

test("a button's /certs text: scan_now needs its cluster; other actions have none", () => {
  assert.equal(buttonCommand(button("Scan now", "scan_now", "lab-b")), "scan lab-b");
  assert.equal(buttonCommand(button("Scan now", "scan_now")), null);
  assert.equal(buttonCommand(button("Approve", "approve_renewal", "lab-a")), null);
  // The value is parsed like typed text, so a hostile one is refused there, never run.
  assert.equal(buttonCommand(button("Scan now", "scan_now", "lab-a; rm -rf /")), "scan lab-a; rm -rf /");
});
