// The text after `/certs`, parsed into a typed command or a typed usage error. Pure, and strict on
// purpose: whatever a person types in Slack ends up in queue jobs and, with renewals, near a shell
// on a control-plane node. So the grammar is a handful of plain words and flags, and anything that
// looks like shell (metacharacters, quotes, line breaks) is refused outright rather than cleaned:
// nothing runs, and the answer says so.
//
// Grammar (tokens are separated by spaces; flags may come before or after the cluster):
//   (empty) | help [SUBCOMMAND]
//   list [NAME-FILTER] [--status STATUS[,STATUS…]] [--page N]
//   status CLUSTER [--node NAME] [--all]
//   scan CLUSTER
//   renew CLUSTER [--node NAME] [--certs a,b]
//   policy CLUSTER
//   audit CLUSTER
//   snooze CLUSTER (NODE/CERT | NODE | --all) DURATION [REASON…]
//   unsnooze CLUSTER (NODE/CERT | NODE | --all)
//   snoozes [CLUSTER]
// `--flag VALUE` and `--flag=VALUE` are the same. The subcommand is case-insensitive; names are not
// (they must match the config's patterns, so `Cluster-A` is malformed, never a near miss).
//
// Whether the cluster exists and may be shown here is not the parser's business: that needs the
// config and the channel, and the router answers it (see checkCluster below and app/router.ts).
import { CERTIFICATE_NAMES, isCertificateName, type CertificateName } from "../core/kubeadm/catalogue.js";
import { CLUSTER_NAME } from "../config/schema.js";
import { suggestNames } from "../config/suggest.js";
import type { QuietTarget } from "../core/alerts/quiet.js";
import { keyOfTyped } from "../core/alerts/state.js";
import { code } from "./format.js";

export const SUBCOMMANDS = [
  "help",
  "list",
  "status",
  "scan",
  "renew",
  "policy",
  "audit",
  "snooze",
  "unsnooze",
  "snoozes",
] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

/** Longest text accepted after `/certs`, in UTF-16 units. */
export const MAX_TEXT = 500;

/**
 * A node is called by its configured `name`, which defaults to its host: a host name or an IP
 * address, IPv6 included (hence the colon). Wider than NODE_NAME in the schema, on purpose.
 */
export const NODE_ARG = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$/;

/** What a snooze names: a node's certificate (`NODE/CERT`, as warnings show it) or a node. */
export const SUBJECT_ARG = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}(?:\/[A-Za-z0-9][A-Za-z0-9._-]{0,100})?$/;

/**
 * What `list --status` picks: a cluster's status, or `not-scanned`. The first five are the ones a
 * person asks for; the others are the rarer statuses a cluster can have, so every cluster can be
 * picked by what it shows.
 */
export const LIST_STATUSES = [
  "expired",
  "critical",
  "warning",
  "unreachable",
  "ok",
  "not-yet-valid",
  "unreadable",
  "missing",
  "not-scanned",
] as const;
export type ListStatus = (typeof LIST_STATUSES)[number];

/** Which clusters `/certs list` shows: a name filter, statuses, and the page (from 1). */
export interface ListQuery {
  /** Lowercase; a prefix of the name, or with `*` a pattern of the whole name. */
  name?: string;
  statuses?: ListStatus[];
  page: number;
}

/** A name filter as typed: cluster-name characters and `*`. */
const NAME_FILTER = /^[a-z0-9*][a-z0-9*-]{0,62}$/;
/** Pages beyond this are refused as typos; 10,000 pages of 20 clusters is far beyond any fleet. */
const MAX_PAGE = 10_000;

export type Command =
  | { kind: "help"; topic?: Subcommand }
  | ({ kind: "list" } & ListQuery)
  | { kind: "status"; cluster: string; node?: string; all: boolean }
  | { kind: "scan"; cluster: string }
  | { kind: "renew"; cluster: string; node?: string; certs?: CertificateName[] }
  | { kind: "policy"; cluster: string }
  | { kind: "audit"; cluster: string }
  /** `duration` as typed: its bound is the cluster's `alerts.maxSnoozeDays`, which the router knows. */
  | { kind: "snooze"; cluster: string; target: QuietTarget; duration: string; reason?: string }
  | { kind: "unsnooze"; cluster: string; target: QuietTarget }
  /** Without a cluster: every cluster shown in this channel. */
  | { kind: "snoozes"; cluster?: string };

/** Commands that are about one cluster. */
export type ClusterCommand = Extract<Command, { cluster: string }>;

export type CommandErrorCode =
  | "too-long"
  | "unsafe-text"
  | "unknown-subcommand"
  | "missing-cluster"
  | "extra-argument"
  | "unknown-flag"
  | "bad-value"
  | "unknown-cluster";

export interface CommandError {
  kind: "error";
  code: CommandErrorCode;
  /** One or two sentences of mrkdwn. Anything the user typed in it went through `quote`. */
  message: string;
  /** The subcommand it was about, when known: the answer then shows that subcommand's usage. */
  subcommand?: Subcommand;
  /** Close names (subcommands, clusters visible here, nodes, certificates), best first. */
  suggestions?: string[];
  /** The cluster it was about, when one was named (unknown-cluster: the name as typed). */
  cluster?: string;
}

export type ParseResult = { ok: true; command: Command } | { ok: false; error: CommandError };

export const USAGE: Record<Subcommand, string> = {
  help: "/certs help [SUBCOMMAND]",
  list: "/certs list [NAME-PREFIX] [--status expired|critical|warning|unreachable|ok] [--page N]",
  status: "/certs status CLUSTER [--node NAME] [--all]",
  scan: "/certs scan CLUSTER",
  renew: "/certs renew CLUSTER [--node NAME] [--certs NAME,NAME]",
  policy: "/certs policy CLUSTER",
  audit: "/certs audit CLUSTER",
  snooze: "/certs snooze CLUSTER NODE/CERT|--all DURATION [REASON]",
  unsnooze: "/certs unsnooze CLUSTER NODE/CERT|--all",
  snoozes: "/certs snoozes [CLUSTER]",
};

/** Flags each subcommand takes, and whether they take a value. */
const FLAGS: Record<Subcommand, Record<string, "boolean" | "value">> = {
  help: {},
  list: { "--status": "value", "--page": "value" },
  status: { "--node": "value", "--all": "boolean" },
  scan: {},
  renew: { "--node": "value", "--certs": "value" },
  policy: {},
  audit: {},
  snooze: { "--all": "boolean" },
  unsnooze: { "--all": "boolean" },
  snoozes: {},
};

/** Characters the shell would act on, and quotes; `/certs` takes none of them. Named in words. */
const UNSAFE_CHARACTERS: Record<string, string> = {
  ";": "a semicolon",
  "|": "a pipe",
  "&": "an ampersand",
  $: "a dollar sign",
  "`": "a backtick",
  "<": "an angle bracket",
  ">": "an angle bracket",
  "(": "a parenthesis",
  ")": "a parenthesis",
  "{": "a brace",
  "}": "a brace",
  "\\": "a backslash",
  "'": "a quote",
  '"': "a quote",
  "\u2018": "a quote",
  "\u2019": "a quote",
  "\u201c": "a quote",
  "\u201d": "a quote",
  "\r": "a line break",
  "\n": "a line break",
  "\u2028": "a line break",
  "\u2029": "a line break",
};

/** Shown text from the user, as a code span that cannot break out. */
const quote = (text: string): string => code(text, 60);

const NOTHING_RUNS = "Nothing was run.";

/** Thrown by the small parsers below with the answer; parseCommand turns it into its result. */
class Refusal extends Error {
  constructor(readonly error: CommandError) {
    super(error.message);
  }
}

function refuse(error: Omit<CommandError, "kind">): never {
  throw new Refusal({ kind: "error", ...error });
}

function unsafeCharacter(text: string): string | null {
  for (const char of text) {
    const named = UNSAFE_CHARACTERS[char];
    if (named) return named;
    const unit = char.charCodeAt(0);
    if ((unit < 0x20 && char !== "\t") || unit === 0x7f) return "a control character";
  }
  return null;
}

const isSubcommand = (word: string): word is Subcommand => (SUBCOMMANDS as readonly string[]).includes(word);

/** Parse the text Slack sends after `/certs` (without the command itself). */
export function parseCommand(text: string): ParseResult {
  try {
    return { ok: true, command: parse(text) };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, error: err.error };
    throw err;
  }
}

function parse(text: string): Command {
  checkText(text);
  const [first, ...rest] = text.trim().split(/\s+/).filter(Boolean);
  if (first === undefined) return { kind: "help" };
  const sub = subcommand(first);
  return PARSERS[sub](sub, parseArguments(sub, rest));
}

/** Too long, or anything that looks like shell: refused before a word is read. */
function checkText(text: string): void {
  if (text.length > MAX_TEXT) {
    refuse({
      code: "too-long",
      message: `That is ${text.length} characters; \`/certs\` takes at most ${MAX_TEXT}. ${NOTHING_RUNS}`,
    });
  }
  const unsafe = unsafeCharacter(text);
  if (unsafe) {
    refuse({
      code: "unsafe-text",
      message:
        `\`/certs\` takes plain words only, and this has ${unsafe} in it ` +
        `(no shell characters, quotes or line breaks). ${NOTHING_RUNS}`,
    });
  }
}

function subcommand(first: string): Subcommand {
  const sub = first.toLowerCase();
  if (isSubcommand(sub)) return sub;
  const suggestions = suggestNames(sub, SUBCOMMANDS);
  return refuse({
    code: "unknown-subcommand",
    message:
      `${quote(first)} is not a \`/certs\` subcommand` +
      (suggestions.length ? `; did you mean ${suggestions.map((s) => `\`${s}\``).join(" or ")}?` : ".") +
      ` ${NOTHING_RUNS}`,
    suggestions,
  });
}

/** The words after the subcommand: its flags (checked against FLAGS) and its positional words. */
interface Arguments {
  flags: Map<string, string | true>;
  positional: string[];
}

function parseArguments(sub: Subcommand, rest: readonly string[]): Arguments {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (/^[\u2012-\u2015\u2212]/.test(word)) {
      refuse({
        code: "unknown-flag",
        subcommand: sub,
        message:
          `${quote(word)} starts with a dash that is not \`-\` (autocorrect turns \`--\` into \`—\`); ` +
          `type flags as \`--node\`. ${NOTHING_RUNS}`,
      });
    }
    if (!word.startsWith("-")) {
      positional.push(word);
      continue;
    }
    const eq = word.indexOf("=");
    const name = eq > 0 ? word.slice(0, eq) : word;
    const kind = flagKind(sub, name);
    if (flags.has(name)) {
      refuse({
        code: "extra-argument",
        subcommand: sub,
        message: `\`${name}\` is given twice. ${NOTHING_RUNS}`,
      });
    }
    if (kind === "boolean") {
      if (eq > 0) {
        refuse({
          code: "bad-value",
          subcommand: sub,
          message: `\`${name}\` takes no value (got ${quote(word)}). ${NOTHING_RUNS}`,
        });
      }
      flags.set(name, true);
      continue;
    }
    const value = eq > 0 ? word.slice(eq + 1) : rest[i + 1];
    if (eq < 0) i += 1;
    if (value === undefined || value === "" || (eq < 0 && value.startsWith("-"))) {
      refuse({
        code: "bad-value",
        subcommand: sub,
        message: `\`${name}\` needs a value, as in \`${name} ${name === "--certs" ? "apiserver,admin.conf" : "NAME"}\`. ${NOTHING_RUNS}`,
      });
    }
    flags.set(name, value);
  }
  return { flags, positional };
}

/** Whether the subcommand's flag `name` takes a value; a flag it does not take is refused. */
function flagKind(sub: Subcommand, name: string): "boolean" | "value" {
  const kind = FLAGS[sub][name];
  if (kind) return kind;
  const known = Object.keys(FLAGS[sub]);
  const suggestions = suggestNames(name, known);
  return refuse({
    code: "unknown-flag",
    subcommand: sub,
    message:
      (known.length
        ? `\`${sub}\` has no flag ${quote(name)}` +
          (suggestions.length ? `; did you mean \`${suggestions[0]}\`?` : `; it takes ${known.join(", ")}.`)
        : `\`${sub}\` takes no flags, and got ${quote(name)}.`) + ` ${NOTHING_RUNS}`,
    suggestions,
  });
}

/** Each subcommand's own parser of its arguments, in the order of the grammar above. */
const PARSERS: Record<Subcommand, (sub: Subcommand, args: Arguments) => Command> = {
  help: parseHelp,
  list: parseList,
  status: (sub, args) => ({
    kind: "status",
    ...clusterArguments(sub, args),
    all: args.flags.get("--all") === true,
  }),
  scan: (sub, args) => ({ kind: "scan", cluster: clusterArguments(sub, args).cluster }),
  renew: parseRenew,
  policy: (sub, args) => ({ kind: "policy", cluster: clusterArguments(sub, args).cluster }),
  audit: (sub, args) => ({ kind: "audit", cluster: clusterArguments(sub, args).cluster }),
  snooze: parseSnooze,
  unsnooze: parseUnsnooze,
  snoozes: parseSnoozes,
};

function parseHelp(_sub: Subcommand, { positional }: Arguments): Command {
  const [topic, ...extra] = positional;
  if (extra.length > 0 || (topic !== undefined && !isSubcommand(topic.toLowerCase()))) {
    refuse({
      code: "extra-argument",
      subcommand: "help",
      message: `\`help\` takes at most one subcommand (${SUBCOMMANDS.join(", ")}). ${NOTHING_RUNS}`,
    });
  }
  const lower = topic?.toLowerCase();
  return lower && isSubcommand(lower) ? { kind: "help", topic: lower } : { kind: "help" };
}

function parseList(_sub: Subcommand, { positional, flags }: Arguments): Command {
  const [filter, ...extra] = positional;
  if (extra.length > 0) {
    refuse({
      code: "extra-argument",
      subcommand: "list",
      message:
        `\`list\` takes one name filter (got ${quote(positional.join(" "))}); ` +
        `for one cluster, use \`/certs status CLUSTER\`. ${NOTHING_RUNS}`,
    });
  }
  const name = filter?.toLowerCase();
  if (name !== undefined && !NAME_FILTER.test(name)) {
    refuse({
      code: "bad-value",
      subcommand: "list",
      message:
        `${quote(filter!)} is not a name filter: the start of a cluster name (\`prod-\`), or a ` +
        `pattern with \`*\` (\`*-eu-*\`). ${NOTHING_RUNS}`,
    });
  }
  const status = flags.get("--status");
  const page = flags.get("--page");
  return {
    kind: "list",
    ...(name !== undefined ? { name } : {}),
    ...(typeof status === "string" ? { statuses: listStatuses(status) } : {}),
    page: typeof page === "string" ? pageNumber(page) : 1,
  };
}

/** `--status critical,expired`: known statuses, each once. */
function listStatuses(value: string): ListStatus[] {
  const statuses = new Set<ListStatus>();
  for (const word of value.toLowerCase().split(",")) {
    const status = LIST_STATUSES.find((s) => s === word);
    if (status) {
      statuses.add(status);
      continue;
    }
    const suggestions = word ? suggestNames(word, LIST_STATUSES) : [];
    refuse({
      code: "bad-value",
      subcommand: "list",
      message:
        (word ? `${quote(word)} is not a status` : "`--status` has an empty status") +
        (suggestions.length ? `; did you mean \`${suggestions[0]}\`?` : ".") +
        ` \`--status\` takes ${LIST_STATUSES.slice(0, 5).join(", ")} (or ` +
        `${LIST_STATUSES.slice(5).join(", ")}), several with commas: \`--status expired,critical\`. ${NOTHING_RUNS}`,
      suggestions,
    });
  }
  return [...statuses];
}

function pageNumber(value: string): number {
  const page = /^[0-9]{1,6}$/.test(value) ? Number(value) : Number.NaN;
  if (page >= 1 && page <= MAX_PAGE) return page;
  return refuse({
    code: "bad-value",
    subcommand: "list",
    message: `\`--page\` takes a page number from 1, such as \`--page 2\` (got ${quote(value)}). ${NOTHING_RUNS}`,
  });
}

/** The one cluster a cluster subcommand names, and its `--node` when given, both checked. */
function clusterArguments(
  sub: Subcommand,
  { positional, flags }: Arguments,
): { cluster: string; node?: string } {
  const [first, ...extra] = positional;
  const cluster = clusterName(sub, first);
  if (extra.length > 0) {
    refuse({
      code: "extra-argument",
      subcommand: sub,
      cluster,
      message: `\`${sub}\` takes one cluster; ${quote(extra.join(" "))} is too much. ${NOTHING_RUNS}`,
    });
  }
  const node = flags.get("--node");
  if (typeof node === "string" && !NODE_ARG.test(node)) {
    refuse({
      code: "bad-value",
      subcommand: sub,
      cluster,
      message: `${quote(node)} is not a node name. ${NOTHING_RUNS}`,
    });
  }
  return typeof node === "string" ? { cluster, node } : { cluster };
}

/** The cluster word of a cluster subcommand, checked. */
function clusterName(sub: Subcommand, cluster: string | undefined): string {
  if (cluster === undefined) {
    refuse({
      code: "missing-cluster",
      subcommand: sub,
      message: `\`${sub}\` needs a cluster, as in \`${USAGE[sub]}\`; \`/certs list\` shows the clusters of this channel.`,
    });
  }
  if (!CLUSTER_NAME.test(cluster)) {
    refuse({
      code: "bad-value",
      subcommand: sub,
      message:
        `${quote(cluster)} is not a cluster name (lowercase letters, digits and dashes, ` +
        `at most 63 characters). ${NOTHING_RUNS}`,
    });
  }
  return cluster;
}

/** `CLUSTER NODE/CERT …` or `CLUSTER --all …`: the cluster, what it names, and the words after. */
function quietArguments(
  sub: "snooze" | "unsnooze",
  { positional, flags }: Arguments,
): { cluster: string; target: QuietTarget; rest: string[] } {
  const [first, ...words] = positional;
  const cluster = clusterName(sub, first);
  if (flags.get("--all") === true) return { cluster, target: { all: true }, rest: words };
  const [subject, ...rest] = words;
  // `snooze lab-a 3d` names nothing to snooze: a lone word is taken for the duration.
  if (subject === undefined || (sub === "snooze" && rest.length === 0)) {
    refuse({
      code: "bad-value",
      subcommand: sub,
      cluster,
      message:
        `\`${sub}\` needs what to ${sub}: a certificate as \`NODE/CERT\` (as the warning names it), ` +
        `a node, or \`--all\`, as in \`${USAGE[sub]}\`. ${NOTHING_RUNS}`,
    });
  }
  if (!SUBJECT_ARG.test(subject)) {
    refuse({
      code: "bad-value",
      subcommand: sub,
      cluster,
      message: `${quote(subject)} is not a node or \`NODE/CERT\`. ${NOTHING_RUNS}`,
    });
  }
  return { cluster, target: { keys: [keyOfTyped(subject)] }, rest };
}

function parseSnooze(_sub: Subcommand, args: Arguments): Command {
  const { cluster, target, rest } = quietArguments("snooze", args);
  const [duration, ...why] = rest;
  if (duration === undefined) {
    refuse({
      code: "bad-value",
      subcommand: "snooze",
      cluster,
      message: `\`snooze\` needs a duration such as \`6h\`, \`3d\` or \`2w\`. ${NOTHING_RUNS}`,
    });
  }
  const reason = why.join(" ");
  return { kind: "snooze", cluster, target, duration, ...(reason ? { reason } : {}) };
}

function parseUnsnooze(_sub: Subcommand, args: Arguments): Command {
  const { cluster, target, rest } = quietArguments("unsnooze", args);
  if (rest.length > 0) {
    refuse({
      code: "extra-argument",
      subcommand: "unsnooze",
      cluster,
      message: `\`unsnooze\` takes one \`NODE/CERT\` or \`--all\`; ${quote(rest.join(" "))} is too much. ${NOTHING_RUNS}`,
    });
  }
  return { kind: "unsnooze", cluster, target };
}

function parseSnoozes(sub: Subcommand, { positional }: Arguments): Command {
  if (positional.length === 0) return { kind: "snoozes" };
  return { kind: "snoozes", cluster: clusterArguments(sub, { positional, flags: new Map() }).cluster };
}

function parseRenew(sub: Subcommand, args: Arguments): Command {
  const target = clusterArguments(sub, args);
  const list = args.flags.get("--certs");
  if (typeof list !== "string") return { kind: "renew", ...target };
  // `--certs` may name the catalogue's names, nothing else.
  const certs: CertificateName[] = [];
  for (const name of list.split(",")) {
    if (isCertificateName(name)) {
      certs.push(name);
      continue;
    }
    const suggestions = name ? suggestNames(name, CERTIFICATE_NAMES) : [];
    refuse({
      code: "bad-value",
      subcommand: sub,
      cluster: target.cluster,
      message:
        (name ? `${quote(name)} is not a kubeadm certificate` : "`--certs` has an empty name") +
        (suggestions.length ? `; did you mean \`${suggestions[0]}\`?` : ".") +
        ` \`--certs\` takes a comma-separated list such as \`apiserver,admin.conf\`. ${NOTHING_RUNS}`,
      suggestions,
    });
  }
  return { kind: "renew", ...target, certs: [...new Set(certs)] };
}

/**
 * Is the command's cluster among `visible` (the names shown in this channel)? Suggestions come from
 * `visible` only, so a typo never reveals another team's cluster.
 */
export function checkCluster(cluster: string, visible: readonly string[]): CommandError | null {
  if (visible.includes(cluster)) return null;
  const suggestions = suggestNames(cluster, visible);
  return {
    kind: "error",
    code: "unknown-cluster",
    cluster,
    suggestions,
    message:
      `There is no cluster ${quote(cluster)} in this channel` +
      (suggestions.length ? `; did you mean ${suggestions.map((s) => `*${s}*`).join(", ")}?` : ".") +
      " `/certs list` shows the clusters of this channel.",
  };
}
