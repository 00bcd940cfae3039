import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../src/config/load.js";

const VALID = `
timezone: Europe/Berlin
thresholds: { warningDays: 30, criticalDays: 7 }
scanCron: "0 */4 * * *"
slack:
  digestChannel: C0DIGEST
ssh:
  user: certsbot
  privateKeyPath: /keys/id
  knownHostsPath: /keys/known_hosts
  become: sudo
paths:
  kubeletPkiDir: /var/lib/kubelet/pki
apiserver: { port: 6443 }
clusters:
  - name: cluster-a
    channel: C0CLUSTERA
    thresholds: { warningDays: 45, criticalDays: 10 }
    ssh: { port: 2222 }
    nodes:
      - host: 10.0.0.11
        name: kube-master001
        paths: { kubernetesDir: /srv/k8s }
        apiserver: { port: 16443, probe: false }
      - host: master2.example.com
        port: 22022
        ssh: { user: other }
  - name: cluster-b
    nodes:
      - host: "fd00::1"
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, "clusters.yaml");
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail("expected the config to be rejected");
}

test("defaults, top level, cluster and node settings layer in that order", () => {
  const config = parseConfig(VALID, "clusters.yaml");
  const [a1, a2] = config.clusters[0]!.nodes;
  assert.equal(config.timezone, "Europe/Berlin");
  assert.equal(config.scanCron, "0 */4 * * *");
  assert.deepEqual(config.slack, { digestChannel: "C0DIGEST", digestCron: "0 9 * * 1-5" });
  assert.equal(config.clusters[0]!.channel, "C0CLUSTERA");
  assert.equal(config.clusters[1]!.channel, undefined);
  assert.deepEqual(config.clusters[0]!.thresholds, { warningDays: 45, criticalDays: 10 });
  assert.deepEqual(config.clusters[1]!.thresholds, { warningDays: 30, criticalDays: 7 });
  assert.equal(a1!.name, "kube-master001");
  assert.equal(a1!.ssh.port, 2222, "cluster ssh.port");
  assert.equal(a1!.ssh.user, "certsbot");
  assert.equal(a1!.ssh.become, "sudo");
  assert.equal(a1!.ssh.connectTimeoutMs, 10_000, "built-in default");
  assert.deepEqual(a1!.paths, { kubernetesDir: "/srv/k8s", kubeletPkiDir: "/var/lib/kubelet/pki" });
  assert.deepEqual(a1!.apiserver, { port: 16443, probe: false });
  assert.equal(a2!.name, "master2.example.com", "name defaults to host");
  assert.equal(a2!.ssh.port, 22022, "node port wins");
  assert.equal(a2!.ssh.user, "other");
  assert.deepEqual(a2!.apiserver, { port: 6443, probe: true });
  assert.equal(config.clusters[1]!.nodes[0]!.paths.kubernetesDir, "/etc/kubernetes");
});

test("the shipped example config is valid", async () => {
  const { loadConfig } = await import("../../src/config/load.js");
  const config = loadConfig("config/clusters.example.yaml");
  assert.ok(config.clusters.length > 0);
});

test("an unknown key names file, line, path and key", () => {
  const text = VALID.replace("        name: kube-master001", "        name: kube-master001\n        hots: x");
  const [problem, ...rest] = problems(text);
  assert.equal(rest.length, 0);
  assert.equal(problem, 'clusters.yaml:23:9: clusters[0].nodes[0].hots: unknown key "hots"');
});

test("a bad value names its path and line", () => {
  const [problem] = problems(VALID.replace("host: master2.example.com", "host: 'bad host;rm -rf /'"));
  assert.match(
    problem!,
    /^clusters\.yaml:25:15: clusters\[0\]\.nodes\[1\]\.host: must be a host name or an IP address$/,
  );
});

test("every error is reported, not just the first", () => {
  const text = VALID.replace("name: cluster-b", "name: Cluster_B").replace(
    "timezone: Europe/Berlin",
    "timezone: Mars/Olympus",
  );
  const found = problems(text);
  assert.equal(found.length, 2);
  assert.match(found[0]!, /^clusters\.yaml:2:11: timezone: must be an IANA time zone/);
  assert.match(found[1]!, /clusters\[1\]\.name: must match \[a-z0-9\]\[a-z0-9-\]\{0,62\}/);
});

for (const [what, from, to, expected] of [
  [
    "criticalDays not below warningDays",
    "{ warningDays: 45, criticalDays: 10 }",
    "{ warningDays: 5, criticalDays: 10 }",
    /clusters\[0\]\.thresholds: criticalDays must be smaller than warningDays/,
  ],
  [
    "a relative path",
    "kubernetesDir: /srv/k8s",
    "kubernetesDir: srv/k8s",
    /clusters\[0\]\.nodes\[0\]\.paths\.kubernetesDir: must be an absolute path/,
  ],
  [
    "a path with a quote",
    "kubernetesDir: /srv/k8s",
    `kubernetesDir: "/srv/k8s'; reboot; '"`,
    /kubernetesDir: must not contain a single quote/,
  ],
  [
    "a path with ..",
    "kubernetesDir: /srv/k8s",
    "kubernetesDir: /srv/../etc",
    /kubernetesDir: must not contain '\.\.'/,
  ],
  ["a port out of range", "port: 22022", "port: 70000", /clusters\[0\]\.nodes\[1\]\.port: Too big/i],
  ["an unknown become", "become: sudo", "become: doas", /ssh\.become: Invalid option/i],
  [
    "a duplicate cluster",
    "name: cluster-b",
    "name: cluster-a",
    /clusters\[1\]\.name: duplicate cluster name \(also clusters\[0\]\)/,
  ],
  [
    "a duplicate node",
    "name: kube-master001",
    "name: master2.example.com",
    /clusters\[0\]\.nodes\[1\]\.host: duplicate node name "master2\.example\.com"/,
  ],
  [
    "no nodes",
    '      - host: "fd00::1"',
    "        []",
    /clusters\[1\]\.nodes: a cluster needs at least one node/,
  ],
  [
    "a string where a number belongs",
    "warningDays: 45",
    "warningDays: soon",
    /clusters\[0\]\.thresholds\.warningDays: Invalid input: expected number, received string/,
  ],
] as const) {
  test(`rejects ${what}`, () => {
    const found = problems(VALID.replace(from, to));
    assert.ok(
      found.some((p) => expected.test(p)),
      found.join("\n"),
    );
    assert.ok(
      found.every((p) => p.startsWith("clusters.yaml:")),
      "names the file and line",
    );
  });
}

test("a missing required key is named", () => {
  const [problem] = problems(VALID.replace("      - host: master2.example.com\n", "      - name: nohost\n"));
  assert.match(problem!, /clusters\[0\]\.nodes\[1\]\.host: is required/);
});

test("YAML syntax errors name the line", () => {
  const [problem] = problems("clusters:\n  - name: a\n   nodes: [\n");
  assert.match(problem!, /^clusters\.yaml:\d+:\d+: YAML syntax: /);
});

test("an empty file asks for clusters", () => {
  assert.match(problems("")[0]!, /clusters: is required/);
});

test("Slack access: viewers default to the cluster's channel and the digest channel; nobody operates", () => {
  const config = parseConfig(VALID, "clusters.yaml");
  assert.deepEqual(config.clusters[0]!.viewers, ["C0CLUSTERA", "C0DIGEST"]);
  assert.deepEqual(config.clusters[1]!.viewers, ["C0DIGEST"], "no channel: the digest channel only");
  assert.deepEqual(config.clusters[0]!.operators, []);
  assert.deepEqual(config.clusters[0]!.approvers, []);
  const noSlack = parseConfig(VALID.replace("slack:\n  digestChannel: C0DIGEST\n", ""), "clusters.yaml");
  assert.deepEqual(noSlack.clusters[1]!.viewers, [], "no channel at all: shown nowhere");
});

test("Slack access: viewers, operators and approvers as configured", () => {
  const text = VALID.replace(
    "    channel: C0CLUSTERA\n",
    "    channel: C0CLUSTERA\n" +
      "    viewers: [C0SRE0001, G0PRIVATE1, C0SRE0001]\n" +
      "    operators: [U0ALICE, S0SREGROUP, W0GRIDUSER]\n" +
      "    approvers: [U0BOB]\n",
  );
  const cluster = parseConfig(text, "clusters.yaml").clusters[0]!;
  assert.deepEqual(cluster.viewers, ["C0SRE0001", "G0PRIVATE1"], "explicit viewers replace the default");
  assert.deepEqual(cluster.operators, ["U0ALICE", "S0SREGROUP", "W0GRIDUSER"]);
  assert.deepEqual(cluster.approvers, ["U0BOB"]);
  const none = parseConfig(text.replace("[C0SRE0001, G0PRIVATE1, C0SRE0001]", "[]"), "clusters.yaml");
  assert.deepEqual(none.clusters[0]!.viewers, [], "an explicit empty list means shown nowhere");
});

test("Slack access: bad ids are named with path, line and what an id looks like", () => {
  const text = VALID.replace(
    "    channel: C0CLUSTERA\n",
    "    channel: C0CLUSTERA\n" +
      "    viewers: [C0SRE0001, '#sre']\n" +
      "    operators: [U0ALICE, '@alice', C0CHANNEL1, u0lower]\n" +
      "    approvers: U0BOB\n",
  );
  const found = problems(text);
  const id =
    "must be a Slack user id (U… or W…, such as U0123ABCD) or user group id (S…, such as S0123ABCD), not a name";
  assert.deepEqual(found, [
    "clusters.yaml:18:26: clusters[0].viewers[1]: must be a Slack channel id such as C0123ABCD",
    `clusters.yaml:19:26: clusters[0].operators[1]: ${id}`,
    `clusters.yaml:19:36: clusters[0].operators[2]: ${id}`,
    `clusters.yaml:19:48: clusters[0].operators[3]: ${id}`,
    "clusters.yaml:20:16: clusters[0].approvers: Invalid input: expected array, received string",
  ]);
});

test("renewal: defaults when absent, every key optional, values as configured", () => {
  assert.deepEqual(parseConfig(VALID, "clusters.yaml").renewal, {
    approvalTtlMinutes: 240,
    requiredApprovals: 1,
    allowSelfApproval: false,
    backupDir: "/var/lib/certs-bot/backups",
    restartStrategy: "manifests",
  });
  const partial = parseConfig(`renewal: { requiredApprovals: 2 }\n${VALID}`, "clusters.yaml");
  assert.equal(partial.renewal.requiredApprovals, 2);
  assert.equal(partial.renewal.approvalTtlMinutes, 240);
  const full = parseConfig(
    "renewal:\n  approvalTtlMinutes: 5\n  requiredApprovals: 5\n  allowSelfApproval: true\n" +
      "  backupDir: /srv/backups\n  restartStrategy: crictl\n" +
      VALID,
    "clusters.yaml",
  );
  assert.deepEqual(full.renewal, {
    approvalTtlMinutes: 5,
    requiredApprovals: 5,
    allowSelfApproval: true,
    backupDir: "/srv/backups",
    restartStrategy: "crictl",
  });
});

test("renewal: bad values name file, line and path", () => {
  const found = problems(
    "renewal:\n  approvalTtlMinutes: 4\n  requiredApprovals: 6\n  allowSelfApproval: yes\n" +
      "  backupDir: \"/var/backups/'; reboot; '\"\n  restartStrategy: podman\n  retries: 3\n" +
      VALID,
  );
  assert.deepEqual(found, [
    "clusters.yaml:2:23: renewal.approvalTtlMinutes: Too small: expected number to be >=5",
    "clusters.yaml:3:22: renewal.requiredApprovals: Too big: expected number to be <=5",
    "clusters.yaml:4:22: renewal.allowSelfApproval: Invalid input: expected boolean, received string",
    "clusters.yaml:5:14: renewal.backupDir: must not contain a single quote",
    'clusters.yaml:6:20: renewal.restartStrategy: Invalid option: expected one of "manifests"|"crictl"|"docker"',
    'clusters.yaml:7:3: renewal.retries: unknown key "retries"',
  ]);
  assert.match(
    problems("renewal: { approvalTtlMinutes: 10081 }\n" + VALID)[0]!,
    /approvalTtlMinutes: Too big/,
  );
  assert.match(
    problems("renewal: { backupDir: backups }\n" + VALID)[0]!,
    /renewal\.backupDir: must be an absolute path/,
  );
  assert.match(problems("renewal: { requiredApprovals: 0 }\n" + VALID)[0]!, /requiredApprovals: Too small/);
});
