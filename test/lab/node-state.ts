// What a renewal may change on a lab node, captured byte for byte, so a test can prove that a failed
// renewal left the node exactly as it found it: every entry under pki/ (bytes and mode), every
// kubeconfig (*.conf) in the kubernetes directory (bytes and mode), and manifests/ (names and
// bytes). Also the files a run parks in a `<backup>.aside` directory, which must never stay there.
import assert from "node:assert/strict";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import type { LabNode } from "./tree.js";

interface Entry {
  /** File type and permission bits (st_mode); absent for manifests (names and bytes only). */
  mode?: number;
  /** A file's bytes, a symlink's target, or "" for a directory. */
  content: Buffer;
}

export interface NodeSnapshot {
  node: string;
  /** Keyed by path relative to the kubernetes directory (pki/apiserver.crt, admin.conf, manifests/etcd.yaml). */
  entries: Map<string, Entry>;
}

/** Every entry under `dir` (recursively), keyed `prefix/relative path`. */
function walk(dir: string, prefix: string, out: Map<string, Entry>, withMode: boolean): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const key = `${prefix}/${name}`;
    const stat = lstatSync(path);
    const content = stat.isSymbolicLink()
      ? Buffer.from(readlinkSync(path))
      : stat.isDirectory()
        ? Buffer.alloc(0)
        : readFileSync(path);
    out.set(key, withMode ? { mode: stat.mode, content } : { content });
    if (stat.isDirectory()) walk(path, key, out, withMode);
  }
}

export function snapshotNode(node: { name: string; tree: Pick<LabNode, "kubernetesDir"> }): NodeSnapshot {
  const dir = node.tree.kubernetesDir;
  const entries = new Map<string, Entry>();
  walk(join(dir, "pki"), "pki", entries, true);
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith(".conf"))
    .sort()) {
    const path = join(dir, name);
    entries.set(name, { mode: lstatSync(path).mode, content: readFileSync(path) });
  }
  walk(join(dir, "manifests"), "manifests", entries, false);
  return { node: node.name, entries };
}

/** What differs between two snapshots, one line per entry: missing, added, bytes or mode. */
function snapshotDifferences(before: NodeSnapshot, after: NodeSnapshot): string[] {
  const differences: string[] = [];
  for (const [key, was] of before.entries) {
    const now = after.entries.get(key);
    if (!now) differences.push(`${key}: missing`);
    else {
      if (!now.content.equals(was.content)) differences.push(`${key}: different bytes`);
      if (now.mode !== was.mode)
        differences.push(`${key}: mode ${now.mode?.toString(8)}, was ${was.mode?.toString(8)}`);
    }
  }
  for (const key of after.entries.keys()) if (!before.entries.has(key)) differences.push(`${key}: added`);
  return differences;
}

/**
 * The node's pki/, kubeconfigs and manifests/ are exactly as in `before`; with `only` (a prefix such
 * as "manifests/"), just those entries (a renewed node changes pki/, never manifests/).
 */
export function assertSameAsBefore(
  node: { name: string; tree: Pick<LabNode, "kubernetesDir"> },
  before: NodeSnapshot,
  only?: string,
): void {
  const pick = (s: NodeSnapshot): NodeSnapshot =>
    only ? { ...s, entries: new Map([...s.entries].filter(([key]) => key.startsWith(only))) } : s;
  const differences = snapshotDifferences(pick(before), pick(snapshotNode(node)));
  if (differences.length)
    assert.fail(
      `${node.name}: ${only ?? "pki/, kubeconfigs and manifests/"} not as before the run: ${differences.join("; ")}`,
    );
}

/** Files (not directories) inside any `*.aside` directory under `dir`, as paths relative to it. */
export function filesAside(dir: string): string[] {
  const found: string[] = [];
  const visit = (path: string, rel: string, aside: boolean) => {
    for (const name of existsSync(path) ? readdirSync(path).sort() : []) {
      const child = join(path, name);
      const childRel = rel ? `${rel}/${name}` : name;
      if (lstatSync(child).isDirectory()) visit(child, childRel, aside || name.endsWith(".aside"));
      else if (aside) found.push(childRel);
    }
  };
  visit(dir, "", false);
  return found;
}
