// The action_id of every button certs-bot posts. The views that draw a button and the edges that
// route its click (adapters/slack/app.ts, adapters/console/session.ts) import it from here, so no view imports another.

/** "Scan now" in App Home: value is the cluster name. */
export const SCAN_NOW_ACTION = "scan_now";
/** Approve on a renewal's approval card: value is the request id. */
export const APPROVE_ACTION = "renewal_approve";
/** Reject on a renewal's approval card: value is the request id. */
export const REJECT_ACTION = "renewal_reject";
/** Cancel on the card of an approved run that waits for its maintenance window: value is the request id. */
export const CANCEL_ACTION = "renewal_cancel";
/** "Run now" on the card of an approved run that waits for its maintenance window: value is the request id. */
export const RUN_NOW_ACTION = "renewal_run_now";
/** "Request renewal" on a critical or expired warning: value is the cluster name. */
export const REQUEST_RENEWAL_ACTION = "renewal_request";
/**
 * Acknowledge on a warning: value is the cluster name. What it quiets is the message's subjects
 * still open: the alert records whose thread is the clicked message.
 */
export const ACKNOWLEDGE_ACTION = "alert_acknowledge";
/** "Snooze 1 day" on a warning: value and subjects as Acknowledge. */
export const SNOOZE_DAY_ACTION = "alert_snooze_day";
/** "Snooze 7 days" on a warning: value and subjects as Acknowledge. */
export const SNOOZE_WEEK_ACTION = "alert_snooze_week";
