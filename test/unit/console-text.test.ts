import { test } from "node:test";
import assert from "node:assert/strict";
import { plain } from "../../src/present/format.js";
import { renderCommandError, renderHelp, renderRefusal, renderScanQueued } from "../../src/present/views.js";
import { checkCluster } from "../../src/present/command.js";
import {
  ANSI_STYLE,
  buttonsOf,
  mrkdwnToText,
  renderReply,
  type TextStyle,
} from "../../src/present/console-text.js";
import type { Block, ChatReply } from "../../src/present/slack-types.js";

const mrkdwn = (text: string) => ({ type: "mrkdwn" as const, text });
const button = (label: string, action_id: string, value?: string) => ({
  type: "button" as const,
  text: { type: "plain_text" as const, text: label },
  action_id,
  ...(value ? { value } : {}),
});
const reply = (...blocks: Block[]): ChatReply => ({ text: "fallback", blocks });
/** Visible markers instead of ANSI codes, so a test can read where styling starts and ends. */
const MARKED: TextStyle = {
  bold: (t) => `{b}${t}{/b}`,
  code: (t) => `{c}${t}{/c}`,
  dim: (t) => `{d}${t}{/d}`,
};

test("each block type: header, section text and fields, context, divider, actions", () => {
  const text = renderReply(
    reply(
      { type: "header", text: { type: "plain_text", text: "lab-a — expired :red_circle:", emoji: true } },
      { type: "section", text: mrkdwn("*kube-master001* — `apiserver-kubelet-client`") },
      { type: "section", fields: [mrkdwn("*Status*\nexpired"), { type: "plain_text", text: "2 nodes" }] },
      { type: "context", elements: [mrkdwn("report of today"), mrkdwn("_scan took 0.4s_")] },
      { type: "divider" },
      { type: "actions", elements: [button("Scan now", "scan_now", "lab-a"), button("Details", "details")] },
    ),
    false,
  );
  assert.equal(
    text,
    [
      "certs-bot:",
      "  lab-a — expired 🔴",
      "  ═════════════════",
      "  kube-master001 — `apiserver-kubelet-client`",
      "  Status",
      "  expired",
      "  2 nodes",
      "  report of today  scan took 0.4s",
      "  ────────────────────────────────────────",
      "  [ Scan now ]  [ Details ]",
    ].join("\n"),
  );
});

test("a section's button accessory and a link button", () => {
  const text = renderReply(
    reply({
      type: "section",
      text: mrkdwn("lab-a is expired"),
      accessory: { ...button("Open", "open"), url: "https://example.com/runbook" },
    }),
    false,
  );
  assert.match(text, /\n {2}lab-a is expired\n {2}\[ Open \] https:\/\/example\.com\/runbook$/);
});

test("ephemeral replies say that only you would see them", () => {
  const refusal = renderReply(
    renderRefusal("lab-b", "only operators of lab-b may request scans; ask <@U0BOB0001>."),
    true,
  );
  assert.equal(
    refusal,
    "certs-bot (only you can see this):\n" +
      "  🔒 only operators of lab-b may request scans; ask @U0BOB0001.\n" +
      "  Nothing was run.",
  );
  assert.match(renderReply(renderScanQueued("lab-a", "U0ALICE01"), false), /^certs-bot:\n/);
});

test("mentions, channels and links as a person reads them", () => {
  const cases: [string, string][] = [
    ["ask <@U0ALICE01>", "ask @U0ALICE01"],
    ["ask <@U0ALICE01|alice>", "ask @alice"],
    ["ask <!subteam^S0SREGROUP>", "ask @S0SREGROUP"],
    ["ask <!subteam^S0SREGROUP|@sre>", "ask @sre"],
    ["in <#C0LABAAAA>, <#C0LABAAAA|lab-a>", "in #C0LABAAAA, #lab-a"],
    ["<!here> look", "@here look"],
    ["see <https://example.com/a_b|the runbook>", "see the runbook (https://example.com/a_b)"],
    ["see <https://example.com/x>", "see https://example.com/x"],
  ];
  for (const [input, expected] of cases) assert.equal(mrkdwnToText(input), expected, input);
});

test("escaped text stays text: what a node sent cannot turn into a mention or a link", () => {
  const hostile = plain("error <@U0EVIL01> <https://evil.example|click> & *bold*");
  assert.equal(mrkdwnToText(hostile), "error <@U0EVIL01> <https://evil.example|click> & bold");
  assert.equal(mrkdwnToText("`a &lt;b&gt; &amp;lt;`"), "`a <b> &lt;`");
});

test("bold, italic and code spans; nothing inside a code span is converted", () => {
  assert.equal(mrkdwnToText("*lab-a* — *expired*", MARKED), "{b}lab-a{/b} — {b}expired{/b}");
  assert.equal(mrkdwnToText("*`/certs list`*", MARKED), "{b}{c}/certs list{/c}{/b}");
  assert.equal(mrkdwnToText("`*not bold* :x: <@U0ALICE01>`"), "`*not bold* :x: <@U0ALICE01>`");
  assert.equal(mrkdwnToText("Renews. _Not enabled yet._"), "Renews. Not enabled yet.");
  assert.equal(mrkdwnToText("node kube_master_1 and snake_case"), "node kube_master_1 and snake_case");
});

test("known emoji codes become symbols; unknown codes and times stay as typed", () => {
  assert.equal(
    mrkdwnToText(
      ":white_check_mark: :large_yellow_circle: :large_orange_circle: :red_circle: :lock: :no_entry:",
    ),
    "✅ 🟡 🟠 🔴 🔒 ⛔",
  );
  assert.equal(mrkdwnToText(":tada: at 12:30:45"), ":tada: at 12:30:45");
});

test("ANSI style: bold and code coloured, dim kept after a bold part inside it", () => {
  const text = renderReply(
    reply({ type: "context", elements: [mrkdwn("*lab-a* status · `a`")] }),
    false,
    ANSI_STYLE,
  );
  assert.equal(
    text,
    "\u001b[1mcerts-bot:\u001b[22m\n" +
      "  \u001b[2m\u001b[1mlab-a\u001b[22m\u001b[2m status · \u001b[36ma\u001b[39m\u001b[22m",
  );
});

test("the real views render with no markup left over", () => {
  const replies = [
    renderHelp(undefined, "lab-a"),
    renderScanQueued("lab-a", "U0ALICE01"),
    renderCommandError(checkCluster("lab-c", ["lab-a", "lab-b"])!),
  ];
  for (const r of replies) {
    const text = renderReply(r, false);
    // What a code span shows is literal (`/certs list *-eu-*`): markup is looked for outside them.
    assert.doesNotMatch(text.replace(/`[^`\n]*`/g, ""), /[*<>]|&(lt|gt|amp);|:[a-z_]+:/, text);
  }
  assert.match(
    renderReply(replies[2]!, true),
    /There is no cluster `lab-c` in this channel; did you mean lab-a, lab-b\?/,
  );
});

test("a reply without blocks shows its text", () => {
  assert.equal(renderReply({ text: "*lab-a*: done", blocks: [] }, false), "certs-bot:\n  lab-a: done");
});

test("buttonsOf collects accessories and actions, in order", () => {
  const buttons = buttonsOf([
    reply({ type: "section", text: mrkdwn("a"), accessory: button("First", "one") }),
    reply(
      { type: "divider" },
      { type: "actions", elements: [button("Second", "two"), button("Third", "three")] },
    ),
  ]);
  assert.deepEqual(
    buttons.map((b) => b.text.text),
    ["First", "Second", "Third"],
  );
});
