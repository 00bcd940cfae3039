// Certificates as plain data, decoded once per distinct DER (sha256-keyed cache): on a fleet most
// certificates are identical from one scan to the next and CAs repeat across nodes, and
// @peculiar/x509 costs far more per parse than a hash does.
import "reflect-metadata";
import { createHash, X509Certificate as NativeX509 } from "node:crypto";
import * as x509 from "@peculiar/x509";

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

function keyAlgorithm(cert: x509.X509Certificate): string {
  const alg = cert.publicKey.algorithm as { name: string; modulusLength?: number; namedCurve?: string };
  if (alg.modulusLength) return `RSA-${alg.modulusLength}`;
  if (alg.namedCurve) return `ECDSA-${alg.namedCurve}`;
  return alg.name;
}

function subjectAltNames(cert: x509.X509Certificate): string[] {
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return ext ? ext.names.items.map((n) => n.value) : [];
}

function isCertificateAuthority(cert: x509.X509Certificate): boolean {
  return cert.getExtension(x509.BasicConstraintsExtension)?.ca ?? false;
}

function decode(der: Uint8Array, sha256: string): Certificate {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(der);
  } catch {
    throw new CertificateDecodeError("not a certificate (neither PEM nor DER)");
  }
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    isCA: isCertificateAuthority(cert),
    sans: subjectAltNames(cert),
    keyAlgorithm: keyAlgorithm(cert),
    sha256,
    der,
  };
}

/** Decodes certificates, each distinct DER once; bounded so a long-running bot does not grow. */
export class CertificateCache {
  private readonly byHash = new Map<string, Certificate>();
  private readonly signatures = new Map<string, boolean>();
  decoded = 0;

  constructor(private readonly limit = 20_000) {}

  get(der: Uint8Array): Certificate {
    const sha256 = createHash("sha256").update(der).digest("hex");
    const hit = this.byHash.get(sha256);
    if (hit) {
      // Refresh recency: Map iteration order is insertion order, so the first key is the oldest.
      this.byHash.delete(sha256);
      this.byHash.set(sha256, hit);
      return hit;
    }
    const cert = decode(der, sha256);
    this.decoded++;
    this.byHash.set(sha256, cert);
    if (this.byHash.size > this.limit) this.byHash.delete(this.byHash.keys().next().value as string);
    return cert;
  }

  /** Whether `leaf` carries a valid signature by `ca` (issuer name and signature both match). */
  isSignedBy(leaf: Certificate, ca: Certificate): boolean {
    const key = `${leaf.sha256}:${ca.sha256}`;
    let verdict = this.signatures.get(key);
    if (verdict === undefined) {
      const child = new NativeX509(leaf.der);
      const parent = new NativeX509(ca.der);
      verdict = child.checkIssued(parent) && child.verify(parent.publicKey);
      this.signatures.set(key, verdict);
      if (this.signatures.size > this.limit)
        this.signatures.delete(this.signatures.keys().next().value as string);
    }
    return verdict;
  }
}
