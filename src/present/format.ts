// Small shared pieces of the notify renderers: mrkdwn that cannot be broken by what a node sent us,
// block builders that never exceed a per-block limit, line packing and message chunking under
// Slack's limits. Pure.
//
// Why so defensive: paths come from config, error texts from remote shells and TLS stacks. A `<`
// in an error would become a Slack link or mention, a backtick would end a code span, and a
// 4 KiB path would break a 3000-character section and with it the whole warning. Everything that
// did not come from us goes through `code` or `plain`, which escape and bound it.
import { createHash } from "node:crypto";
import type { Status } from "../core/report/types.js";
import {
  BLOCK_LIMITS,
  TEXT_BUDGET,
  blockTextLength,
  type ContextBlock,
  type DividerBlock,
  type HeaderBlock,
  type SectionBlock,
  type SlackMessage,
} from "./slack-types.js";

export const STATUS_EMOJI: Record<Status, string> = {
  ok: ":white_check_mark:",
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
  warning: "warning",
  missing: "missing",
  unreadable: "unreadable",
  unreachable: "unreachable",
  critical: "critical",
  "not-yet-valid": "not yet valid",
  expired: "expired",
};

/** At most `max` UTF-16 units, an ellipsis marking the cut, never half a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = Math.max(0, max - 1);
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return `${text.slice(0, cut)}…`;
}

/** Control characters and newlines become spaces: a remote error must not start a new line. */
export const oneLine = (text: string): string => text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim(); // eslint-disable-line no-control-regex

/** Slack's three mrkdwn control characters. */
export const escapeMrkdwn = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Foreign text as mrkdwn prose: one line, bounded, escaped. */
export const plain = (text: string, max = 300): string => escapeMrkdwn(truncate(oneLine(text), max));

/** Foreign text as a code span (a backtick inside would end it, so it becomes a quote). */
export const code = (text: string, max = 200): string =>
  `\`${escapeMrkdwn(truncate(oneLine(text).replace(/`/g, "'"), max))}\``;

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

/**
 * Lines joined into as few section texts as fit `max` characters each, in order, never splitting a
 * line (one longer than `max` alone is truncated).
 */
export function packLines(lines: readonly string[], max: number = BLOCK_LIMITS.sectionText): string[] {
  const texts: string[] = [];
  let current = "";
  for (const raw of lines) {
    const line = truncate(raw, max);
    if (current && current.length + 1 + line.length > max) {
      texts.push(current);
      current = "";
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) texts.push(current);
  return texts;
}

/** Does `message` stay under the block count and the text budget the renderers aim at? */
export const fitsBudget = (message: SlackMessage): boolean =>
  message.blocks.length <= BLOCK_LIMITS.maxBlocks && blockTextLength(message.blocks) <= TEXT_BUDGET;

/**
 * Items split into consecutive chunks, each as long as `render(chunk)` still fits the budget. The
 * real renderer is the measure, so no estimate can drift from what is posted. Greedy from the
 * front, hence deterministic: re-chunking what is left after posting the first k chunks yields the
 * same remaining chunks (which keeps action ids stable across a poster's retries).
 */
export function chunkToFit<T>(items: readonly T[], render: (chunk: T[]) => SlackMessage): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  for (const item of items) {
    const candidate = [...current, item];
    if (current.length > 0 && !fitsBudget(render(candidate))) {
      chunks.push(current);
      current = [item];
    } else {
      current = candidate;
    }
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** A short, stable digest of some strings (order-sensitive), for action ids. */
export const shortHash = (parts: readonly string[]): string =>
  createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 16);
