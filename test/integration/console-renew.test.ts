// The renewal flow end to end, in console mode: the real `certs-bot console --allow-renewals` as a child
// process, lines piped to it, a lab control-plane node whose apiserver-kubelet-client expired (local
// transport with the lab's kubeadm and runtimes first on PATH, as on a node; no sshd, no Slack; the
// run lease and the audit in the machine's Redis under this file's own prefix). Alice asks, cannot
// approve her own request, Bob approves, the renewal runs step by step on screen, the new
// certificate is served, and `/certs status` is green afterwards.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { redisUrl } from "../../src/adapters/store/redis.js";
import { consoleCli, transcriptAfter, type ConsoleRun } from "../lab/console-cli.js";
import { fingerprintOf, stopAllControlPlanes } from "../lab/control-plane.js";
import { dropKeys } from "../lab/redis.js";
import { renewalLabNode, type RenewalLabNode } from "../lab/renewal-lab.js";
import { newClusterPki } from "../lab/tree.js";

const PREFIX = `console-renew-${process.pid}`;
/** A time in the config's zone, as the console shows it. */
const DATE = "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d CES?T";
let root: string;
let configPath: string;
let lab: RenewalLabNode;

function consoleSession(lines: string[]): Promise<ConsoleRun> {
  return consoleCli(["--config", configPath, "--user", "U0ALICE01", "--allow-renewals"], lines, {
    ...process.env,
    CERTS_BOT_REDIS_PREFIX: PREFIX,
    NO_COLOR: "1",
    PATH: `${lab.tree.binDir}:${process.env.PATH ?? ""}`,
  });
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-console-renew-"));
  lab = await renewalLabNode({
    root,
    name: "c-1",
    host: 71,
    pki: await newClusterPki(),
    expired: ["apiserver-kubelet-client"],
  });
  configPath = join(root, "clusters.yaml");
  writeFileSync(
    configPath,
    [
      "timezone: Europe/Berlin",
      `renewal: { backupDir: "${join(root, "backups")}", restartStrategy: crictl }`,
      "clusters:",
      "  - name: lab-c",
      "    channel: C0LABCCCC",
      "    operators: [U0ALICE01]",
      "    approvers: [U0ALICE01, U0BOB0001]",
      `    nodes: [${lab.yaml}]`,
      "",
    ].join("\n"),
  );
});

after(async () => {
  await stopAllControlPlanes();
  await dropKeys(redisUrl(), PREFIX);
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("certs-bot console: a renewal from request to green", () => {
  test("requested by Alice, refused to her as approver, approved by Bob, renewed and verified", async () => {
    const servedBefore = (await lab.cp.served())!.fingerprint256;
    const { code, stdout, stderr } = await consoleSession([
      "/certs status lab-c",
      "/certs renew lab-c",
      "/certs renew lab-c --node c-1",
      "Approve",
      "as U0BOB0001",
      "Approve",
      "/certs status lab-c",
      "/certs audit lab-c",
    ]);
    assert.equal(code, 0, stderr);
    assert.match(transcriptAfter(stdout, "U0ALICE01> /certs status lab-c"), /expired/);

    const requested = transcriptAfter(stdout, "U0ALICE01> /certs renew lab-c");
    assert.match(requested, /Renewal plan: lab-c/);
    assert.match(requested, /apiserver-kubelet-client/);
    assert.match(requested, /\[ Approve \]/);
    assert.match(requested, /posted in .* for approval/);

    const id = /request `(lab-c-[^`]+)`/.exec(requested)?.[1];
    assert.ok(id, "the card names its request");
    assert.match(
      transcriptAfter(stdout, "U0ALICE01> /certs renew lab-c --node c-1"),
      new RegExp(
        `a renewal of lab-c is already pending \\(request ${id}, requested by @U0ALICE01 at ${DATE}; ` +
          `it expires at ${DATE} unless approved\\)\\.`,
      ),
      "worded as the Redis records' refusal (test/integration/renewal-store.test.ts)",
    );

    assert.match(transcriptAfter(stdout, "U0ALICE01> Approve"), /a different approver must approve it/);
    assert.match(transcriptAfter(stdout, "U0ALICE01> as U0BOB0001"), /you are U0BOB0001 now/);

    const run = transcriptAfter(stdout, "U0BOB0001> Approve");
    assert.match(run, /Approved\* by|Approved by/);
    for (const step of ["preflight", "backup", "renew", "restart", "verify"])
      assert.match(run, new RegExp(`✅ c-1 · ${step}`), `the ${step} step is shown as it ends`);
    assert.doesNotMatch(run, /❌/);
    assert.match(run, /Renewal of lab-c/);
    assert.doesNotMatch(run, /BEGIN [A-Z ]*PRIVATE KEY/);

    const served = (await lab.cp.served())!.fingerprint256;
    assert.notEqual(served, servedBefore, "a new apiserver certificate is served");
    assert.equal(
      served,
      fingerprintOf(readFileSync(join(lab.tree.kubernetesDir, "pki/apiserver.crt"))),
      "the one on disk",
    );

    const status = transcriptAfter(stdout, "U0BOB0001> /certs status lab-c");
    assert.doesNotMatch(status, /expired/);
    assert.match(status, /lab-c/);
    const audit = transcriptAfter(stdout, "U0BOB0001> /certs audit lab-c");
    for (const kind of ["requested", "refused", "approved", "started", "step", "result"])
      assert.match(audit, new RegExp(kind), `the audit shows ${kind}`);
  });
});
