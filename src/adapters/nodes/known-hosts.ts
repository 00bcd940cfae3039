// OpenSSH known_hosts, read-only: plain and hashed (|1|salt|hash) host patterns, [host]:port,
// comma lists, * and ? wildcards, !negation and @revoked. No trust-on-first-use: a host with no
// entry is refused.
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";

export interface HostKey {
  /** e.g. ssh-ed25519 */
  type: string;
  /** The raw key blob, as the server presents it. */
  blob: Buffer;
}

interface Entry {
  patterns: string[];
  key: HostKey;
  revoked: boolean;
}

/** `SHA256:…` as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** How OpenSSH names a host in known_hosts: bare on port 22, else [host]:port. */
export function hostToken(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatches(pattern: string, value: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${regex}$`, "i").test(value);
}

function patternMatches(pattern: string, token: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt = "", hash = ""] = pattern.split("|");
    const digest = createHmac("sha1", Buffer.from(salt, "base64")).update(token).digest("base64");
    return digest === hash;
  }
  return globMatches(pattern, token);
}

function entryMatches(entry: Entry, token: string): boolean {
  let matched = false;
  for (const pattern of entry.patterns) {
    if (pattern.startsWith("!")) {
      if (patternMatches(pattern.slice(1), token)) return false;
    } else if (patternMatches(pattern, token)) matched = true;
  }
  return matched;
}

export class KnownHosts {
  private constructor(
    readonly file: string,
    private readonly entries: Entry[],
  ) {}

  static parse(text: string, file: string): KnownHosts {
    const entries: Entry[] = [];
    for (const line of text.split(/\r?\n/)) {
      const fields = line.trim().split(/\s+/);
      if (!fields[0] || fields[0].startsWith("#")) continue;
      const marker = fields[0].startsWith("@") ? fields.shift() : undefined;
      if (marker === "@cert-authority") continue; // host certificates are not supported; ignore, never trust
      const [hosts, type, base64] = fields;
      if (!hosts || !type || !base64) continue;
      entries.push({
        patterns: hosts.split(","),
        key: { type, blob: Buffer.from(base64, "base64") },
        revoked: marker === "@revoked",
      });
    }
    return new KnownHosts(file, entries);
  }

  static load(file: string): KnownHosts {
    return KnownHosts.parse(readFileSync(file, "utf8"), file);
  }

  /** Keys pinned for host:port; a key an `@revoked` line names is never pinned. */
  keysFor(host: string, port: number): HostKey[] {
    return this.listedFor(host, port).filter((k) => !this.isRevoked(k.blob));
  }

  /** Keys listed for host:port that an `@revoked` line revokes: why keysFor may be empty. */
  revokedFor(host: string, port: number): HostKey[] {
    return this.listedFor(host, port).filter((k) => this.isRevoked(k.blob));
  }

  private listedFor(host: string, port: number): HostKey[] {
    const token = hostToken(host, port);
    return this.entries.filter((e) => !e.revoked && entryMatches(e, token)).map((e) => e.key);
  }

  isRevoked(blob: Buffer): boolean {
    return this.entries.some((e) => e.revoked && e.key.blob.equals(blob));
  }
}

/** Host key algorithms to offer so the server presents a key type that is pinned. */
export function hostKeyAlgorithms(keys: HostKey[]): string[] {
  const algorithms = new Set<string>();
  for (const { type } of keys) {
    if (type === "ssh-rsa") ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"].forEach((a) => algorithms.add(a));
    else algorithms.add(type);
  }
  return [...algorithms];
}
