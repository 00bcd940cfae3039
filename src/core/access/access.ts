// Who may see and do what with a cluster in Slack. Pure decisions over the resolved config: the
// edge resolves the user's user groups (Web API, cached briefly) and passes them in.
//
// Deny by default: a cluster is shown only in its `viewers` channels, and only its `operators`
// (users or user groups) may request scans and renewals, only its `approvers` approve them. An
// empty list means nobody. Every refusal carries a reason a person can act on.
import type { ClusterConfig, Config } from "../../config/load.js";
import { SLACK_ID } from "../../config/slack-ids.js";

export type Decision = { allowed: true } | { allowed: false; reason: string };

/** What an operator may request, as the refusal words it. */
export type OperatorAction = "request scans" | "request renewals" | "snooze warnings";

const ALLOWED: Decision = { allowed: true };

/** How many people a refusal names to ask; the rest are counted. */
const MAX_NAMED = 5;

/** Principals in the config are users (U…/W…) or user groups (S…): the config validated which. */
const isGroup = (id: string): boolean => SLACK_ID.usergroup.test(id);

/** A Slack mention of a user (U…/W…) or user group (S…) id. Ids come from the validated config. */
export const mention = (id: string): string => (isGroup(id) ? `<!subteam^${id}>` : `<@${id}>`);

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
  return list.some((id) => (isGroup(id) ? userGroups.includes(id) : id === userId));
}

/**
 * The user groups on `list` whose membership decides whether `userId` is on it: none when the user
 * is listed by name, else every group listed.
 */
export function groupsToCheck(list: readonly string[], userId: string): string[] {
  return list.includes(userId) ? [] : list.filter(isGroup);
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

/**
 * The clusters that may be shown in each channel, in config order, kept per loaded config and
 * channel: a config never changes once loaded, and every command asks.
 */
const visibleByChannel = new WeakMap<
  Config,
  Map<string, { clusters: readonly ClusterConfig[]; names: readonly string[] }>
>();

function visibleIn(config: Config, channelId: string) {
  let channels = visibleByChannel.get(config);
  if (!channels) visibleByChannel.set(config, (channels = new Map()));
  let visible = channels.get(channelId);
  if (!visible) {
    const clusters = config.clusters.filter((cluster) => canView(cluster, channelId).allowed);
    visible = { clusters, names: clusters.map((cluster) => cluster.name) };
    channels.set(channelId, visible);
  }
  return visible;
}

export const visibleClusters = (config: Config, channelId: string): readonly ClusterConfig[] =>
  visibleIn(config, channelId).clusters;

/** visibleClusters' names: the same array each time, so a store may recognise the question. */
export const visibleNames = (config: Config, channelId: string): readonly string[] =>
  visibleIn(config, channelId).names;

// App Home is not in a channel, so it needs its own rule. A cluster is shown in a user's Home when
// the user is one of its operators or approvers (directly or through a user group), or a member of
// one of its viewer channels: exactly the people who could already see it through `/certs` in a
// channel or act on it. Everyone else sees nothing (deny by default).

/** Is the user one of the cluster's operators or approvers? */
export const hasRole = (cluster: ClusterConfig, userId: string, userGroups: readonly string[]): boolean =>
  onList([...cluster.operators, ...cluster.approvers], userId, userGroups);

/** Every user group (S…) named as an operator or approver of some cluster. */
export function roleGroups(config: Config): string[] {
  const ids = config.clusters.flatMap((c) => [...c.operators, ...c.approvers]);
  return [...new Set(ids.filter(isGroup))];
}

/**
 * The viewer channels whose membership still matters for the user's Home: those of clusters the user
 * has no role in. (Asking Slack about the rest would change nothing.)
 */
export function homeChannelsToCheck(config: Config, userId: string, userGroups: readonly string[]): string[] {
  const unresolved = config.clusters.filter((c) => !hasRole(c, userId, userGroups));
  return [...new Set(unresolved.flatMap((c) => c.viewers))];
}

/** The clusters shown in a user's App Home, in config order. */
export function homeClusters(
  config: Config,
  userId: string,
  userGroups: readonly string[],
  userChannels: readonly string[],
): ClusterConfig[] {
  return config.clusters.filter(
    (c) => hasRole(c, userId, userGroups) || c.viewers.some((channel) => userChannels.includes(channel)),
  );
}
