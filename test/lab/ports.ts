// Loopback addresses and ports for lab servers: every node gets its own 127.0.0.N, so a scan of
// many nodes really opens many distinct connections.
import { createServer } from "node:net";

export function labAddress(n: number): string {
  if (!Number.isInteger(n) || n < 2 || n > 254)
    throw new Error(`lab: loopback host number ${n} not in 2..254`);
  return `127.0.0.${n}`;
}

/** A port that was free on `address` a moment ago (another process may still take it first). */
export function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
