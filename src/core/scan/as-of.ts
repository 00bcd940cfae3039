// A stored scan as it stands now. Scans run every few hours, and a certificate the last scan found
// critical may have expired since: a list that still counted it critical, beside its own "expired
// 2h ago", would be wrong at the worst moment. Expiry needs no threshold and only ever comes with
// time, so it is the one judgement that is brought up to date; the rest (warning and critical days,
// findings) stays as the scan found it until the next scan.
import { daysLeft } from "./judge.js";
import { worstOf, type CertificateStatus, type StoredScan } from "../report/types.js";

/** What time can turn into `expired`: the statuses of a certificate still in use with a date. */
const EXPIRES: ReadonlySet<CertificateStatus | undefined> = new Set([
  "ok",
  "warning",
  "critical",
  "not-yet-valid",
]);

interface Kept {
  /** The scan as of any moment before `until`, from the one it was worked out for. */
  asOf: StoredScan;
  from: number;
  until: number;
}

/** Per stored scan (scans are never changed in place): what it is until its next certificate expires. */
const kept = new WeakMap<StoredScan, Kept>();

/**
 * The scan as of `now`: each certificate (and served apiserver certificate) past its notAfter is
 * expired, with its days left as of now, and its node and cluster are at least expired. The very
 * scan when nothing expired since it was taken, so what is kept per scan (rankings, list rows)
 * still applies; otherwise one new scan, the same until another certificate expires.
 */
export function asOf(scan: StoredScan, now: Date): StoredScan {
  return keptAt(scan, now.getTime()).asOf;
}

/**
 * asOf of many scans (null: never scanned), in order, and the moment that answer stops holding:
 * the next time a certificate in any of them expires.
 */
export function allAsOf(
  scans: readonly (StoredScan | null)[],
  now: Date,
): { scans: (StoredScan | null)[]; until: number } {
  const at = now.getTime();
  let until = Infinity;
  const current = scans.map((scan) => {
    if (!scan) return null;
    const known = keptAt(scan, at);
    until = Math.min(until, known.until);
    return known.asOf;
  });
  return { scans: current, until };
}

function keptAt(scan: StoredScan, at: number): Kept {
  const known = kept.get(scan);
  if (known && known.from <= at && at < known.until) return known;
  const work = { ...expiredSince(scan, at), from: at };
  kept.set(scan, work);
  return work;
}

function expiredSince(scan: StoredScan, at: number): Omit<Kept, "from"> {
  // The next moment the answer changes: the earliest notAfter still ahead.
  let until = Infinity;
  /** Expired by `at`, once time can expire it; otherwise its notAfter counts toward `until`. */
  const expired = (status: CertificateStatus | undefined, notAfter: Date | null | undefined): boolean => {
    if (!EXPIRES.has(status) || notAfter == null) return false;
    if (notAfter.getTime() <= at) return true;
    until = Math.min(until, notAfter.getTime());
    return false;
  };
  let changed = false;
  const now = new Date(at);
  const nodes = scan.report.nodes.map((node) => {
    const turned = node.certificates.map((cert) => expired(cert.status, cert.notAfter));
    const served = node.apiserver;
    const servedExpired = served !== undefined && expired(served.status, served.notAfter);
    if (!servedExpired && !turned.includes(true)) return node;
    changed = true;
    return {
      ...node,
      status: worstOf([node.status, "expired"]),
      certificates: node.certificates.map((cert, i) =>
        turned[i] ? { ...cert, status: "expired" as const, daysLeft: daysLeft(cert.notAfter!, now) } : cert,
      ),
      ...(servedExpired
        ? { apiserver: { ...served, status: "expired" as const, daysLeft: daysLeft(served.notAfter!, now) } }
        : {}),
    };
  });
  if (!changed) return { asOf: scan, until };
  const status = worstOf([scan.report.status, ...nodes.map((node) => node.status)]);
  return { asOf: { ...scan, report: { ...scan.report, status, nodes } }, until };
}
