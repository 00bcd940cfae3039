// config/prometheus-rules.yaml under Prometheus's own rule engine: promtool checks it and runs its
// unit tests (test/prometheus/rules.test.yaml), and those tests catch a changed threshold.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const RULES = resolve("config/prometheus-rules.yaml");
const TESTS = resolve("test/prometheus/rules.test.yaml");
const scratch = mkdtempSync(join(tmpdir(), "certs-bot-rules-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** promtool's exit code and output; promtool comes with Debian's `prometheus` (test/setup.sh installs it). */
async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run("promtool", args);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const failed = err as { code?: number | string; stdout?: string; stderr?: string };
    if (failed.code === "ENOENT")
      throw new Error("promtool not found: apt-get install prometheus", { cause: err });
    return { code: Number(failed.code), output: `${failed.stdout}${failed.stderr}` };
  }
}

test("the rules are valid and pass their unit tests", async () => {
  const check = await promtool("check", "rules", RULES);
  assert.equal(check.code, 0, check.output);
  assert.match(check.output, /SUCCESS: 7 rules found/);
  const tests = await promtool("test", "rules", TESTS);
  assert.equal(tests.code, 0, tests.output);
});

test("the unit tests fail when the expiry threshold moves", async () => {
  const rules = readFileSync(RULES, "utf8");
  assert.ok(rules.includes("< 14 * 86400"));
  writeFileSync(join(scratch, "rules.yaml"), rules.replace("< 14 * 86400", "< 7 * 86400"));
  const tests = readFileSync(TESTS, "utf8").replace("../../config/prometheus-rules.yaml", "rules.yaml");
  writeFileSync(join(scratch, "rules.test.yaml"), tests);
  const result = await promtool("test", "rules", join(scratch, "rules.test.yaml"));
  assert.notEqual(result.code, 0);
  assert.match(result.output, /X509CertificateExpiringSoon/);
});
