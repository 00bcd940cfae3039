// The slice of Slack's Block Kit that certs-bot posts, and the limits Slack enforces on it.
//
// Why our own types instead of @slack/types: the views are pure and render plain data that a
// test can compare and `certs-bot digest --print` can print; these few shapes are all we emit, and
// they are structurally a subset of @slack/types' KnownBlock (a unit test checks it), so the poster
// hands them to chat.postMessage as they are.
//
// Why the limits live here: Slack rejects the whole message (invalid_blocks, msg_blocks_too_long)
// when one text is a character too long, and a warning that fails to post is worse than a long
// one. The renderers pack their text under these numbers by construction; checkBlockLimits is the
// independent check that the tests run on every rendered message.

export interface PlainText {
  type: "plain_text";
  text: string;
  emoji?: boolean;
}

export interface Mrkdwn {
  type: "mrkdwn";
  text: string;
  /** true: Slack leaves URLs, @mentions and #channels in the text as typed. */
  verbatim?: boolean;
}

export type TextObject = PlainText | Mrkdwn;

export interface ButtonElement {
  type: "button";
  text: PlainText;
  action_id: string;
  value?: string;
  url?: string;
  style?: "primary" | "danger";
}

export interface HeaderBlock {
  type: "header";
  text: PlainText;
  block_id?: string;
}

export interface SectionBlock {
  type: "section";
  text?: TextObject;
  fields?: TextObject[];
  accessory?: ButtonElement;
  block_id?: string;
}

export interface ContextBlock {
  type: "context";
  elements: TextObject[];
  block_id?: string;
}

export interface DividerBlock {
  type: "divider";
  block_id?: string;
}

export interface ActionsBlock {
  type: "actions";
  elements: ButtonElement[];
  block_id?: string;
}

export type Block = HeaderBlock | SectionBlock | ContextBlock | DividerBlock | ActionsBlock;

/**
 * One chat.postMessage worth of content. Where it goes in a thread (thread_ts, reply_broadcast) is
 * the caller's business: see AlertAction in core/alerts/actions.ts and renderDigest in digest.ts.
 */
export interface SlackMessage {
  channel: string;
  /** Notification and accessibility fallback; Slack shows it where blocks cannot be shown. */
  text: string;
  blocks: Block[];
}

/** One message of a reply; where it goes (channel, thread, ephemeral) is the edge's business. */
export interface ChatReply {
  /** Notification and accessibility fallback. Names the cluster. */
  text: string;
  blocks: Block[];
}

/** Counted in UTF-16 code units (String#length), never fewer than Slack's characters: safe side. */
export const BLOCK_LIMITS = {
  /** Blocks in one message. */
  maxBlocks: 50,
  /** Blocks in a Home tab view (views.publish). */
  homeBlocks: 100,
  /** A section's text object. */
  sectionText: 3000,
  /** Fields in one section. */
  fields: 10,
  /** One field's text. */
  fieldText: 2000,
  /** A header's plain text. */
  headerText: 150,
  /** Elements in one context block. */
  contextElements: 10,
  /** One context element's text. */
  contextText: 3000,
  /** Elements in one actions block. */
  actionsElements: 25,
  /** A button's label. */
  buttonText: 75,
  /** A button's value. */
  buttonValue: 2000,
  /** action_id and block_id. */
  id: 255,
  /** The message's top-level `text`: Slack truncates beyond this. */
  messageText: 40_000,
  /**
   * All text in a message's blocks together. Not in Slack's documentation: chat.postMessage answers
   * msg_blocks_too_long somewhere around 12–13k characters of block text even when every block is
   * within its own limit (slackapi/bolt-js#2509, #2867). Our renderers aim at TEXT_BUDGET below.
   */
  totalBlockText: 12_000,
} as const;

/**
 * What the renderers pack a message to: under totalBlockText with a margin, because Slack does not
 * say exactly what it counts (markup, JSON escapes, per-block overhead).
 */
export const TEXT_BUDGET = 10_000;

/** Every text a message's blocks carry (what counts against totalBlockText). */
export function blockTexts(blocks: readonly Block[]): string[] {
  const texts: string[] = [];
  for (const block of blocks) {
    switch (block.type) {
      case "header":
        texts.push(block.text.text);
        break;
      case "section":
        if (block.text) texts.push(block.text.text);
        for (const field of block.fields ?? []) texts.push(field.text);
        if (block.accessory) texts.push(block.accessory.text.text);
        break;
      case "context":
        for (const element of block.elements) texts.push(element.text);
        break;
      case "actions":
        for (const element of block.elements) texts.push(element.text.text);
        break;
      case "divider":
        break;
    }
  }
  return texts;
}

export const blockTextLength = (blocks: readonly Block[]): number =>
  blockTexts(blocks).reduce((sum, text) => sum + text.length, 0);

function checkText(where: string, text: TextObject, max: number, out: string[]): void {
  if (text.text.length === 0) out.push(`${where}: empty text`);
  if (text.text.length > max) out.push(`${where}: ${text.text.length} characters, at most ${max}`);
}

function checkButton(where: string, button: ButtonElement, out: string[]): void {
  if (button.text.type !== "plain_text") out.push(`${where}.text: must be plain_text`);
  checkText(`${where}.text`, button.text, BLOCK_LIMITS.buttonText, out);
  if (button.action_id.length === 0 || button.action_id.length > BLOCK_LIMITS.id) {
    out.push(`${where}.action_id: 1 to ${BLOCK_LIMITS.id} characters`);
  }
  if (button.value !== undefined && button.value.length > BLOCK_LIMITS.buttonValue) {
    out.push(`${where}.value: ${button.value.length} characters, at most ${BLOCK_LIMITS.buttonValue}`);
  }
}

/**
 * Every way `message` breaks a Block Kit limit, as `blocks[3].text: 3120 characters, at most 3000`.
 * Empty when Slack will take it. A Home view takes more blocks: pass `BLOCK_LIMITS.homeBlocks`.
 */
export function checkBlockLimits(
  message: SlackMessage,
  maxBlocks: number = BLOCK_LIMITS.maxBlocks,
): string[] {
  const out: string[] = [];
  if (message.channel.length === 0) out.push("channel: empty");
  if (message.text.trim().length === 0) out.push("text: empty (it is the notification fallback)");
  if (message.text.length > BLOCK_LIMITS.messageText) {
    out.push(`text: ${message.text.length} characters, at most ${BLOCK_LIMITS.messageText}`);
  }
  if (message.blocks.length > maxBlocks) {
    out.push(`blocks: ${message.blocks.length}, at most ${maxBlocks}`);
  }
  const blockIds = new Set<string>();
  message.blocks.forEach((block, i) => {
    const at = `blocks[${i}]`;
    if (block.block_id !== undefined) {
      if (block.block_id.length === 0 || block.block_id.length > BLOCK_LIMITS.id) {
        out.push(`${at}.block_id: 1 to ${BLOCK_LIMITS.id} characters`);
      }
      if (blockIds.has(block.block_id)) out.push(`${at}.block_id: "${block.block_id}" is used twice`);
      blockIds.add(block.block_id);
    }
    switch (block.type) {
      case "header":
        if (block.text.type !== "plain_text") out.push(`${at}.text: a header takes plain_text`);
        checkText(`${at}.text`, block.text, BLOCK_LIMITS.headerText, out);
        break;
      case "section":
        if (!block.text && !block.fields?.length) out.push(`${at}: a section needs text or fields`);
        if (block.text) checkText(`${at}.text`, block.text, BLOCK_LIMITS.sectionText, out);
        if (block.fields && block.fields.length > BLOCK_LIMITS.fields) {
          out.push(`${at}.fields: ${block.fields.length}, at most ${BLOCK_LIMITS.fields}`);
        }
        block.fields?.forEach((field, j) =>
          checkText(`${at}.fields[${j}]`, field, BLOCK_LIMITS.fieldText, out),
        );
        if (block.accessory) checkButton(`${at}.accessory`, block.accessory, out);
        break;
      case "context":
        if (block.elements.length === 0 || block.elements.length > BLOCK_LIMITS.contextElements) {
          out.push(`${at}.elements: ${block.elements.length}, 1 to ${BLOCK_LIMITS.contextElements}`);
        }
        block.elements.forEach((element, j) =>
          checkText(`${at}.elements[${j}]`, element, BLOCK_LIMITS.contextText, out),
        );
        break;
      case "actions":
        if (block.elements.length === 0 || block.elements.length > BLOCK_LIMITS.actionsElements) {
          out.push(`${at}.elements: ${block.elements.length}, 1 to ${BLOCK_LIMITS.actionsElements}`);
        }
        block.elements.forEach((element, j) => checkButton(`${at}.elements[${j}]`, element, out));
        break;
      case "divider":
        break;
    }
  });
  const total = blockTextLength(message.blocks);
  if (total > BLOCK_LIMITS.totalBlockText) {
    out.push(`blocks: ${total} characters of text in all, at most ${BLOCK_LIMITS.totalBlockText}`);
  }
  return out;
}
