// What a renewal may change on a lab node, captured byte for byte (with modes): pki/ (every file),
// the kubeconfigs (*.conf) and manifests/. A failed renewal must leave exactly this behind.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { RenewalLabNode } from "./renewal-lab.js";

/** path (relative to kubernetesDir) → "mode sha-ish": the bytes as base64 and the mode in octal. */
export interface NodeSnapshot {
  pki: Record<string, string>;
  kubeconfigs: Record<string, string>;
  manifests: Record<string, string>;
}

function describeFile(path: string): string {
  return `${(statSync(path).mode & 0o7777).toString(8)} ${readFileSync(path).toString("base64")}`;
}

function filesUnder(dir: string, base: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) Object.assign(out, filesUnder(path, base));
    else out[relative(base, path)] = describeFile(path);
  }
  return out;
}

export function snapshotNode(node: RenewalLabNode): NodeSnapshot {
  const k = node.tree.kubernetesDir;
  const kubeconfigs = Object.fromEntries(
    readdirSync(k)
      .filter((f) => f.endsWith(".conf"))
      .map((f) => [f, describeFile(join(k, f))]),
  );
  return { pki: filesUnder(join(k, "pki"), k), kubeconfigs, manifests: filesUnder(join(k, "manifests"), k) };
}

/** pki/, the kubeconfigs and manifests/ are byte- and mode-identical to `before`. */
export function assertSameAsBefore(node: RenewalLabNode, before: NodeSnapshot): void {
  const now = snapshotNode(node);
  for (const part of ["pki", "kubeconfigs", "manifests"] as const) {
    const changed = [...new Set([...Object.keys(before[part]), ...Object.keys(now[part])])].filter(
      (f) => before[part][f] !== now[part][f],
    );
    assert.deepEqual(changed, [], `${node.name}: ${part} changed`);
  }
}
