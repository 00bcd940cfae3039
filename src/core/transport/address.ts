// How a node's address is written, for people and for URLs alike: `host`, `host:port`, and an IPv6
// literal in brackets before a port (`[fd00::1]:6443`), without which its last group would read as
// the port. Pure.

/** `cp-1.example.com`, `10.0.0.1:22`, `[fd00::1]:6443`. */
export function nodeAddress(host: string, port?: number): string {
  if (port === undefined) return host;
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Where a scanned node is, for people: its SSH address, or `host, local` for the local transport. */
export const nodeWhere = (node: { host: string; port?: number | undefined }): string =>
  node.port ? nodeAddress(node.host, node.port) : `${node.host}, local`;
