// The process's logger: pino, one JSON object a line, on stderr. Secrets never reach it: fields that
// hold them are censored wherever they sit in a logged object (an error's request headers included),
// and a URL keeps everything but its password.
import { pino, type DestinationStream, type Logger } from "pino";

/** Keys that hold a secret: Slack tokens, the signing secret, key passphrases, passwords, auth headers. */
const SECRET_KEYS = [
  "token",
  "botToken",
  "appToken",
  "signingSecret",
  "passphrase",
  "password",
  "authorization",
  "Authorization",
];
/** Keys that hold a URL, which may carry a password (REDIS_URL). */
const URL_KEYS = ["url", "redisUrl"];

/**
 * Each key at the top and one or two levels down, and the request headers an HTTP client's error
 * carries (Slack's errors wrap axios's in `original`).
 */
const REDACTED_PATHS = [
  ...[...SECRET_KEYS, ...URL_KEYS].flatMap((key) => [
    key,
    `*.${key}`,
    `*.*.${key}`,
    `*.config.headers.${key}`,
    `*.original.config.headers.${key}`,
  ]),
  "*.request._header",
  "*.original.request._header",
];

/** Slack tokens (xoxb-, xoxp-, xapp-…) inside free text, such as the messages Slack's SDKs log. */
export function scrubTokens(text: string): string {
  return text.replace(/\b(xox[a-z]|xapp)-[\w-]+/gi, "$1-[redacted]");
}

/** The URL with its password replaced by `***` (the user name stays: it helps); null if not a URL. */
export function withoutPassword(text: string): string | null {
  try {
    const url = new URL(text);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return null;
  }
}

/** A URL without its password; any other secret, entirely. */
export function censor(value: unknown, path: string[]): unknown {
  if (!URL_KEYS.includes(path.at(-1) ?? "")) return "[redacted]";
  if (typeof value !== "string") return value;
  return withoutPassword(value) ?? "[redacted]";
}

export function createLogger(level: string, destination: DestinationStream = pino.destination(2)): Logger {
  return pino({ level, base: undefined, redact: { paths: REDACTED_PATHS, censor } }, destination);
}
