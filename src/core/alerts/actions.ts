// The posts an alert plan makes, their ids, and what posting one does to the AlertState. The
// message itself is present/'s (`M`: a Slack message); here it only has to say its channel.
//
// Why actions and a reducer instead of "post and remember": a post is a side effect that can fail
// half-way (Slack down, worker killed). So the poster executes the plan one action at a time and
// saves `applyAlert(state, action, ts)` after each successful post. Everything the planner decides
// is a function of (state, report), hence:
//   - re-planning after any prefix of the actions was applied yields exactly the rest (same ids);
//   - re-planning after all of them were applied yields nothing.
// Each action's `id` names its content (not the scan), so the same post planned twice, by a retry
// or by two jobs racing on one cluster, has the same id: a poster can claim it (Redis SET NX
// `posted:<id>`) before posting, or look up the ts it got. chat.postMessage itself has no
// idempotency key, so the window between "Slack took it" and "state saved" cannot be closed here;
// saving after every single post keeps it to one message.
import { createHash } from "node:crypto";
import {
  bySeverityDesc,
  type Reminder,
  type ReminderThread,
  type Resolution,
  type ResolutionThread,
  type ResolvedReason,
  type WarnSubject,
  type Warning,
} from "./plan.js";
import { withQuiet, type AlertLevel, type AlertRecord, type AlertState } from "./state.js";
import { snoozeEnded } from "./quiet.js";

/** Where a message goes; the rest of it is the renderer's business. */
interface Addressed {
  channel: string;
}

interface ActionBase<M extends Addressed> {
  /** Names the content: the same id is the same post. See the ids below. */
  id: string;
  cluster: string;
  /** ISO scannedAt of the plan: what applyAlert records, so applying is deterministic. */
  at: string;
  message: M;
  /** Post as a reply in this thread (chat.postMessage thread_ts); absent: top-level. */
  threadTs?: string;
  /** chat.postMessage reply_broadcast. */
  broadcast?: boolean;
}

/** New or worse: a top-level post. id `warn:<cluster>:<worst level>:<n subjects>:<hash of key@sha:level…>`. */
export interface WarnAction<M extends Addressed = Addressed> extends ActionBase<M> {
  kind: "warn";
  /** The worst level among the subjects. */
  level: AlertLevel;
  subjects: WarnSubject[];
}

/** Fixed or no longer watched: a reply in the subjects' thread. id `resolved:<cluster>:<thread>:<hash of key@sha:level…>`. */
export interface ResolvedAction<M extends Addressed = Addressed> extends ActionBase<M> {
  kind: "resolved";
  broadcast: boolean;
  resolved: { key: string; record: AlertRecord; reason: ResolvedReason }[];
}

/** Still critical or expired a day later: a reply in the thread. id `remind:<cluster>:<thread>:<YYYY-MM-DD>:d<slot>:<hash of keys>`. */
export interface ReminderAction<M extends Addressed = Addressed> extends ActionBase<M> {
  kind: "reminder";
  keys: string[];
}

export type AlertAction<M extends Addressed = Addressed> =
  WarnAction<M> | ResolvedAction<M> | ReminderAction<M>;

/** Which scan of which cluster the actions come from. */
export interface ActionOrigin {
  cluster: string;
  /** ISO scannedAt. */
  at: string;
}

/** A short, stable digest of some strings (order-sensitive). */
const shortHash = (parts: readonly string[]): string =>
  createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 16);

const thread = (record: AlertRecord) => (record.threadTs ? { threadTs: record.threadTs } : {});

/** One post of warnings (the renderer splits them into posts that fit). */
export function warnAction<M extends Addressed>(
  { cluster, at }: ActionOrigin,
  warnings: readonly Warning[],
  message: M,
): WarnAction<M> {
  const subjects = warnings.map((w) => w.subject);
  const level = subjects.map((s) => s.level).sort(bySeverityDesc)[0]!;
  const hash = shortHash(subjects.map((s) => `${s.key}@${s.sha256 ?? "-"}:${s.level}`));
  return {
    kind: "warn",
    id: `warn:${cluster}:${level}:${subjects.length}:${hash}`,
    cluster,
    at,
    level,
    subjects,
    message,
  };
}

/**
 * The replies resolving a thread's subjects, one per chunk. The chunk that leaves nothing open in
 * the thread closes it: broadcast, and `render` is told so.
 */
export function resolvedActions<M extends Addressed, R extends Resolution>(
  { cluster, at }: ActionOrigin,
  { record, open }: ResolutionThread,
  chunks: readonly (readonly [R, ...R[]])[],
  render: (chunk: readonly [R, ...R[]], closes: boolean) => M,
): ResolvedAction<M>[] {
  const left = new Set(open);
  return chunks.map((chunk) => {
    for (const r of chunk) left.delete(r.key);
    const closes = left.size === 0 && record.threadTs !== undefined;
    const hash = shortHash(chunk.map((r) => `${r.key}@${r.record.sha256 ?? "-"}:${r.record.level}`));
    return {
      kind: "resolved",
      id: `resolved:${cluster}:${record.threadTs ?? "top"}:${hash}`,
      cluster,
      at,
      ...thread(record),
      broadcast: closes,
      resolved: chunk.map(({ key, record: rec, reason }) => ({ key, record: rec, reason })),
      message: render(chunk, closes),
    };
  });
}

/** One reminder reply; `day` is the scan's local day, which makes the id readable. */
export function reminderAction<M extends Addressed>(
  { cluster, at }: ActionOrigin,
  { record, slot }: ReminderThread,
  chunk: readonly Reminder[],
  day: string,
  message: M,
): ReminderAction<M> {
  const keys = chunk.map((r) => r.key);
  // A snooze's end is named too: it is not the slot's plain reminder, which may have been posted.
  const named = chunk.map((r) => (r.snoozeEnded ? `${r.key}~${r.snoozeEnded.until ?? ""}` : r.key));
  return {
    kind: "reminder",
    id: `remind:${cluster}:${record.threadTs ?? "top"}:${day}:d${slot}:${shortHash(named)}`,
    cluster,
    at,
    ...thread(record),
    keys,
    message,
  };
}

const sameRecord = (a: AlertRecord, b: AlertRecord): boolean =>
  a.level === b.level && a.sha256 === b.sha256 && a.threadTs === b.threadTs && a.channel === b.channel;

/**
 * The state after `action` was posted; `ts` is the posted message's ts (a warn's ts becomes the
 * thread of its subjects). Pure and deterministic: times come from the action.
 */
export function applyAlert(state: AlertState, action: AlertAction, ts?: string): AlertState {
  const alerts = { ...state.alerts };
  // Acknowledgements and snoozes end with what they were about: worse, renewed, resolved, or a
  // snooze whose end was said (quiet.ts).
  const quiet = { ...state.quiet };
  switch (action.kind) {
    case "warn":
      for (const s of action.subjects) {
        delete quiet[s.key];
        alerts[s.key] = {
          level: s.level,
          sha256: s.sha256,
          postedAt: action.at,
          channel: action.message.channel,
          ...(ts ? { threadTs: ts } : {}),
        };
      }
      break;
    case "reminder":
      for (const key of action.keys) {
        const record = alerts[key];
        if (!record || record.threadTs !== action.threadTs) continue;
        alerts[key] = { ...record, lastReminderAt: action.at };
        if (snoozeEnded(quiet[key], record, Date.parse(action.at))) delete quiet[key];
      }
      break;
    case "resolved":
      for (const { key, record } of action.resolved) {
        const current = alerts[key];
        if (!current || !sameRecord(current, record)) continue;
        delete alerts[key];
        delete quiet[key];
      }
      break;
  }
  return withQuiet({ ...state, alerts }, quiet);
}
