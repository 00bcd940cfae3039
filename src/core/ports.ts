// What the service's jobs (src/app/*-job.ts) need from the edges, as interfaces: Redis (Store) and
// the Slack Web API (SlackPoster) in the service, plain objects in tests.
import type { ClusterConfig } from "../config/load.js";
import type { ScanReport, StoredScan } from "./report/types.js";
import type { CardLocation } from "./renew/ports.js";
import type { AlertState } from "./alerts/state.js";

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
  /**
   * Latest stored scans of these clusters (null: never scanned). The scans may be shared with other
   * callers: read them, never change one in place.
   */
  latestAll(clusters: readonly string[]): Promise<Map<string, StoredScan | null>>;
}

/** Reads many clusters' alert states at once (Store.alertStates: one MGET). */
export interface AlertStates {
  /** The alert states of these clusters (empty: nothing said yet). */
  alertStates(clusters: readonly string[]): Promise<Map<string, AlertState>>;
}

/** What `change` decides: the state to save (none: leave it as it is) and what to hand back. */
export interface AlertChange<T> {
  next?: AlertState;
  value: T;
}

/**
 * What each cluster's warnings remember between scans (Store's `alerts:<cluster>` JSON). Written
 * only by compare-and-set: a scan and a snooze of the same cluster never lose each other's writes.
 */
export interface AlertMemory {
  loadJson<T>(kind: "alerts", cluster: string): Promise<T | null>;
  /**
   * Reads the cluster's state (empty when none), lets `change` decide, and saves its `next` only if
   * nobody wrote the state in between; else reads again and decides again. Returns its `value`.
   */
  updateAlerts<T>(cluster: string, change: (current: AlertState) => AlertChange<T>): Promise<T>;
}
