// The console's line handling, pure part: commands, quitting and clicking buttons by their label.
// No view the router answers with has a button today (App Home's "Scan now" is in a Home view,
// not a reply), so clicking is tested here, on buttons made for the test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buttonAction, interpretLine } from "../../src/adapters/console/session.js";
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

test("a button's action: scan and renewal buttons as /certs text with their cluster, cards' as clicks", () => {
  const command = (text: string) => ({ kind: "command", text });
  assert.deepEqual(buttonAction(button("Scan now", "scan_now", "lab-b")), command("scan lab-b"));
  assert.deepEqual(
    buttonAction(button("Request renewal", "renewal_request", "lab-b")),
    command("renew lab-b"),
  );
  assert.deepEqual(buttonAction(button("Approve", "renewal_approve", "lab-b-1")), {
    kind: "click",
    action: "approve",
    requestId: "lab-b-1",
  });
  assert.deepEqual(buttonAction(button("Reject", "renewal_reject", "lab-b-1")), {
    kind: "click",
    action: "reject",
    requestId: "lab-b-1",
  });
  assert.equal(buttonAction(button("Scan now", "scan_now")), null, "no value, nothing to do");
  assert.equal(buttonAction(button("Approve", "approve_renewal", "lab-a")), null, "not an action of ours");
  // The value is parsed like typed text, so a hostile one is refused there, never run.
  assert.deepEqual(
    buttonAction(button("Scan now", "scan_now", "lab-a; rm -rf /")),
    command("scan lab-a; rm -rf /"),
  );
});
