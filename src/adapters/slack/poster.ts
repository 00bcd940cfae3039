// Posts and updates rendered messages through Slack's Web API (@slack/web-api, as Bolt uses):
// every channel message certs-bot posts or edits goes through SlackPoster. Paces each channel's
// posts to about one a second across all processes (a slot reserved in Redis), and lets the client
// honour 429 Retry-After. A message that still fails is thrown to the job, which BullMQ retries
// later; what was posted is remembered by action id, so a retry never re-posts.
import { WebClient, type ChatPostMessageArguments, type ChatUpdateArguments } from "@slack/web-api";
import type { Logger } from "pino";
import type { CardLocation } from "../../core/renew/ports.js";
import type { MessagePoster, OutgoingMessage } from "../../core/ports.js";
import type { Store } from "../store/store.js";
import { scrubTokens } from "../log/logger.js";

/** Slack allows about one message per second per channel (short bursts tolerated). */
export const CHANNEL_SPACING_MS = 1100;

export interface SlackEnvironment {
  token: string;
  apiUrl?: string;
}

export function slackEnvironment(env: NodeJS.ProcessEnv = process.env): SlackEnvironment | null {
  const token = env.SLACK_BOT_TOKEN;
  if (!token) return null;
  return { token, ...(env.SLACK_API_URL ? { apiUrl: env.SLACK_API_URL } : {}) };
}

/** How a WebClient retries and waits: job calls can afford retries, interactive ones cannot. */
export interface CallTuning {
  retries: number;
  timeoutMs: number;
  /** false: wait out 429 Retry-After, then retry (each 429 uses up a retry); true: fail at once. */
  rejectRateLimited: boolean;
}

// A few quick retries for 5xx and network errors; beyond that the BullMQ job's own attempts/backoff
// take over, so a Slack outage never blocks a worker for half an hour. The client's default
// timeout is none: a hung connection would hold the job forever.
export const JOB_CALLS: CallTuning = { retries: 3, timeoutMs: 15_000, rejectRateLimited: false };

/** Lookups on the way to an answer Slack wants within 3 s: one try, quickly, or fail closed. */
export const INTERACTIVE_CALLS: CallTuning = { retries: 0, timeoutMs: 1500, rejectRateLimited: true };

export function webClient(
  slack: SlackEnvironment,
  logger?: Logger,
  tuning: CallTuning = JOB_CALLS,
): WebClient {
  return new WebClient(slack.token, {
    ...(slack.apiUrl ? { slackApiUrl: slack.apiUrl } : {}),
    retryConfig: { retries: tuning.retries, factor: 2, minTimeout: 500, maxTimeout: 4000 },
    rejectRateLimitedCalls: tuning.rejectRateLimited,
    timeout: tuning.timeoutMs,
    ...(logger ? { logger: slackLogger(logger) } : {}),
  });
}

/** pino behind the Logger interface of @slack/web-api and Bolt (their levels are pino's), tokens scrubbed. */
export function slackLogger(logger: Logger) {
  const child = logger.child({ component: "slack" });
  const text = (m: unknown[]) => scrubTokens(m.join(" "));
  return {
    debug: (...m: unknown[]) => child.debug(text(m)),
    info: (...m: unknown[]) => child.info(text(m)),
    warn: (...m: unknown[]) => child.warn(text(m)),
    error: (...m: unknown[]) => child.error(text(m)),
    setLevel: () => undefined,
    getLevel: () => "info" as never,
    setName: () => undefined,
  };
}

export class SlackPoster implements MessagePoster {
  constructor(
    private readonly client: WebClient,
    private readonly store: Store,
  ) {}

  /**
   * Posts once per `actionId`: a retried job gets the ts of the earlier post back instead of
   * posting again.
   */
  async postOnce(
    actionId: string,
    message: OutgoingMessage,
    threadTs?: string,
    broadcast = false,
  ): Promise<string> {
    const earlier = await this.store.postedTs(actionId);
    if (earlier) return earlier;
    const ts = await this.post(message, threadTs, broadcast);
    if (!ts) throw new Error(`Slack accepted ${actionId} without a message ts`);
    await this.store.markPosted(actionId, ts);
    return ts;
  }

  /**
   * Posts in the channel's pace, remembering nothing: for a note that may be said again (a typed
   * snooze told in a warning's thread). Returns the message's ts, if Slack gave one.
   */
  async post(message: OutgoingMessage, threadTs?: string, broadcast = false): Promise<string | undefined> {
    const wait = await this.store.reserveSlot(message.channel, CHANNEL_SPACING_MS);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const result = await this.client.chat.postMessage({
      channel: message.channel,
      text: message.text,
      blocks: message.blocks,
      ...(threadTs ? { thread_ts: threadTs, ...(broadcast ? { reply_broadcast: true } : {}) } : {}),
      unfurl_links: false,
    } as ChatPostMessageArguments);
    return result.ts;
  }

  /** chat.update, with the same client (retries, 429 Retry-After) as the posts. */
  async update(at: CardLocation, content: Omit<OutgoingMessage, "channel">): Promise<void> {
    // Our blocks are a structural subset of Slack's (present/slack-types.ts).
    await this.client.chat.update({
      channel: at.channel,
      ts: at.ts,
      text: content.text,
      blocks: content.blocks,
    } as ChatUpdateArguments);
  }
}
