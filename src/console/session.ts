// One person at the console: a line in, the bot's answers out, through the same pure router and
// views as Slack and a ChatBackend (in memory for `certs-bot console`). Like the Slack edge, it
// posts the immediate reply first and the result of a queued scan when that scan is done; it only
// prints instead of posting. Reading lines and the terminal are console.ts's business.
import type { ChatBackend } from "../chat/backend.js";
import { SCAN_NOW_ACTION } from "../chat/home.js";
import { decideCommand } from "../chat/router.js";
import { renderScanDone, renderScanFailed, type ChatReply } from "../chat/views.js";
import type { Config } from "../config/load.js";
import type { ButtonElement } from "../notify/slack-types.js";
import { buttonsOf, MARKER, renderReply, type TextStyle } from "./text.js";

export type LineAction =
  | { kind: "empty" }
  | { kind: "quit" }
  | { kind: "hint" }
  /** What follows `/certs`, typed or standing behind a clicked button. */
  | { kind: "command"; text: string }
  /** A button whose action the console cannot perform. */
  | { kind: "no-action"; label: string }
  /** Several shown buttons have this label but do different things (one "Scan now" per cluster). */
  | { kind: "ambiguous"; label: string };

/**
 * What a button does, as the `/certs` text that does the same, so a click goes through the same
 * parser and access rules as typing it (App Home's "Scan now" needs an operator like `/certs scan`).
 */
export function buttonCommand(button: ButtonElement): string | null {
  if (button.action_id === SCAN_NOW_ACTION && button.value) return `scan ${button.value}`;
  return null;
}

/** A typed line: `/certs …`, the label of a button shown last (any case), quit/exit, or else a hint. */
export function interpretLine(line: string, buttons: readonly ButtonElement[]): LineAction {
  const typed = line.trim();
  if (!typed) return { kind: "empty" };
  const command = /^\/certs(?:\s+(.*))?$/i.exec(typed);
  if (command) return { kind: "command", text: command[1] ?? "" };
  if (/^(quit|exit)$/i.test(typed)) return { kind: "quit" };
  const matching = buttons.filter((b) => b.text.text.toLowerCase() === typed.toLowerCase());
  const [clicked] = matching;
  if (!clicked) return { kind: "hint" };
  if (matching.some((b) => b.action_id !== clicked.action_id || b.value !== clicked.value)) {
    return { kind: "ambiguous", label: clicked.text.text };
  }
  const text = buttonCommand(clicked);
  return text === null ? { kind: "no-action", label: clicked.text.text } : { kind: "command", text };
}

export interface SessionOptions {
  config: Config;
  backend: ChatBackend;
  userId: string;
  channelId: string;
  /** Prints one message or note (no trailing newline). */
  print(text: string): void;
  style: TextStyle;
}

export class ConsoleSession {
  /** The buttons of the last answer that had any: what a typed label can click. */
  private buttons: ButtonElement[] = [];
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: SessionOptions) {}

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
    const { config, backend, userId, channelId } = this.options;
    const decision = await decideCommand(backend, config, { text, userId, channelId }, new Date());
    this.show(decision.reply, decision.ephemeral);
    if (decision.enqueueScan !== undefined) {
      const scan = this.scan(decision.enqueueScan, true).finally(() => this.pending.delete(scan));
      this.pending.add(scan);
    }
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

  private show(replies: readonly ChatReply[], ephemeral: boolean): void {
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
