// Who may see and do what with a cluster in Slack. Pure decisions over the resolved config: the
// edge resolves the user's user groups (Web API, cached briefly) and passes them in.
//
// Deny by default: a cluster is shown only in its `viewers` channels, and only its `operators`
// (users or user groups) may request scans and renewals, only its `approvers` approve them. An
// empty list means nobody. Every refusal carries a reason a person can act on.
import type { ClusterConfig, Config } from "../config/load.js";

export type Decision = { allowed: true } | { allowed: false; reason: string };

/** What an operator may request, as the refusal words it. */
export type OperatorAction = "request scans" | "request renewals";

const ALLOWED: Decision = { allowed: true };

/** How many people a refusal names to ask; the rest are counted. */
const MAX_NAMED = 5;

/** A Slack mention of a user (U…/W…) or user group (S…) id. Ids come from the validated config. */
export const mention = (id: string): string => (id.startsWith("S") ? `<!subteam^${id}>` : `<@${id}>`);

/** `<@U1>, <!subteam^S1> or <@U2>`, at most MAX_NAMED, then `and 3 more`. */
function whoToAsk(ids: readonly string[]): string {
  const named = ids.slice(0, MAX_NAMED).map(mention);
  const more = ids.length - named.length;
  if (more > 0) return `${named.join(", ")} and ${more} more`;
  if (named.length <= 1) return named.join("");
  return `${named.slice(0, -1).join(", ")} or ${named[named.length - 1]}`;
}

/** Is `userId`, or one of the user groups they belong to, on `list`? */
function onList(list: readonly string[], userId: string, userGroups: readonly string[]): boolean {
  if (!userId) return false;
  return list.some((id) => (id.startsWith("S") ? userGroups.includes(id) : id === userId));
}

export function canView(cluster: ClusterConfig, channelId: string): Decision {
  if (channelId && cluster.viewers.includes(channelId)) return ALLOWED;
  return {
    allowed: false,
    reason:
      `${cluster.name} is not shown in this channel. Ask in one of its channels, ` +
      `or ask an admin to add this channel to its \`viewers\`.`,
  };
}

function memberOf(
  role: "operators" | "approvers",
  cluster: ClusterConfig,
  userId: string,
  userGroups: readonly string[],
  action: string,
): Decision {
  const list = cluster[role];
  if (onList(list, userId, userGroups)) return ALLOWED;
  if (list.length === 0) {
    return {
      allowed: false,
      reason:
        `${cluster.name} has no ${role}, so nobody may ${action} for it from Slack; ` +
        `an admin can add users or user groups under \`${role}\` in the config.`,
    };
  }
  return {
    allowed: false,
    reason: `only ${role} of ${cluster.name} may ${action}; ask ${whoToAsk(list)}.`,
  };
}

export function canOperate(
  cluster: ClusterConfig,
  userId: string,
  userGroupsOfUser: readonly string[],
  action: OperatorAction = "request scans",
): Decision {
  return memberOf("operators", cluster, userId, userGroupsOfUser, action);
}

export function canApprove(
  cluster: ClusterConfig,
  userId: string,
  userGroupsOfUser: readonly string[],
): Decision {
  return memberOf("approvers", cluster, userId, userGroupsOfUser, "approve renewals");
}

/** The clusters that may be shown in `channelId`, in config order. */
export function visibleClusters(config: Config, channelId: string): ClusterConfig[] {
  return config.clusters.filter((cluster) => canView(cluster, channelId).allowed);
}
