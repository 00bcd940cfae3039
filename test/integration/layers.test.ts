// The map of the layers (.dependency-cruiser.js) bites: a copy of src/ with one import against the
// direction, or one cycle, fails `depcruise src` with the rule's name; the untouched copy passes.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";

const REPO = process.cwd();
const DEPCRUISE = join(REPO, "node_modules", ".bin", "depcruise");
const dirs: string[] = [];

/** A copy of src/ and the map, with `lines` appended to a module (made if new); exit code and report. */
function cruise(...edits: { file: string; lines: string }[]): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), "certs-bot-layers-"));
  dirs.push(dir);
  for (const part of ["src", "tsconfig.json", ".dependency-cruiser.js"]) {
    cpSync(join(REPO, part), join(dir, part), { recursive: true });
  }
  for (const edit of edits) {
    mkdirSync(dirname(join(dir, edit.file)), { recursive: true });
    appendFileSync(join(dir, edit.file), `\n${edit.lines}\n`);
  }
  return new Promise((resolve) => {
    execFile(DEPCRUISE, ["src", "--output-type", "err"], { cwd: dir }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, out: stdout + stderr }),
    );
  });
}

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("the layer map", () => {
  it("passes the code as it is", async () => {
    const { code, out } = await cruise();
    assert.equal(code, 0, out);
  });

  it("refuses a type imported from an adapter into the core", async () => {
    const { code, out } = await cruise({
      file: "src/core/renew/plan.ts",
      lines: 'import type { Store } from "../../adapters/store/store.js";\nexport type Kept = Store;',
    });
    assert.notEqual(code, 0);
    assert.match(
      out,
      /core-imports-nothing-above: src\/core\/renew\/plan\.ts → src\/adapters\/store\/store\.ts/,
    );
  });

  it("refuses a view that calls a use case", async () => {
    const { code, out } = await cruise({
      file: "src/present/views.ts",
      lines: 'import { dispatchButton } from "../app/actions.js";\nexport const dispatch = dispatchButton;',
    });
    assert.notEqual(code, 0);
    assert.match(out, /present-imports-nothing-above: src\/present\/views\.ts → src\/app\/actions\.ts/);
  });

  it("refuses a cycle inside a layer", async () => {
    const { code, out } = await cruise({
      file: "src/core/report/types.ts",
      lines: 'import type { judgeNode } from "../scan/judge.js";\nexport type Judge = typeof judgeNode;',
    });
    assert.notEqual(code, 0);
    assert.match(out, /no-circular: src\/core\/report\/types\.ts/);
    assert.match(out, /no-circular-folders/);
  });

  it("refuses a module outside the map", async () => {
    const { code, out } = await cruise(
      {
        file: "src/helpers/stray.ts",
        lines: 'export { suggestNames as stray } from "../config/suggest.js";',
      },
      { file: "src/cli.ts", lines: 'export { stray } from "./helpers/stray.js";' },
    );
    assert.notEqual(code, 0);
    assert.match(out, /module-on-the-map: src\/helpers\/stray\.ts/);
    assert.match(out, /import-on-the-map: src\/cli\.ts → src\/helpers\/stray\.ts/);
  });
});
