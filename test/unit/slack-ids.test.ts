import { test } from "node:test";
import assert from "node:assert/strict";
import { MENTION, SLACK_ID, isPrincipalId } from "../../src/config/slack-ids.js";

const kinds = Object.keys(SLACK_ID) as (keyof typeof SLACK_ID)[];
const accepted = (id: string): string[] => kinds.filter((kind) => SLACK_ID[kind].test(id));

test("each kind of id by its letter; a DM is a conversation, not a channel", () => {
  assert.deepEqual(accepted("U0123ABCD"), ["user"]);
  assert.deepEqual(accepted("W0GRIDUSER"), ["user"], "Enterprise Grid users");
  assert.deepEqual(accepted("S0SREGROUP"), ["usergroup"]);
  assert.deepEqual(accepted("C0123ABCD"), ["channel", "conversation"]);
  assert.deepEqual(accepted("G0PRIVATE1"), ["channel", "conversation"], "private (legacy) channels");
  assert.deepEqual(accepted("D0ALICEDM"), ["conversation"]);
  assert.deepEqual(accepted("T0TEAM0001"), [], "a team is none of these");
});

test("ids are uppercase letters and digits, 3 to 21 characters; names are not ids", () => {
  for (const bad of [
    "u0123abcd",
    "U0123abcd",
    "U0",
    "U" + "A".repeat(21),
    "#sre",
    "@alice",
    "C0-123",
    " C0123",
    "C0123 ",
    "C0123\n",
  ]) {
    assert.deepEqual(accepted(bad), [], bad);
  }
  assert.deepEqual(accepted("U0A"), ["user"]);
  assert.deepEqual(accepted("C" + "A".repeat(20)), ["channel", "conversation"]);
});

test("principals are users and user groups", () => {
  assert.ok(isPrincipalId("U0ALICE") && isPrincipalId("W0GRID") && isPrincipalId("S0SRE"));
  assert.ok(!isPrincipalId("C0SRE0001") && !isPrincipalId("alice") && !isPrincipalId("D0ALICEDM"));
});

test("mentions are found in text as Slack writes them, and nothing else", () => {
  assert.deepEqual("ask <@U0ALICE> or <!subteam^S0SRE>, not <#C0SRE0001> or <@alice>".split(MENTION), [
    "ask ",
    "<@U0ALICE>",
    " or ",
    "<!subteam^S0SRE>",
    ", not <#C0SRE0001> or <@alice>",
  ]);
});
