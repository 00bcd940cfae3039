// Reads config/clusters.yaml into resolved clusters and nodes. Every error names the file, the
// line, the path inside the document (clusters[1].nodes[0].host) and what is wrong. Whatever the
// file holds (a directory, binary or non-UTF-8 bytes, broken YAML, an alias bomb), loading it either
// succeeds or throws a ConfigError: nothing else escapes to the CLI as an "unexpected failure".
import { readFileSync, statSync } from "node:fs";
import { posix } from "node:path";
import {
  LineCounter,
  parseDocument,
  isAlias,
  isMap,
  isSeq,
  isPair,
  isScalar,
  visit,
  type Alias,
  type Document,
  type Node as YamlNode,
  type YAMLError,
} from "yaml";
import type { z } from "zod";
import {
  configSchema,
  ETCD_PKI_IN_KUBERNETES_DIR,
  type AlertSettings,
  type NodeRole,
  type RawConfig,
  type RenewalSettings,
  type Thresholds,
} from "./schema.js";
import { OperatorError } from "./operator-error.js";
import type { MaintenanceWindow } from "./windows.js";

export type { AlertSettings, NodeRole, RenewalSettings } from "./schema.js";
export type { MaintenanceWindow, Weekday } from "./windows.js";

/** When a cluster's approved renewals may run. */
export type ClusterWindows = Pick<ClusterRenewal, "windows" | "windowMarginMinutes">;

/** A cluster's renewal policy: the requests certs-bot files itself. */
export interface RenewalPolicy {
  /** A renewable certificate with this many days left (or fewer) gets a request, once per certificate. */
  requestWhenDaysLeft: number;
  /** Such a request needs no click: it runs in the next maintenance window. */
  preApproved: boolean;
  /** `file:line` of the key that decides it (`preApproved`, else `requestWhenDaysLeft`): what the audit names. */
  source: string;
}

/** When this cluster's approved renewals may run, and what it requests itself: its own `renewal:` keys, else the top level's. */
export interface ClusterRenewal {
  /** Empty: any time. */
  windows: MaintenanceWindow[];
  windowMarginMinutes: number;
  /** Null: certs-bot files no request of its own for this cluster. */
  policy: RenewalPolicy | null;
}

/** The bastion a node is reached through (ssh.jumpHost). */
export interface JumpHost {
  host: string;
  port: number;
  user: string;
  /** Pins the bastion's host key; default: the node's ssh.knownHostsPath. */
  knownHostsPath: string;
}

export interface SshSettings {
  user: string;
  port: number;
  privateKeyPath: string;
  privateKeyPassphraseEnv?: string;
  /**
   * Who signs, for the node and its bastion alike: `true`, the ssh-agent at SSH_AUTH_SOCK;
   * `false` (or absent), the key at privateKeyPath; "if-SSH_AUTH_SOCK", the agent when that
   * variable is set, else the key: what a config that names neither `agent` nor `privateKeyPath`
   * gets.
   */
  agent?: boolean | "if-SSH_AUTH_SOCK";
  /** The bastion this node is reached through; absent: directly. */
  jumpHost?: JumpHost;
  knownHostsPath: string;
  become: "none" | "sudo";
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export interface NodePaths {
  kubernetesDir: string;
  kubeletPkiDir: string;
  /** kubeadm's local etcd certificates (`<kubernetesDir>/pki/etcd` unless set), or kubespray's on an etcd node. */
  etcdPkiDir: string;
}

export interface NodeConfig {
  cluster: string;
  name: string;
  host: string;
  /** What the scan reads there; only a control-plane node is renewed, and only its apiserver probed. */
  role: NodeRole;
  transport: "ssh" | "local";
  ssh: SshSettings;
  paths: NodePaths;
  apiserver: { port: number; probe: boolean };
  /**
   * Copies of admin.conf replaced with the renewed admin.conf after this node's renewal: its own
   * `renewal.refreshKubeconfigs`, else its cluster's, else the top level's (default none).
   */
  refreshKubeconfigs: string[];
}

export interface ClusterConfig {
  name: string;
  /** Where this cluster's warnings go (falls back to the digest channel). */
  channel?: string;
  /**
   * Channel ids where this cluster may be shown in Slack. Default: `channel` plus
   * `slack.digestChannel`, whichever are set (so possibly none: then it is shown nowhere).
   */
  viewers: string[];
  /** User (U…/W…) and user group (S…) ids who may request scans and renewals. Default: nobody. */
  operators: string[];
  /** User and user group ids who may approve renewals. Default: nobody. */
  approvers: string[];
  thresholds: Thresholds;
  /** Its own `alerts:` keys, else the top level's. */
  alerts: AlertSettings;
  renewal: ClusterRenewal;
  nodes: NodeConfig[];
}

export interface Config {
  file: string;
  timezone: string;
  thresholds: Thresholds;
  alerts: AlertSettings;
  scanConcurrency: number;
  /** When scheduled scans run, in `timezone`. */
  scanCron: string;
  slack?: { digestChannel: string; digestCron: string };
  /** Renewal approvals and procedure; every key has a default. The windows a cluster keeps to: `ClusterConfig.renewal`. */
  renewal: RenewalSettings;
  clusters: ClusterConfig[];
}

/** Where a cluster's warnings and approval cards go: its `channel`, else the digest channel; null: nowhere. */
export function clusterChannel(config: Config, cluster: ClusterConfig): string | null {
  return cluster.channel ?? config.slack?.digestChannel ?? null;
}

/** The clusters of a config by name, made on first use: a command names one cluster of hundreds. */
const clustersByName = new WeakMap<readonly ClusterConfig[], ReadonlyMap<string, ClusterConfig>>();

/** The configured cluster of that name, if any. */
export function findCluster(config: Config, name: string): ClusterConfig | undefined {
  let byName = clustersByName.get(config.clusters);
  // Made again should the array have grown or shrunk since (a config built by hand); a loaded one's
  // names are unique, and where they are not the first one wins, as a search from the start finds it.
  if (!byName || byName.size !== config.clusters.length) {
    byName = new Map([...config.clusters].reverse().map((c) => [c.name, c]));
    clustersByName.set(config.clusters, byName);
  }
  return byName.get(name);
}

/** The cluster a job names; one no longer in the configuration fails the job. */
export function configuredCluster(config: Config, name: string): ClusterConfig {
  const cluster = findCluster(config, name);
  if (!cluster) throw new Error(`cluster ${name} is not in the configuration`);
  return cluster;
}

const SSH_DEFAULTS: SshSettings = {
  user: "root",
  port: 22,
  privateKeyPath: "/run/secrets/certs-bot/id_ed25519",
  knownHostsPath: "/run/secrets/certs-bot/known_hosts",
  become: "none",
  connectTimeoutMs: 10_000,
  commandTimeoutMs: 30_000,
};
const PATH_DEFAULTS = { kubernetesDir: "/etc/kubernetes", kubeletPkiDir: "/var/lib/kubelet/pki" };
const APISERVER_DEFAULTS = { port: 6443, probe: true };

/**
 * How often aliases may be expanded (yaml's `maxAliasCount`, counted per anchor as uses × the aliases
 * inside it): an anchor shared by a thousand clusters is fine, while nested aliases that would
 * expand exponentially (an alias bomb, "billion laughs") stop after a few levels.
 */
export const MAX_ALIAS_COUNT = 1000;

/** C0 controls other than tab, LF and CR, and DEL: YAML forbids them, binary files are full of them. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

export class ConfigError extends OperatorError {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid configuration\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** `clusters[1].nodes[0].host` from a zod/yaml path. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`))
    .join("");
}

/** The YAML node at a path, or the deepest existing ancestor (for a missing key). */
function nodeAt(root: YamlNode | null, path: readonly PropertyKey[]): YamlNode | null {
  let current: YamlNode | null = root;
  for (const part of path) {
    if (isMap(current)) {
      const pair = current.items.find(
        (item) => isPair(item) && isScalar(item.key) && item.key.value === part,
      );
      if (!pair) return current;
      current = (pair.value as YamlNode | null) ?? (pair.key as YamlNode);
    } else if (isSeq(current) && typeof part === "number" && current.items[part]) {
      current = current.items[part] as YamlNode;
    } else {
      return current;
    }
  }
  return current;
}

/** For an unknown key, point at the key itself rather than at its object. */
function keyNodeAt(root: YamlNode | null, path: readonly PropertyKey[], key: string): YamlNode | null {
  const parent = nodeAt(root, path);
  if (!isMap(parent)) return parent;
  const pair = parent.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === key);
  return (pair?.key as YamlNode | undefined) ?? parent;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (value, key) =>
      value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined,
    data,
  );
}

function describe(issue: z.core.$ZodIssue, data: unknown): { path: PropertyKey[]; message: string }[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      path: [...issue.path, key],
      message: `unknown key "${key}"`,
    }));
  }
  if (issue.code === "invalid_type" && valueAt(data, issue.path) === undefined) {
    return [{ path: issue.path, message: "is required" }];
  }
  return [{ path: issue.path, message: issue.message }];
}

/** The first alias in document order whose anchor (the last one before it, as yaml resolves) fits. */
function aliasWhere(doc: Document, fits: (anchored: YamlNode | undefined) => boolean): Alias | undefined {
  const anchors = new Map<string, YamlNode>();
  let found: Alias | undefined;
  visit(doc, {
    Node(_, node) {
      if (isAlias(node)) {
        if (!fits(anchors.get(node.source))) return undefined;
        found = node;
        return visit.BREAK;
      }
      if (node.anchor) anchors.set(node.anchor, node);
      return undefined;
    },
  });
  return found;
}

/** yaml's error in the config's words where its own would puzzle (or name its API). */
function syntaxProblem(doc: Document, error: YAMLError): string {
  if (error.code === "MULTIPLE_DOCS") return "more than one YAML document (a second `---`); a config is one";
  if (error.code !== "DUPLICATE_KEY") return error.message.split("\n")[0]!;
  let key: unknown;
  visit(doc, {
    Pair(_, pair) {
      if (!isScalar(pair.key) || pair.key.range?.[0] !== error.pos[0]) return undefined;
      key = pair.key.value;
      return visit.BREAK;
    },
  });
  return `duplicate key${key === undefined ? "" : ` ${JSON.stringify(String(key)).slice(0, 80)}`} (a key may appear once per mapping)`;
}

/** Does `node` contain an alias (then an alias of it expands aliases: the nesting a bomb needs)? */
function holdsAlias(node: YamlNode): boolean {
  let found = false;
  visit(node, {
    Alias: () => {
      found = true;
      return visit.BREAK;
    },
  });
  return found;
}

export function parseConfig(text: string, file: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  const control = CONTROL.exec(text);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    throw new ConfigError(file, [
      `${at(control.index)}: control character U+${code}; a config is YAML text (is this a binary file?)`,
    ]);
  }
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `${at(e.pos[0])}: YAML syntax: ${syntaxProblem(doc, e)}`),
    );
  }
  if (doc.contents === null) {
    throw new ConfigError(file, [`${file}: the file is empty; a config lists at least its \`clusters:\``]);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (err) {
    // yaml throws, rather than reports, an alias without its anchor and an alias expanded too often.
    const message = (err as Error).message;
    const bomb = /excessive alias count/i.test(message);
    const alias = bomb
      ? aliasWhere(doc, (anchored) => anchored !== undefined && holdsAlias(anchored))
      : aliasWhere(doc, (anchored) => anchored === undefined);
    const what = bomb
      ? `aliases expand too often (over ${MAX_ALIAS_COUNT} expansions of one anchor; nested aliases, an alias bomb?)`
      : message;
    throw new ConfigError(file, [`${at(alias?.range?.[0])}: YAML aliases: ${what}`]);
  }
  const result = configSchema.safeParse(data);
  if (!result.success) {
    const root = doc.contents as YamlNode | null;
    const problems = result.error.issues
      .flatMap((issue) => describe(issue, data))
      .map(({ path, message }) => {
        const last = path[path.length - 1];
        const node =
          message.startsWith("unknown key") && typeof last === "string"
            ? keyNodeAt(root, path.slice(0, -1), last)
            : nodeAt(root, path);
        const where = formatPath(path) || "(top level)";
        return `${at(node?.range?.[0])}: ${where}: ${message}`;
      });
    throw new ConfigError(file, problems);
  }
  const root = doc.contents as YamlNode | null;
  return resolve(result.data, file, (path) => {
    const last = path[path.length - 1] as string;
    const { line } = lineCounter.linePos(keyNodeAt(root, path.slice(0, -1), last)?.range?.[0] ?? 0);
    return `${file}:${line}`;
  });
}

/** `line:col` (1-based) of the end of `prefix`. */
function endOf(prefix: string): string {
  const lines = prefix.split("\n");
  return `${lines.length}:${lines[lines.length - 1]!.length + 1}`;
}

/** The file's bytes as text; a ConfigError naming where they stop being UTF-8. */
function decodeUtf8(bytes: Buffer, file: string): string {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    return decoder.decode(bytes);
  } catch {
    // Fed byte by byte, it fails inside the bad sequence: that sequence starts after the last
    // character it put out. Only on this error path, and it stops there.
    let start = 0;
    try {
      for (let offset = 0; offset < bytes.length; offset++) {
        if (decoder.decode(bytes.subarray(offset, offset + 1), { stream: true })) start = offset + 1;
      }
      decoder.decode(); // a sequence cut off at the end of the file
    } catch {
      // `start` is where the bad sequence begins
    }
    const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
    const byte = (bytes[start] ?? 0).toString(16).padStart(2, "0");
    throw new ConfigError(file, [
      `${file}:${endOf(bytes.subarray(0, start).toString("utf8"))}: not UTF-8 text (byte 0x${byte}` +
        `${utf16 ? "; the file looks like UTF-16" : ""}); save the config as UTF-8`,
    ]);
  }
}

/** The file's bytes; a ConfigError when it is missing, unreadable or not a regular file. */
function readConfigFile(file: string): Buffer {
  const problem = (why: string) => new ConfigError(file, [`${file}: ${why}`]);
  let stat;
  try {
    stat = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw problem(code === "ENOENT" ? "file not found" : `cannot be read: ${(err as Error).message}`);
  }
  if (stat.isDirectory()) throw problem("is a directory, not a config file");
  // A FIFO or a device (/dev/zero) could block or never end.
  if (!stat.isFile()) throw problem("is not a regular file");
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw problem(
      code === "EACCES" || code === "EPERM"
        ? "cannot be read: permission denied"
        : `cannot be read: ${(err as Error).message}`,
    );
  }
}

export function loadConfig(file: string): Config {
  return parseConfig(decodeUtf8(readConfigFile(file), file), file);
}

const unique = (ids: readonly string[]): string[] => [...new Set(ids)];

type RawPolicy = RawConfig["renewal"]["policy"];

/** The policy in force, with the line that decides it; `where` gives a key's `file:line`. */
function resolvePolicy(
  policy: RawPolicy,
  path: (string | number)[],
  where: (path: readonly (string | number)[]) => string,
): RenewalPolicy | null {
  if (policy?.requestWhenDaysLeft === undefined) return null;
  return {
    requestWhenDaysLeft: policy.requestWhenDaysLeft,
    preApproved: policy.preApproved,
    source: where([...path, "policy", policy.preApproved ? "preApproved" : "requestWhenDaysLeft"]),
  };
}

/** Layers defaults ← top level ← cluster ← node into one flat record per node. */
function resolve(
  raw: RawConfig,
  file: string,
  where: (path: readonly (string | number)[]) => string,
): Config {
  const { policy: topPolicy, refreshKubeconfigs, ...renewal } = raw.renewal;
  return {
    file,
    timezone: raw.timezone,
    thresholds: raw.thresholds,
    alerts: { ...raw.alerts },
    scanConcurrency: raw.scanConcurrency,
    scanCron: raw.scanCron,
    ...(raw.slack ? { slack: raw.slack } : {}),
    renewal,
    clusters: raw.clusters.map((cluster, i) => ({
      name: cluster.name,
      ...(cluster.channel ? { channel: cluster.channel } : {}),
      viewers: unique(
        cluster.viewers ?? [cluster.channel, raw.slack?.digestChannel].filter((c): c is string => !!c),
      ),
      operators: unique(cluster.operators ?? []),
      approvers: unique(cluster.approvers ?? []),
      thresholds: cluster.thresholds ?? raw.thresholds,
      alerts: { maxSnoozeDays: cluster.alerts?.maxSnoozeDays ?? raw.alerts.maxSnoozeDays },
      renewal: {
        windows: cluster.renewal?.windows ?? raw.renewal.windows,
        windowMarginMinutes: cluster.renewal?.windowMarginMinutes ?? raw.renewal.windowMarginMinutes,
        policy: cluster.renewal?.policy
          ? resolvePolicy(cluster.renewal.policy, ["clusters", i, "renewal"], where)
          : resolvePolicy(topPolicy, ["renewal"], where),
      },
      nodes: cluster.nodes.map((node) => {
        const { jumpHost, agent, ...layered } = { ...raw.ssh, ...cluster.ssh, ...node.ssh };
        const ssh: SshSettings = {
          ...SSH_DEFAULTS,
          ...layered,
          // A key named anywhere in the config wins over SSH_AUTH_SOCK; `agent` decides over both.
          agent: agent ?? (layered.privateKeyPath === undefined ? "if-SSH_AUTH_SOCK" : false),
        };
        if (node.port !== undefined) ssh.port = node.port;
        if (jumpHost) {
          ssh.jumpHost = { ...jumpHost, knownHostsPath: jumpHost.knownHostsPath ?? ssh.knownHostsPath };
        }
        const role = node.role ?? "control-plane";
        const paths = { ...PATH_DEFAULTS, ...raw.paths, ...cluster.paths, ...node.paths };
        const apiserver = {
          ...APISERVER_DEFAULTS,
          ...raw.apiserver,
          ...cluster.apiserver,
          ...node.apiserver,
        };
        return {
          cluster: cluster.name,
          name: node.name ?? node.host,
          host: node.host,
          role,
          transport: node.transport ?? "ssh",
          ssh,
          paths: {
            ...paths,
            etcdPkiDir: paths.etcdPkiDir ?? posix.join(paths.kubernetesDir, ETCD_PKI_IN_KUBERNETES_DIR),
          },
          // Only a control-plane node runs an apiserver: an inherited `probe: true` is not for the others.
          apiserver: { ...apiserver, probe: apiserver.probe && role === "control-plane" },
          refreshKubeconfigs: [
            ...(node.renewal?.refreshKubeconfigs ??
              cluster.renewal?.refreshKubeconfigs ??
              refreshKubeconfigs),
          ],
        };
      }),
    })),
  };
}
