// `/certs policy CLUSTER`: the renewal policy in force for a cluster (config/load.ts resolves it,
// with the line that decides it) and what it does now or next, and when. Pure: the latest scan, the
// generations the policy filed requests for and the cluster's active request come in;
// core/renew/policy.ts says which certificates are due and when the next one is. Everything that
// came from a node or a record goes through `code`; the reply is one message, its lists capped.
import type { ClusterWindows, RenewalPolicy } from "../config/load.js";
import type { RenewalRequest } from "../core/renew/approval.js";
import {
  dueCertificates,
  generationSubject,
  nextDue,
  unfiled,
  type PolicyCertificate,
} from "../core/renew/policy.js";
import type { StoredScan } from "../core/report/types.js";
import { code, context, header, listUpTo, packLines, plural, section } from "./format.js";
import { describeWindows, runWindow } from "./renewal.js";
import type { ChatReply } from "./slack-types.js";
import { scheduledStart, shownState } from "./thread.js";
import { duration, formatDate, formatWindow, timeLeft } from "./time.js";

/** What the renewal records say of a cluster (RenewalRecords.filings and .active). */
export interface PolicyRecords {
  /** Certificate generation (`node/name@serial`) → the id of the request the policy filed for it. */
  filings: ReadonlyMap<string, string>;
  /** The cluster's one active request, whoever asked for it; null when none holds the cluster. */
  active: RenewalRequest | null;
}

export interface PolicyInput extends PolicyRecords {
  cluster: string;
  /** Null: certs-bot files no request of its own for this cluster. */
  policy: RenewalPolicy | null;
  windows: ClusterWindows;
  timeZone: string;
  now: Date;
  /** The latest stored scan; null before the first. */
  scan: StoredScan | null;
}

/** How many filed requests, and certificates in one sentence, are named before "and N more". */
const SHOWN = 5;

const listed = (items: readonly string[]): string => listUpTo(items, SHOWN);

const subject = (name: string): string => code(name, 160);
const requestName = (id: string): string => `request ${code(id, 120)}`;
const left = (c: PolicyCertificate, now: Date): string =>
  `${subject(`${c.node}/${c.name}`)} (${timeLeft({ notBefore: null, notAfter: c.notAfter }, now)})`;

/** The maintenance windows an approved run keeps to, and the one it would use from `now`. */
function windowsLine(windows: ClusterWindows, timeZone: string, now: Date): string {
  const at = runWindow({ ...windows, now }, timeZone);
  if (!at) return "No maintenance windows: an approved run starts at once, any time.";
  const rule =
    `Maintenance windows: ${describeWindows(windows.windows)} (${timeZone}); a node is not started ` +
    `with less than ${windows.windowMarginMinutes} min of its window left`;
  if (!at.window) return `${rule}. None opens within a week.`;
  const which = at.startsAt.getTime() <= now.getTime() ? "Open now" : "The next";
  return `${rule}. ${which}: ${formatWindow(at.window, timeZone)}.`;
}

/** Where a request stands, in a few words: the approval card's state line, short. */
function requestState(request: RenewalRequest, input: PolicyInput): string {
  const { windows, now, timeZone } = input;
  const scheduled = scheduledStart(request, windows, now, timeZone);
  if (scheduled) return `approved, runs ${scheduled} in its maintenance window`;
  const state = shownState(request, now);
  switch (state) {
    case "pending":
      return `waiting for approval until ${formatDate(request.expiresAt, timeZone)}`;
    case "expired":
      return `expired at ${formatDate(request.expiresAt, timeZone)} without enough approvals`;
    case "approved":
      return "approved, starting";
    case "running":
      return `running since ${formatDate(request.startedAt ?? request.requestedAt, timeZone)}`;
    default:
      return state;
  }
}

/** The active request when the policy filed it: what it is for and where it stands. */
function activeLine(request: RenewalRequest, input: PolicyInput): string {
  const covered = [...input.filings]
    .filter(([, id]) => id === request.id)
    .map(([generation]) => subject(generationSubject(generation)));
  const how = request.policy?.preApproved ? "filed and pre-approved" : "filed";
  return (
    `${requestName(request.id)}, ${how} by the policy${covered.length ? ` for ${listed(covered)}` : ""}: ` +
    `${requestState(request, input)}.`
  );
}

/** Due certificates a request was filed for already, a line per request (the active one has its own). */
function filedLines(filed: readonly PolicyCertificate[], input: PolicyInput): string[] {
  const { cluster, filings, active, now } = input;
  const byRequest = new Map<string, PolicyCertificate[]>();
  for (const c of filed) {
    const id = filings.get(c.generation)!;
    if (id !== active?.id) byRequest.set(id, [...(byRequest.get(id) ?? []), c]);
  }
  const requests = [...byRequest];
  const lines = requests
    .slice(0, SHOWN)
    .map(
      ([id, certs]) =>
        `Filed: ${requestName(id)} for ${listed(certs.map((c) => left(c, now)))}; it has ended, and ` +
        `certs-bot files one request per certificate, so \`/certs renew ${cluster}\` requests another ` +
        `(\`/certs audit ${cluster}\` says how that one ended).`,
    );
  if (requests.length > SHOWN) lines.push(`… and ${plural(requests.length - SHOWN, "more filed request")}.`);
  return lines;
}

/** Due certificates no request was filed for yet: filed at the next scan, once nothing holds the cluster. */
function dueLine(fresh: readonly PolicyCertificate[], input: PolicyInput): string {
  const { cluster, active, now } = input;
  const when = active
    ? `${requestName(active.id)} holds *${cluster}* now (${requestState(active, input)}), so certs-bot ` +
      "files the request at the first scan after that one ends"
    : `certs-bot files the request at the next scan of *${cluster}*`;
  return `Due now: ${listed(fresh.map((c) => left(c, now)))}; ${when}.`;
}

/** When the first certificate not due yet will be, and what the policy then does. */
function nextLine(scan: StoredScan, policy: RenewalPolicy, input: PolicyInput): string {
  const { cluster, windows, timeZone, now } = input;
  const next = nextDue(scan.report, policy);
  if (!next) {
    return `The latest scan of *${cluster}* found no renewable certificate with a known expiry: nothing to request.`;
  }
  const { certificate: c, dueAt } = next;
  const name = subject(`${c.node}/${c.name}`);
  const days = plural(policy.requestWhenDaysLeft, "day");
  const expires = `expires ${formatDate(c.notAfter, timeZone)}`;
  if (dueAt.getTime() <= now.getTime()) {
    return (
      `${name} has reached ${days} left since the latest scan (${expires}); certs-bot files the ` +
      `request at the next scan of *${cluster}*.`
    );
  }
  let then = " for approvers to approve";
  if (policy.preApproved) {
    const at = runWindow({ ...windows, now: dueAt }, timeZone);
    then = !at
      ? ", which starts at once with no click"
      : at.window
        ? `, which runs with no click in the maintenance window ${formatWindow(at.window, timeZone)}`
        : ", but no maintenance window opens within a week of that";
  }
  return `Next: on ${formatDate(dueAt, timeZone)} ${name} reaches ${days} left (${expires}); certs-bot then files a request${then}.`;
}

/** What the policy is doing now, or does next and when. */
function nowLines(policy: RenewalPolicy, input: PolicyInput): string[] {
  const { cluster, scan, filings, active } = input;
  const lines = active?.policy ? [activeLine(active, input)] : [];
  if (!scan) {
    lines.push(
      `certs-bot knows nothing of *${cluster}*'s certificates until its first scan; ` +
        `\`/certs status ${cluster}\` starts one.`,
    );
    return lines;
  }
  const due = dueCertificates(scan.report, policy);
  const fresh = unfiled(due, new Set(filings.keys()));
  const filed = due.filter((c) => filings.has(c.generation));
  lines.push(...filedLines(filed, input));
  if (fresh.length) lines.push(dueLine(fresh, input));
  if (!due.length) lines.push(nextLine(scan, policy, input));
  return lines;
}

function ruleLines(policy: RenewalPolicy, input: PolicyInput): string[] {
  const { cluster, windows, timeZone, now } = input;
  return [
    `certs-bot requests a renewal of *${cluster}* when a renewable certificate has ` +
      `${plural(policy.requestWhenDaysLeft, "day")} left or fewer (set at ${code(policy.source)}).`,
    policy.preApproved
      ? "Pre-approved: it runs in the next maintenance window with no click."
      : "Not pre-approved: approvers approve it as any request.",
    windowsLine(windows, timeZone, now),
  ];
}

function noPolicyLines(input: PolicyInput): string[] {
  const { cluster, active } = input;
  return [
    `*${cluster}* has no renewal policy: certs-bot files no renewal request of its own. Renewals are ` +
      `requested with \`/certs renew ${cluster}\`.`,
    "Setting `renewal.policy.requestWhenDaysLeft` in the config (at the top level, or in the " +
      "cluster's `renewal:`) makes certs-bot file them itself.",
    ...(active?.policy ? [activeLine(active, input)] : []),
  ];
}

export function renderPolicy(input: PolicyInput): ChatReply {
  const { cluster, policy, scan, now, timeZone } = input;
  const scanned = scan
    ? `latest scan ${formatDate(scan.scannedAt, timeZone)} (${duration(now.getTime() - scan.scannedAt.getTime(), "ago")})`
    : "not scanned yet";
  const body = policy ? [ruleLines(policy, input), nowLines(policy, input)] : [noPolicyLines(input)];
  return {
    text: policy
      ? `${cluster}: renewals requested at ${plural(policy.requestWhenDaysLeft, "day")} left, ` +
        (policy.preApproved ? "pre-approved" : "approved by approvers")
      : `${cluster}: no renewal policy; /certs renew ${cluster} requests a renewal`,
    blocks: [
      header(`${cluster} — renewal policy`),
      ...body.flatMap((lines) => packLines(lines).map(section)),
      context(`as of ${formatDate(now, timeZone)} · ${scanned}`),
    ],
  };
}
