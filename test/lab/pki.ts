// Real X.509 certificates with dates chosen by the test, so the scanner is exercised on the same
// bytes kubeadm would leave on a node rather than on hand-written fixtures.
import "reflect-metadata"; // @peculiar/x509's dependency injection needs it loaded first
import * as x509 from "@peculiar/x509";
import { KeyObject, randomBytes, webcrypto } from "node:crypto";

x509.cryptoProvider.set(webcrypto);

export type KeyAlg = "rsa" | "ecdsa";

export interface LabKey {
  alg: KeyAlg;
  keys: webcrypto.CryptoKeyPair;
  /** PKCS#8 (`-----BEGIN PRIVATE KEY-----`). */
  privateKeyPem: string;
  /** SEC1 `EC PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`: the form kubeadm and the kubelet write. */
  traditionalPem: string;
  /** SPKI `PUBLIC KEY` (what kubeadm writes to sa.pub). */
  publicKeyPem: string;
}

export interface LabCert {
  pem: string;
  der: Buffer;
  key: LabKey;
  /** The distinguished name as written, e.g. "O=system:nodes, CN=system:node:lab-a-1". */
  subject: string;
  subjectCN: string;
  /** As encoded in the certificate (whole seconds). */
  notBefore: Date;
  notAfter: Date;
}

export interface IssueOptions {
  subject: string;
  key: LabKey;
  /** Omitted: self-signed. */
  issuer?: LabCert;
  isCA?: boolean;
  notBefore: Date;
  notAfter: Date;
  sans?: { dns?: string[]; ip?: string[] };
  usage?: "server" | "client" | "both";
  /** Hex; random when absent. */
  serial?: string;
}

const ALGORITHMS: Record<
  KeyAlg,
  {
    generate: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams;
    sign: { name: string; hash: string };
  }
> = {
  rsa: {
    generate: {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    sign: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  },
  ecdsa: {
    generate: { name: "ECDSA", namedCurve: "P-256" },
    sign: { name: "ECDSA", hash: "SHA-256" },
  },
};

const EXT_KEY_USAGE: Record<NonNullable<IssueOptions["usage"]>, x509.ExtendedKeyUsage[]> = {
  server: [x509.ExtendedKeyUsage.serverAuth],
  client: [x509.ExtendedKeyUsage.clientAuth],
  both: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
};

export async function newKey(alg: KeyAlg): Promise<LabKey> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHMS[alg].generate, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const privateKey = KeyObject.from(keys.privateKey);
  return {
    alg,
    keys,
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    traditionalPem: privateKey.export({ format: "pem", type: alg === "rsa" ? "pkcs1" : "sec1" }).toString(),
    publicKeyPem: KeyObject.from(keys.publicKey).export({ format: "pem", type: "spki" }).toString(),
  };
}

// RSA generation takes ~100 ms, so leaves across a whole lab share a few keys; CAs take fresh
// keys (see newClusterPki) so that a signature check against the wrong CA really fails.
const pool = new Map<string, Promise<LabKey>>();

export function pooledKey(alg: KeyAlg, index: number): Promise<LabKey> {
  const id = `${alg}/${index}`;
  let key = pool.get(id);
  if (!key) {
    key = newKey(alg);
    pool.set(id, key);
  }
  return key;
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = 0x40 | (bytes[0]! & 0x3f); // positive and no leading zero byte, so DER stays minimal
  return bytes.toString("hex");
}

export async function issueCert(opts: IssueOptions): Promise<LabCert> {
  const signer = opts.issuer?.key ?? opts.key;
  const isCA = opts.isCA ?? false;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(isCA, undefined, true),
    // kubeadm (Go's certutil) sets keyEncipherment for every key type, and keyCertSign on CAs.
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature |
        x509.KeyUsageFlags.keyEncipherment |
        (isCA ? x509.KeyUsageFlags.keyCertSign : 0),
      true,
    ),
  ];
  if (opts.usage) extensions.push(new x509.ExtendedKeyUsageExtension(EXT_KEY_USAGE[opts.usage]));
  if (isCA) extensions.push(await x509.SubjectKeyIdentifierExtension.create(opts.key.keys.publicKey));
  if (opts.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(signer.keys.publicKey));
  const names = [
    ...(opts.sans?.dns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(opts.sans?.ip ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: opts.serial ?? randomSerial(),
    subject: opts.subject,
    issuer: opts.issuer?.subject ?? opts.subject,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    publicKey: opts.key.keys.publicKey,
    signingKey: signer.keys.privateKey,
    signingAlgorithm: ALGORITHMS[signer.alg].sign,
    extensions,
  });
  return {
    pem: `${cert.toString("pem").trim()}\n`,
    der: Buffer.from(cert.rawData),
    key: opts.key,
    subject: cert.subject,
    subjectCN: cert.subjectName.getField("CN")[0] ?? "",
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}
