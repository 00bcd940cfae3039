// What a Slack id looks like, once for every layer: the config validates ids with these, the
// console takes only ids Slack could send, and the renderers mention only ids (never a name).
// Slack ids are a type letter and uppercase letters or digits.
//
// Where a direct message (D…) counts as a channel: a DM has one person in it besides the bot. So
// it may be a viewer (someone checking clusters with `/certs` in their DM with the bot, and the
// console's --channel, which stands for where `/certs` was typed), but not where the bot posts on
// its own for a team: a cluster's channel (its approval cards need an approver who is not the
// requester, and its warnings are for everyone on call) and the digest channel.

const BODY = "[A-Z0-9]{2,20}";
const whole = (prefix: string): RegExp => new RegExp(`^${prefix}${BODY}$`);

export const SLACK_ID = {
  /** A person: U…, or W… on Enterprise Grid. */
  user: whole("[UW]"),
  /** A user group (`@sre`), mentioned as `<!subteam^S…>`. */
  usergroup: whole("S"),
  /** A channel the team shares: C… public, G… private (and legacy private groups). */
  channel: whole("[CG]"),
  /** Anywhere `/certs` can be typed: a channel, or a direct message (D…). */
  conversation: whole("[CGD]"),
} as const;

/** Who can be given rights: a user or a user group. */
export const isPrincipalId = (id: string): boolean => SLACK_ID.user.test(id) || SLACK_ID.usergroup.test(id);

/** A user's or a group's mention as Slack writes it (`<@U…>`, `<!subteam^S…>`), to find in text. */
export const MENTION = new RegExp(`(<@[UW]${BODY}>|<!subteam\\^S${BODY}>)`);
