// Reads config/clusters.yaml into resolved clusters and nodes. Every error names the file, the
// line, the path inside the document (clusters[1].nodes[0].host) and what is wrong.
import { readFileSync } from "node:fs";
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Node as YamlNode } from "yaml";
import type { z } from "zod";
import { configSchema, type RawConfig, type RenewalSettings, type Thresholds } from "./schema.js";

export type { RenewalSettings } from "./schema.js";

export const DEFAULT_CONFIG_PATH = "config/clusters.yaml";

export interface SshSettings {
  user: string;
  port: number;
  privateKeyPath: string;
  privateKeyPassphraseEnv?: string;
  knownHostsPath: string;
  become: "none" | "sudo";
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export interface NodePaths {
  kubernetesDir: string;
  kubeletPkiDir: string;
}

export interface NodeConfig {
  cluster: string;
  name: string;
  host: string;
  transport: "ssh" | "local";
  ssh: SshSettings;
  paths: NodePaths;
  apiserver: { port: number; probe: boolean };
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
  nodes: NodeConfig[];
}

export interface Config {
  file: string;
  timezone: string;
  thresholds: Thresholds;
  scanConcurrency: number;
  /** When scheduled scans run, in `timezone`. */
  scanCron: string;
  slack?: { digestChannel: string; digestCron: string };
  /** Renewal approvals and procedure (issue 5); every key has a default. */
  renewal: RenewalSettings;
  clusters: ClusterConfig[];
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
const PATH_DEFAULTS: NodePaths = { kubernetesDir: "/etc/kubernetes", kubeletPkiDir: "/var/lib/kubelet/pki" };
const APISERVER_DEFAULTS = { port: 6443, probe: true };

export class ConfigError extends Error {
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

export function parseConfig(text: string, file: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `${at(e.pos[0])}: YAML syntax: ${e.message.split("\n")[0]}`),
    );
  }
  const data: unknown = doc.toJS() ?? {};
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
  return resolve(result.data, file);
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(err);
    throw new ConfigError(file, [`${file}: ${reason}`]);
  }
  return parseConfig(text, file);
}

const unique = (ids: readonly string[]): string[] => [...new Set(ids)];

/** Layers defaults ← top level ← cluster ← node into one flat record per node. */
function resolve(raw: RawConfig, file: string): Config {
  return {
    file,
    timezone: raw.timezone,
    thresholds: raw.thresholds,
    scanConcurrency: raw.scanConcurrency,
    scanCron: raw.scanCron,
    ...(raw.slack ? { slack: raw.slack } : {}),
    renewal: { ...raw.renewal },
    clusters: raw.clusters.map((cluster) => ({
      name: cluster.name,
      ...(cluster.channel ? { channel: cluster.channel } : {}),
      viewers: unique(
        cluster.viewers ?? [cluster.channel, raw.slack?.digestChannel].filter((c): c is string => !!c),
      ),
      operators: unique(cluster.operators ?? []),
      approvers: unique(cluster.approvers ?? []),
      thresholds: cluster.thresholds ?? raw.thresholds,
      nodes: cluster.nodes.map((node) => {
        const ssh: SshSettings = { ...SSH_DEFAULTS, ...raw.ssh, ...cluster.ssh, ...node.ssh };
        if (node.port !== undefined) ssh.port = node.port;
        return {
          cluster: cluster.name,
          name: node.name ?? node.host,
          host: node.host,
          transport: node.transport ?? "ssh",
          ssh,
          paths: { ...PATH_DEFAULTS, ...raw.paths, ...cluster.paths, ...node.paths },
          apiserver: { ...APISERVER_DEFAULTS, ...raw.apiserver, ...cluster.apiserver, ...node.apiserver },
        };
      }),
    })),
  };
}
