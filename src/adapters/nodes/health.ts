// The apiserver's health endpoint as a renewal watches it from outside the node: a plain HTTPS GET
// that never trusts or checks the certificate (it may be the one being replaced), and counts only
// 200 with the body "ok".
import { request } from "node:https";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import { connect } from "node:tls";

/** `through`: a stream already connected to the URL's host and port (a bastion's forwarded connection). */
export function apiserverHealthy(url: string, timeoutMs: number, through?: Duplex): Promise<boolean> {
  return new Promise((resolve) => {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    const viaStream = through && {
      createConnection: () =>
        connect({ socket: through, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) }),
    };
    const req = request(url, { rejectUnauthorized: false, ...viaStream }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => settle(res.statusCode === 200 && body.trim() === "ok"));
      res.on("error", () => settle(false));
    });
    // The whole GET, bounded by a timer of our own: a stream through a bastion has no TCP timeout.
    const timer = setTimeout(() => {
      req.destroy();
      settle(false);
    }, timeoutMs);
    const settle = (healthy: boolean) => {
      clearTimeout(timer);
      resolve(healthy);
    };
    req.on("error", () => settle(false));
    req.end();
  });
}
