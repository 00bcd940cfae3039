// Small shared pieces of the renderers: mrkdwn that cannot be broken by what a node sent us,
// block builders that never exceed a per-block limit, line packing and message chunking under
// Slack's limits. Pure.
//
// Why so defensive: paths come from config, error texts from remote shells and TLS stacks. A `<`
// in an error would become a Slack link or mention, a backtick would end a code span, and a
// 4 KiB path would break a 3000-character section and with it the whole warning. Everything that
// did not come from us goes through `code` or `plain`, which escape and bound it.
import { isControlPlane, type NodeReport, type Status } from "../core/report/types.js";
import { mention } from "../core/access/access.js";
import { POLICY_REQUESTER } from "../core/renew/policy.js";
import { isPrincipalId, SLACK_ID } from "../config/slack-ids.js";
import {
  BLOCK_LIMITS,
  TEXT_BUDGET,
  blockTextLength,
  type Block,
  type ContextBlock,
  type DividerBlock,
  type HeaderBlock,
  type SectionBlock,
  type SlackMessage,
} from "./slack-types.js";

/** ` · worker node` after a node's status; nothing for a control-plane node (the usual kind). */
export const roleNote = (node: Pick<NodeReport, "role">): string =>
  isControlPlane(node) ? "" : ` · ${node.role} node`;

export const STATUS_EMOJI: Record<Status, string> = {
  ok: ":white_check_mark:",
  superseded: ":white_circle:",
  warning: ":large_yellow_circle:",
  missing: ":grey_question:",
  unreadable: ":grey_question:",
  unreachable: ":electric_plug:",
  critical: ":large_orange_circle:",
  "not-yet-valid": ":red_circle:",
  expired: ":red_circle:",
};

export const STATUS_LABEL: Record<Status, string> = {
  ok: "ok",
  superseded: "superseded",
  warning: "warning",
  missing: "missing",
  unreadable: "unreadable",
  unreachable: "unreachable",
  critical: "critical",
  "not-yet-valid": "not yet valid",
  expired: "expired",
};

/** `1 day`, `3 days`. */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** `a, b, c and 4 more`: the first `max` items as given (already escaped), then how many are left. */
export function listUpTo(items: readonly string[], max: number): string {
  const shown = items.slice(0, max).join(", ");
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

/** At most `max` UTF-16 units, an ellipsis marking the cut, never half a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = Math.max(0, max - 1);
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return `${text.slice(0, cut)}…`;
}

const CONTROL = /[\u0000-\u001f\u007f]/; // eslint-disable-line no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f]+/g; // eslint-disable-line no-control-regex

/** Control characters and newlines become spaces: a remote error must not start a new line. */
export const oneLine = (text: string): string =>
  (CONTROL.test(text) ? text.replace(CONTROLS, " ") : text).trim();

const MRKDWN = /[&<>]/;
const MRKDWN_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

/** Slack's three mrkdwn control characters (most text has none, and is returned as it is). */
export const escapeMrkdwn = (text: string): string =>
  MRKDWN.test(text) ? text.replace(/[&<>]/g, (c) => MRKDWN_ESCAPES[c]!) : text;

/** Foreign text as mrkdwn prose: one line, bounded, escaped. */
export const plain = (text: string, max = 300): string => escapeMrkdwn(truncate(oneLine(text), max));

/** Foreign text as a code span (a backtick inside would end it, so it becomes a quote). */
export const code = (text: string, max = 200): string =>
  `\`${escapeMrkdwn(truncate(oneLine(text).replace(/`/g, "'"), max))}\``;

/**
 * Who did something: a Slack id as a mention, certs-bot's policy by name, anything else (a console
 * name, a corrupt record) as code, never markup.
 */
export const person = (id: string): string =>
  isPrincipalId(id) ? mention(id) : id === POLICY_REQUESTER ? `_${POLICY_REQUESTER}_` : code(id, 40);

/** ` by <@U…>` after what a user did; nothing when the id is not a user's (a console name). */
export const byUser = (id: string): string => (SLACK_ID.user.test(id) ? ` by <@${id}>` : "");

export const header = (text: string): HeaderBlock => ({
  type: "header",
  text: { type: "plain_text", text: truncate(oneLine(text), BLOCK_LIMITS.headerText), emoji: true },
});

export const section = (mrkdwn: string): SectionBlock => ({
  type: "section",
  text: { type: "mrkdwn", text: truncate(mrkdwn, BLOCK_LIMITS.sectionText) },
});

export const fieldsSection = (fields: string[]): SectionBlock => ({
  type: "section",
  fields: fields
    .slice(0, BLOCK_LIMITS.fields)
    .map((text) => ({ type: "mrkdwn", text: truncate(text, BLOCK_LIMITS.fieldText) })),
});

export const context = (...mrkdwn: string[]): ContextBlock => ({
  type: "context",
  elements: mrkdwn
    .slice(0, BLOCK_LIMITS.contextElements)
    .map((text) => ({ type: "mrkdwn", text: truncate(text, BLOCK_LIMITS.contextText) })),
});

export const divider = (): DividerBlock => ({ type: "divider" });

/** Where packLines ends a section: before a line that does not fit after the open one. */
const breaksBefore = (open: number, line: number, max: number): boolean => open > 0 && open + 1 + line > max;

/**
 * Lines joined into as few section texts as fit `max` characters each, in order, never splitting a
 * line (one longer than `max` alone is truncated).
 */
export function packLines(lines: readonly string[], max: number = BLOCK_LIMITS.sectionText): string[] {
  const texts: string[] = [];
  let current = "";
  for (const raw of lines) {
    const line = truncate(raw, max);
    if (breaksBefore(current.length, line.length, max)) {
      texts.push(current);
      current = "";
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) texts.push(current);
  return texts;
}

/**
 * What packLines' sections weigh, without building them: an immutable value grown line by line
 * with packLine. `open` is the length of the section still open (0: none).
 */
export interface Packed {
  readonly sections: number;
  readonly chars: number;
  readonly open: number;
}

export const NOTHING_PACKED: Packed = { sections: 0, chars: 0, open: 0 };

/** `packed` with `line` placed after it, as packLines places it. */
export function packLine(packed: Packed, line: string, max: number = BLOCK_LIMITS.sectionText): Packed {
  const length = truncate(line, max).length;
  const { sections, chars, open } = breaksBefore(packed.open, length, max)
    ? { ...packed, sections: packed.sections + 1, open: 0 }
    : packed;
  return open > 0
    ? { sections, chars: chars + 1 + length, open: open + 1 + length }
    : { sections, chars: chars + length, open: length };
}

/** Blocks and characters of block text: what the budget counts. */
export interface Size {
  blocks: number;
  chars: number;
}

export const NO_SIZE: Size = { blocks: 0, chars: 0 };
export const sizeOf = (blocks: readonly Block[]): Size => ({
  blocks: blocks.length,
  chars: blockTextLength(blocks),
});
export const packedSize = (packed: Packed): Size => ({
  blocks: packed.sections + (packed.open > 0 ? 1 : 0),
  chars: packed.chars,
});
export const plus = (...sizes: Size[]): Size =>
  sizes.reduce((a, b) => ({ blocks: a.blocks + b.blocks, chars: a.chars + b.chars }), NO_SIZE);

/** Does a message of this size stay under the block count and the text budget the renderers aim at? */
export const withinBudget = (size: Size): boolean =>
  size.blocks <= BLOCK_LIMITS.maxBlocks && size.chars <= TEXT_BUDGET;

export const fitsBudget = (message: SlackMessage): boolean => withinBudget(sizeOf(message.blocks));

/** Consecutive items that fit one message, and their measure. */
interface Chunk<T, S> {
  items: [T, ...T[]];
  measure: S;
}

/**
 * Items split into consecutive chunks, each as long as it still fits, with the measure of each:
 * `add` returns the measure of a chunk grown by one item (leaving the one given as it was), `fits`
 * judges a measure. Greedy from the front, hence deterministic: re-chunking what is left after
 * posting the first k chunks yields the same remaining chunks (which keeps action ids stable across
 * a poster's retries). An item too big alone still gets its own chunk.
 */
export function chunkGrowing<T, S>(
  items: readonly T[],
  empty: S,
  add: (chunk: S, item: T) => S,
  fits: (chunk: S) => boolean,
): Chunk<T, S>[] {
  const chunks: Chunk<T, S>[] = [];
  let current: Chunk<T, S> | undefined;
  for (const item of items) {
    if (current) {
      const grown = add(current.measure, item);
      if (fits(grown)) {
        current.items.push(item);
        current.measure = grown;
        continue;
      }
      chunks.push(current);
    }
    current = { items: [item], measure: add(empty, item) };
  }
  if (current) chunks.push(current);
  return chunks;
}

/** chunkGrowing measured by the real renderer, so no estimate can drift from what is posted. */
export const chunkToFit = <T>(items: readonly T[], render: (chunk: T[]) => SlackMessage): T[][] =>
  // The usual case, everything in one message, is measured once rather than item by item.
  items.length > 0 && fitsBudget(render([...items]))
    ? [[...items]]
    : chunkGrowing(
        items,
        [] as T[],
        (chunk, item) => [...chunk, item],
        (chunk) => fitsBudget(render(chunk)),
      ).map((chunk) => chunk.items);
