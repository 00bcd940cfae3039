// `npm run demo`: builds a small lab of kubeadm control-plane trees (real certificates, the
// origin story's expired apiserver-kubelet-client among them), starts a stand-in apiserver that
// still serves its pre-renewal certificate, and runs the real `certs-bot scan` against it. Then a
// scripted `certs-bot console` session shows what the bot answers to `/certs` in Slack, and a
// second one renews a lab control plane from request to approval to a verified restart.
// Nodes use the `local` transport, so the demo needs no sshd, no root and no Slack.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { join, resolve } from "node:path";
import { redisUrl } from "../src/adapters/store/redis.js";
import { startApiserver } from "../test/lab/apiserver.js";
import { issueCert } from "../test/lab/pki.js";
import { freePort } from "../test/lab/ports.js";
import { stopAllControlPlanes } from "../test/lab/control-plane.js";
import { dropKeys } from "../test/lab/redis.js";
import { renewalLabNode } from "../test/lab/renewal-lab.js";
import { newClusterPki, writeLabNode, type LabNodeSpec } from "../test/lab/tree.js";

const DAY = 86_400_000;
const now = new Date();
const days = (n: number) => new Date(now.getTime() + n * DAY);
const host = "127.0.0.1";
const dir = resolve(process.argv[2] ?? ".lab/demo");
const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

interface DemoNode {
  cluster: string;
  name: string;
  spec: Partial<LabNodeSpec>;
  servesOldCertificate?: boolean;
}

/** Who sees and operates what in Slack: Alice operates lab-a; lab-b is Bob's, shown in Alice's channel too. */
const ACCESS: Record<string, string[]> = {
  "lab-a": [
    "    channel: C0LABAAAA",
    "    viewers: [C0LABAAAA]",
    "    operators: [U0ALICE01]",
    "    approvers: [U0BOB0001]",
  ],
  "lab-b": ["    channel: C0LABBBBB", "    viewers: [C0LABBBBB, C0LABAAAA]", "    operators: [U0BOB0001]"],
};

/** The renewal act: Alice asks, may not approve her own request, Bob approves. */
const RENEWAL_SCRIPT = [
  "/certs renew lab-r",
  "Approve",
  "as U0BOB0001",
  "Approve",
  "/certs status lab-r",
  "/certs audit lab-r",
];

/**
 * The policy act: lab-p renews in a weekly window and lets its policy file (and pre-approve) the
 * request; a scan finds the expired certificate, the request is filed and waits for the window, and
 * Bob, an approver, cancels it.
 */
const POLICY_SCRIPT = [
  "/certs policy lab-p",
  "/certs scan lab-p",
  "/certs audit lab-p",
  "as U0BOB0001",
  "Cancel",
];

/** What the console session types: each answer is the bot's real one. */
const SCRIPT = [
  "/certs list",
  "/certs status lab-a",
  "/certs scan lab-a",
  // The renewal is booked: the expired certificate's reminders wait three days (a worse level would not).
  "/certs snooze lab-a kube-master001/apiserver-kubelet-client 3d renewal booked for the change window",
  "/certs snoozes lab-a",
  "/certs status lab-b --all",
  "/certs scan lab-b", // Alice is not an operator of lab-b: refused, and nothing runs
  "/certs status lab-a; rm -rf /", // shell characters: refused, and nothing runs
];

/** The signal that stopped the demo, if one did: no CLI child starts after it. */
let stoppedBy: NodeJS.Signals | undefined;
/** The CLI children running now, for the signal to reach them. */
const running = new Set<ChildProcess>();

// Ctrl-C or kill: the running CLI child ends, the next one refuses to start, and the demo unwinds
// through its clean-up, since the lab kubelet and apiserver run in process groups of their own
// (test/lab/control-plane.ts) and would outlive it. A second Ctrl-C exits at once.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    stoppedBy = signal;
    process.stderr.write(`\ndemo stopped (${signal}): stopping the lab control plane\n`);
    for (const child of running) child.kill(signal);
  });
}

/** The real CLI as a child; `input` is piped to its stdin, its output goes to ours. */
function cli(args: string[], input?: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise<number>((done, fail) => {
    if (stoppedBy) return fail(new Error(`stopped by ${stoppedBy}`));
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
      stdio: [input === undefined ? "inherit" : "pipe", "inherit", "inherit"],
      env,
    });
    running.add(child);
    // A child stopped by a signal may end before it reads its input: EPIPE then, which is no failure.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(input);
    child.on("close", (status) => {
      running.delete(child);
      if (stoppedBy) fail(new Error(`stopped by ${stoppedBy}`));
      else done(status ?? 3);
    });
  });
}

const NODES: DemoNode[] = [
  {
    // The origin story: apiserver.crt was renewed by an upgrade, apiserver-kubelet-client was not,
    // and the running apiserver was never restarted.
    cluster: "lab-a",
    name: "kube-master001",
    spec: { dates: { "apiserver-kubelet-client": { notBefore: days(-368), notAfter: days(-3) } } },
    servesOldCertificate: true,
  },
  {
    cluster: "lab-a",
    name: "kube-master002",
    spec: { dates: { "admin.conf": { notBefore: days(-360), notAfter: days(5) } }, superAdmin: false },
  },
  {
    cluster: "lab-b",
    name: "legacy-master",
    spec: {
      kubeadmVersion: "v1.16.15",
      externalEtcd: true,
      superAdmin: false,
      embeddedKubeletConf: true,
      dates: { "front-proxy-client": { notBefore: days(-345), notAfter: days(20) } },
    },
  },
];

async function main(): Promise<number> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const pkis = new Map<string, Awaited<ReturnType<typeof newClusterPki>>>();
  const apiservers: { stop(): Promise<void> }[] = [];
  const yamlNodes = new Map<string, string[]>();
  for (const demo of NODES) {
    if (!pkis.has(demo.cluster)) pkis.set(demo.cluster, await newClusterPki({ now }));
    const pki = pkis.get(demo.cluster)!;
    const apiserverPort = await freePort(host);
    const node = await writeLabNode({
      root: join(dir, demo.name),
      nodeName: demo.name,
      address: host,
      pki,
      now,
      apiserverPort,
      ...demo.spec,
    });
    const served = demo.servesOldCertificate
      ? await issueCert({
          subject: "CN=kube-apiserver",
          key: node.apiserver!.key,
          issuer: pki.ca,
          notBefore: days(-363),
          notAfter: days(2),
          sans: { dns: ["kubernetes"], ip: [host] },
          usage: "server",
        })
      : node.apiserver!;
    apiservers.push(
      await startApiserver({
        address: host,
        port: apiserverPort,
        certPem: served.pem,
        keyPem: served.key.privateKeyPem,
      }),
    );
    const lines = yamlNodes.get(demo.cluster) ?? [];
    lines.push(
      `      - host: ${host}`,
      `        name: ${demo.name}`,
      "        transport: local",
      `        paths: { kubernetesDir: "${node.kubernetesDir}", kubeletPkiDir: "${node.kubeletPkiDir}" }`,
      `        apiserver: { port: ${apiserverPort} }`,
    );
    yamlNodes.set(demo.cluster, lines);
  }
  const config = join(dir, "clusters.yaml");
  writeFileSync(
    config,
    [
      "# Written by npm run demo: a lab of kubeadm trees read with the local transport.",
      `timezone: ${TIME_ZONE}`,
      "thresholds: { warningDays: 30, criticalDays: 7 }",
      "clusters:",
      ...[...yamlNodes].flatMap(([cluster, lines]) => [
        `  - name: ${cluster}`,
        ...(ACCESS[cluster] ?? []),
        "    nodes:",
        ...lines,
      ]),
      "",
    ].join("\n"),
  );

  process.stdout.write(`Lab written to ${dir}\n$ certs-bot scan --config ${config}\n\n`);
  const code = await cli(["scan", "--config", config]);
  const meaning = ["ok", "warning", "critical", "unknown"][code] ?? "unknown";
  process.stdout.write(
    `\nexit code ${code} (${meaning}): 0 ok, 1 warning, 2 critical/expired/not-yet-valid, 3 unknown.\n` +
      `Try: node --import tsx src/cli.ts scan --config ${config} --json\n\n` +
      "What the bot answers in Slack, with no Slack: a scripted console session as U0ALICE01.\n" +
      `$ certs-bot console --config ${config} --user U0ALICE01 <<EOF\n${SCRIPT.join("\n")}\nEOF\n\n`,
  );
  const consoleCode = await cli(
    ["console", "--config", config, "--user", "U0ALICE01"],
    `${SCRIPT.join("\n")}\n`,
  );
  await Promise.all(apiservers.map((a) => a.stop()));
  const renewalCode = await renewalAct();
  process.stdout.write(
    "\nTry it yourself (as Bob, who operates lab-b; --groups S… simulates user groups):\n" +
      `  node --import tsx src/cli.ts console --config ${config} --user U0BOB0001\n` +
      "(the stand-in apiservers have stopped, so reruns report the probe as a closed port)\n",
  );
  return consoleCode || renewalCode; // the scan's exit code is the lab's verdict; the consoles' are ours
}

/**
 * The 3 a.m. fix with a second pair of eyes, on a lab control plane: a lab kubeadm, runtimes and
 * kubelet, and a real TLS apiserver that serves its old certificate until it is restarted. The lab
 * needs Linux (/proc, 127.0.0.N); elsewhere this act is skipped.
 */
async function renewalAct(): Promise<number> {
  if (process.platform !== "linux") {
    process.stdout.write("\n(The renewal act needs Linux for its lab control plane; skipped here.)\n");
    return 0;
  }
  const node = await renewalLabNode({
    root: dir,
    name: "cp-1",
    host: 77,
    pki: await newClusterPki({ now }),
    expired: ["apiserver-kubelet-client"],
  });
  const policyCode = await policyAct(node.yaml, node.tree.binDir);
  const config = join(dir, "clusters.renewal.yaml");
  writeFileSync(
    config,
    [
      "# Written by npm run demo: one lab control-plane node to renew (local transport).",
      `timezone: ${TIME_ZONE}`,
      `renewal: { backupDir: "${join(dir, "backups")}", restartStrategy: manifests }`,
      "clusters:",
      "  - name: lab-r",
      "    channel: C0LABRRRR",
      "    operators: [U0ALICE01]",
      "    approvers: [U0ALICE01, U0BOB0001]",
      `    nodes: [${node.yaml}]`,
      "",
    ].join("\n"),
  );
  // Where a Redis answers (REDIS_URL, else the default), the console renews under serve's run lease
  // and audit: under a prefix of the demo's own, removed at the end, so no serve or other run meets it.
  const prefix = `certs-bot-demo-${process.pid}`;
  process.stdout.write(
    "\nThe 3 a.m. fix, with a second pair of eyes: a lab control plane whose apiserver-kubelet-client\n" +
      "expired. Alice requests the renewal and may not approve it herself; Bob approves; certs-bot\n" +
      "backs up, renews, restarts and checks what the apiserver serves, step by step.\n" +
      `$ CERTS_BOT_REDIS_PREFIX=${prefix} certs-bot console --config ${config} --user U0ALICE01 ` +
      `--allow-renewals <<EOF\n${RENEWAL_SCRIPT.join("\n")}\nEOF\n\n`,
  );
  try {
    if (policyCode) return policyCode;
    // The node's lab tools (kubeadm, crictl, …) first on PATH, as on a real node.
    return await cli(
      ["console", "--config", config, "--user", "U0ALICE01", "--allow-renewals"],
      `${RENEWAL_SCRIPT.join("\n")}\n`,
      {
        ...process.env,
        CERTS_BOT_REDIS_PREFIX: prefix,
        PATH: `${node.tree.binDir}:${process.env.PATH ?? ""}`,
      },
    );
  } finally {
    await stopAllControlPlanes();
    await dropKeys(redisUrl(), prefix);
  }
}

/** The weekday two days from now in the demo's time zone: its window is never open during the demo. */
function windowDay(): string {
  const day = new Intl.DateTimeFormat("en-US", { weekday: "short", timeZone: TIME_ZONE }).format(days(2));
  return day.toLowerCase();
}

/**
 * A renewal policy on the same lab node, before it is renewed: pre-approved, so the request the
 * scan files needs no click and waits for its window; Bob cancels it, and nothing is touched.
 */
async function policyAct(nodeYaml: string, binDir: string): Promise<number> {
  const config = join(dir, "clusters.policy.yaml");
  writeFileSync(
    config,
    [
      "# Written by npm run demo: the renewal act's node, with a weekly window and a renewal policy.",
      `timezone: ${TIME_ZONE}`,
      "renewal:",
      `  backupDir: "${join(dir, "backups")}"`,
      `  windows: [{ days: [${windowDay()}], start: "02:00", duration: 3h }]`,
      "  policy:",
      "    requestWhenDaysLeft: 30",
      "    preApproved: true",
      "clusters:",
      "  - name: lab-p",
      "    channel: C0LABPPPP",
      "    operators: [U0ALICE01]",
      "    approvers: [U0BOB0001]",
      `    nodes: [${nodeYaml}]`,
      "",
    ].join("\n"),
  );
  process.stdout.write(
    "\nA renewal policy: lab-p renews only in its weekly window, and certs-bot files (and here\n" +
      "pre-approves) the request itself when a certificate has 30 days left. Bob, an approver, cancels it.\n" +
      `$ certs-bot console --config ${config} --user U0ALICE01 --allow-renewals <<EOF\n${POLICY_SCRIPT.join("\n")}\nEOF\n\n`,
  );
  const prefix = `certs-bot-demo-policy-${process.pid}`;
  try {
    return await cli(
      ["console", "--config", config, "--user", "U0ALICE01", "--allow-renewals"],
      `${POLICY_SCRIPT.join("\n")}\n`,
      { ...process.env, CERTS_BOT_REDIS_PREFIX: prefix, PATH: `${binDir}:${process.env.PATH ?? ""}` },
    );
  } finally {
    await dropKeys(redisUrl(), prefix);
  }
}

const stoppedCode = (signal: NodeJS.Signals) => 128 + constants.signals[signal];

main().then(
  (code) => (process.exitCode = stoppedBy ? stoppedCode(stoppedBy) : code),
  (err: Error) => {
    // Stopped: the renewal act has cleaned up; the first act's stand-in apiservers may still listen.
    if (stoppedBy) process.exit(stoppedCode(stoppedBy));
    process.stderr.write(`demo failed: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  },
);
