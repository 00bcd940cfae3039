// The digest job: every configured cluster's latest stored scan as the digest, posted in the digest
// channel (the first message top-level, the rest in its thread), each message once per job. The
// clusters' alert states say what is snoozed or acknowledged, for the digest's quiet section.
import type { Config } from "../config/load.js";
import type { AlertStates, MessagePoster, ScanArchive } from "../core/ports.js";
import { activeQuiets } from "../core/alerts/quiet.js";
import { asOf } from "../core/scan/as-of.js";
import type { AlertState } from "../core/alerts/state.js";
import type { ClusterReport } from "../core/report/types.js";
import { renderDigest } from "../present/digest.js";
import type { SlackMessage } from "../present/slack-types.js";

export interface DigestJobDependencies {
  config: Config;
  archive: Pick<ScanArchive, "latestAll">;
  alerts: AlertStates;
  poster: Pick<MessagePoster, "postOnce">;
  now(): Date;
}

/**
 * The digest of every configured cluster, in config order, from its latest scan (absent or null:
 * not scanned yet), and what is snoozed or acknowledged at `now` per `states`. The service reads
 * the scans and states from Redis; `certs-bot digest --print` scans now and has no states (none).
 */
export function digestMessages(
  config: Config,
  channel: string,
  latest: ReadonlyMap<string, { report: ClusterReport; scannedAt: Date } | null>,
  now: Date,
  states: ReadonlyMap<string, AlertState> = new Map(),
): SlackMessage[] {
  return renderDigest({
    channel,
    clusters: config.clusters.map(({ name }) => {
      const state = states.get(name);
      return {
        name,
        report: latest.get(name)?.report ?? null,
        scannedAt: latest.get(name)?.scannedAt ?? null,
        ...(state ? { quiets: activeQuiets(state, now) } : {}),
      };
    }),
    now,
    timeZone: config.timezone,
  });
}

export async function runDigestJob(
  job: { readonly id?: string },
  { config, archive, alerts, poster, now }: DigestJobDependencies,
): Promise<{ messages: number } | { skipped: string }> {
  if (!config.slack) return { skipped: "no slack.digestChannel configured" };
  const names = config.clusters.map((c) => c.name);
  const [latest, states] = await Promise.all([archive.latestAll(names), alerts.alertStates(names)]);
  const at = now();
  // As of now: a certificate that expired since its scan is in the digest as expired.
  const current = new Map([...latest].map(([name, scan]) => [name, scan && asOf(scan, at)]));
  const messages = digestMessages(config, config.slack.digestChannel, current, at, states);
  let parent: string | undefined;
  for (const [i, message] of messages.entries()) {
    const ts = await poster.postOnce(`digest:${job.id}:${i}`, message, parent);
    parent ??= ts;
  }
  return { messages: messages.length };
}
