// The shape of config/clusters.yaml. Every object is strict (an unknown key is an error, so a typo
// never silently falls back to a default) and every value that later reaches a remote shell is
// validated here, once.
import { isIP } from "node:net";
import { CronExpressionParser } from "cron-parser";
import { z } from "zod";
import { SLACK_ID, isPrincipalId } from "./slack-ids.js";
import { marginProblems, windowsSchema, type MaintenanceWindow as Window } from "./windows.js";
import { NODE_ROLES } from "./node-roles.js";

export { ETCD_PKI_IN_KUBERNETES_DIR, NODE_ROLES, type NodeRole } from "./node-roles.js";

/** A cluster name: also what people type after `/certs status`. */
export const CLUSTER_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const NAME = CLUSTER_NAME;
/** A node's display name (`name:`); a node without one is called by its host. */
export const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
// RFC 1123 host names; IPs are checked with isIP.
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const isTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

const cron = z.string().refine((pattern) => {
  try {
    CronExpressionParser.parse(pattern);
    return pattern.trim().split(/\s+/).length === 5;
  } catch {
    return false;
  }
}, 'must be a 5-field cron expression such as "0 */6 * * *"');

// Ids, not #names: names are ambiguous and can change. Where a DM is accepted: see slack-ids.ts.
/** Where the bot posts for a team: a channel (C… public, G… private). */
const channelId = z
  .string()
  .regex(SLACK_ID.channel, "must be a Slack channel id such as C0123ABCD (not a direct message, D…)");
/** Where the cluster may be shown: a channel, or a direct message (D…) with the bot. */
const conversationId = z
  .string()
  .regex(SLACK_ID.conversation, "must be a Slack channel id such as C0123ABCD");

/**
 * Who may act on a cluster from Slack: a user id (U…, or W… on Enterprise Grid) or a user group id
 * (S…). Ids, not @names or @handles: those can be renamed or reused.
 */
const principalId = z
  .string()
  .refine(
    isPrincipalId,
    "must be a Slack user id (U… or W…, such as U0123ABCD) or user group id (S…, such as S0123ABCD), not a name",
  );

/** An absolute path that can be single-quoted into a shell script and means what it says. */
export const remotePath = z
  .string()
  .refine((p) => p.startsWith("/"), "must be an absolute path")
  .refine(
    (p) => ![...p].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f),
    "must not contain control characters or newlines",
  )
  .refine((p) => !p.split("/").includes(".."), "must not contain '..'")
  .refine((p) => !p.includes("'"), "must not contain a single quote");

const port = z.number().int().min(1).max(65535);
const milliseconds = z.number().int().min(100).max(600_000);

export const thresholdsSchema = z
  .strictObject({
    warningDays: z.number().int().min(1).max(3650),
    criticalDays: z.number().int().min(0).max(3650),
  })
  .refine((t) => t.criticalDays < t.warningDays, {
    message: "criticalDays must be smaller than warningDays",
  });

/**
 * Warnings in Slack. At most 90 days a snooze: the alert state that holds it lives 90 days in
 * Redis after the last scan.
 */
const maxSnoozeDays = z
  .number()
  .int("must be a whole number of days")
  .min(1, "must be at least 1 (days)")
  .max(90, "must be at most 90 (days): the alert state that holds a snooze lives 90 days");
export const alertsSchema = z.strictObject({
  /** The longest snooze `/certs snooze` and the Snooze buttons accept. */
  maxSnoozeDays: maxSnoozeDays.default(14),
});
/** A cluster's own: what it sets overrides the top level's. */
const clusterAlertsSchema = z.strictObject({ maxSnoozeDays: maxSnoozeDays.optional() });

const hostSchema = z
  .string()
  .refine((h) => isIP(h) !== 0 || HOSTNAME.test(h), "must be a host name or an IP address");
const userName = z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/i, "must be a plain user name");

/**
 * The bastion a node is reached through: certs-bot connects to it, and it opens the TCP connections
 * to the node's SSH port and apiserver port (forwardOut). Its host key is pinned like a node's.
 */
const jumpHostSchema = z.strictObject({
  host: hostSchema,
  port,
  user: userName,
  /** Default: the node's ssh.knownHostsPath. */
  knownHostsPath: z.string().min(1).optional(),
});

const sshSchema = z.strictObject({
  user: userName.optional(),
  port: port.optional(),
  privateKeyPath: z.string().min(1).optional(),
  /** Sign with the ssh-agent at SSH_AUTH_SOCK (true), or never (false); unset: see load.ts. */
  agent: z.boolean().optional(),
  /** null: this cluster or node is reached directly, though an outer level names a bastion. */
  jumpHost: jumpHostSchema.nullable().optional(),
  privateKeyPassphraseEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name")
    .optional(),
  knownHostsPath: z.string().min(1).optional(),
  become: z.enum(["none", "sudo"]).optional(),
  connectTimeoutMs: milliseconds.optional(),
  commandTimeoutMs: milliseconds.optional(),
});

const pathsSchema = z.strictObject({
  kubernetesDir: remotePath.optional(),
  kubeletPkiDir: remotePath.optional(),
  /** Default `<kubernetesDir>/pki/etcd`; kubespray's etcd nodes keep theirs in /etc/ssl/etcd/ssl. */
  etcdPkiDir: remotePath.optional(),
});

const apiserverSchema = z.strictObject({
  port: port.optional(),
  probe: z.boolean().optional(),
});

/**
 * Copies of admin.conf on a node (e.g. /root/.kube/config) replaced with the renewed admin.conf after
 * that node's renewal (opt-in: it overwrites files people may have edited). The most specific list
 * replaces the others as a whole.
 */
const refreshKubeconfigs = z.array(remotePath).max(32, "lists at most 32 files");

/** A node's own renewal settings. */
const nodeRenewalSchema = z.strictObject({ refreshKubeconfigs: refreshKubeconfigs.optional() });

const nodeSchema = z.strictObject({
  host: hostSchema,
  name: z.string().regex(NODE_NAME, "must be a plain node name").optional(),
  role: z.enum(NODE_ROLES).optional(),
  port: port.optional(),
  transport: z.enum(["ssh", "local"]).optional(),
  ssh: sshSchema.optional(),
  paths: pathsSchema.optional(),
  apiserver: apiserverSchema.optional(),
  renewal: nodeRenewalSchema.optional(),
});

/** Minutes a window must still have left for a node to be started in it. */
const windowMarginMinutes = z.number().int().min(0).max(1439);

/**
 * certs-bot files a cluster's renewal request itself when a renewable certificate has this many days
 * left; `preApproved` runs such a request in the next maintenance window with no click.
 */
const policySchema = z.strictObject({
  requestWhenDaysLeft: z.number().int().min(1).max(365).optional(),
  preApproved: z.boolean().default(false),
});

/**
 * A cluster's own windows replace the top-level list (`[]`: any time); its margin, its policy and its
 * kubeconfig copies replace the top-level ones (`policy: {}`: none for this cluster).
 */
const clusterRenewalSchema = z.strictObject({
  windows: windowsSchema.optional(),
  windowMarginMinutes: windowMarginMinutes.optional(),
  policy: policySchema.optional(),
  refreshKubeconfigs: refreshKubeconfigs.optional(),
});

const clusterSchema = z.strictObject({
  name: z.string().regex(NAME, "must match [a-z0-9][a-z0-9-]{0,62}"),
  channel: channelId.optional(),
  /** Channels where this cluster may be shown (default: its channel and the digest channel). */
  viewers: z.array(conversationId).optional(),
  /** Users or user groups who may request scans and renewals. */
  operators: z.array(principalId).optional(),
  /** Users or user groups who may approve renewals. */
  approvers: z.array(principalId).optional(),
  thresholds: thresholdsSchema.optional(),
  alerts: clusterAlertsSchema.optional(),
  ssh: sshSchema.optional(),
  paths: pathsSchema.optional(),
  apiserver: apiserverSchema.optional(),
  renewal: clusterRenewalSchema.optional(),
  nodes: z.array(nodeSchema).min(1, "a cluster needs at least one node"),
});

/** Renewals: how requests are approved and how a node is renewed. */
export const renewalSchema = z.strictObject({
  /** A request nobody approves within this many minutes expires. */
  approvalTtlMinutes: z.number().int().min(5).max(10_080).default(240),
  /** How many different approvers a request needs. */
  requiredApprovals: z.number().int().min(1).max(5).default(1),
  /** Whether the requester may approve their own request. */
  allowSelfApproval: z.boolean().default(false),
  /** Where each node's backups go, on that node: <backupDir>/<cluster>/<node>/<timestamp>.tar.gz. */
  backupDir: remotePath.default("/var/lib/certs-bot/backups"),
  /** How the control-plane static pods are restarted after a renewal. */
  restartStrategy: z.enum(["manifests", "crictl", "docker"]).default("manifests"),
  /** When an approved run may execute, in `timezone`; none: any time. */
  windows: windowsSchema.default([]),
  /** A node is not started with less than this left in its window. */
  windowMarginMinutes: windowMarginMinutes.default(20),
  /** Requests certs-bot files itself; none by default. */
  policy: policySchema.optional(),
  /** Copies of admin.conf replaced after each node's renewal; none by default. */
  refreshKubeconfigs: refreshKubeconfigs.default([]),
});

/** A path inside `dir` (or `dir` itself). */
const inside = (path: string, dir: string): boolean =>
  path === dir || path.startsWith(dir.endsWith("/") ? dir : `${dir}/`);

interface Paths {
  paths?: { kubernetesDir?: string | undefined } | undefined;
  renewal?: { refreshKubeconfigs?: string[] | undefined } | undefined;
}
interface RefreshConfig extends Paths {
  renewal: { refreshKubeconfigs: string[] };
  clusters: (Paths & { nodes: Paths[] })[];
}
type Issue = { path: (string | number)[]; message: string };

/**
 * The kubeconfig copies: no list names a file twice, and no node's list in force (its own, else its
 * cluster's, else the top level's) names a file inside that node's kubernetesDir (kubeadm's own
 * files, which the renewal and its backup already handle).
 */
function refreshProblems(config: RefreshConfig): Issue[] {
  const issues = new Map<string, Issue>();
  const add = (path: (string | number)[], message: string) =>
    issues.set(`${path.join(".")} ${message}`, { path, message });
  const twice = (list: string[] | undefined, where: (string | number)[]) =>
    list?.forEach((file, k) => {
      const first = list.indexOf(file);
      if (first !== k) add([...where, k], `lists ${file} twice (also [${first}])`);
    });
  const top: (string | number)[] = ["renewal", "refreshKubeconfigs"];
  twice(config.renewal.refreshKubeconfigs, top);
  config.clusters.forEach((cluster, i) => {
    const clusterWhere = ["clusters", i, "renewal", "refreshKubeconfigs"];
    twice(cluster.renewal?.refreshKubeconfigs, clusterWhere);
    cluster.nodes.forEach((node, j) => {
      const nodeWhere = ["clusters", i, "nodes", j, "renewal", "refreshKubeconfigs"];
      twice(node.renewal?.refreshKubeconfigs, nodeWhere);
      const [list, where] = node.renewal?.refreshKubeconfigs
        ? [node.renewal.refreshKubeconfigs, nodeWhere]
        : cluster.renewal?.refreshKubeconfigs
          ? [cluster.renewal.refreshKubeconfigs, clusterWhere]
          : [config.renewal.refreshKubeconfigs, top];
      const dir =
        node.paths?.kubernetesDir ??
        cluster.paths?.kubernetesDir ??
        config.paths?.kubernetesDir ??
        "/etc/kubernetes";
      list.forEach((file, k) => {
        if (inside(file, dir))
          add(
            [...where, k],
            `is inside the kubernetesDir ${dir}: kubeadm's own files are renewed and backed up by the renewal itself`,
          );
      });
    });
  });
  return [...issues.values()];
}

export const configSchema = z
  .strictObject({
    timezone: z.string().refine(isTimeZone, "must be an IANA time zone such as Europe/Berlin").default("UTC"),
    thresholds: thresholdsSchema.default({ warningDays: 30, criticalDays: 7 }),
    alerts: alertsSchema.default({ maxSnoozeDays: 14 }),
    scanConcurrency: z.number().int().min(1).max(256).default(16),
    scanCron: cron.default("0 */6 * * *"),
    slack: z
      .strictObject({
        digestChannel: channelId,
        digestCron: cron.default("0 9 * * 1-5"),
      })
      .optional(),
    ssh: sshSchema.default({}),
    paths: pathsSchema.default({}),
    apiserver: apiserverSchema.default({}),
    renewal: renewalSchema.default({
      approvalTtlMinutes: 240,
      requiredApprovals: 1,
      allowSelfApproval: false,
      backupDir: "/var/lib/certs-bot/backups",
      restartStrategy: "manifests",
      windows: [],
      windowMarginMinutes: 20,
      refreshKubeconfigs: [],
    }),
    clusters: z.array(clusterSchema).min(1, "list at least one cluster"),
  })
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.clusters.forEach((cluster, i) => {
      const first = seen.get(cluster.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["clusters", i, "name"],
          message: `duplicate cluster name (also clusters[${first}])`,
        });
      }
      seen.set(cluster.name, i);
      const nodeNames = new Map<string, number>();
      cluster.nodes.forEach((node, j) => {
        const name = node.name ?? node.host;
        const other = nodeNames.get(name);
        if (other !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["clusters", i, "nodes", j, node.name ? "name" : "host"],
            message: `duplicate node name "${name}" in this cluster (also nodes[${other}])`,
          });
        }
        nodeNames.set(name, j);
        // Its own apiserver settings would be ignored: say so rather than silently drop them.
        if (node.apiserver && node.role !== undefined && node.role !== "control-plane") {
          ctx.addIssue({
            code: "custom",
            path: ["clusters", i, "nodes", j, "apiserver"],
            message: `${node.role === "etcd" ? "an etcd" : "a worker"} node has no apiserver to probe; only control-plane nodes do`,
          });
        }
      });
    });
  })
  .superRefine((config, ctx) => {
    // Checked where windows and margin meet: a cluster may inherit either from the top level.
    const top = config.renewal;
    const check = (path: (string | number)[], windows: Window[], margin: number) =>
      marginProblems(windows, margin).forEach(({ index, message }) =>
        ctx.addIssue({ code: "custom", path: [...path, index, "duration"], message }),
      );
    check(["renewal", "windows"], top.windows, top.windowMarginMinutes);
    config.clusters.forEach((cluster, i) => {
      const own = cluster.renewal?.windows;
      const margin = cluster.renewal?.windowMarginMinutes;
      if (own) check(["clusters", i, "renewal", "windows"], own, margin ?? top.windowMarginMinutes);
      else if (margin !== undefined) {
        const short = marginProblems(top.windows, margin)[0];
        if (short) {
          const window = top.windows[short.index]!;
          ctx.addIssue({
            code: "custom",
            path: ["clusters", i, "renewal", "windowMarginMinutes"],
            message:
              `must be smaller than every window this cluster uses: renewal.windows[${short.index}] is ` +
              `${window.durationMinutes}m, so no node could ever start in it`,
          });
        }
      }
    });
  })
  .superRefine((config, ctx) => {
    // A pre-approved run waits for a window: without one it would start the moment it is filed.
    const top = config.renewal;
    const topHasPolicy = top.policy?.preApproved === true;
    const inheriting: string[] = [];
    config.clusters.forEach((cluster, i) => {
      const own = cluster.renewal?.policy;
      const windows = cluster.renewal?.windows ?? top.windows;
      const policy = own ?? top.policy;
      if (policy?.preApproved && policy.requestWhenDaysLeft === undefined) {
        if (own) {
          ctx.addIssue({
            code: "custom",
            path: ["clusters", i, "renewal", "policy", "preApproved"],
            message: "needs requestWhenDaysLeft: only requests certs-bot files itself are pre-approved",
          });
        }
        return;
      }
      if (!policy?.preApproved || windows.length > 0) return;
      if (own) {
        ctx.addIssue({
          code: "custom",
          path: ["clusters", i, "renewal", "policy", "preApproved"],
          message:
            "needs maintenance windows (renewal.windows here or at the top level): a pre-approved run " +
            "waits for one, and this cluster has none",
        });
      } else inheriting.push(cluster.name);
    });
    if (topHasPolicy && top.policy?.requestWhenDaysLeft === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["renewal", "policy", "preApproved"],
        message: "needs requestWhenDaysLeft: only requests certs-bot files itself are pre-approved",
      });
    } else if (inheriting.length) {
      ctx.addIssue({
        code: "custom",
        path: ["renewal", "policy", "preApproved"],
        message:
          "needs maintenance windows: a pre-approved run waits for one, and " +
          `${inheriting.length === 1 ? "cluster" : "clusters"} ${inheriting.join(", ")} ` +
          `${inheriting.length === 1 ? "has" : "have"} none (set renewal.windows)`,
      });
    }
  })
  .superRefine((config, ctx) => {
    for (const issue of refreshProblems(config)) ctx.addIssue({ code: "custom", ...issue });
  });

export type RawConfig = z.infer<typeof configSchema>;
export type Thresholds = z.infer<typeof thresholdsSchema>;
export type AlertSettings = z.infer<typeof alertsSchema>;
/** The top level's; a node's list in force is resolved onto its NodeConfig. */
export type RenewalSettings = Omit<z.infer<typeof renewalSchema>, "policy" | "refreshKubeconfigs">;
