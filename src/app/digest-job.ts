// The digest job: every configured cluster's latest stored scan as the digest, posted in the digest
// channel (the first message top-level, the rest in its thread), each message once per job.
import type { Config } from "../config/load.js";
import type { MessagePoster, ScanArchive } from "../core/ports.js";
import type { ClusterReport } from "../core/report/types.js";
import { renderDigest } from "../present/digest.js";
import type { SlackMessage } from "../present/slack-types.js";

export interface DigestJobDependencies {
  config: Config;
  archive: Pick<ScanArchive, "latestAll">;
  poster: Pick<MessagePoster, "postOnce">;
  now(): Date;
}

/**
 * The digest of every configured cluster, in config order, from its latest scan (absent or null:
 * not scanned yet). The service reads the scans from Redis; `certs-bot digest --print` scans now.
 */
export function digestMessages(
  config: Config,
  channel: string,
  latest: ReadonlyMap<string, { report: ClusterReport; scannedAt: Date } | null>,
  now: Date,
): SlackMessage[] {
  return renderDigest({
    channel,
    clusters: config.clusters.map(({ name }) => ({
      name,
      report: latest.get(name)?.report ?? null,
      scannedAt: latest.get(name)?.scannedAt ?? null,
    })),
    now,
    timeZone: config.timezone,
  });
}

export async function runDigestJob(
  job: { readonly id?: string },
  { config, archive, poster, now }: DigestJobDependencies,
): Promise<{ messages: number } | { skipped: string }> {
  if (!config.slack) return { skipped: "no slack.digestChannel configured" };
  const latest = await archive.latestAll(config.clusters.map((c) => c.name));
  const messages = digestMessages(config, config.slack.digestChannel, latest, now());
  let parent: string | undefined;
  for (const [i, message] of messages.entries()) {
    const ts = await poster.postOnce(`digest:${job.id}:${i}`, message, parent);
    parent ??= ts;
  }
  return { messages: messages.length };
}
