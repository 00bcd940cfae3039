// Requests as Slack sends them to an app in HTTP mode, signed with the app's signing secret:
// slash commands and block_actions (button clicks), form-encoded as Slack does. Bolt checks the
// signature and timestamp; these build what it checks.
import { createHmac } from "node:crypto";

let sent = 0;

/** The x-slack-* headers for `body`, signed at `at` (default now). */
export function signed(body: string, secret: string, at = Date.now()): Record<string, string> {
  const ts = Math.floor(at / 1000);
  const signature = createHmac("sha256", secret).update(`v0:${ts}:${body}`).digest("hex");
  return { "x-slack-request-timestamp": String(ts), "x-slack-signature": `v0=${signature}` };
}

/** A `/certs TEXT` slash command body; its response_url is `responseUrl`. */
export function commandBody(text: string, user: string, channel: string, responseUrl: string): string {
  return new URLSearchParams({
    token: "deprecated-verification-token",
    team_id: "T0TEAM",
    team_domain: "fake-team",
    channel_id: channel,
    channel_name: channel.toLowerCase(),
    user_id: user,
    user_name: user.toLowerCase(),
    command: "/certs",
    text,
    api_app_id: "A0APP",
    is_enterprise_install: "false",
    response_url: responseUrl,
    trigger_id: `${++sent}.1234.abcdef`,
  }).toString();
}

export interface ClickedButton {
  actionId: string;
  value: string;
  label: string;
}

/** Where the clicked button was: a message in a channel, or the App Home view. */
export type ButtonContainer =
  | {
      type: "message";
      channel: string;
      ts: string;
      responseUrl: string;
      /** The clicked message's content, as Slack sends it along (default: empty). */
      text?: string;
      blocks?: readonly unknown[];
    }
  | { type: "view"; viewId: string };

/** A block_actions body for one button click by `user`. */
export function clickBody(user: string, button: ClickedButton, where: ButtonContainer): string {
  const place =
    where.type === "message"
      ? {
          container: {
            type: "message",
            message_ts: where.ts,
            channel_id: where.channel,
            is_ephemeral: false,
          },
          channel: { id: where.channel, name: where.channel.toLowerCase() },
          message: {
            type: "message",
            ts: where.ts,
            text: where.text ?? "",
            user: "U0BOT",
            ...(where.blocks ? { blocks: where.blocks } : {}),
          },
          response_url: where.responseUrl,
        }
      : {
          container: { type: "view", view_id: where.viewId },
          view: {
            id: where.viewId,
            type: "home",
            team_id: "T0TEAM",
            blocks: [],
            app_id: "A0APP",
            bot_id: "B0BOT",
          },
        };
  const payload = JSON.stringify({
    type: "block_actions",
    user: { id: user, username: user.toLowerCase(), team_id: "T0TEAM" },
    api_app_id: "A0APP",
    token: "deprecated-verification-token",
    trigger_id: `${++sent}.1234.abcdef`,
    team: { id: "T0TEAM", domain: "fake-team" },
    is_enterprise_install: false,
    ...place,
    actions: [
      {
        action_id: button.actionId,
        block_id: "actions",
        text: { type: "plain_text", text: button.label },
        value: button.value,
        type: "button",
        action_ts: `${Date.now() / 1000}`,
      },
    ],
  });
  return new URLSearchParams({ payload }).toString();
}
