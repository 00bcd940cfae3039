// A ChatReply as terminal text: the same Block Kit the Slack edge posts, rendered for a person at a
// shell prompt (the console adapter, `certs-bot console`). Pure: reply in, string out.
//
// Why render the blocks and not `text`: `text` is only the notification fallback; the blocks are what
// a Slack user reads, and the console exists to show exactly that without a workspace.
import type { Block, ButtonElement, ChatReply, TextObject } from "./slack-types.js";

/** How emphasis looks: ANSI on a terminal, plain characters in a pipe or a file. */
export interface TextStyle {
  bold(text: string): string;
  code(text: string): string;
  dim(text: string): string;
}

export const PLAIN_STYLE: TextStyle = {
  bold: (text) => text,
  // Without colour, the backticks are what sets a certificate or node name apart.
  code: (text) => `\`${text}\``,
  dim: (text) => text,
};

export const ANSI_STYLE: TextStyle = {
  bold: (text) => `\u001b[1m${text}\u001b[22m`,
  code: (text) => `\u001b[36m${text}\u001b[39m`,
  // Bold inside ends with the same code as dim (22), so dim is set again after it.
  dim: (text) => `\u001b[2m${text.replaceAll("\u001b[22m", "\u001b[22m\u001b[2m")}\u001b[22m`,
};

/** The Slack emoji codes our views use; any other code is kept as typed, as Slack would show it. */
const EMOJI: Record<string, string> = {
  white_check_mark: "✅",
  large_yellow_circle: "🟡",
  large_orange_circle: "🟠",
  red_circle: "🔴",
  grey_question: "❔",
  electric_plug: "🔌",
  hourglass_flowing_sand: "⏳",
  alarm_clock: "⏰",
  warning: "⚠️",
  no_entry: "⛔",
  no_entry_sign: "🚫",
  white_circle: "⚪",
  rotating_light: "🚨",
  scissors: "✂️",
  lock: "🔒",
  x: "❌",
  construction: "🚧",
  zzz: "💤",
  bell: "🔔",
};

export const MARKER = "certs-bot";
const EPHEMERAL = "(only you can see this)";
const RULE_WIDTH = 40;
const INDENT = "  ";

const emoji = (text: string): string =>
  text.replace(/:([a-z0-9_+-]+):/g, (all, name: string) => EMOJI[name] ?? all);

/** Undoes escapeMrkdwn (present/format.ts); `&amp;` last, so `&amp;lt;` stays `&lt;`. */
const unescape = (text: string): string =>
  text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

/**
 * One `<…>` token of Slack's markup: mentions, channels, special mentions and links. A label after
 * `|` wins, as Slack shows it; a link keeps its address, which a terminal cannot hide behind a label.
 */
function angle(token: string): string {
  const bar = token.indexOf("|");
  const target = bar < 0 ? token : token.slice(0, bar);
  const label = bar < 0 ? undefined : token.slice(bar + 1);
  if (target.startsWith("@")) return label ? `@${label.replace(/^@/, "")}` : target;
  if (target.startsWith("#")) return label ? `#${label}` : target;
  if (target.startsWith("!subteam^")) return label ?? `@${target.slice("!subteam^".length)}`;
  if (target.startsWith("!")) return label ?? `@${target.slice(1)}`;
  return label ? `${label} (${target})` : target;
}

/** Stands for the i-th code span while the prose around it is converted. */
const slot = (i: number): string => `\ue000${i}\ue001`;

/**
 * Slack mrkdwn as terminal text: markup tokens, *bold*, _italic_ and emoji codes. Code spans are
 * set aside first, so nothing inside them is converted, and bold may still wrap one (`*`/certs`*`).
 */
export function mrkdwnToText(text: string, style: TextStyle = PLAIN_STYLE): string {
  const spans: string[] = [];
  const prose = text
    .replace(/[\ue000\ue001]/g, "")
    .replace(/`([^`\n]+)`/g, (_, inner: string) => slot(spans.push(inner) - 1))
    .replace(/<([^<>\n]+)>/g, (_, token: string) => angle(token))
    .replace(/\*([^*\n]+)\*/g, (_, inner: string) => style.bold(inner))
    .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,;:!?])/g, (_, before: string, inner: string) => before + inner);
  return unescape(emoji(prose)).replace(/\ue000(\d+)\ue001/g, (_, i: string) =>
    style.code(unescape(spans[Number(i)]!)),
  );
}

function textObject(object: TextObject, style: TextStyle): string {
  return object.type === "mrkdwn" ? mrkdwnToText(object.text, style) : emoji(object.text);
}

const button = (element: ButtonElement, style: TextStyle): string =>
  style.bold(`[ ${emoji(element.text.text)} ]`) + (element.url ? ` ${element.url}` : "");

function blockLines(block: Block, style: TextStyle): string[] {
  switch (block.type) {
    case "header": {
      const title = emoji(block.text.text);
      return [style.bold(title), style.dim("═".repeat(Math.min([...title].length, 72)))];
    }
    case "section":
      return [
        ...(block.text ? [textObject(block.text, style)] : []),
        ...(block.fields ?? []).map((field) => textObject(field, style)),
        ...(block.accessory ? [button(block.accessory, style)] : []),
      ];
    case "context":
      return [style.dim(block.elements.map((element) => textObject(element, style)).join("  "))];
    case "divider":
      return [style.dim("─".repeat(RULE_WIDTH))];
    case "actions":
      return [block.elements.map((element) => button(element, style)).join("  ")];
  }
}

/**
 * One message as the console prints it: a `certs-bot:` line (saying when only the user would see
 * it in Slack), then the blocks, indented, one or more lines each.
 */
export function renderReply(reply: ChatReply, ephemeral: boolean, style: TextStyle = PLAIN_STYLE): string {
  const lines = reply.blocks.length
    ? reply.blocks.flatMap((block) => blockLines(block, style))
    : [mrkdwnToText(reply.text, style)];
  const head = style.bold(`${MARKER}${ephemeral ? ` ${EPHEMERAL}` : ""}:`);
  const body = lines.flatMap((line) => line.split("\n")).map((line) => INDENT + line);
  return [head, ...body].join("\n");
}

/** Every button of these messages, in order: section accessories and actions blocks alike. */
export function buttonsOf(replies: readonly ChatReply[]): ButtonElement[] {
  return replies.flatMap((reply) =>
    reply.blocks.flatMap((block) => {
      if (block.type === "actions") return block.elements;
      if (block.type === "section" && block.accessory) return [block.accessory];
      return [];
    }),
  );
}
