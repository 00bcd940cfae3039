// The apiserver's health endpoint as a renewal watches it from outside the node: a plain HTTPS GET
// that never trusts or checks the certificate (it may be the one being replaced), and counts only
// 200 with the body "ok".
import { request } from "node:https";

export function apiserverHealthy(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve(res.statusCode === 200 && body.trim() === "ok"));
      res.on("error", () => resolve(false));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}
