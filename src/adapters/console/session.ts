// One person at the console: a line in, the bot's answers out, through the same pure router and
// views as Slack and a ChatBackend (in memory for `certs-bot console`). Like the Slack edge, it
// posts the immediate reply first and the result of a queued scan when that scan is done; it only
// prints instead of posting. Reading lines and the terminal are console.ts's business.
import type { ChatBackend } from "../../core/chat/backend.js";
import { decideCommand } from "../../app/router.js";
import { answerRenewal, answerRenewalClick, dispatchButton, type ButtonUses } from "../../app/actions.js";
import type { Click } from "../../core/renew/approval.js";
import { renderRenewalPlanning, renderScanDone, renderScanFailed } from "../../present/views.js";
import { renderRenewalRefused } from "../../present/thread.js";
import type { Config } from "../../config/load.js";
import { SLACK_ID } from "../../config/slack-ids.js";
import type { ButtonElement, ChatReply } from "../../present/slack-types.js";
import { buttonsOf, MARKER, renderReply, type TextStyle } from "../../present/console-text.js";

export type LineAction =
  | { kind: "empty" }
  | { kind: "quit" }
  | { kind: "hint" }
  /** What follows `/certs`, typed or standing behind a clicked button. */
  | { kind: "command"; text: string }
  /** A button whose action the console cannot perform. */
  | { kind: "no-action"; label: string }
  /** Several shown buttons have this label but do different things (one "Scan now" per cluster). */
  | { kind: "ambiguous"; label: string }
  /** Approve or Reject on an approval card. */
  | { kind: "click"; action: Click["action"]; requestId: string }
  /** `as USER [GROUP,…]`: act as another person from now on (how a second approver is shown). */
  | { kind: "as"; user: string; groups: string[] }
  | { kind: "bad-as"; why: string };

function interpretAs(rest: string): LineAction {
  const [user = "", groupList = "", ...extra] = rest.split(/\s+/).filter(Boolean);
  const groups = groupList.split(",").filter(Boolean);
  if (!SLACK_ID.user.test(user))
    return { kind: "bad-as", why: `${user || "nothing"} is not a Slack user id such as U0BOB0001` };
  const bad = groups.find((g) => !SLACK_ID.usergroup.test(g));
  if (bad) return { kind: "bad-as", why: `${bad} is not a Slack user group id such as S0SREGROUP` };
  if (extra.length)
    return { kind: "bad-as", why: "as takes a user id and at most one comma-separated list of groups" };
  return { kind: "as", user, groups };
}

/**
 * A button's use case at the console: a scan or a renewal as the `/certs` text that does the same, so
 * a click goes through the same parser and access rules as typing it (App Home's "Scan now" needs an
 * operator like `/certs scan`, a warning's "Request renewal" like `/certs renew`); Approve or Reject
 * as a click the desk decides.
 */
const CONSOLE_BUTTONS: ButtonUses<LineAction> = {
  scan: (cluster) => ({ kind: "command", text: `scan ${cluster}` }),
  requestRenewal: (cluster) => ({ kind: "command", text: `renew ${cluster}` }),
  renewalClick: (requestId, action) => ({ kind: "click", action, requestId }),
  // The console posts no warnings, so it never shows their buttons; `/certs snooze` does the same.
  quiet: (_cluster, how) => ({
    kind: "no-action",
    label: how.kind === "snooze" ? `Snooze ${how.days} day${how.days === 1 ? "" : "s"}` : "Acknowledge",
  }),
};

/** What clicking `button` does here; null for a button without a value or not of ours. */
export function buttonAction(button: ButtonElement): LineAction | null {
  return button.value ? dispatchButton(button.action_id, button.value, CONSOLE_BUTTONS) : null;
}

/** A typed line: `/certs …`, the label of a button shown last (any case), quit/exit, or else a hint. */
export function interpretLine(line: string, buttons: readonly ButtonElement[]): LineAction {
  const typed = line.trim();
  if (!typed) return { kind: "empty" };
  const command = /^\/certs(?:\s+(.*))?$/i.exec(typed);
  if (command) return { kind: "command", text: command[1] ?? "" };
  if (/^(quit|exit)$/i.test(typed)) return { kind: "quit" };
  const as = /^as(?:\s+(.*))?$/i.exec(typed);
  if (as) return interpretAs(as[1] ?? "");
  const matching = buttons.filter((b) => b.text.text.toLowerCase() === typed.toLowerCase());
  const [clicked] = matching;
  if (!clicked) return { kind: "hint" };
  if (matching.some((b) => b.action_id !== clicked.action_id || b.value !== clicked.value)) {
    return { kind: "ambiguous", label: clicked.text.text };
  }
  return buttonAction(clicked) ?? { kind: "no-action", label: clicked.text.text };
}

export interface SessionOptions {
  config: Config;
  backend: ChatBackend;
  /** Who types (until `as` changes it). */
  userId: string;
  /** Simulated user groups per user (there is no Slack to ask); `as USER GROUPS` sets them. */
  groups: Map<string, readonly string[]>;
  channelId: string;
  /** Whether an approved renewal can run here (--allow-renewals); if not, renew only shows the plan. */
  runsRenewals: boolean;
  /** Prints one message or note (no trailing newline). */
  print(text: string): void;
  style: TextStyle;
}

export class ConsoleSession {
  /** The buttons of the last answer that had any: what a typed label can click. */
  private buttons: ButtonElement[] = [];
  private readonly pending = new Set<Promise<void>>();
  private user: string;

  constructor(private readonly options: SessionOptions) {
    this.user = options.userId;
  }

  /** Who is typing now. */
  get userId(): string {
    return this.user;
  }

  /** Answers one line; false when the person asked to leave. */
  async handle(line: string): Promise<boolean> {
    const action = interpretLine(line, this.buttons);
    switch (action.kind) {
      case "empty":
        return true;
      case "quit":
        return false;
      case "hint":
        this.note("commands start with /certs, e.g. /certs help or /certs list; quit leaves.");
        return true;
      case "no-action":
        this.note(`nothing to do for [ ${action.label} ] here.`);
        return true;
      case "ambiguous":
        this.note(`several buttons say [ ${action.label} ]; type the /certs command instead.`);
        return true;
      case "command":
        await this.command(action.text);
        return true;
      case "as":
        this.user = action.user;
        this.options.groups.set(action.user, action.groups);
        this.note(
          `you are ${action.user} now (user groups: ${action.groups.length ? action.groups.join(", ") : "none"}).`,
        );
        return true;
      case "bad-as":
        this.note(`${action.why}; nothing changed.`);
        return true;
      case "click":
        await this.click(action.action, action.requestId);
        return true;
    }
  }

  /** Scans these clusters without announcing the results (failures are still printed). */
  async scanQuietly(clusters: readonly string[]): Promise<void> {
    await Promise.all(clusters.map((cluster) => this.scan(cluster, false)));
  }

  /** Scans still running for earlier commands. */
  get running(): number {
    return this.pending.size;
  }

  /** Resolves once every scan asked for so far has printed its answer. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
  }

  private async command(text: string): Promise<void> {
    const { config, backend, channelId } = this.options;
    const userId = this.user;
    const decision = await decideCommand(backend, config, { text, userId, channelId }, new Date());
    const renewal = decision.requestRenewal;
    // The router's answer promises an approval card, which a console that cannot renew never posts.
    const planOnly = renewal && !this.options.runsRenewals;
    this.show(
      planOnly ? [renderRenewalPlanning(renewal.cluster, false)] : decision.reply,
      decision.ephemeral,
    );
    if (decision.enqueueScan !== undefined) this.track(this.scan(decision.enqueueScan, true));
    if (renewal) {
      // Awaited, unlike a scan: the approval card should be on screen before the next line is read.
      try {
        this.show([await answerRenewal(backend, config, renewal, userId)], true);
      } catch (err) {
        this.show([renderRenewalRefused(renewal.cluster, (err as Error).message)], true);
      }
    }
  }

  /** Approve, Reject or Cancel typed as a button label; checked by the desk like a click in Slack. */
  private async click(action: Click["action"], requestId: string): Promise<void> {
    const refusal = await answerRenewalClick(this.options.backend, requestId, { user: this.user, action });
    if (refusal) this.show([refusal], true);
  }

  /** Keeps background work counted until it has printed its answer. */
  track(work: Promise<void>): void {
    const tracked = work.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  /** Requests a scan and, when `announce`, prints its result as the Slack edge would post it. */
  private async scan(cluster: string, announce: boolean): Promise<void> {
    try {
      const scan = await (await this.options.backend.requestScan(cluster)).done;
      if (announce) this.show([renderScanDone({ cluster, scan, now: new Date() })], false);
    } catch (err) {
      this.show([renderScanFailed(cluster, (err as Error).message)], false);
    }
  }

  /** Prints messages as Slack would show them; the edge's posts (cards, run reports) come here too. */
  show(replies: readonly ChatReply[], ephemeral: boolean): void {
    for (const reply of replies) this.options.print(renderReply(reply, ephemeral, this.options.style));
    // A message without buttons does not take away the ones shown before it (a scan finishing in
    // the background must not), as older buttons stay clickable in Slack's history.
    const buttons = buttonsOf(replies);
    if (buttons.length > 0) this.buttons = buttons;
  }

  private note(text: string): void {
    this.options.print(`${this.options.style.bold(`${MARKER}:`)} ${text}`);
  }
}
