// What the buttons certs-bot posts do, in one table for both surfaces: action id (present/actions.ts)
// → use case, with the button's value parsed. Slack (adapters/slack/app.ts) listens to every id here
// and the console (adapters/console/session.ts) clicks a typed label through it; each surface answers
// a use case its own way (Slack checks operators itself, the console types the matching `/certs`).
// A button for an existing use case is one entry; a new use case is a method of ButtonUses too.
// The renewal answers both surfaces show are worded here once.
import type { ChatBackend } from "../core/chat/backend.js";
import { findCluster, type Config } from "../config/load.js";
import type { Click } from "../core/renew/approval.js";
import type { RouterDecision } from "./router.js";
import {
  ACKNOWLEDGE_ACTION,
  APPROVE_ACTION,
  CANCEL_ACTION,
  REJECT_ACTION,
  RUN_NOW_ACTION,
  REQUEST_RENEWAL_ACTION,
  SCAN_NOW_ACTION,
  SNOOZE_DAY_ACTION,
  SNOOZE_WEEK_ACTION,
} from "../present/actions.js";
import type { QuietButton } from "./snooze.js";
import type { ChatReply } from "../present/slack-types.js";
import { renderClickRefused, renderRenewalRefused, renderRenewalRequested } from "../present/thread.js";

/** The use cases a button leads to; a surface implements each (R: what its answer is). */
export interface ButtonUses<R> {
  /** App Home's "Scan now": a scan of the cluster, for its operators (as `/certs scan CLUSTER`). */
  scan(cluster: string): R;
  /** A warning's "Request renewal": a renewal of the cluster, for its operators (as `/certs renew CLUSTER`). */
  requestRenewal(cluster: string): R;
  /** Approve, Reject, Cancel or Run now on an approval card: the desk decides (RenewalDesk.click). */
  renewalClick(requestId: string, action: Click["action"]): R;
  /** A warning's Acknowledge or Snooze: its subjects still open, for the cluster's operators. */
  quiet(cluster: string, how: QuietButton): R;
}

type Dispatch = <R>(uses: ButtonUses<R>, value: string) => R;

const BUTTONS: Readonly<Record<string, Dispatch>> = {
  [SCAN_NOW_ACTION]: (uses, cluster) => uses.scan(cluster),
  [REQUEST_RENEWAL_ACTION]: (uses, cluster) => uses.requestRenewal(cluster),
  [APPROVE_ACTION]: (uses, requestId) => uses.renewalClick(requestId, "approve"),
  [REJECT_ACTION]: (uses, requestId) => uses.renewalClick(requestId, "reject"),
  [ACKNOWLEDGE_ACTION]: (uses, cluster) => uses.quiet(cluster, { kind: "acknowledge" }),
  [SNOOZE_DAY_ACTION]: (uses, cluster) => uses.quiet(cluster, { kind: "snooze", days: 1 }),
  [SNOOZE_WEEK_ACTION]: (uses, cluster) => uses.quiet(cluster, { kind: "snooze", days: 7 }),
  [CANCEL_ACTION]: (uses, requestId) => uses.renewalClick(requestId, "cancel"),
  [RUN_NOW_ACTION]: (uses, requestId) => uses.renewalClick(requestId, "runNow"),
};

/** Every action id a surface answers. */
export const BUTTON_ACTIONS: readonly string[] = Object.keys(BUTTONS);

/** A click on `actionId` with `value`, answered by `uses`; null for an action id that is not ours. */
export function dispatchButton<R>(actionId: string, value: string, uses: ButtonUses<R>): R | null {
  const dispatch = Object.hasOwn(BUTTONS, actionId) ? BUTTONS[actionId] : undefined;
  return dispatch ? dispatch(uses, value) : null;
}

/** Approve, Reject or Cancel by `click.user`: null when it counted, else the refusal shown to them alone. */
export async function answerRenewalClick(
  backend: ChatBackend,
  requestId: string,
  click: Click,
): Promise<ChatReply | null> {
  const outcome = await backend.clickRenewal(requestId, click);
  return outcome.ok ? null : renderClickRefused(outcome.cluster, outcome.reason);
}

/** A renewal the router let `userId` ask for: where its approval card went, or why there is none. */
export async function answerRenewal(
  backend: ChatBackend,
  config: Config,
  renewal: NonNullable<RouterDecision["requestRenewal"]>,
  userId: string,
): Promise<ChatReply> {
  const { node, certs } = renewal;
  const cluster = findCluster(config, renewal.cluster)!; // the router found it
  const outcome = await backend.requestRenewal({
    cluster,
    userId,
    ...(node !== undefined ? { node } : {}),
    ...(certs ? { certs } : {}),
  });
  return outcome.ok
    ? renderRenewalRequested(cluster.name, outcome.request.id, outcome.card.channel)
    : renderRenewalRefused(cluster.name, outcome.reason);
}
