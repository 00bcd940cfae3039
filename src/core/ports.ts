// What the service's jobs (src/app/*-job.ts) need from the edges, as interfaces: Redis (Store) and
// the Slack Web API (SlackPoster) in the service, plain objects in tests.
import type { ClusterConfig } from "../config/load.js";
import type { ScanReport, StoredScan } from "./report/types.js";
import type { CardLocation } from "./renew/ports.js";

/** A chat message as it is sent (present/slack-types' SlackMessage is one). */
export interface OutgoingMessage {
  channel: string;
  text: string;
  blocks: readonly unknown[];
}

/** Writes to chat: every message certs-bot posts or updates goes through it (SlackPoster). */
export interface MessagePoster {
  /** Posts once per `actionId` and returns the message's ts (a retry gets the earlier post's). */
  postOnce(
    actionId: string,
    message: OutgoingMessage,
    threadTs?: string,
    broadcast?: boolean,
  ): Promise<string>;
  /** Replaces the text and blocks of a message posted earlier. */
  update(at: CardLocation, content: Omit<OutgoingMessage, "channel">): Promise<void>;
}

/** Reads the certificates of the cluster's nodes now. */
export type ClusterScanner = (cluster: ClusterConfig) => Promise<ScanReport>;

/** The stored scans (Store in Redis). */
export interface ScanArchive {
  saveScan(scan: StoredScan): Promise<void>;
  /** Latest stored scans of these clusters (null: never scanned). */
  latestAll(clusters: readonly string[]): Promise<Map<string, StoredScan | null>>;
}

/** What each cluster's warnings remember between scans (Store's `alerts:<cluster>` JSON). */
export interface AlertMemory {
  loadJson<T>(kind: "alerts", cluster: string): Promise<T | null>;
  saveJson(kind: "alerts", cluster: string, value: unknown): Promise<void>;
}
