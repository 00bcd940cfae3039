// Which certificate the apiserver actually serves: a TLS handshake from certs-bot to the node, no
// SSH. Trust is not checked here (we only read what is presented); judging happens in the core.
import { connect, type DetailedPeerCertificate } from "node:tls";
import { isIP } from "node:net";
import type { ServedObservation } from "../../core/certs/served.js";

export function probeServedCertificate(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<ServedObservation> {
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      rejectUnauthorized: false,
      ...(isIP(host) ? {} : { servername: host }),
    });
    const finish = (outcome: ServedObservation): void => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(timeoutMs, () => finish({ port, error: `no TLS handshake within ${timeoutMs} ms` }));
    socket.once("error", (err: NodeJS.ErrnoException) =>
      finish({ port, error: err.code === "ECONNREFUSED" ? "connection refused" : err.message }),
    );
    socket.once("secureConnect", () => {
      const chain: Uint8Array[] = [];
      let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      while (cert?.raw && !chain.some((der) => Buffer.compare(der, cert!.raw) === 0)) {
        chain.push(cert.raw);
        cert = cert.issuerCertificate;
      }
      finish({ port, chain });
    });
  });
}
