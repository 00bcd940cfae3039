// Certificates as plain data, decoded once per distinct DER (sha256-keyed cache): on a fleet most
// certificates are identical from one scan to the next and CAs repeat across nodes.
//
// Decoding uses Node's own X509Certificate (OpenSSL): `npm run bench` measured @peculiar/x509 at
// ~700 µs a certificate against ~130 µs, on the same event loop that drives every SSH
// connection, which made client-side parsing the largest part of a cold scan.
import { createHash, X509Certificate as NativeX509 } from "node:crypto";

export interface Certificate {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  sans: string[];
  keyAlgorithm: string;
  sha256: string;
  der: Uint8Array;
}

export class CertificateDecodeError extends Error {}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/;

/** The first certificate of a PEM text (a bundle counts by its first, the leaf). */
export function firstPemCertificate(text: string): Uint8Array {
  const match = PEM_BLOCK.exec(text);
  if (!match?.[1]) throw new CertificateDecodeError("no certificate found (neither PEM nor DER)");
  return Buffer.from(match[1].replace(/\s+/g, ""), "base64");
}

const CURVES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };

function keyAlgorithm(cert: NativeX509): string {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "rsa":
    case "rsa-pss":
      return `RSA-${details.modulusLength}`;
    case "ec":
      return `ECDSA-${CURVES[details.namedCurve ?? ""] ?? details.namedCurve}`;
    case "ed25519":
      return "Ed25519";
    default:
      return key.asymmetricKeyType ?? "unknown";
  }
}

/** "DNS:a, IP Address:10.0.0.1" → ["a", "10.0.0.1"] (OpenSSL's text form; values quoted when odd). */
export function subjectAltNames(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .split(/, (?=[A-Za-z ]+:)/)
    .map((entry) => entry.slice(entry.indexOf(":") + 1).replace(/^"(.*)"$/, "$1"));
}

/** OpenSSL prints one RDN a line; reports read "O=system:nodes, CN=system:node:n1". */
const distinguishedName = (text: string): string => text.split("\n").join(", ");

interface Decoded {
  cert: Certificate;
  native: NativeX509;
}

function decode(der: Uint8Array, sha256: string): Decoded {
  let native: NativeX509;
  try {
    native = new NativeX509(der);
  } catch {
    throw new CertificateDecodeError("not a certificate (neither PEM nor DER)");
  }
  return {
    native,
    cert: {
      subject: distinguishedName(native.subject),
      issuer: distinguishedName(native.issuer),
      serialNumber: native.serialNumber.toLowerCase(),
      notBefore: new Date(native.validFrom),
      notAfter: new Date(native.validTo),
      isCA: native.ca,
      sans: subjectAltNames(native.subjectAltName),
      keyAlgorithm: keyAlgorithm(native),
      sha256,
      der,
    },
  };
}

/** Decodes certificates, each distinct DER once; bounded so a long-running bot does not grow. */
export class CertificateCache {
  private readonly byHash = new Map<string, Decoded>();
  private readonly signatures = new Map<string, boolean>();
  decoded = 0;

  constructor(private readonly limit = 20_000) {}

  private entry(der: Uint8Array): Decoded {
    const sha256 = createHash("sha256").update(der).digest("hex");
    const hit = this.byHash.get(sha256);
    if (hit) {
      // Refresh recency: Map iteration order is insertion order, so the first key is the oldest.
      this.byHash.delete(sha256);
      this.byHash.set(sha256, hit);
      return hit;
    }
    const decoded = decode(der, sha256);
    this.decoded++;
    this.byHash.set(sha256, decoded);
    if (this.byHash.size > this.limit) this.byHash.delete(this.byHash.keys().next().value as string);
    return decoded;
  }

  get(der: Uint8Array): Certificate {
    return this.entry(der).cert;
  }

  /** Whether `leaf` carries a valid signature by `ca` (issuer name and signature both match). */
  isSignedBy(leaf: Certificate, ca: Certificate): boolean {
    const key = `${leaf.sha256}:${ca.sha256}`;
    let verdict = this.signatures.get(key);
    if (verdict === undefined) {
      const child = this.entry(leaf.der).native;
      const parent = this.entry(ca.der).native;
      verdict = child.checkIssued(parent) && child.verify(parent.publicKey);
      this.signatures.set(key, verdict);
      if (this.signatures.size > this.limit)
        this.signatures.delete(this.signatures.keys().next().value as string);
    }
    return verdict;
  }
}
