// The one table of what each button does (src/app/actions.ts), which Slack and the console both call.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BUTTON_ACTIONS, dispatchButton, type ButtonUses } from "../../src/app/actions.js";
import * as ACTIONS from "../../src/present/actions.js";

/** Names the use case and its parsed value, to see which one a click reaches. */
const NAMING: ButtonUses<string> = {
  scan: (cluster) => `scan ${cluster}`,
  requestRenewal: (cluster) => `request renewal ${cluster}`,
  renewalClick: (requestId, action) => `${action} ${requestId}`,
  quiet: (cluster, how) => `${how.kind === "snooze" ? `snooze ${how.days}d` : "acknowledge"} ${cluster}`,
};

test("every action id certs-bot draws is dispatched, and nothing else", () => {
  assert.deepEqual([...BUTTON_ACTIONS].sort(), Object.values(ACTIONS).sort());
});

test("each button reaches its use case with its value", () => {
  assert.equal(dispatchButton(ACTIONS.SCAN_NOW_ACTION, "prod", NAMING), "scan prod");
  assert.equal(dispatchButton(ACTIONS.REQUEST_RENEWAL_ACTION, "prod", NAMING), "request renewal prod");
  assert.equal(dispatchButton(ACTIONS.APPROVE_ACTION, "prod-1", NAMING), "approve prod-1");
  assert.equal(dispatchButton(ACTIONS.REJECT_ACTION, "prod-1", NAMING), "reject prod-1");
  assert.equal(dispatchButton(ACTIONS.ACKNOWLEDGE_ACTION, "prod", NAMING), "acknowledge prod");
  assert.equal(dispatchButton(ACTIONS.SNOOZE_DAY_ACTION, "prod", NAMING), "snooze 1d prod");
  assert.equal(dispatchButton(ACTIONS.SNOOZE_WEEK_ACTION, "prod", NAMING), "snooze 7d prod");
});

test("an action id that is not ours reaches nothing", () => {
  for (const id of ["approve_renewal", "", "constructor", "toString", "__proto__"])
    assert.equal(dispatchButton(id, "prod", NAMING), null, id);
});
