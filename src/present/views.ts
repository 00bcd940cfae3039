// What `/certs` answers, as Block Kit. Pure: data and `now` in, `{ text, blocks }` out, so the Bolt
// edge, the console adapter and the tests all see the same replies.
//
// The same rules as the digest (present/digest.ts): everything that came from a node, a config or a
// user goes through format.ts's `code`/`plain`, which escape and bound it; every reply names its
// cluster in `text` and in its first block; and a reply that would not fit one message (`status
// --all` on a big cluster) is split into several, each under the block count and TEXT_BUDGET, the
// later ones saying "continued (2/3)". The caller posts them in order. `/certs list` is in list.ts.
import { duration, formatDate, timeLeft } from "./time.js";
import {
  isFine,
  worstOf,
  type CertificateReport,
  type NodeReport,
  type StoredScan,
} from "../core/report/types.js";
import {
  STATUS_EMOJI,
  STATUS_LABEL,
  byUser,
  chunkToFit,
  code,
  context,
  divider,
  header,
  packLines,
  plain,
  roleNote,
  section,
} from "./format.js";
import { clusterStatus, compareCertificates, rankConcerns } from "../core/alerts/rank.js";
import { NOT_SCANNED_EMOJI, worstDetail } from "./list.js";
import type { Block, ChatReply, SlackMessage } from "./slack-types.js";
import { SUBCOMMANDS, USAGE, type CommandError, type Subcommand } from "./command.js";

/** Room for the "continued (i/n)" note, whose numbers are known only after splitting. */
const NOTE_PLACEHOLDER = "continued (999/999)";

const measure = (reply: ChatReply): SlackMessage => ({ channel: "-", ...reply });

// ---------------------------------------------------------------------------------------------
// help

interface HelpEntry {
  what: string;
  examples: (cluster: string) => string[];
}

const HELP: Record<Subcommand, HelpEntry> = {
  help: { what: "What each subcommand does, with examples.", examples: () => ["/certs help status"] },
  list: {
    what:
      "The clusters shown in this channel, counted by status, then worst first, 20 to a page: " +
      "status, worst certificate, days left, scan age. Narrow it to names that start with a word " +
      "(or match a pattern with `*`) and to statuses (`--status expired|critical|warning|unreachable|ok`, " +
      "several with commas); `--page N` reaches every one.",
    examples: () => [
      "/certs list",
      "/certs list --status expired,critical",
      "/certs list prod-",
      "/certs list --page 2",
    ],
  },
  status: {
    what:
      "The latest report of a cluster: per node, the certificates that need attention (every one " +
      "with `--all`), when they expire, the CA, findings and the report's age. Starts a scan when " +
      "there is no report yet.",
    examples: (c) => [`/certs status ${c}`, `/certs status ${c} --all`, `/certs status ${c} --node NAME`],
  },
  scan: {
    what: "Scans a cluster now (operators only); the result follows in the same place.",
    examples: (c) => [`/certs scan ${c}`],
  },
  renew: {
    what:
      "Requests a renewal (operators only): certs-bot scans the cluster, posts the plan in the " +
      "cluster's channel with Approve and Reject buttons, and runs it node by node once an approver " +
      "(not you) approves, reporting every step in the card's thread.",
    examples: (c) => [`/certs renew ${c}`, `/certs renew ${c} --node NAME --certs apiserver,admin.conf`],
  },
  policy: {
    what:
      "The renewal policy in force for a cluster: at how many days left certs-bot requests a renewal " +
      "itself, whether that request is pre-approved, and what it does now or next, and when.",
    examples: (c) => [`/certs policy ${c}`],
  },
  audit: {
    what:
      "The renewals of a cluster, newest first: who asked, who approved or rejected, what ran; " +
      "and who snoozed or unsnoozed which warning.",
    examples: (c) => [`/certs audit ${c}`],
  },
  snooze: {
    what:
      "No reminders for an open warning until the time passes (operators only): a certificate as " +
      "`NODE/CERT`, as the warning names it, a node, or `--all` of the cluster's open warnings. " +
      "A worse level or a new certificate is still posted. Durations like `6h`, `3d`, `2w`, at most " +
      "the cluster's `alerts.maxSnoozeDays`.",
    examples: (c) => [
      `/certs snooze ${c} NODE/apiserver 3d planned for Tuesday`,
      `/certs snooze ${c} --all 1d`,
    ],
  },
  unsnooze: {
    what: "Lifts a snooze or an acknowledgement (operators only): reminders resume.",
    examples: (c) => [`/certs unsnooze ${c} NODE/apiserver`, `/certs unsnooze ${c} --all`],
  },
  snoozes: {
    what: "What is snoozed or acknowledged: who, what, until when and why.",
    examples: (c) => ["/certs snoozes", `/certs snoozes ${c}`],
  },
};

/** Help lists the subcommands as the grammar declares them, help itself last. */
const ORDER: readonly Subcommand[] = [...SUBCOMMANDS.filter((s) => s !== "help"), "help"];

/**
 * Every subcommand (or only `topic`), with examples. `exampleCluster` (a cluster shown in this
 * channel, when there is one) makes the examples copyable.
 */
export function renderHelp(topic?: Subcommand, exampleCluster = "CLUSTER"): ChatReply {
  const key = `${topic ?? ""} ${exampleCluster}`;
  let help = helps.get(key);
  if (!help) {
    if (helps.size >= HELPS_KEPT) helps.clear();
    // Frozen: one reply shared by every answer (the Slack surface then serializes it once).
    help = Object.freeze(helpOf(topic, exampleCluster));
    helps.set(key, help);
  }
  return help;
}

/** Help never changes for a topic and an example cluster: each is rendered once (a few hundred kept). */
const helps = new Map<string, ChatReply>();
const HELPS_KEPT = 500;

function helpOf(topic: Subcommand | undefined, exampleCluster: string): ChatReply {
  const shown = topic ? [topic] : ORDER;
  const entry = (sub: Subcommand): string => {
    const { what, examples } = HELP[sub];
    return `*\`${USAGE[sub]}\`*\n${what}\n${examples(exampleCluster)
      .map((e) => `\`${e}\``)
      .join("  ·  ")}`;
  };
  return {
    text: topic ? `certs-bot: ${USAGE[topic]}` : `certs-bot: /certs ${ORDER.join(" | ")}`,
    blocks: [
      header(topic ? `/certs ${topic}` : "certs-bot: /certs commands"),
      ...shown.map((sub) => section(entry(sub))),
      context(
        topic
          ? "`/certs help` lists every subcommand."
          : "Cluster and node names are plain words; shell characters and quotes are refused.",
      ),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// status

export interface StatusInput {
  cluster: string;
  scan: StoredScan;
  now: Date;
  timeZone: string;
  /** Only this node (the router has checked that the cluster has it). */
  node?: string;
  /** Every certificate, not only those that need attention. */
  all: boolean;
}

function certLine(cert: CertificateReport, now: Date, timeZone: string): string {
  const parts = [`${STATUS_EMOJI[cert.status]} ${code(cert.name, 60)} *${STATUS_LABEL[cert.status]}*`];
  if (cert.notAfter) parts.push(`expires ${formatDate(cert.notAfter, timeZone)} (${timeLeft(cert, now)})`);
  parts.push(cert.ca ? `CA ${code(cert.ca, 60)}` : cert.isCA ? "a CA" : "no CA");
  if (cert.error) parts.push(plain(cert.error, 200));
  return parts.join(" · ");
}

function nodeLines(node: NodeReport, input: StatusInput): string[] {
  const { now, timeZone, all } = input;
  const version = node.kubeadmVersion ? ` · kubeadm ${plain(node.kubeadmVersion, 40)}` : "";
  const lines = [
    `${STATUS_EMOJI[node.status]} *${plain(node.name, 100)}* (${plain(node.host, 100)}) — ` +
      `*${STATUS_LABEL[node.status]}*${roleNote(node)}${version}`,
  ];
  if (!node.reachable) {
    lines.push(`not scanned${node.error ? `: ${plain(node.error, 300)}` : ""}`);
    return lines;
  }
  const shown = node.certificates.filter((cert) => all || !isFine(cert.status)).sort(compareCertificates);
  lines.push(...shown.map((cert) => certLine(cert, now, timeZone)));
  if (!all) {
    const fine = node.certificates.filter((cert) => isFine(cert.status));
    const soonest = fine
      .filter((cert) => cert.notAfter)
      .sort((a, b) => a.notAfter!.getTime() - b.notAfter!.getTime())[0];
    if (fine.length > 0) {
      lines.push(
        `${shown.length ? "the other " : "all "}${fine.length} ${fine.length === 1 ? "certificate" : "certificates"} ok` +
          (soonest?.notAfter
            ? `; the next to expire is ${code(soonest.name, 60)}, ${formatDate(soonest.notAfter, timeZone)} (${timeLeft(soonest, now)})`
            : ""),
      );
    }
  }
  const served = node.apiserver;
  if (served && (all || (served.status && served.status !== "ok"))) {
    lines.push(
      served.reachable && served.notAfter
        ? `${STATUS_EMOJI[served.status ?? "ok"]} apiserver serves on :${served.port} a certificate that expires ` +
            `${formatDate(served.notAfter, timeZone)} (${timeLeft({ notBefore: null, notAfter: served.notAfter }, now)})`
        : `apiserver on :${served.port} not probed${served.error ? `: ${plain(served.error, 200)}` : ""}`,
    );
  }
  for (const finding of node.findings) {
    const about = finding.certificate ? ` ${code(finding.certificate, 60)}` : "";
    lines.push(
      `:warning: *${finding.severity}*${about}: ${plain(finding.message, 300)}\n      → ${plain(finding.advice, 300)}`,
    );
  }
  return lines;
}

/** The latest report of one cluster, per node; several messages when it does not fit one. */
export function renderStatus(input: StatusInput): ChatReply[] {
  const { cluster, scan, now, timeZone, node, all } = input;
  const report = scan.report;
  const nodes = node ? report.nodes.filter((n) => n.name === node) : report.nodes;
  const attention = nodes.reduce(
    (sum, n) => sum + n.certificates.filter((c) => !isFine(c.status)).length + (n.reachable ? 0 : 1),
    0,
  );
  const status = node
    ? worstOf(nodes.map((n) => n.status))
    : clusterStatus(report, rankConcerns(report, { includeOk: true })[0]);
  const age = duration(now.getTime() - scan.scannedAt.getTime(), "ago");
  const scope = node
    ? `node ${plain(node, 100)}`
    : `${nodes.length} ${nodes.length === 1 ? "node" : "nodes"}`;
  const head: Block[] = [
    header(`${cluster} — ${STATUS_LABEL[status]}${node ? ` (${node})` : ""}`),
    context(
      `${scope} · report of ${formatDate(scan.scannedAt, timeZone)} (${age}) · scan took ` +
        `${duration(scan.durationMs, "seconds")} · ` +
        (all ? "every certificate" : "certificates that need attention; `--all` shows every one"),
    ),
  ];
  const body: Block[] = [];
  if (nodes.length === 0) {
    body.push(
      section(
        `The latest report of *${cluster}* has no node ${code(node ?? "", 100)} yet; it was added after that scan, or \`/certs scan ${cluster}\` will tell.`,
      ),
    );
  }
  nodes.forEach((n, i) => {
    if (i > 0) body.push(divider());
    body.push(...packLines(nodeLines(n, input)).map(section));
  });
  const summary =
    attention === 0
      ? `nothing needs attention`
      : `${attention} ${attention === 1 ? "thing needs" : "things need"} attention`;
  const text = `${cluster}: ${STATUS_LABEL[status]}, ${summary} (report ${age})`;
  const page = (chunk: readonly Block[], note: string | null, first: boolean): ChatReply => ({
    text: first ? text : `${cluster} status (${note})`,
    blocks: [
      ...(first ? head : [context(`*${cluster}* status · ${note}`)]),
      ...chunk.filter((b, i) => !(i === 0 && b.type === "divider")),
      ...(first && note ? [context(note)] : []),
    ],
  });
  return paginate(body, page);
}

/** `status` of a cluster that has no report yet. */
export function renderNoReport(cluster: string, scanning: boolean): ChatReply {
  const text = `${cluster} has no report yet${scanning ? " — scanning now" : ""}`;
  return {
    text,
    blocks: [
      section(
        `${NOT_SCANNED_EMOJI} *${cluster}* has no report yet` +
          (scanning
            ? " — scanning now; the result follows here."
            : `. \`/certs scan ${cluster}\` starts one.`),
      ),
    ],
  };
}

/** `--node` names no node of the cluster. Suggestions are that cluster's own nodes. */
export function renderUnknownNode(cluster: string, node: string, suggestions: readonly string[]): ChatReply {
  const close = suggestions.length
    ? `; did you mean ${suggestions.map((s) => code(s, 100)).join(", ")}?`
    : ".";
  return {
    text: `${cluster} has no node ${node}`,
    blocks: [
      section(`:no_entry: *${cluster}* has no node ${code(node, 100)}${close}`),
      context(`\`/certs status ${cluster}\` shows every node.`),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// scan

export function renderScanQueued(cluster: string, userId: string): ChatReply {
  const by = byUser(userId);
  return {
    text: `Scan of ${cluster} requested`,
    blocks: [section(`${NOT_SCANNED_EMOJI} Scan of *${cluster}* requested${by}; the result follows here.`)],
  };
}

export interface ScanDoneInput {
  cluster: string;
  scan: StoredScan;
  now: Date;
}

/** The answer to `/certs scan` once the scan is stored. */
export function renderScanDone(input: ScanDoneInput): ChatReply {
  const { cluster, scan, now } = input;
  const items = rankConcerns(scan.report, { includeOk: true });
  const status = clusterStatus(scan.report, items[0]);
  const problems = items.filter((item) => item.status !== "ok").length;
  const worst = items[0]
    ? ` · ${status === "ok" ? "next to expire" : "worst"}: ${worstDetail(items[0], now)}`
    : "";
  const nodes = scan.report.nodes.length;
  return {
    text: `Scan of ${cluster} done: ${STATUS_LABEL[status]}`,
    blocks: [
      section(
        `${STATUS_EMOJI[status]} Scan of *${cluster}* done: *${STATUS_LABEL[status]}* · ` +
          `${nodes} ${nodes === 1 ? "node" : "nodes"} in ${duration(scan.durationMs, "seconds")}` +
          `${problems ? ` · ${problems} to look at` : ""}${worst}`,
      ),
      context(`\`/certs status ${cluster}\` for details.`),
    ],
  };
}

/** The answer to `/certs scan` when the scan job failed for good. */
export function renderScanFailed(cluster: string, error: string): ChatReply {
  return {
    text: `Scan of ${cluster} failed`,
    blocks: [section(`:x: Scan of *${cluster}* failed: ${plain(error, 500)}`)],
  };
}

// ---------------------------------------------------------------------------------------------
// refusals and errors

/** A parse error or an unknown cluster; shows the subcommand's usage when it is known. */
export function renderCommandError(error: CommandError): ChatReply {
  const usage = error.subcommand ? [context(`Usage: \`${USAGE[error.subcommand]}\` · \`/certs help\``)] : [];
  // The cluster (already checked against the name pattern) leads, except for an unknown one, whose
  // message quotes it.
  const about = error.cluster && error.code !== "unknown-cluster" ? `*${error.cluster}*: ` : "";
  return {
    text: `/certs: ${error.code.replace(/-/g, " ")}${error.cluster ? `: ${error.cluster}` : ""}`,
    blocks: [
      section(`:no_entry: ${about}${error.message}`),
      ...(usage.length ? usage : [context("`/certs help` lists the subcommands.")]),
    ],
  };
}

/** Access denied; `reason` comes from access.ts and names the cluster. */
export function renderRefusal(cluster: string, reason: string): ChatReply {
  return {
    text: `/certs: refused for ${cluster}`,
    blocks: [section(`:lock: ${reason}`), context("Nothing was run.")],
  };
}

/** The edge failed (a timeout, Redis, a bug): the user still gets an answer, and the log an id. */
export function renderInternalError(incident: string): ChatReply {
  return {
    text: `certs-bot: something went wrong (logged as ${incident})`,
    blocks: [
      section(
        `:warning: Something went wrong answering \`/certs\`; it is logged as ${code(incident, 40)}. ` +
          "Try again in a minute, or give that id to whoever runs certs-bot.",
      ),
    ],
  };
}

/**
 * Replaces the replies that did not fit the follow-ups Slack allows for one command (five through
 * a slash command's response_url).
 */
export function renderRepliesCut(omitted: number): ChatReply {
  const more = `${omitted} more ${omitted === 1 ? "message" : "messages"}`;
  return {
    text: `certs-bot: ${more} not shown`,
    blocks: [
      section(
        `:scissors: ${more} not shown: Slack takes only a few replies to one command. ` +
          "Narrow it down, as in `/certs status CLUSTER --node NAME`, or open certs-bot's Home tab.",
      ),
    ],
  };
}

/**
 * The immediate answer to `/certs renew`: the plan follows once the fresh scan is done, posted for
 * approval, or only shown where renewals do not run (a console without --allow-renewals).
 */
export function renderRenewalPlanning(cluster: string, forApproval = true): ChatReply {
  return {
    text: `${cluster}: building a renewal plan`,
    blocks: [
      section(
        `:hourglass_flowing_sand: Scanning *${cluster}* and building a renewal plan; ` +
          (forApproval
            ? "it is posted in the cluster's channel for approval."
            : "it is shown here only, not posted for approval."),
      ),
    ],
  };
}

/** Splits items over as many replies as the limits need; the first says how many follow. */
function paginate<T>(
  items: readonly T[],
  page: (chunk: readonly T[], note: string | null, first: boolean) => ChatReply,
): ChatReply[] {
  const chunks = chunkToFit(items, (chunk) => measure(page(chunk, NOTE_PLACEHOLDER, true)));
  return chunks.map((chunk, i) =>
    page(
      chunk,
      chunks.length > 1
        ? i === 0
          ? `continued in ${chunks.length - 1} more ${chunks.length === 2 ? "message" : "messages"}`
          : `continued (${i + 1}/${chunks.length})`
        : null,
      i === 0,
    ),
  );
}
