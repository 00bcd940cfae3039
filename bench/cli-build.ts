// certs-bot's CLI built as production runs it, for the benches that time it as whole processes:
// tsc with tsconfig.build.json into a temporary directory, the repository's node_modules linked
// beside it, run as `node <dir>/dist/cli.js` like the package's bin. Built fresh from the working
// tree, or from a git ref for a before/after, so a dist/ left over from another commit is never
// what gets measured; and not run through tsx, whose own start-up would blur what certs-bot loads.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { git, REPO } from "./measure.js";

export interface BuiltCli {
  /** The entry point: `node <cli> scan …`. */
  cli: string;
  remove(): void;
}

/** Builds the working tree, or `ref` (its src/, package.json and tsconfigs, taken from git). */
export function buildCli(ref?: string): BuiltCli {
  const dir = mkdtempSync(join(tmpdir(), "certs-bot-cli-"));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
    let project = join(REPO, "tsconfig.build.json");
    if (ref === undefined) {
      copyFileSync(join(REPO, "package.json"), join(dir, "package.json")); // "type": "module"
    } else {
      const tar = join(dir, "source.tar");
      git("archive", "--output", tar, ref, "src", "package.json", "tsconfig.json", "tsconfig.build.json");
      execFileSync("tar", ["-xf", tar, "-C", dir]);
      project = join(dir, "tsconfig.build.json");
    }
    const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
    // tsc prints its diagnostics on stdout: they go to the bench's stderr, beside its progress.
    execFileSync(process.execPath, [tsc, "-p", project, "--outDir", join(dir, "dist")], {
      stdio: ["ignore", 2, 2],
    });
  } catch (err) {
    remove();
    throw err;
  }
  return { cli: join(dir, "dist", "cli.js"), remove };
}
