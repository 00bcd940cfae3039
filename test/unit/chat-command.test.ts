import { test } from "node:test";
import assert from "node:assert/strict";
import { CERTIFICATE_NAMES } from "../../src/core/kubeadm/catalogue.js";
import {
  MAX_TEXT,
  checkCluster,
  parseCommand,
  type CommandError,
  type CommandErrorCode,
  type ParseResult,
} from "../../src/present/command.js";

function ok(text: string) {
  const result = parseCommand(text);
  assert.ok(result.ok, `expected ${JSON.stringify(text)} to parse, got ${JSON.stringify(result)}`);
  return result.command;
}

function bad(text: string, code: CommandErrorCode): CommandError {
  const result: ParseResult = parseCommand(text);
  assert.ok(!result.ok, `expected ${JSON.stringify(text.slice(0, 80))} to be refused`);
  assert.equal(result.error.code, code, result.error.message);
  assert.ok(result.error.message.length > 0 && result.error.message.length < 600);
  return result.error;
}

test("help: empty text, blanks and `help`, with an optional topic", () => {
  assert.deepEqual(ok(""), { kind: "help" });
  assert.deepEqual(ok("   \t "), { kind: "help" });
  assert.deepEqual(ok("help"), { kind: "help" });
  assert.deepEqual(ok("HELP Status"), { kind: "help", topic: "status" });
  bad("help me", "extra-argument");
  bad("help status scan", "extra-argument");
});

test("list: a name filter, --status and --page, each checked", () => {
  assert.deepEqual(ok("list"), { kind: "list", page: 1 });
  assert.deepEqual(ok("  List  "), { kind: "list", page: 1 });
  assert.deepEqual(ok("list prod-"), { kind: "list", name: "prod-", page: 1 });
  assert.deepEqual(ok("list Prod-EU"), { kind: "list", name: "prod-eu", page: 1 });
  assert.deepEqual(ok("list *-eu-*"), { kind: "list", name: "*-eu-*", page: 1 });
  assert.deepEqual(ok("list --status critical"), { kind: "list", statuses: ["critical"], page: 1 });
  assert.deepEqual(ok("list --status=Expired,critical,expired --page 3 prod-"), {
    kind: "list",
    name: "prod-",
    statuses: ["expired", "critical"],
    page: 3,
  });
  for (const status of ["expired", "critical", "warning", "unreachable", "ok", "not-scanned"]) {
    assert.deepEqual(ok(`list --status ${status}`), { kind: "list", statuses: [status], page: 1 });
  }
  const extra = bad("list prod- staging-", "extra-argument");
  assert.match(extra.message, /`list` takes one name filter.*\/certs status CLUSTER/);
  assert.match(bad("list prod_eu", "bad-value").message, /not a name filter.*`prod-`.*Nothing was run/);
  const status = bad("list --status critcal", "bad-value");
  assert.match(status.message, /`critcal` is not a status; did you mean `critical`\?/);
  assert.match(status.message, /expired, critical, warning, unreachable, ok/);
  assert.deepEqual(status.suggestions, ["critical"]);
  bad("list --status critical,", "bad-value");
  bad("list --status", "bad-value");
  for (const page of ["0", "-1", "two", "1.5", "10001", "9999999"]) {
    assert.match(bad(`list --page=${page}`, "bad-value").message, /`--page` takes a page number from 1/);
  }
  assert.deepEqual(ok("list --page 10000"), { kind: "list", page: 10000 });
  bad("list --page 2 --page 3", "extra-argument");
  bad("list --all", "unknown-flag");
});

test("status: cluster, --node NAME or --node=NAME, --all, flags in any place", () => {
  assert.deepEqual(ok("status cluster-a"), { kind: "status", cluster: "cluster-a", all: false });
  assert.deepEqual(ok("status cluster-a --all"), { kind: "status", cluster: "cluster-a", all: true });
  assert.deepEqual(ok("status --node kube-master001 cluster-a"), {
    kind: "status",
    cluster: "cluster-a",
    node: "kube-master001",
    all: false,
  });
  assert.deepEqual(ok("status cluster-a --node=10.0.0.11 --all"), {
    kind: "status",
    cluster: "cluster-a",
    node: "10.0.0.11",
    all: true,
  });
  assert.deepEqual(ok("status cluster-a --node fd00::1"), {
    kind: "status",
    cluster: "cluster-a",
    node: "fd00::1",
    all: false,
  });
});

test("scan, renew, policy and audit", () => {
  assert.deepEqual(ok("scan cluster-a"), { kind: "scan", cluster: "cluster-a" });
  assert.deepEqual(ok("policy cluster-a"), { kind: "policy", cluster: "cluster-a" });
  assert.deepEqual(ok("POLICY cluster-a"), { kind: "policy", cluster: "cluster-a" });
  assert.match(bad("policy cluster-a --all", "unknown-flag").message, /`policy` takes no flags/);
  assert.deepEqual(ok("audit cluster-a"), { kind: "audit", cluster: "cluster-a" });
  assert.deepEqual(ok("renew cluster-a"), { kind: "renew", cluster: "cluster-a" });
  assert.deepEqual(ok("renew cluster-a --node m1 --certs apiserver,admin.conf,apiserver"), {
    kind: "renew",
    cluster: "cluster-a",
    node: "m1",
    certs: ["apiserver", "admin.conf"],
  });
  assert.ok(CERTIFICATE_NAMES.includes("kubelet-client"));
});

test("snooze: a certificate, a node or --all, a duration and an optional reason", () => {
  assert.deepEqual(ok("snooze lab-a a-1/apiserver-kubelet-client 3d planned for Tuesday"), {
    kind: "snooze",
    cluster: "lab-a",
    target: { keys: ["a-1/apiserver-kubelet-client"] },
    duration: "3d",
    reason: "planned for Tuesday",
  });
  assert.deepEqual(ok("Snooze lab-a --all 6h"), {
    kind: "snooze",
    cluster: "lab-a",
    target: { all: true },
    duration: "6h",
  });
  assert.deepEqual(ok("snooze lab-a 2w --all waiting for the vendor"), {
    kind: "snooze",
    cluster: "lab-a",
    target: { all: true },
    duration: "2w",
    reason: "waiting for the vendor",
  });
  assert.deepEqual(ok("snooze lab-a 10.0.0.1 1d"), {
    kind: "snooze",
    cluster: "lab-a",
    target: { keys: ["10.0.0.1"] },
    duration: "1d",
  });
  // What the apiserver serves is typed as NODE/apiserver-served (its key has a space).
  assert.deepEqual(ok("unsnooze lab-a a-1/apiserver-served"), {
    kind: "unsnooze",
    cluster: "lab-a",
    target: { keys: ["a-1/apiserver (served)"] },
  });
  // The duration is checked against the cluster's maximum by the router, not here.
  assert.equal((ok("snooze lab-a a-1/apiserver 90d") as { duration: string }).duration, "90d");
  assert.match(bad("snooze lab-a 3d", "bad-value").message, /needs what to snooze.*NODE\/CERT.*--all/);
  assert.match(bad("snooze lab-a --all", "bad-value").message, /needs a duration/);
  bad("snooze", "missing-cluster");
  bad("snooze lab-a a-1/api/server 3d", "bad-value");
  bad("snooze lab-a a-1/apiserver 3d --now", "unknown-flag");
});

test("unsnooze and snoozes", () => {
  assert.deepEqual(ok("unsnooze lab-a a-1/apiserver"), {
    kind: "unsnooze",
    cluster: "lab-a",
    target: { keys: ["a-1/apiserver"] },
  });
  assert.deepEqual(ok("unsnooze --all lab-a"), { kind: "unsnooze", cluster: "lab-a", target: { all: true } });
  assert.match(bad("unsnooze lab-a", "bad-value").message, /needs what to unsnooze/);
  bad("unsnooze lab-a a-1/apiserver 3d", "extra-argument");
  assert.deepEqual(ok("snoozes"), { kind: "snoozes" });
  assert.deepEqual(ok("snoozes lab-a"), { kind: "snoozes", cluster: "lab-a" });
  bad("snoozes lab-a lab-b", "extra-argument");
  bad("snoozes Lab-A", "bad-value");
});

test("unknown subcommands suggest the closest one", () => {
  assert.deepEqual(bad("stauts cluster-a", "unknown-subcommand").suggestions, ["status"]);
  assert.match(bad("stat cluster-a", "unknown-subcommand").message, /did you mean `status`/);
  assert.deepEqual(bad("lsit", "unknown-subcommand").suggestions, ["list"]);
  assert.deepEqual(bad("polcy cluster-a", "unknown-subcommand").suggestions, ["policy"]);
  const far = bad("reboot now", "unknown-subcommand");
  assert.deepEqual(far.suggestions, []);
  assert.match(far.message, /^`reboot` is not a `\/certs` subcommand\. Nothing was run\.$/);
});

test("a missing cluster, extra arguments, malformed names", () => {
  for (const sub of ["status", "scan", "renew", "policy", "audit"]) {
    const error = bad(sub, "missing-cluster");
    assert.equal(error.subcommand, sub);
    assert.match(error.message, /needs a cluster.*\/certs list/);
  }
  bad("status --all", "missing-cluster");
  assert.match(bad("status cluster-a cluster-b", "extra-argument").message, /`cluster-b` is too much/);
  bad("scan cluster-a now", "extra-argument");
  assert.match(bad("policy cluster-a cluster-b", "extra-argument").message, /`policy` takes one cluster/);
  bad("policy Cluster-A", "bad-value");
  assert.match(bad("status Cluster-A", "bad-value").message, /is not a cluster name/);
  bad("status cluster_a", "bad-value");
  bad(`status ${"a".repeat(64)}`, "bad-value");
  bad("status -cluster", "unknown-flag");
  bad("status cluster-a --node ../etc", "bad-value");
  bad("status cluster-a --node=-x", "bad-value");
});

test("flags: unknown, misplaced, repeated, without or with a wrong value", () => {
  assert.deepEqual(bad("status cluster-a --nod m1", "unknown-flag").suggestions, ["--node"]);
  assert.match(
    bad("status cluster-a --force", "unknown-flag").message,
    /has no flag `--force`; it takes --node, --all/,
  );
  assert.match(bad("scan cluster-a --all", "unknown-flag").message, /`scan` takes no flags/);
  bad("status cluster-a -a", "unknown-flag");
  bad("status cluster-a --certs apiserver", "unknown-flag");
  bad("status cluster-a --all --all", "extra-argument");
  bad("status cluster-a --node a --node b", "extra-argument");
  bad("status cluster-a --node", "bad-value");
  bad("status cluster-a --node --all", "bad-value");
  bad("status cluster-a --node=", "bad-value");
  bad("status cluster-a --all=yes", "bad-value");
  assert.match(bad("status cluster-a —all", "unknown-flag").message, /autocorrect/);
});

test("--certs takes catalogue names only, and suggests", () => {
  const error = bad("renew cluster-a --certs apiserverr", "bad-value");
  assert.deepEqual(error.suggestions?.[0], "apiserver");
  bad("renew cluster-a --certs apiserver,,admin.conf", "bad-value");
  bad("renew cluster-a --certs /etc/kubernetes/pki/ca.key", "bad-value");
});

test("shell metacharacters, quotes and line breaks are refused, and nothing runs", () => {
  const attempts = [
    "status cluster-a; rm -rf /",
    "status cluster-a && reboot",
    "status cluster-a | sh",
    "status $(reboot)",
    "status ${IFS}",
    "status `reboot`",
    "status cluster-a > /etc/passwd",
    "status cluster-a < /dev/zero",
    "status 'cluster-a'",
    'status "cluster-a"',
    "status “cluster-a”",
    "status cluster-a\nscan cluster-b",
    "status cluster-a\r",
    "status cluster-a\u0000",
    "status cluster-a\\",
    "status {cluster-a,cluster-b}",
    "scan cluster-a&amp;",
    "status &lt;@U0ALICE&gt;",
  ];
  for (const text of attempts) {
    const error = bad(text, "unsafe-text");
    assert.match(error.message, /plain words only.*Nothing was run\.$/s);
    assert.ok(!error.message.includes("rm -rf"), "the message does not echo the attempt");
  }
  assert.match(bad("status cluster-a; rm -rf /", "unsafe-text").message, /a semicolon/);
  assert.match(bad("status `id`", "unsafe-text").message, /a backtick/);
  assert.match(bad("status x\ny", "unsafe-text").message, /a line break/);
});

test("overlong text is refused before anything else, without echoing it", () => {
  assert.equal(parseCommand(`status ${"a".repeat(MAX_TEXT - 7)}`).ok, false, "500 is parsed (a bad name)");
  assert.notEqual(bad(`status ${"a".repeat(MAX_TEXT - 7)}`, "bad-value").code, "too-long");
  const error = bad("status cluster-a ".repeat(600), "too-long");
  assert.match(error.message, /^That is 10200 characters; `\/certs` takes at most 500\. Nothing was run\.$/);
  bad(`$(reboot)${"x".repeat(10_000)}`, "too-long");
});

test("user text shown in an error cannot break out of its code span", () => {
  const error = bad("--node*x", "unknown-subcommand");
  assert.equal(error.message, "`--node*x` is not a `/certs` subcommand. Nothing was run.");
  const long = bad(`x${"y".repeat(200)}`, "unknown-subcommand");
  assert.ok(long.message.length < 120, "the echo is bounded");
});

test("checkCluster suggests only among the clusters of this channel", () => {
  assert.equal(checkCluster("cluster-a", ["cluster-a"]), null);
  const error = checkCluster("cluster-c", ["cluster-a", "prod-db"])!;
  assert.equal(error.code, "unknown-cluster");
  assert.deepEqual(error.suggestions, ["cluster-a"]);
  assert.match(error.message, /no cluster `cluster-c` in this channel; did you mean \*cluster-a\*\?/);
  assert.deepEqual(checkCluster("cluster-c", [])!.suggestions, []);
});
