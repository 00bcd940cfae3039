// The one remote command a scan runs on a node, and the parser of what it prints.
//
// The script is fixed POSIX sh, generated from the catalogue; the only values in it are the
// node's two directories, validated by the config schema and single-quoted here. It is fed to
// `/bin/sh -s` on stdin, so the exec command line itself never carries a value.
//
// Private keys never leave the node: from PEM files only complete CERTIFICATE blocks whose body is
// pure base64 are printed (the key in kubelet-client-current.pem, a truncated block, anything
// else is dropped on the node); kubeconfigs are grepped for the client-certificate lines only and
// the embedded data is decoded and filtered on the node the same way; DER bytes are sent only for
// `.crt` entries that hold no PEM at all.
import { posix } from "node:path";
import { CATALOGUE, LOCAL_ETCD_MARKER, type CatalogueEntry } from "../kubeadm/catalogue.js";

export interface NodeDirs {
  kubernetesDir: string;
  kubeletPkiDir: string;
}

/** DER files larger than this are not certificates; refuse rather than ship them. */
export const MAX_DER_BYTES = 65_536;

/** Single-quotes a value for sh. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function absolute(dirs: NodeDirs, base: keyof NodeDirs, path: string): string {
  return posix.join(dirs[base], path);
}

const PRELUDE = String.raw`set -u
LC_ALL=C; export LC_ALL
b64e() { if command -v base64 >/dev/null 2>&1; then base64; else openssl base64; fi; }
b64d() { if command -v base64 >/dev/null 2>&1; then base64 -d; else openssl base64 -d -A; fi; }
# Complete CERTIFICATE blocks with a pure base64 body, nothing else.
certs_only() {
  awk '{ sub(/[ \t\r]+$/, "") }
    /^-----BEGIN CERTIFICATE-----$/ { buf = $0 "\n"; on = 1; next }
    on && /^-----END CERTIFICATE-----$/ { printf "%s%s\n", buf, $0; on = 0; buf = ""; next }
    on && /^[A-Za-z0-9+\/=]*$/ { buf = buf $0 "\n"; next }
    on { on = 0; buf = "" }'
}
# usage: check NAME PATH -> prints the entry header for a file that is absent or unreadable, else returns 0
check() {
  if [ -L "$2" ] && [ ! -e "$2" ]; then echo "@entry $1 unreadable broken symlink"; return 1; fi
  if [ ! -e "$2" ]; then echo "@entry $1 missing"; return 1; fi
  if [ -d "$2" ]; then echo "@entry $1 unreadable is a directory"; return 1; fi
  err=$(head -c 1 -- "$2" 2>&1 >/dev/null) || { echo "@entry $1 unreadable $(printf '%s' "$err" | tr '\n' ' ' | sed 's/^.*: //')"; return 1; }
  if [ ! -s "$2" ]; then echo "@entry $1 unreadable empty file"; return 1; fi
  return 0
}
# usage: cert NAME PATH DER_ALLOWED
cert() {
  check "$1" "$2" || return 0
  if grep -q -e '-----BEGIN' -- "$2" 2>/dev/null; then
    echo "@entry $1 pem"; certs_only < "$2"
  elif [ "$3" = der ]; then
    if [ "$(wc -c < "$2")" -gt ${MAX_DER_BYTES} ]; then echo "@entry $1 unreadable too large for a certificate"; return 0; fi
    echo "@entry $1 der"; b64e < "$2"
  else
    echo "@entry $1 unreadable no PEM block"; return 0
  fi
  echo "@end"
}
# usage: kubeconfig NAME PATH
kubeconfig() {
  check "$1" "$2" || return 0
  data=$(grep -E '^[[:space:]]*client-certificate-data:' -- "$2" | head -n 1 | sed 's/^[^:]*://' | tr -d ' \t\r"'"'")
  if [ -n "$data" ]; then
    echo "@entry $1 embedded"; printf '%s' "$data" | b64d 2>/dev/null | certs_only; echo "@end"; return 0
  fi
  ref=$(grep -E '^[[:space:]]*client-certificate:' -- "$2" | head -n 1 | sed 's/^[^:]*:[[:space:]]*//' | tr -d '\r"'"'")
  if [ -z "$ref" ]; then echo "@entry $1 unreadable no client certificate in kubeconfig"; return 0; fi
  case "$ref" in /*) ;; *) ref="$(dirname -- "$2")/$ref" ;; esac
  printf '@ref %s %s\n' "$1" "$ref"
  cert "$1" "$ref" pem
}
echo "@certs-bot 1"
if command -v kubeadm >/dev/null 2>&1; then
  v=$(kubeadm version -o short 2>/dev/null | head -n 1) && [ -n "$v" ] && echo "@kubeadm $v"
fi`;

function line(entry: CatalogueEntry, dirs: NodeDirs): string {
  const path = shellQuote(absolute(dirs, entry.base, entry.path));
  switch (entry.readAs) {
    case "kubeconfig":
      return `kubeconfig ${entry.name} ${path}`;
    case "pem":
      return `cert ${entry.name} ${path} pem`;
    case "cert":
      return `cert ${entry.name} ${path} der`;
  }
}

/** The scan script for a node with these directories. */
export function buildScanScript(dirs: NodeDirs): string {
  const etcdDir = shellQuote(absolute(dirs, LOCAL_ETCD_MARKER.base, LOCAL_ETCD_MARKER.path));
  return [
    PRELUDE,
    `if [ -d ${etcdDir} ]; then echo "@etcd yes"; else echo "@etcd no"; fi`,
    ...CATALOGUE.map((entry) => line(entry, dirs)),
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

/** Parses the script's stdout. `complete` is false when `@done` never came (cut off). */
export function parseScanOutput(stdout: string, dirs: NodeDirs): RawNodeRead {
  const lines = stdout.split("\n");
  // Whatever a login shell's rc files print comes before the header; skip it, never parse it.
  const header = lines.findIndex((l) => l.trim() === "@certs-bot 1");
  if (header < 0) {
    throw new ScriptOutputError("the node did not run the scan script (no @certs-bot header)");
  }
  const read: RawNodeRead = { localEtcd: false, entries: new Map() };
  const refs = new Map<string, string>();
  const known = new Map(CATALOGUE.map((e) => [e.name, e]));
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
    const entry = known.get(name);
    const pathOf = (): string => refs.get(name) ?? (entry ? absolute(dirs, entry.base, entry.path) : name);
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
