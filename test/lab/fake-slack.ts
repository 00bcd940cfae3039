// A fake Slack Web API on loopback: the one stand-in for Slack in the test suite. Clients talk real
// HTTP to it (no in-process shortcuts), and it answers as Slack does wherever our code could tell
// the difference: HTTP 200 with {ok:false} for API errors, 429 + Retry-After for rate limits,
// Slack's error names, Block Kit limits with Slack-style json-pointer reasons. Every call is recorded.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";

export interface RecordedCall {
  method: string;
  /** Arguments as Slack reads them: form fields, with JSON-valued fields (blocks, view, …) parsed. */
  args: Record<string, unknown>;
  token?: string;
  /** Date.now() when the request body had arrived. */
  at: number;
  response: Record<string, unknown>;
  status: number;
  contentType?: string;
}

export interface Block {
  type: string;
  block_id?: string;
  [key: string]: unknown;
}

export interface PostedMessage {
  channel: string;
  ts: string;
  /** Set on replies: the ts of the thread's parent. */
  thread_ts?: string;
  text: string;
  blocks?: Block[];
  attachments?: unknown[];
  metadata?: unknown;
  user: string;
  bot_id: string;
}

export interface PostedEphemeral {
  channel: string;
  user: string;
  message_ts: string;
  thread_ts?: string;
  text: string;
  blocks?: Block[];
}

export interface FakeChannel {
  name?: string;
  is_private?: boolean;
  /** Default true; false → chat.postMessage answers not_in_channel. */
  is_member?: boolean;
  is_archived?: boolean;
}

export interface FakeUser {
  name?: string;
  real_name?: string;
  tz?: string;
  is_bot?: boolean;
  deleted?: boolean;
}

export type Failure =
  { status: 500 | 502 | 503 | 504 } | { status: 429; retryAfter: number } | { error: string };

export interface FakeSlackOptions {
  /** Expected bot token (default "xoxb-test"). */
  token?: string;
  /** App-level token that apps.connections.open requires, as Slack does (default "xapp-test"). */
  appToken?: string;
  /** Messages a channel may take at once before rate limiting (default 3). */
  burst?: number;
  /** Sustained chat.postMessage rate per channel (default 1). */
  perChannelPerSecond?: number;
  /** Retry-After on 429, whole seconds as Slack sends (default 1). */
  retryAfterSeconds?: number;
  /**
   * Characters of text across a message's blocks before msg_blocks_too_long (default 12000).
   * Slack does not document this limit; it answers so somewhere around 12-13k even when every
   * block is within its own limits (slackapi/bolt-js#2509, #2867).
   */
  maxBlocksText?: number;
  /** Conversations that exist; without it any well-formed id (C…, G…, D…) exists. */
  channels?: Record<string, FakeChannel>;
  /** Users that exist; without it any well-formed id (U…, W…) exists. */
  users?: Record<string, FakeUser>;
  /** Usergroup id → member user ids. */
  usergroups?: Record<string, string[]>;
  /** Channel id → member user ids, for conversations.members (default: nobody). */
  channelMembers?: Record<string, string[]>;
  /** What apps.connections.open hands out; without it the call answers not_allowed. */
  socketModeUrl?: string;
}

export interface FakeSlack {
  /** e.g. "http://127.0.0.1:PORT/api/" — pass as WebClient's slackApiUrl. */
  url: string;
  /** Every call, in order, including rejected ones. Cleared in place by reset(). */
  calls: RecordedCall[];
  /** Accepted chat.postMessage messages (updates applied, deletions removed), oldest first. */
  messages(channel?: string): PostedMessage[];
  ephemerals(channel?: string): PostedEphemeral[];
  /** The Home tab last published for a user. */
  homeView(userId: string): Record<string, unknown> | undefined;
  /** The next `times` calls of `method` fail this way, before any other processing. */
  failNext(method: string, times: number, how: Failure): void;
  onCall?: (call: RecordedCall) => void;
  /** Forget calls, messages, views, injected failures and rate-limit state (ts keep increasing). */
  reset(): void;
  close(): Promise<void>;
}

/** Who the fake says the bot is (auth.test and message authorship). */
export const FAKE_BOT = { user_id: "U0BOT", team_id: "T0TEAM", bot_id: "B0BOT", app_id: "A0APP" } as const;

type Args = Record<string, unknown>;
interface Answer {
  status: number;
  body: Args;
  headers?: Record<string, string>;
}

const ok = (body: Args = {}): Answer => ({ status: 200, body: { ok: true, ...body } });
const fail = (error: string, extra: Args = {}): Answer => ({
  status: 200,
  body: { ok: false, error, ...extra },
});
const isObject = (v: unknown): v is Args => typeof v === "object" && v !== null && !Array.isArray(v);

// Fields Slack documents as "a JSON-based array/object … presented as a URL-encoded string".
const JSON_FIELDS = new Set(["blocks", "attachments", "view", "metadata"]);

const MAX_TEXT = 40_000;
const MAX_MESSAGE_BLOCKS = 50;
const MAX_VIEW_BLOCKS = 100;

const BLOCK_TYPES = new Set([
  "actions",
  "context",
  "divider",
  "file",
  "header",
  "image",
  "input",
  "markdown",
  "rich_text",
  "section",
  "table",
  "video",
]);
const INTERACTIVE = [
  "button",
  "channels_select",
  "checkboxes",
  "conversations_select",
  "datepicker",
  "datetimepicker",
  "external_select",
  "multi_channels_select",
  "multi_conversations_select",
  "multi_external_select",
  "multi_static_select",
  "multi_users_select",
  "overflow",
  "radio_buttons",
  "static_select",
  "timepicker",
  "users_select",
  "workflow_button",
];
const ACTION_ELEMENTS = new Set(INTERACTIVE);
const ACCESSORIES = new Set([...INTERACTIVE, "image"]);
const ANY_TEXT = ["plain_text", "mrkdwn"];
const PLAIN = ["plain_text"];

/**
 * Block Kit checks with Slack's reason format, "<reason> [json-pointer:/blocks/3/text/text]".
 * Lengths are UTF-16 units, which is never fewer than what Slack counts: passing here passes there.
 */
class BlockCheck {
  readonly errors: string[] = [];

  fail(reason: string, pointer: string): void {
    this.errors.push(`${reason} [json-pointer:${pointer}]`);
  }

  maxLength(value: unknown, max: number, pointer: string): void {
    if (typeof value === "string" && value.length > max)
      this.fail(`must be less than ${max + 1} characters`, pointer);
  }

  items(value: unknown, pointer: string, max: number): unknown[] {
    if (!Array.isArray(value)) {
      this.fail("must be an array", pointer);
      return [];
    }
    if (value.length === 0) this.fail("must contain at least 1 item", pointer);
    if (value.length > max) this.fail(`no more than ${max} items allowed`, pointer);
    return value;
  }

  text(value: unknown, pointer: string, max: number, kinds = ANY_TEXT): void {
    if (!isObject(value)) return this.fail("must be a text object", pointer);
    if (typeof value.type !== "string" || !kinds.includes(value.type))
      return this.fail(`unsupported type: ${String(value.type)}`, `${pointer}/type`);
    if (typeof value.text !== "string") return this.fail("missing required field: text", pointer);
    if (value.text.length === 0) this.fail("must be more than 0 characters", `${pointer}/text`);
    this.maxLength(value.text, max, `${pointer}/text`);
  }

  image(value: Args, pointer: string): void {
    if (value.image_url === undefined && value.slack_file === undefined)
      this.fail("missing required field: image_url", pointer);
    this.maxLength(value.image_url, 3000, `${pointer}/image_url`);
    if (typeof value.alt_text !== "string") this.fail("missing required field: alt_text", pointer);
    this.maxLength(value.alt_text, 2000, `${pointer}/alt_text`);
  }

  element(value: unknown, pointer: string, allowed: Set<string>): void {
    if (!isObject(value)) return this.fail("must be an object", pointer);
    if (typeof value.type !== "string" || !allowed.has(value.type))
      return this.fail(`unsupported type: ${String(value.type)}`, `${pointer}/type`);
    this.maxLength(value.action_id, 255, `${pointer}/action_id`);
    if (value.type === "image") return this.image(value, pointer);
    if (value.type !== "button") return;
    this.text(value.text, `${pointer}/text`, 75, PLAIN);
    this.maxLength(value.value, 2000, `${pointer}/value`);
    this.maxLength(value.url, 3000, `${pointer}/url`);
    this.style(value.style, `${pointer}/style`);
    if (value.confirm !== undefined) this.confirm(value.confirm, `${pointer}/confirm`);
  }

  style(value: unknown, pointer: string): void {
    if (value !== undefined && value !== "primary" && value !== "danger")
      this.fail(`unsupported value: ${String(value)}`, pointer);
  }

  confirm(value: unknown, pointer: string): void {
    if (!isObject(value)) return this.fail("must be an object", pointer);
    this.text(value.title, `${pointer}/title`, 100, PLAIN);
    this.text(value.text, `${pointer}/text`, 300);
    this.text(value.confirm, `${pointer}/confirm`, 30, PLAIN);
    this.text(value.deny, `${pointer}/deny`, 30, PLAIN);
    this.style(value.style, `${pointer}/style`);
  }

  blocks(blocks: unknown[], pointer: string, max: number): void {
    if (blocks.length > max) this.fail(`no more than ${max} items allowed`, pointer);
    const blockIds = new Set<string>();
    blocks.forEach((block, i) => {
      const at = `${pointer}/${i}`;
      if (!isObject(block)) return this.fail("must be an object", at);
      if (typeof block.type !== "string" || !BLOCK_TYPES.has(block.type))
        return this.fail(`unsupported type: ${String(block.type)}`, `${at}/type`);
      if (typeof block.block_id === "string") {
        this.maxLength(block.block_id, 255, `${at}/block_id`);
        if (blockIds.has(block.block_id))
          this.fail(`duplicate block_id: ${block.block_id}`, `${at}/block_id`);
        blockIds.add(block.block_id);
      }
      this.block(block, at);
    });
  }

  block(block: Args, at: string): void {
    switch (block.type) {
      case "section":
        if (block.text === undefined && block.fields === undefined)
          this.fail("must provide either text or fields", at);
        if (block.text !== undefined) this.text(block.text, `${at}/text`, 3000);
        if (block.fields !== undefined)
          this.items(block.fields, `${at}/fields`, 10).forEach((f, j) =>
            this.text(f, `${at}/fields/${j}`, 2000),
          );
        if (block.accessory !== undefined) this.element(block.accessory, `${at}/accessory`, ACCESSORIES);
        return;
      case "header":
        return this.text(block.text, `${at}/text`, 150, PLAIN);
      case "context":
        return this.items(block.elements, `${at}/elements`, 10).forEach((e, j) => {
          if (isObject(e) && e.type === "image") this.image(e, `${at}/elements/${j}`);
          else this.text(e, `${at}/elements/${j}`, Infinity);
        });
      case "actions": {
        const actionIds = new Set<unknown>();
        return this.items(block.elements, `${at}/elements`, 25).forEach((e, j) => {
          this.element(e, `${at}/elements/${j}`, ACTION_ELEMENTS);
          if (!isObject(e) || e.action_id === undefined) return;
          if (actionIds.has(e.action_id))
            this.fail(`duplicate action_id: ${String(e.action_id)}`, `${at}/elements/${j}/action_id`);
          actionIds.add(e.action_id);
        });
      }
      case "image":
        this.image(block, at);
        if (block.title !== undefined) this.text(block.title, `${at}/title`, 2000, PLAIN);
        return;
      case "input":
        this.text(block.label, `${at}/label`, 2000, PLAIN);
        if (!isObject(block.element)) this.fail("missing required field: element", at);
        return;
      case "markdown":
        if (typeof block.text !== "string") return this.fail("missing required field: text", at);
        return this.maxLength(block.text, 12_000, `${at}/text`);
      case "rich_text":
        if (!Array.isArray(block.elements)) this.fail("missing required field: elements", at);
        return;
    }
  }
}

/** Every `text` string anywhere in the blocks (text objects, markdown, rich text), summed. */
function blocksTextLength(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + blocksTextLength(v), 0);
  if (!isObject(value)) return 0;
  return Object.entries(value).reduce(
    (sum, [key, v]) => sum + (key === "text" && typeof v === "string" ? v.length : blocksTextLength(v)),
    0,
  );
}

function channelIdOk(id: string): boolean {
  return /^[CGD][A-Z0-9]+$/.test(id);
}

function parseForm(raw: string, into: Args): void {
  for (const [key, value] of new URLSearchParams(raw)) {
    if (!JSON_FIELDS.has(key)) {
      into[key] = value;
      continue;
    }
    try {
      into[key] = JSON.parse(value);
    } catch {
      // Kept as the string: the method then answers with its "invalid format" error.
      into[key] = value;
    }
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const botToken = options.token ?? "xoxb-test";
  const appToken = options.appToken ?? "xapp-test";
  const burst = options.burst ?? 3;
  const perSecond = options.perChannelPerSecond ?? 1;
  const retryAfter = options.retryAfterSeconds ?? 1;
  const maxBlocksText = options.maxBlocksText ?? 12_000;

  const calls: RecordedCall[] = [];
  const messages: PostedMessage[] = [];
  const ephemerals: PostedEphemeral[] = [];
  const homeViews = new Map<string, Args>();
  const failures = new Map<string, Failure[]>();
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastMicros = 0;

  // Slack's ts: epoch seconds with six decimals, unique and increasing within a channel.
  const nextTs = (): string => {
    lastMicros = Math.max(lastMicros + 1, Date.now() * 1000);
    return `${Math.floor(lastMicros / 1e6)}.${String(lastMicros % 1e6).padStart(6, "0")}`;
  };

  // Token bucket per channel, refilled continuously: `burst` at once, then `perSecond` sustained.
  const takeToken = (channel: string): boolean => {
    const now = performance.now();
    const bucket = buckets.get(channel) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    buckets.set(channel, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };

  const findChannel = (id: unknown): (FakeChannel & { id: string }) | undefined => {
    if (typeof id !== "string") return undefined;
    if (options.channels) {
      const channel = options.channels[id];
      return channel && { id, ...channel };
    }
    return channelIdOk(id) ? { id } : undefined;
  };

  const findUser = (id: unknown): (FakeUser & { id: string }) | undefined => {
    if (typeof id !== "string") return undefined;
    if (id === FAKE_BOT.user_id) return { id, name: "certs-bot", is_bot: true };
    if (options.users) {
      const user = options.users[id];
      return user && { id, ...user };
    }
    return /^[UW][A-Z0-9]+$/.test(id) ? { id } : undefined;
  };

  const findMessage = (channel: unknown, ts: unknown) =>
    messages.find((m) => m.channel === channel && m.ts === ts);

  /** Text, blocks, attachments as chat.* methods check them; an Answer when they are refused. */
  const checkContent = (args: Args): Answer | undefined => {
    const hasText = args.text !== undefined && String(args.text) !== "";
    const hasBlocks = Array.isArray(args.blocks) ? args.blocks.length > 0 : args.blocks !== undefined;
    if (!hasText && !hasBlocks && args.attachments === undefined) return fail("no_text");
    if (hasText && String(args.text).length > MAX_TEXT) return fail("msg_too_long");
    if (args.attachments !== undefined && !Array.isArray(args.attachments))
      return fail("invalid_attachments");
    if (args.blocks === undefined) return undefined;
    if (!Array.isArray(args.blocks)) return fail("invalid_blocks_format");
    const check = new BlockCheck();
    check.blocks(args.blocks, "/blocks", MAX_MESSAGE_BLOCKS);
    if (check.errors.length > 0)
      return fail("invalid_blocks", {
        errors: check.errors,
        response_metadata: { messages: check.errors.map((e) => `[ERROR] ${e}`) },
      });
    // Slack says no more than the error name here.
    return blocksTextLength(args.blocks) > maxBlocksText ? fail("msg_blocks_too_long") : undefined;
  };

  const messageOf = (m: PostedMessage): Args => ({
    type: "message",
    text: m.text,
    user: m.user,
    bot_id: m.bot_id,
    app_id: FAKE_BOT.app_id,
    team: FAKE_BOT.team_id,
    ts: m.ts,
    ...(m.thread_ts !== undefined && { thread_ts: m.thread_ts, parent_user_id: FAKE_BOT.user_id }),
    ...(m.blocks !== undefined && { blocks: m.blocks }),
    ...(m.attachments !== undefined && { attachments: m.attachments }),
    ...(m.metadata !== undefined && { metadata: m.metadata }),
  });

  const postMessage = (args: Args): Answer => {
    const channel = findChannel(args.channel);
    if (!channel) return fail("channel_not_found");
    if (channel.is_archived) return fail("is_archived");
    if (channel.is_member === false) return fail("not_in_channel");
    if (!takeToken(channel.id))
      return {
        status: 429,
        body: { ok: false, error: "ratelimited" },
        headers: { "retry-after": `${retryAfter}` },
      };
    const refused = checkContent(args);
    if (refused) return refused;
    let threadTs: string | undefined;
    if (args.thread_ts !== undefined && args.thread_ts !== "") {
      const parent = findMessage(channel.id, String(args.thread_ts));
      if (!parent) return fail("thread_not_found");
      // A reply to a reply lands in the same thread.
      threadTs = parent.thread_ts ?? parent.ts;
    }
    const message: PostedMessage = {
      channel: channel.id,
      ts: nextTs(),
      ...(threadTs !== undefined && { thread_ts: threadTs }),
      text: args.text === undefined ? "" : String(args.text),
      ...(Array.isArray(args.blocks) && { blocks: args.blocks as Block[] }),
      ...(Array.isArray(args.attachments) && { attachments: args.attachments }),
      ...(args.metadata !== undefined && { metadata: args.metadata }),
      user: FAKE_BOT.user_id,
      bot_id: FAKE_BOT.bot_id,
    };
    messages.push(message);
    return ok({ channel: channel.id, ts: message.ts, message: messageOf(message) });
  };

  const update = (args: Args): Answer => {
    if (!findChannel(args.channel)) return fail("channel_not_found");
    const message = findMessage(args.channel, args.ts);
    if (!message) return fail("message_not_found");
    const refused = checkContent(args);
    if (refused) return refused;
    // Slack keeps what the update leaves out; an empty blocks array removes the blocks.
    if (args.text !== undefined) message.text = String(args.text);
    if (Array.isArray(args.blocks))
      if (args.blocks.length > 0) message.blocks = args.blocks as Block[];
      else delete message.blocks;
    if (Array.isArray(args.attachments)) message.attachments = args.attachments;
    return ok({ channel: message.channel, ts: message.ts, text: message.text, message: messageOf(message) });
  };

  const postEphemeral = (args: Args): Answer => {
    const channel = findChannel(args.channel);
    if (!channel) return fail("channel_not_found");
    if (!findUser(args.user)) return fail("user_not_found");
    const refused = checkContent(args);
    if (refused) return refused;
    const ephemeral: PostedEphemeral = {
      channel: channel.id,
      user: String(args.user),
      message_ts: nextTs(),
      ...(args.thread_ts !== undefined && { thread_ts: String(args.thread_ts) }),
      text: args.text === undefined ? "" : String(args.text),
      ...(Array.isArray(args.blocks) && { blocks: args.blocks as Block[] }),
    };
    ephemerals.push(ephemeral);
    return ok({ message_ts: ephemeral.message_ts });
  };

  const remove = (args: Args): Answer => {
    if (!findChannel(args.channel)) return fail("channel_not_found");
    const message = findMessage(args.channel, args.ts);
    if (!message) return fail("message_not_found");
    messages.splice(messages.indexOf(message), 1);
    return ok({ channel: message.channel, ts: message.ts });
  };

  const conversationInfo = (args: Args): Answer => {
    const channel = findChannel(args.channel);
    if (!channel) return fail("channel_not_found");
    const isIm = channel.id.startsWith("D");
    const isPrivate = channel.is_private ?? channel.id.startsWith("G");
    return ok({
      channel: {
        id: channel.id,
        name: channel.name ?? channel.id.toLowerCase(),
        is_channel: !isIm && !isPrivate,
        is_group: isPrivate,
        is_im: isIm,
        is_private: isPrivate || isIm,
        is_archived: channel.is_archived ?? false,
        is_member: channel.is_member ?? true,
        created: 1_600_000_000,
      },
    });
  };

  const userInfo = (args: Args): Answer => {
    const user = findUser(args.user);
    if (!user) return fail("user_not_found");
    const name = user.name ?? user.id.toLowerCase();
    const realName = user.real_name ?? name;
    return ok({
      user: {
        id: user.id,
        team_id: FAKE_BOT.team_id,
        name,
        real_name: realName,
        deleted: user.deleted ?? false,
        is_bot: user.is_bot ?? false,
        tz: user.tz ?? "Etc/UTC",
        profile: { real_name: realName, display_name: name },
      },
    });
  };

  const usergroupUsers = (args: Args): Answer => {
    const users = typeof args.usergroup === "string" ? options.usergroups?.[args.usergroup] : undefined;
    return users ? ok({ users: [...users] }) : fail("no_such_subteam");
  };

  // Paginated as Slack does: `limit` (default 100, at most 1000) and an opaque cursor.
  const conversationMembers = (args: Args): Answer => {
    const channel = findChannel(args.channel);
    if (!channel) return fail("channel_not_found");
    const all = options.channelMembers?.[channel.id] ?? [];
    const limit = Math.min(Math.max(Number(args.limit) || 100, 1), 1000);
    const cursor = typeof args.cursor === "string" ? args.cursor : "";
    const offset = cursor ? Number(/^offset:(\d+)$/.exec(Buffer.from(cursor, "base64").toString())?.[1]) : 0;
    if (!Number.isInteger(offset)) return fail("invalid_cursor");
    const end = offset + limit;
    const next = end < all.length ? Buffer.from(`offset:${end}`).toString("base64") : "";
    return ok({ members: all.slice(offset, end), response_metadata: { next_cursor: next } });
  };

  // views.* report bad input as invalid_arguments with the reasons in response_metadata.messages.
  const publishView = (args: Args): Answer => {
    const invalid = (reasons: string[]) =>
      fail("invalid_arguments", { response_metadata: { messages: reasons.map((r) => `[ERROR] ${r}`) } });
    if (!findUser(args.user_id)) return fail("user_not_found");
    const view = args.view;
    if (!isObject(view)) return invalid(["must be an object [json-pointer:/view]"]);
    if (view.type !== "home")
      return invalid([`unsupported type: ${String(view.type)} [json-pointer:/view/type]`]);
    if (!Array.isArray(view.blocks)) return invalid(["missing required field: blocks [json-pointer:/view]"]);
    const check = new BlockCheck();
    check.blocks(view.blocks, "/view/blocks", MAX_VIEW_BLOCKS);
    if (check.errors.length > 0) return invalid(check.errors);
    const published = { ...view, id: `V${nextTs().replace(".", "")}`, team_id: FAKE_BOT.team_id };
    homeViews.set(String(args.user_id), published);
    return ok({ view: published });
  };

  const connectionsOpen = (): Answer =>
    options.socketModeUrl === undefined ? fail("not_allowed") : ok({ url: options.socketModeUrl });

  const methods: Record<string, (args: Args) => Answer> = {
    "auth.test": () =>
      ok({
        url: "https://fake-team.slack.com/",
        team: "Fake Team",
        user: "certs-bot",
        team_id: FAKE_BOT.team_id,
        user_id: FAKE_BOT.user_id,
        bot_id: FAKE_BOT.bot_id,
        is_enterprise_install: false,
      }),
    "chat.postMessage": postMessage,
    "chat.update": update,
    "chat.postEphemeral": postEphemeral,
    "chat.delete": remove,
    "conversations.info": conversationInfo,
    "conversations.members": conversationMembers,
    "users.info": userInfo,
    "usergroups.users.list": usergroupUsers,
    "views.publish": publishView,
    "apps.connections.open": connectionsOpen,
  };

  const answer = (method: string, args: Args, token: string | undefined): Answer => {
    const injected = failures.get(method)?.shift();
    if (injected) {
      if ("error" in injected) return fail(injected.error);
      if (injected.status === 429)
        return {
          status: 429,
          body: { ok: false, error: "ratelimited" },
          headers: { "retry-after": `${injected.retryAfter}` },
        };
      return { status: injected.status, body: { ok: false, error: "internal_error" } };
    }
    const handler = methods[method];
    if (!handler) return fail("unknown_method", { req_method: method });
    if (token === undefined || token === "") return fail("not_authed");
    if (token !== botToken && token !== appToken) return fail("invalid_auth");
    // Socket Mode wants the app-level token and nothing else takes it.
    if ((method === "apps.connections.open") !== (token === appToken)) return fail("not_allowed_token_type");
    return handler(args);
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://fake-slack");
      const method = /^\/api\/([\w.]+)$/.exec(url.pathname)?.[1];
      const raw = await readBody(req);
      if (!method) {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found");
        return;
      }
      const contentType = req.headers["content-type"];
      const isJson = contentType?.startsWith("application/json") ?? false;
      const args: Args = {};
      parseForm(url.search, args);
      let result: Answer | undefined;
      if (isJson) {
        try {
          const body: unknown = raw.trim() === "" ? {} : JSON.parse(raw);
          if (isObject(body)) Object.assign(args, body);
          else result = fail("invalid_json");
        } catch {
          result = fail("invalid_json");
        }
      } else {
        parseForm(raw, args);
      }
      // A token inside a JSON body does not count: JSON callers must use the Authorization header.
      const fieldToken = typeof args.token === "string" && !isJson ? args.token : undefined;
      delete args.token;
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const token = bearer ?? fieldToken;
      result ??= answer(method, args, token);
      if (isJson && result.status === 200 && !/charset=utf-8/i.test(contentType ?? "")) {
        // What Slack does with a JSON body that does not declare its charset.
        const metadata = isObject(result.body.response_metadata) ? result.body.response_metadata : {};
        result.body = {
          ...result.body,
          warning: "missing_charset",
          response_metadata: { ...metadata, warnings: ["missing_charset"] },
        };
      }
      const call: RecordedCall = {
        method,
        args,
        ...(token !== undefined && { token }),
        at: Date.now(),
        response: result.body,
        status: result.status,
        ...(contentType !== undefined && { contentType }),
      };
      calls.push(call);
      fake.onCall?.(call);
      res
        .writeHead(result.status, { "content-type": "application/json; charset=utf-8", ...result.headers })
        .end(JSON.stringify(result.body));
    })().catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });

  const fake: FakeSlack = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`,
    calls,
    messages: (channel) =>
      structuredClone(messages.filter((m) => channel === undefined || m.channel === channel)),
    ephemerals: (channel) =>
      structuredClone(ephemerals.filter((m) => channel === undefined || m.channel === channel)),
    homeView: (userId) => structuredClone(homeViews.get(userId)),
    failNext: (method, times, how) => {
      const queue = failures.get(method) ?? [];
      for (let i = 0; i < times; i++) queue.push(how);
      failures.set(method, queue);
    },
    reset: () => {
      calls.length = 0;
      messages.length = 0;
      ephemerals.length = 0;
      homeViews.clear();
      failures.clear();
      buckets.clear();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
  return fake;
}
