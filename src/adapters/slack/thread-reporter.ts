// A renewal run's voice in Slack: in the approval card's thread, one status message updated in place
// (coalesced: at most one chat.update per UPDATE_SPACING_MS, the last state always shown), one reply
// per finished step, and the summary at the end. Replies are posted once per key (SlackPoster), so a
// rerun after a crash does not repeat what was already said, and the status message is found again.
import type { Logger } from "pino";
import type { ProgressEvent } from "../../core/renew/progress.js";
import type { CardLocation, RunReporter } from "../../core/renew/ports.js";
import type { RunState } from "../../core/renew/run-state.js";
import { renderRunStatus, renderRunSummary, renderStepReply } from "../../present/thread.js";
import type { MessagePoster } from "../../core/ports.js";

/** chat.update is rate-limited (Tier 3, ~50 a minute); steps can end faster than that. */
export const UPDATE_SPACING_MS = 1500;

export interface ThreadReporterOptions {
  poster: MessagePoster;
  card: CardLocation;
  requestId: string;
  timeZone: string;
  logger: Logger;
  /** After the summary: e.g. refresh the approval card with the request's final state. */
  onFinished?: (state: RunState) => Promise<void>;
  spacingMs?: number;
}

/** The post-once key of a run's status message (the checklist). */
const statusKey = (requestId: string): string => `renewal:${requestId}:status`;

/**
 * A run that waited for its window and whose request was cancelled: its checklist says so (it would
 * say "waiting" forever otherwise). Nothing when the run never posted one.
 */
export async function showCancelledRun(
  poster: MessagePoster,
  postedTs: (actionId: string) => Promise<string | null>,
  card: CardLocation,
  state: RunState,
  timeZone: string,
): Promise<void> {
  const ts = await postedTs(statusKey(state.requestId));
  if (ts)
    await poster.update({ channel: card.channel, ts }, renderRunStatus(state, { timeZone, now: new Date() }));
}

export class SlackThreadReporter implements RunReporter {
  private statusTs?: string;
  private latest?: RunState;
  private shown?: RunState;
  private lastUpdate = 0;
  private timer?: NodeJS.Timeout;
  /** One update at a time, in order. */
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly options: ThreadReporterOptions) {}

  async status(state: RunState): Promise<void> {
    this.latest = state;
    if (!this.statusTs) return this.enqueue();
    if (this.timer) return; // an update is already due; it will show the latest state
    const wait = this.lastUpdate + (this.options.spacingMs ?? UPDATE_SPACING_MS) - Date.now();
    if (wait <= 0) return this.enqueue();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.enqueue();
    }, wait);
  }

  async step(event: ProgressEvent, state: RunState): Promise<void> {
    if (event.status === "running") return;
    const { poster, card, requestId } = this.options;
    const key = `renewal:${requestId}:${state.attempts}:${event.node}:${event.step}:${event.skipped ? "skip" : "end"}`;
    await this.quietly("step reply", () =>
      poster.postOnce(key, { channel: card.channel, ...renderStepReply(event, state.cluster) }, card.ts),
    );
  }

  async finished(state: RunState): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.latest = state;
    await this.enqueue();
    const { poster, card, requestId, timeZone } = this.options;
    await this.quietly("summary", () =>
      poster.postOnce(
        `renewal:${requestId}:summary`,
        { channel: card.channel, ...renderRunSummary(state, { timeZone }) },
        card.ts,
        true, // the outcome also shows in the channel
      ),
    );
    await this.options.onFinished?.(state);
  }

  private enqueue(): Promise<void> {
    this.chain = this.chain.then(() => this.show());
    return this.chain;
  }

  /** Posts the status message the first time, then updates it to the latest state. */
  private async show(): Promise<void> {
    const state = this.latest;
    if (!state || state === this.shown) return;
    const { poster, card, requestId, timeZone } = this.options;
    const reply = renderRunStatus(state, { timeZone, now: new Date() });
    this.shown = state;
    this.lastUpdate = Date.now();
    await this.quietly("status", async () => {
      if (!this.statusTs) {
        this.statusTs = await poster.postOnce(
          statusKey(requestId),
          { channel: card.channel, ...reply },
          card.ts,
        );
        // A first run posted this state just now; a rerun found the old message, showing an old state.
        if (state.attempts === 1) return;
      }
      await poster.update({ channel: card.channel, ts: this.statusTs }, reply);
    });
  }

  /** Telling Slack must never fail the renewal itself: a failed message is logged. */
  private async quietly(what: string, post: () => Promise<unknown>): Promise<void> {
    try {
      await post();
    } catch (err) {
      this.options.logger.warn(
        { request: this.options.requestId, err: (err as Error).message },
        `could not post the renewal ${what} to Slack`,
      );
    }
  }
}
