// `npm run demo` is one of the README's two commands: it must keep working. The real demo script runs
// to the end in a temporary directory; what it shows is checked at the points a newcomer reads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processesWith } from "../lab/processes.js";
import { until } from "../lab/wait.js";

interface DemoRun {
  child: ChildProcess;
  out: () => string;
  closed: Promise<number | null>;
}

/** demo/demo.ts writing its lab to `lab`; `detached` puts it in a process group of its own, as a shell does. */
function startDemo(lab: string, detached = false): DemoRun {
  const child = spawn(process.execPath, ["--import", "tsx", "demo/demo.ts", lab], {
    env: { ...process.env, NO_COLOR: "1" },
    detached,
  });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  return { child, out: () => out, closed: new Promise((resolve) => child.on("close", resolve)) };
}

test("npm run demo: the scan finds the origin story, the console answers, the renewal ends green", async () => {
  const dir = mkdtempSync(join(tmpdir(), "certs-bot-demo-"));
  try {
    const demo = startDemo(join(dir, "lab"));
    const code = await demo.closed;
    const out = demo.out();
    assert.equal(code, 0, out.slice(-3000));
    assert.match(out, /apiserver-kubelet-client/);
    assert.match(out, /exit code 2 \(critical\)/);
    assert.match(out, /The apiserver serves a different certificate/);
    assert.match(out, /only operators of lab-b may request scans/);
    assert.match(out, /a different approver must approve it/);
    assert.match(out, /💤 @U0ALICE01 snoozed lab-a `kube-master001\/apiserver-kubelet-client` until /);
    assert.match(out, /Approved by policy \(`[^`]*clusters\.policy\.yaml:\d+`\) — scheduled for /);
    assert.match(out, /The renewal of lab-p waits for its maintenance window, goes on /);
    assert.match(out, /🚫 Cancelled by @U0BOB0001 at .* before it started/);
    assert.match(out, /✅ cp-1 · verify/);
    assert.match(out, /Renewal of lab-r: renewed/);
    assert.match(out, /lab-r — ok/);
    assert.doesNotMatch(out, /demo failed|❌/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Ctrl-C in the renewal act stops the demo and its lab control plane, though that has process groups of its own", async () => {
  const dir = mkdtempSync(join(tmpdir(), "certs-bot-demo-"));
  const lab = join(dir, "lab");
  try {
    const demo = startDemo(lab, true);
    await until("the renewal act to start", async () => demo.out().includes("The 3 a.m. fix"), 120_000);
    const labProcesses = processesWith(lab).join("\n");
    assert.match(labProcesses, /lab-kubelet/);
    assert.match(labProcesses, /lab-apiserver/);
    process.kill(-demo.child.pid!, "SIGINT"); // a terminal's Ctrl-C reaches its whole foreground group
    assert.equal(await demo.closed, 130, demo.out().slice(-3000));
    assert.match(demo.out(), /demo stopped \(SIGINT\): stopping the lab control plane/);
    await until("no process of the lab left", async () => processesWith(lab).length === 0, 10_000);
  } finally {
    for (const line of processesWith(lab)) process.kill(Number(line.split(" ")[0]), "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
