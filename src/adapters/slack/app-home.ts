// App Home, the Slack side: who sees which clusters, publishing the view, and keeping it fresh.
//
// - Visibility (access.ts `homeClusters`): a user sees the clusters they operate or approve,
//   directly or through a user group, and those with a viewer channel they are a member of
//   (conversations.members). Lookups are cached briefly and fail closed (ServiceBackend).
// - Published on app_home_opened, and again when a scan of a cluster the user sees is stored, for
//   users who opened Home within RECENT_MS. Who opened it when is kept in Redis (`<p>:home:opened`),
//   so any `serve` process can refresh it; one lease per stored scan (`<p>:lock:home-refresh:<event>`)
//   keeps several `serve` processes from refreshing the same users twice. Stored scans are gathered
//   for REFRESH_DELAY_MS first, so the scheduled fan-out over every cluster refreshes a Home once.
// - Each cluster's snoozed and acknowledged subjects (its alert state in Redis) show under its row.
// - A click's outcome (scan queued, refused, done) shows on top of the view for NOTICE_MS. Notices
//   live in this process: a refresh by another `serve` process shows the view without it.
import { randomUUID } from "node:crypto";
import type { WebClient } from "@slack/web-api";
import type { Logger } from "pino";
import type { ClusterConfig, Config } from "../../config/load.js";
import { canOperate, homeChannelsToCheck, homeClusters, roleGroups } from "../../core/access/access.js";
import { renderHome } from "../../present/home.js";
import { activeQuiets } from "../../core/alerts/quiet.js";
import { asOf } from "../../core/scan/as-of.js";
import type { Block } from "../../present/slack-types.js";
import type { Store } from "../store/store.js";
import type { ServiceBackend } from "./backend.js";

/** Users who opened Home this recently get it refreshed after scans. */
export const RECENT_MS = 60 * 60_000;
const REFRESH_DELAY_MS = 3000;
const NOTICE_MS = 15 * 60_000;
const REFRESH_LEASE_MS = 10 * 60_000;

interface Visible {
  clusters: ClusterConfig[];
  userGroups: string[];
}

export interface AppHomeOptions {
  config: Config;
  backend: Pick<ServiceBackend, "latest" | "alertStates" | "groupsOf" | "channelsOf">;
  store: Store;
  /** Bot-token client that publishes views. */
  client: WebClient;
  logger: Logger;
}

export class AppHome {
  private readonly notices = new Map<string, { blocks: readonly Block[]; until: number }>();
  private readonly changed = new Set<string>();
  private timer?: NodeJS.Timeout;
  private readonly id = randomUUID();

  constructor(private readonly options: AppHomeOptions) {}

  /** app_home_opened: remember the user for refreshes, then publish. */
  async opened(userId: string): Promise<void> {
    await this.options.store.noteHomeOpened(userId, RECENT_MS);
    await this.publish(userId);
  }

  /** Shows `blocks` on top of the user's Home for a while, and publishes it now. */
  async notify(userId: string, blocks: readonly Block[]): Promise<void> {
    this.notices.set(userId, { blocks, until: Date.now() + NOTICE_MS });
    await this.publish(userId);
  }

  /** A scan of `cluster` was stored (event `eventId`): refresh the Homes that show it, soon. */
  async scanStored(cluster: string, eventId: string): Promise<void> {
    if (!(await this.options.store.acquireLease(`home-refresh:${eventId}`, this.id, REFRESH_LEASE_MS)))
      return;
    this.changed.add(cluster);
    this.timer ??= setTimeout(() => void this.refresh(), REFRESH_DELAY_MS);
  }

  private async refresh(): Promise<void> {
    this.timer = undefined;
    const changed = new Set(this.changed);
    this.changed.clear();
    const { store, logger } = this.options;
    const users = await store.homeOpenedWithin(RECENT_MS).catch((err: Error) => {
      logger.warn({ err: err.message }, "App Home: could not read who opened it lately");
      return [];
    });
    for (const userId of users) {
      try {
        const visible = await this.visibleTo(userId);
        if (visible.clusters.some((c) => changed.has(c.name))) await this.publish(userId, visible);
      } catch (err) {
        logger.warn({ user: userId, err: (err as Error).message }, "App Home: refresh failed");
      }
    }
  }

  private async visibleTo(userId: string): Promise<Visible> {
    const { config, backend } = this.options;
    const userGroups = await backend.groupsOf(userId, roleGroups(config));
    const channels = await backend.channelsOf(userId, homeChannelsToCheck(config, userId, userGroups));
    return { clusters: homeClusters(config, userId, userGroups, channels), userGroups };
  }

  async publish(userId: string, visible?: Visible): Promise<void> {
    const { config, backend, client } = this.options;
    const { clusters, userGroups } = visible ?? (await this.visibleTo(userId));
    const names = clusters.map((c) => c.name);
    const [latest, states] = await Promise.all([backend.latest(names), backend.alertStates(names)]);
    const now = new Date();
    let notice = this.notices.get(userId);
    if (notice && notice.until <= Date.now()) {
      this.notices.delete(userId);
      notice = undefined;
    }
    const view = renderHome({
      clusters: clusters.map((c) => {
        const scan = latest.get(c.name);
        return { name: c.name, latest: scan ? asOf(scan, now) : null };
      }),
      isOperatorOf: (name) =>
        clusters.some((c) => c.name === name && canOperate(c, userId, userGroups).allowed),
      quiets: new Map([...states].map(([name, state]) => [name, activeQuiets(state, now)])),
      now,
      timeZone: config.timezone,
      ...(notice ? { notice: notice.blocks } : {}),
    });
    await client.views.publish({ user_id: userId, view });
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
