// What a TLS handshake with a node's apiserver saw. The probe (adapters/nodes/tls-probe.ts) returns it
// and the judge (core/scan/judge.ts) reads it, so it lives below both.

/** The apiserver probe's outcome: the chain it served (leaf first, DER), or why it could not be had. */
export type ServedObservation = { port: number; chain: Uint8Array[] } | { port: number; error: string };
