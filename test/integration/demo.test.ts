// `npm run demo` is one of the README's two commands: it must keep working. The real demo script runs
// to the end in a temporary directory; what it shows is checked at the points a newcomer reads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

test("npm run demo: the scan finds the origin story, the console answers, the renewal ends green", async () => {
  const dir = mkdtempSync(join(tmpdir(), "certs-bot-demo-"));
  try {
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "demo/demo.ts", join(dir, "lab")], {
        env: { ...process.env, NO_COLOR: "1" },
      });
      let out = "";
      child.stdout.on("data", (c: Buffer) => (out += c.toString()));
      child.stderr.on("data", (c: Buffer) => (out += c.toString()));
      child.on("close", (code) => resolve({ code, out }));
    });
    assert.equal(code, 0, out.slice(-3000));
    assert.match(out, /apiserver-kubelet-client/);
    assert.match(out, /exit code 2 \(critical\)/);
    assert.match(out, /The apiserver serves a different certificate/);
    assert.match(out, /only operators of lab-b may request scans/);
    assert.match(out, /a different approver must approve it/);
    assert.match(out, /✅ cp-1 · verify/);
    assert.match(out, /Renewal of lab-r: renewed/);
    assert.match(out, /lab-r — ok/);
    assert.doesNotMatch(out, /demo failed|❌/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
