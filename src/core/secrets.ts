// What must never be shown or stored as it came from a node or a person: private keys and tokens.
// One table, used for a renewal step's output (thread replies, job data) and for audit details, so
// what one of them hides the other cannot leak. Pure.

const SECRETS: readonly [RegExp, string][] = [
  [
    /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
    "[private key removed]",
  ],
  [/\bxox[abposr]-[A-Za-z0-9-]+/g, "[token removed]"],
  [/\b(client-key-data|token|password|secret)(["']?\s*[:=]\s*)\S+/gi, "$1$2[redacted]"],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, "$1 [redacted]"],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, "[token removed]"],
  [/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g, "[token removed]"],
];

/** Anything that looks like a private key or a token, replaced. */
export function scrubSecrets(text: string): string {
  return SECRETS.reduce((t, [re, by]) => t.replace(re, by), text);
}
