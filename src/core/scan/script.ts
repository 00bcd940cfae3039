// The one remote command a scan runs on a node, and the parser of what it prints.
//
// The script is fixed POSIX sh, generated from the catalogue entries of the node's role (roles.ts);
// the only values in it are the node's directories and, in kubespray's file names, its name, all
// validated by the config schema and single-quoted here. It is fed to `/bin/sh -s` on stdin, so
// the exec command line itself never carries a value.
//
// Private keys never leave the node: from PEM files only complete CERTIFICATE blocks whose body is
// pure base64 are printed (the key in kubelet-client-current.pem, a truncated block, anything
// else is dropped on the node); from kubeconfigs only the client-certificate lines are read, and
// embedded data is base64-decoded and filtered on the node the same way; DER bytes are sent only
// for `.crt` entries that hold no PEM at all and begin like a certificate (DER_SENDER), at most
// MAX_DER_BYTES of them. Only regular files are read: a FIFO or a device would block.
//
// It is also cheap: sh builtins classify every file (missing, unreadable, empty…) and one awk
// reads all of them, so a scan forks about three processes on the node instead of several per
// file (kubeadm itself, awk, and od + base64 only for a DER file; one sh only for a kubeconfig
// pointing at a file the script did not list).
import { posix } from "node:path";
import { LOCAL_ETCD_MARKER, type ReadAs } from "../kubeadm/catalogue.js";
import { entriesFor, entryPath, hasKubeadm, type ScanTarget } from "./roles.js";

export type { ScanTarget } from "./roles.js";
export type NodeDirs = ScanTarget["paths"];

/** At most this many bytes of a DER file are sent; a certificate is far smaller. */
export const MAX_DER_BYTES = 65_536;

/** Single-quotes a value for sh. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** An awk string literal. */
const awkString = (text: string): string => `"${text.replace(/[\\"]/g, "\\$&").replace(/\n/g, "\\n")}"`;

// Sends a file with no PEM in it as DER, when its first bytes are shaped like a certificate: a
// SEQUENCE (0x30, any length form) whose first element is a SEQUENCE too (the tbsCertificate). A
// DER private key (PKCS#8, PKCS#1, SEC1) starts SEQUENCE, INTEGER (0x02): it is reported, never
// sent. sh with $n (entry name) and $f (path), run by awk's system(); od reads the 8 bytes.
const DER_SENDER = [
  `set -- $(od -An -tx1 -N8 < "$f")`,
  `case "$*" in`,
  `"30 "[0-7]?" 30"*|"30 81 "??" 30"*|"30 82 "??" "??" 30"*|"30 83 "??" "??" "??" 30"*)`,
  `echo "@entry $n der"`,
  `head -c ${MAX_DER_BYTES} < "$f" | { if command -v base64 >/dev/null 2>&1; then base64; else openssl base64; fi; }`,
  "echo @end;;",
  `*) echo "@entry $n unreadable not PEM and not a DER certificate";;`,
  "esac",
].join("\n");

// Reads "NAME<TAB>MODE<TAB>PATH" lines (files sh found regular, readable and not empty) and prints
// each entry. POSIX awk only (mawk, gawk and busybox all run it). \047 is a single quote: paths
// from the config cannot contain one, and kubeconfig references lose theirs before system().
const READER = String.raw`
function reset() { out = ""; buf = ""; on = 0; begins = 0 }
function pem(line) {
  sub(/[ \t\r]+$/, "", line)
  if (line ~ /-----BEGIN/) begins = 1
  if (line == "-----BEGIN CERTIFICATE-----") { buf = line "\n"; on = 1; return }
  if (on && line == "-----END CERTIFICATE-----") { out = out buf line "\n"; on = 0; buf = ""; return }
  if (on && line ~ /^[A-Za-z0-9+\/=]*$/) { buf = buf line "\n"; return }
  on = 0; buf = ""
}
function decode(s,    i, c, bits, n, byte, text) {
  bits = 0; n = 0; text = ""
  for (i = 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    if (!(c in B64)) continue
    bits = bits * 64 + B64[c]; n += 6
    if (n >= 8) { n -= 8; byte = int(bits / P[n]); bits -= byte * P[n]; text = text sprintf("%c", byte) }
  }
  return text
}
function emit(name, format) { printf "@entry %s %s\n%s@end\n", name, format, out }
function certfile(name, mode, path,    line, r) {
  reset()
  while ((r = (getline line < path)) > 0) pem(line)
  close(path)
  if (r < 0) { print "@entry " name " unreadable cannot read " path; return }
  if (begins || mode != "der") { emit(name, "pem"); return }
  fflush()
  system("n=" name "; f=\047" path "\047\n" ${awkString(DER_SENDER)})
}
function kubeconfig(name, path,    line, data, ref, parts, n, i) {
  data = ""; ref = ""
  while ((getline line < path) > 0) {
    if (data == "" && line ~ /^[ \t]*client-certificate-data:/) { sub(/^[^:]*:/, "", line); data = line }
    else if (ref == "" && line ~ /^[ \t]*client-certificate:/) { sub(/^[^:]*:[ \t]*/, "", line); ref = line }
  }
  close(path)
  if (data != "") {
    reset(); n = split(decode(data), parts, "\n")
    for (i = 1; i <= n; i++) pem(parts[i])
    emit(name, "embedded"); return
  }
  gsub(/[\r"\047]/, "", ref); sub(/[ \t]+$/, "", ref)
  if (ref == "") { print "@entry " name " unreadable no client certificate in kubeconfig"; return }
  if (ref !~ /^\//) { sub(/[^\/]*$/, "", path); ref = path ref }
  print "@ref " name " " ref
  # A FIFO or a device would block getline until the deadline; a listed path was checked by sh.
  if (!(ref in LISTED) && system("[ ! -e \047" ref "\047 ] || [ -f \047" ref "\047 ]")) {
    print "@entry " name " unreadable not a regular file"; return
  }
  certfile(name, "pem", ref)
}
BEGIN {
  FS = "\t"
  A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  for (i = 1; i <= 64; i++) B64[substr(A, i, 1)] = i - 1
  P[0] = 1; for (i = 1; i < 8; i++) P[i] = P[i - 1] * 2 # no "^": busybox awk may lack math support
}
# All lines first, so a kubeconfig's reference can be looked up among the listed paths.
NF == 3 { count++; NAMES[count] = $1; MODES[count] = $2; PATHS[count] = $3; LISTED[$3] = 1 }
END {
  for (e = 1; e <= count; e++) {
    if (MODES[e] == "kubeconfig") kubeconfig(NAMES[e], PATHS[e])
    else certfile(NAMES[e], MODES[e], PATHS[e])
  }
}`;

const PRELUDE = String.raw`set -u
LC_ALL=C; export LC_ALL
nl='
'
tab='${"\t"}'
list=''
# usage: entry NAME MODE PATH. Builtins only: classifies the file, queues it for the reader.
entry() {
  if [ -L "$3" ] && [ ! -e "$3" ]; then echo "@entry $1 unreadable broken symlink"
  elif [ ! -e "$3" ]; then echo "@entry $1 missing"
  elif [ -d "$3" ]; then echo "@entry $1 unreadable is a directory"
  elif [ ! -f "$3" ]; then echo "@entry $1 unreadable not a regular file"
  elif [ ! -r "$3" ]; then echo "@entry $1 unreadable Permission denied"
  elif [ ! -s "$3" ]; then echo "@entry $1 unreadable empty file"
  else list="$list$1$tab$2$tab$3$nl"
  fi
}
echo "@certs-bot 1"`;

const KUBEADM_VERSION = String.raw`if command -v kubeadm >/dev/null 2>&1; then
  v=$(kubeadm version -o short 2>/dev/null) && v=${"$"}{v%%"$nl"*} && [ -n "$v" ] && echo "@kubeadm $v"
fi`;

const MODE: Record<ReadAs, string> = { cert: "der", pem: "pem", kubeconfig: "kubeconfig" };

/** The scan script for this node: the entries of its role, from its directories. */
export function buildScanScript(node: ScanTarget): string {
  const entries = entriesFor(node.role);
  const etcdDir = shellQuote(entryPath(LOCAL_ETCD_MARKER, node));
  return [
    PRELUDE,
    ...(hasKubeadm(node.role) ? [KUBEADM_VERSION] : []),
    // Only a control-plane node can have a local etcd: the marker decides whether its files are due.
    ...(entries.some((e) => e.required === "local-etcd")
      ? [`if [ -d ${etcdDir} ]; then echo "@etcd yes"; else echo "@etcd no"; fi`]
      : []),
    ...entries.map((e) => `entry ${e.name} ${MODE[e.readAs]} ${shellQuote(entryPath(e, node))}`),
    `awk ${shellQuote(READER)} <<CERTS_BOT_LIST`,
    "$list",
    "CERTS_BOT_LIST",
    `echo "@done"`,
    "",
  ].join("\n");
}

export type RawEntry =
  | { state: "missing"; path: string }
  | { state: "unreadable"; path: string; reason: string }
  | { state: "content"; path: string; format: "pem" | "der" | "embedded"; body: string };

export interface RawNodeRead {
  kubeadmVersion?: string;
  localEtcd: boolean;
  entries: Map<string, RawEntry>;
}

export class ScriptOutputError extends Error {}

/** Parses the script's stdout for that node: an entry its role does not read is an error. */
export function parseScanOutput(stdout: string, node: ScanTarget): RawNodeRead {
  const entries = new Map(entriesFor(node.role).map((e) => [e.name, e]));
  const lines = stdout.split("\n");
  // Whatever a login shell's rc files print comes before the header; skip it, never parse it.
  const header = lines.findIndex((l) => l.trim() === "@certs-bot 1");
  if (header < 0) {
    throw new ScriptOutputError("the node did not run the scan script (no @certs-bot header)");
  }
  const read: RawNodeRead = { localEtcd: false, entries: new Map() };
  const refs = new Map<string, string>();
  let open: { name: string; path: string; format: "pem" | "der" | "embedded"; body: string[] } | null = null;
  let done = false;
  for (const raw of lines.slice(header + 1)) {
    if (open) {
      if (raw === "@end") {
        read.entries.set(open.name, {
          state: "content",
          path: open.path,
          format: open.format,
          body: open.body.join("\n"),
        });
        open = null;
      } else {
        open.body.push(raw);
      }
      continue;
    }
    const [tag, name = "", state = "", ...rest] = raw.split(" ");
    const entry = entries.get(name);
    const pathOf = (): string => refs.get(name) ?? (entry ? entryPath(entry, node) : name);
    switch (tag) {
      case "@kubeadm":
        read.kubeadmVersion = raw.slice("@kubeadm ".length).trim();
        break;
      case "@etcd":
        read.localEtcd = name === "yes";
        break;
      case "@ref":
        refs.set(name, posix.normalize(raw.slice(`@ref ${name} `.length)));
        break;
      case "@entry":
        if (!entry) throw new ScriptOutputError(`unexpected entry "${name}" in scan output`);
        if (state === "missing") read.entries.set(name, { state, path: pathOf() });
        else if (state === "unreadable") {
          read.entries.set(name, { state, path: pathOf(), reason: rest.join(" ") || "unreadable" });
        } else if (state === "pem" || state === "der" || state === "embedded") {
          open = { name, path: pathOf(), format: state, body: [] };
        } else throw new ScriptOutputError(`unexpected entry state "${state}" in scan output`);
        break;
      case "@done":
        done = true;
        break;
      case "":
        break;
      default:
        throw new ScriptOutputError(`unexpected line in scan output: ${JSON.stringify(raw.slice(0, 80))}`);
    }
  }
  if (!done || open) throw new ScriptOutputError("the scan output was cut off before it finished");
  return read;
}
