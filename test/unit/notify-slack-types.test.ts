import { test } from "node:test";
import assert from "node:assert/strict";
import type { KnownBlock } from "@slack/types";
import {
  BLOCK_LIMITS,
  checkBlockLimits,
  type Block,
  type SlackMessage,
} from "../../src/present/slack-types.js";
import {
  NOTHING_PACKED,
  chunkGrowing,
  code,
  context,
  escapeMrkdwn,
  fieldsSection,
  header,
  packLine,
  packLines,
  packedSize,
  plain,
  section,
  sizeOf,
  truncate,
} from "../../src/present/format.js";

const message = (blocks: Block[], text = "fallback"): SlackMessage => ({ channel: "C1", text, blocks });

test("our blocks are Slack's blocks: the poster passes them to chat.postMessage as they are", () => {
  const blocks: Block[] = [
    header("h"),
    section("s"),
    fieldsSection(["a", "b"]),
    context("c"),
    { type: "divider" },
    {
      type: "actions",
      elements: [
        { type: "button", text: { type: "plain_text", text: "Renew" }, action_id: "renew", style: "primary" },
      ],
    },
  ];
  const known: KnownBlock[] = blocks; // a compile-time check: tsc fails if the shapes drift apart
  assert.equal(known.length, 6);
  assert.deepEqual(checkBlockLimits(message(blocks)), []);
});

test("checkBlockLimits names every violation", () => {
  const long = (n: number) => "x".repeat(n);
  const violations = checkBlockLimits(
    message(
      [
        { type: "header", text: { type: "plain_text", text: long(151) } },
        { type: "section", text: { type: "mrkdwn", text: long(3001) } },
        {
          type: "section",
          fields: Array.from({ length: 11 }, () => ({ type: "mrkdwn" as const, text: "f" })),
        },
        { type: "section", fields: [{ type: "mrkdwn", text: long(2001) }] },
        { type: "section" },
        {
          type: "context",
          elements: Array.from({ length: 11 }, () => ({ type: "mrkdwn" as const, text: "c" })),
        },
        { type: "section", text: { type: "mrkdwn", text: "" } },
        { type: "divider", block_id: "same" },
        { type: "divider", block_id: "same" },
        {
          type: "actions",
          elements: [{ type: "button", text: { type: "plain_text", text: long(76) }, action_id: "a" }],
        },
        ...Array.from({ length: 41 }, (): Block => ({ type: "divider" })),
      ],
      "",
    ),
  );
  const expected = [
    "text: empty",
    "blocks: 51, at most 50",
    "blocks[0].text: 151 characters, at most 150",
    "blocks[1].text: 3001 characters, at most 3000",
    "blocks[2].fields: 11, at most 10",
    "blocks[3].fields[0]: 2001 characters, at most 2000",
    "blocks[4]: a section needs text or fields",
    "blocks[5].elements: 11, 1 to 10",
    "blocks[6].text: empty text",
    'blocks[8].block_id: "same" is used twice',
    "blocks[9].elements[0].text: 76 characters, at most 75",
  ];
  for (const e of expected)
    assert.ok(
      violations.some((v) => v.startsWith(e)),
      `${e} in ${violations.join("; ")}`,
    );
});

test("the whole message's block text is bounded too (Slack's undocumented msg_blocks_too_long)", () => {
  const blocks = Array.from({ length: 5 }, () => section("y".repeat(2900)));
  assert.deepEqual(checkBlockLimits(message(blocks)), [
    `blocks: 14500 characters of text in all, at most ${BLOCK_LIMITS.totalBlockText}`,
  ]);
});

test("builders never exceed a block's own limit", () => {
  assert.equal(header("h".repeat(500)).text.text.length, BLOCK_LIMITS.headerText);
  assert.equal(section("s".repeat(5000)).text!.text.length, BLOCK_LIMITS.sectionText);
  assert.equal(fieldsSection(Array<string>(12).fill("f".repeat(3000))).fields!.length, BLOCK_LIMITS.fields);
  assert.equal(fieldsSection(["f".repeat(3000)]).fields![0]!.text.length, BLOCK_LIMITS.fieldText);
  assert.equal(context(...Array<string>(12).fill("c")).elements.length, BLOCK_LIMITS.contextElements);
});

test("packLines: whole lines, as few sections as fit, none over the limit", () => {
  const lines = Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(99, "."));
  const texts = packLines(lines);
  assert.equal(texts.length, 4); // 30 lines of 100 characters (with the newline) a section
  assert.ok(texts.every((t) => t.length <= BLOCK_LIMITS.sectionText));
  assert.deepEqual(texts.join("\n").split("\n"), lines);
  assert.equal(packLines(["z".repeat(4000)])[0]!.length, BLOCK_LIMITS.sectionText);
});

test("packLine measures what packLines builds, line by line: empty, long and over-long lines too", () => {
  let seed = 7;
  const random = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
  for (let round = 0; round < 200; round++) {
    const lines = Array.from({ length: random(60) }, () =>
      "x".repeat([0, 1, 99, 1500, 2999, 3000, 3001, 5000][random(8)]!),
    );
    const max = [3000, 2900, 100][random(3)]!;
    const measured = lines.reduce((p, line) => packLine(p, line, max), NOTHING_PACKED);
    assert.deepEqual(packedSize(measured), sizeOf(packLines(lines, max).map(section)), `round ${round}`);
  }
});

test("chunkGrowing: greedy from the front, an item too big alone gets its own chunk", () => {
  const chunks = chunkGrowing(
    [3, 4, 9, 12, 1, 1, 5],
    0,
    (sum, n) => sum + n,
    (sum) => sum <= 10,
  );
  assert.deepEqual(
    chunks.map((c) => [c.items, c.measure]),
    [
      [[3, 4], 7],
      [[9], 9],
      [[12], 12],
      [[1, 1, 5], 7],
    ],
  );
  assert.deepEqual(
    chunkGrowing(
      [],
      0,
      (a, b: number) => a + b,
      () => true,
    ),
    [],
  );
});

test("foreign text cannot mention, link, break a code span or a line", () => {
  assert.equal(escapeMrkdwn("<!here> & <@U1>"), "&lt;!here&gt; &amp; &lt;@U1&gt;");
  assert.equal(code("a`b<c>"), "`a'b&lt;c&gt;`");
  assert.equal(plain("line one\nline two\u0007"), "line one line two");
  assert.equal(truncate("abcdef", 4), "abc…");
  assert.equal(truncate("a😀bc", 3), "a…", "never half a surrogate pair");
});
