// `certs-bot console` end to end: the real CLI as a child process, /certs lines piped to its stdin,
// real scans of lab trees (local transport: no sshd, no root, no Slack, no Redis). What it prints
// is the bot's real answers; the logs on stderr (LOG_LEVEL=info) tell which nodes were scanned.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../lab/ports.js";
import { formatDate } from "../../src/present/time.js";
import { newClusterPki, writeLabNode, type LabNodeSpec } from "../lab/tree.js";

const DAY = 86_400_000;
const now = new Date();
const days = (n: number) => new Date(now.getTime() + n * DAY);

let root: string;
let configPath: string;
let blackhole: Server;
const held: Socket[] = [];

async function writeNode(name: string, spec: Partial<LabNodeSpec> = {}) {
  return writeLabNode({
    root: join(root, name),
    nodeName: name,
    address: "127.0.0.1",
    pki: await newClusterPki({ now }),
    now,
    ...spec,
  });
}

interface ConsoleRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Clusters of the "node scanned" log lines, one per node scan, in order. */
  scanned: string[];
}

function runConsole(args: string[], lines: string[]): Promise<ConsoleRun> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", "console", "--config", configPath, ...args],
      { env: { ...process.env, LOG_LEVEL: "info", NO_COLOR: "1" } },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(lines.map((line) => `${line}\n`).join(""));
    child.on("close", (code) => {
      const scanned = stderr
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as { msg: string; cluster?: string })
        .filter((entry) => entry.msg === "node scanned")
        .map((entry) => entry.cluster!);
      resolve({ code, stdout, stderr, scanned });
    });
  });
}

/** What was printed after each echoed `PROMPT LINE`, up to the next prompt (or the end). */
function answers(stdout: string, user: string): Map<string, string> {
  const parts = stdout.split(new RegExp(`^${user}> `, "m")).slice(1);
  return new Map(
    parts.map((part) => {
      const newline = part.indexOf("\n");
      return [part.slice(0, newline), part.slice(newline + 1)];
    }),
  );
}

const count = (list: readonly string[], item: string) => list.filter((x) => x === item).length;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "certs-bot-console-"));
  // Accepts TCP and never answers TLS: the apiserver probe of lab-slow takes connectTimeoutMs.
  blackhole = createServer((socket) => held.push(socket));
  const blackholePort = await freePort("127.0.0.1");
  await new Promise<void>((r) => blackhole.listen(blackholePort, "127.0.0.1", r));
  const trees = {
    a: await writeNode("a-1", {
      dates: { "apiserver-kubelet-client": { notBefore: days(-368), notAfter: days(-3) } },
    }),
    b: await writeNode("b-1"),
    x: await writeNode("x-1"),
    slow: await writeNode("slow-1"),
  };
  const node = (name: string, tree: (typeof trees)["a"], apiserver = "{ probe: false }") => [
    "    nodes:",
    `      - host: 127.0.0.1`,
    `        name: ${name}`,
    `        transport: local`,
    `        paths: { kubernetesDir: "${tree.kubernetesDir}", kubeletPkiDir: "${tree.kubeletPkiDir}" }`,
    `        apiserver: ${apiserver}`,
  ];
  configPath = join(root, "clusters.yaml");
  writeFileSync(
    configPath,
    [
      "timezone: UTC",
      "clusters:",
      "  - name: lab-a",
      "    channel: C0LABAAAA",
      "    operators: [U0ALICE01]",
      ...node("a-1", trees.a),
      "  - name: lab-b",
      "    channel: C0LABBBBB",
      "    viewers: [C0LABBBBB, C0LABAAAA]",
      "    operators: [S0SREGROUP]",
      "    renewal: { policy: { requestWhenDaysLeft: 30 } }",
      ...node("b-1", trees.b),
      "  - name: lab-x",
      "    channel: C0OTHERTM",
      "    operators: [U0ALICE01]",
      ...node("x-1", trees.x),
      "  - name: lab-slow",
      "    channel: C0SLOWWWW",
      "    operators: [U0ALICE01]",
      "    ssh: { connectTimeoutMs: 1500 }",
      ...node("slow-1", trees.slow, `{ port: ${blackholePort} }`),
      "",
    ].join("\n"),
  );
});

after(async () => {
  held.forEach((s) => s.destroy());
  await new Promise((r) => blackhole?.close(r));
  rmSync(root, { recursive: true, force: true });
});

describe("certs-bot console", () => {
  test("answers /certs as Alice in her channel: list, status, scan, refusals, suggestions", async () => {
    const pwned = join(root, "pwned");
    const run = await runConsole(
      ["--user", "U0ALICE01"],
      [
        "/certs list",
        "/certs list --status ok",
        "/certs list lab-x",
        "/certs status lab-a",
        "/certs scan lab-b",
        `/certs status lab-a; touch ${pwned}`,
        `/certs scan lab-a && touch ${pwned}`,
        "/certs status lab-c",
        "/certs status lab-x",
        "help",
        "Scan now",
        "/certs scan lab-a",
      ],
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /you are U0ALICE01 in channel C0LABAAAA \(user groups: none/);
    assert.match(run.stdout, /Clusters shown here: lab-a, lab-b\. Scanning them first/);
    const said = answers(run.stdout, "U0ALICE01");

    const list = said.get("/certs list")!;
    assert.match(list, /^certs-bot:\n {2}Certificates — 2 clusters in this channel\n/);
    assert.match(
      list,
      /🔴 lab-a — expired · `a-1\/apiserver-kubelet-client` expired 3d ago · scanned just now/,
    );
    assert.match(list, /✅ lab-b — ok/);
    assert.doesNotMatch(list, /lab-x|lab-slow/, "a cluster is never shown outside its viewer channels");
    const fine = said.get("/certs list --status ok")!;
    assert.match(fine, /Showing ok: 1 cluster, worst first/);
    assert.match(fine, /✅ lab-b — ok/);
    assert.doesNotMatch(fine, /lab-a —/);
    assert.match(
      said.get("/certs list lab-x")!,
      /No cluster in this channel matches: names starting with `lab-x`/,
    );

    const status = said.get("/certs status lab-a")!;
    assert.match(status, /^certs-bot:\n {2}lab-a — expired\n/);
    assert.match(status, /🔴 a-1 \(127\.0\.0\.1\) — expired/);
    assert.match(status, /🔴 `apiserver-kubelet-client` expired · expires .* \(expired 3d ago\) · CA `ca`/);

    assert.equal(
      said.get("/certs scan lab-b"),
      "certs-bot (only you can see this):\n" +
        "  🔒 only operators of lab-b may request scans; ask @S0SREGROUP.\n" +
        "  Nothing was run.\n",
    );
    assert.match(said.get(`/certs status lab-a; touch ${pwned}`)!, /only you can see this[^]*a semicolon/);
    assert.match(said.get(`/certs scan lab-a && touch ${pwned}`)!, /only you can see this[^]*an ampersand/);
    assert.match(
      said.get("/certs status lab-c")!,
      /⛔ There is no cluster `lab-c` in this channel; did you mean lab-a, lab-b\?/,
    );
    assert.match(said.get("/certs status lab-x")!, /🔒 lab-x is not shown in this channel/);
    assert.match(said.get("help")!, /^certs-bot: commands start with \/certs/);
    assert.match(said.get("Scan now")!, /^certs-bot: commands start with \/certs/, "no button was shown");

    const scan = said.get("/certs scan lab-a")!;
    assert.match(
      scan,
      /^certs-bot:\n {2}⏳ Scan of lab-a requested by @U0ALICE01; the result follows here\.\n/,
    );
    assert.match(
      scan,
      /certs-bot: waiting for 1 scan to finish…\ncerts-bot:\n {2}🔴 Scan of lab-a done: expired · 1 node in \d+\.\ds · 1 to look at · worst: `a-1\/apiserver-kubelet-client` expired 3d ago\n/,
    );

    assert.equal(existsSync(pwned), false, "nothing ran the injected command");
    assert.deepEqual(
      [count(run.scanned, "lab-a"), count(run.scanned, "lab-b"), count(run.scanned, "lab-x")],
      [2, 1, 0],
      "lab-a and lab-b scanned at start, lab-a once more on request; refusals scanned nothing",
    );
  });

  test("snooze, snoozes, unsnooze and their audit, with refusals, as in Slack", async () => {
    const key = "a-1/apiserver-kubelet-client";
    const run = await runConsole(
      ["--user", "U0ALICE01"],
      [
        `/certs snooze lab-a ${key} 2d waiting for the window`,
        "/certs snooze lab-a a-1/apiserver 2d",
        "/certs snooze lab-a --all 3w",
        "as U0BOB0001",
        "/certs snoozes",
        "/certs unsnooze lab-a --all",
        "as U0ALICE01",
        "/certs audit lab-a",
        "/certs unsnooze lab-a --all",
        "/certs snoozes lab-a",
      ],
    );
    assert.equal(run.code, 0, run.stderr);
    const alice = answers(run.stdout, "U0ALICE01");
    const bob = answers(run.stdout, "U0BOB0001");
    assert.match(
      alice.get(`/certs snooze lab-a ${key} 2d waiting for the window`)!,
      /^certs-bot:\n {2}💤 @U0ALICE01 snoozed lab-a `a-1\/apiserver-kubelet-client` until \w{3} \d+ \w{3} \d\d:\d\d UTC: waiting for the window\./,
    );
    assert.match(
      alice.get("/certs snooze lab-a a-1/apiserver 2d")!,
      /only you can see this[^]*No open warning for `a-1\/apiserver` in `lab-a`\. Open now: `a-1\/apiserver-kubelet-client`\./,
    );
    assert.match(
      alice.get("/certs snooze lab-a --all 3w")!,
      /only you can see this[^]*`3w` is too long[^]*at most 14 days/,
    );
    assert.match(
      bob.get("/certs snoozes")!,
      /only you can see this[^]*lab-a `a-1\/apiserver-kubelet-client` \(expired\) · snoozed by @U0ALICE01 until .* UTC · waiting for the window/,
    );
    assert.match(bob.get("/certs unsnooze lab-a --all")!, /only operators of lab-a may snooze warnings/);
    assert.match(
      alice.get("/certs audit lab-a")!,
      /snoozed · @U0ALICE01 · a-1\/apiserver-kubelet-client until .*: waiting for the window/,
    );
    assert.match(
      alice.get("/certs unsnooze lab-a --all")!,
      /^certs-bot:\n {2}🔔 @U0ALICE01 lifted the snooze of lab-a `a-1\/apiserver-kubelet-client`: reminders resume\./,
    );
    assert.match(alice.get("/certs snoozes lab-a")!, /Nothing is snoozed or acknowledged in lab-a\./);
  });

  test("policy shows the cluster's renewal policy and when it files next, to whoever sees the cluster", async () => {
    const run = await runConsole(
      ["--user", "U0ALICE01"],
      ["/certs policy lab-b", "/certs policy lab-a", "/certs policy lab-x", "/certs polcy lab-b"],
    );
    assert.equal(run.code, 0, run.stderr);
    const said = answers(run.stdout, "U0ALICE01");
    const policy = said.get("/certs policy lab-b")!;
    assert.match(policy, /^certs-bot:\n {2}lab-b — renewal policy\n/);
    assert.match(
      policy,
      /certs-bot requests a renewal of lab-b when a renewable certificate has 30 days left or fewer \(set at `[^`]*clusters\.yaml:\d+`\)\./,
    );
    assert.match(policy, /Not pre-approved: approvers approve it as any request\./);
    // The lab's leaves expire in 300 days: the first is due 31 days before.
    const at = (d: Date) => formatDate(d, "UTC");
    assert.match(
      policy,
      new RegExp(
        `Next: on ${at(days(269))} \`b-1/[a-z.-]+\` reaches 30 days left \\(expires ${at(days(300))}\\); ` +
          "certs-bot then files a request for approvers to approve\\.",
      ),
    );
    assert.match(said.get("/certs policy lab-a")!, /lab-a has no renewal policy/);
    assert.match(said.get("/certs policy lab-x")!, /🔒 lab-x is not shown in this channel/);
    assert.match(said.get("/certs polcy lab-b")!, /did you mean `policy`\?/);
  });

  test("--groups simulates user groups: S0SREGROUP makes Alice an operator of lab-b; quit waits", async () => {
    const run = await runConsole(
      ["--user", "U0ALICE01", "--groups", "S0SREGROUP"],
      ["/certs scan lab-b", "quit", "/certs list"],
    );
    assert.equal(run.code, 0, run.stderr);
    const said = answers(run.stdout, "U0ALICE01");
    assert.match(said.get("/certs scan lab-b")!, /Scan of lab-b requested by @U0ALICE01/);
    assert.match(run.stdout, /✅ Scan of lab-b done: ok · 1 node in/);
    assert.equal(said.has("/certs list"), false, "nothing is read after quit");
    assert.equal(count(run.scanned, "lab-b"), 2);
  });

  test("EOF waits for pending scans, and a second request joins the scan already running", async () => {
    const run = await runConsole(
      ["--user", "U0ALICE01", "--channel", "C0SLOWWWW"],
      ["/certs scan lab-slow", "/certs scan lab-slow"],
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /you are U0ALICE01 in channel C0SLOWWWW/);
    const tail = run.stdout.slice(run.stdout.indexOf("certs-bot: waiting for 2 scans to finish…"));
    assert.equal(tail.match(/Scan of lab-slow done/g)?.length, 2, run.stdout);
    assert.deepEqual(run.scanned, ["lab-slow", "lab-slow"], "one scan at start, one for both requests");
  });

  test("bad usage exits 3 with one line and runs nothing", async () => {
    for (const [args, message] of [
      [["--user", "alice"], /--user alice: not a Slack user id/],
      [["--user", "U0ALICE01", "--channel", "#ops"], /--channel #ops: not a Slack channel id/],
      [["--user", "U0ALICE01", "--groups", "S0SREGROUP,sre"], /--groups sre: not a Slack user group id/],
    ] as const) {
      const run = await runConsole([...args], ["/certs list"]);
      assert.equal(run.code, 3);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, "");
      assert.deepEqual(run.scanned, []);
    }
  });
});
