// Which certificate the apiserver actually serves: a TLS handshake from certs-bot to the node, no
// SSH session (through a bastion, over a TCP connection the bastion opens). Trust is not checked
// here (we only read what is presented); judging happens in the core.
import { connect, type DetailedPeerCertificate } from "node:tls";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import type { ServedObservation } from "../../core/certs/served.js";

/** `through`: a stream already connected to host:port (a bastion's forwarded connection). */
export function probeServedCertificate(
  host: string,
  port: number,
  timeoutMs: number,
  through?: Duplex,
): Promise<ServedObservation> {
  return new Promise((resolve) => {
    const socket = connect({
      ...(through ? { socket: through } : { host, port }),
      rejectUnauthorized: false,
      ...(isIP(host) ? {} : { servername: host }),
    });
    // A timer of our own: a TLS socket over a forwarded stream has no TCP socket to time out.
    const timer = setTimeout(
      () => finish({ port, error: `no TLS handshake within ${timeoutMs} ms` }),
      timeoutMs,
    );
    const finish = (outcome: ServedObservation): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
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
