import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OperatorError } from "../../src/config/operator-error.js";
import { checkOutputFile, writeFileAtomically } from "../../src/adapters/file/atomic.js";

const dir = mkdtempSync(join(tmpdir(), "certs-bot-atomic-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("replaces the file in one step with mode 0644 whatever the umask, leaving nothing beside it", () => {
  const file = join(dir, "metrics.prom");
  writeFileSync(file, "old\n", { mode: 0o600 });
  const umask = process.umask(0o077);
  try {
    writeFileAtomically(file, "new\n");
  } finally {
    process.umask(umask);
  }
  assert.equal(readFileSync(file, "utf8"), "new\n");
  assert.equal(statSync(file).mode & 0o777, 0o644);
  assert.deepEqual(readdirSync(dir), ["metrics.prom"]);
});

test("a missing directory, a file in its place or a directory as the target is refused before writing", () => {
  const refused = (file: string, message: string) => {
    assert.throws(() => checkOutputFile(file), OperatorError);
    assert.throws(() => writeFileAtomically(file, "x"), { message });
  };
  refused(
    join(dir, "nope", "m.prom"),
    `cannot write ${join(dir, "nope", "m.prom")}: directory ${join(dir, "nope")} does not exist`,
  );
  writeFileSync(join(dir, "plain"), "");
  refused(
    join(dir, "plain", "m.prom"),
    `cannot write ${join(dir, "plain", "m.prom")}: ${join(dir, "plain")} is not a directory`,
  );
  mkdirSync(join(dir, "sub"));
  refused(join(dir, "sub"), `cannot write ${join(dir, "sub")}: it is a directory`);
  assert.deepEqual(readdirSync(join(dir, "sub")), []);
});
