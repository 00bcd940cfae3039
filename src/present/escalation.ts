// What the channel is told when a cluster's renewal policy wanted a request and the plan was refused
// (a CA expiring before its leaves, a node unreachable, kubeadm too old): the approvers, by mention,
// with the reason and the certificates that are due. Pure.
import { mention } from "../core/access/access.js";
import type { PolicyCertificate } from "../core/renew/policy.js";
import type { SlackMessage } from "./slack-types.js";
import { code, context, plain, section } from "./format.js";
import { formatWhen } from "./time.js";

/** Named in full up to this many; the rest are counted. */
const MAX_LISTED = 8;

export interface EscalationInput {
  cluster: string;
  channel: string;
  /** The approvers of the cluster (user and user group ids from the config). */
  approvers: readonly string[];
  /** Why the plan was refused. */
  reason: string;
  /** `file:line` of the policy. */
  source: string;
  due: readonly PolicyCertificate[];
  timeZone: string;
}

export function renderPolicyEscalation(input: EscalationInput): SlackMessage {
  const { cluster, approvers, due, timeZone } = input;
  const listed = due
    .slice(0, MAX_LISTED)
    .map(
      (c) =>
        `• ${code(`${c.node}/${c.name}`, 120)}: ` +
        (c.daysLeft < 0
          ? `expired ${formatWhen(c.notAfter, timeZone)}`
          : `${c.daysLeft} days left (expires ${formatWhen(c.notAfter, timeZone)})`),
    );
  const more = due.length > MAX_LISTED ? [`• and ${due.length - MAX_LISTED} more`] : [];
  const who = approvers.length
    ? `${approvers.map(mention).join(" ")}: please look.`
    : `Nobody is listed in \`approvers\` of ${cluster}: please add someone who can act.`;
  const headline =
    `:rotating_light: *The renewal policy of ${cluster} could not request a renewal*: ` +
    `${plain(input.reason, 1200)}`;
  return {
    channel: input.channel,
    text: `The renewal policy of ${cluster} could not request a renewal: ${input.reason}`.slice(0, 3000),
    blocks: [
      section(`${headline}\n${[...listed, ...more].join("\n")}`),
      section(
        `${who} Fix what stops the plan, then \`/certs renew ${cluster}\` (or renew by hand, see ` +
          "the runbook in docs/operations.md). The policy asks again at each scan; this message is not repeated " +
          "for these certificates and this reason.",
      ),
      context(`Policy: ${code(input.source, 300)}`),
    ],
  };
}
