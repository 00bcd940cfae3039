// A stand-in kube-apiserver: only a TLS endpoint serving the node's apiserver certificate, so a
// scan can compare what is served with what is on disk.
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface LabApiserver {
  port: number;
  /** Serve another certificate from the next handshake on (e.g. after a renewal without restart). */
  setCert(certPem: string, keyPem: string): void;
  stop(): Promise<void>;
}

export async function startApiserver(opts: {
  address: string;
  /** 0: any free port. */
  port: number;
  /** Leaf first; CA certificates may follow. */
  certPem: string;
  keyPem: string;
}): Promise<LabApiserver> {
  const server = createServer({ cert: opts.certPem, key: opts.keyPem }, (req, res) => {
    if (req.method === "GET" && req.url === "/readyz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.address, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    setCert: (certPem, keyPem) => server.setSecureContext({ cert: certPem, key: keyPem }),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
