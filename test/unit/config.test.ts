import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, findCluster, loadConfig, MAX_ALIAS_COUNT, parseConfig } from "../../src/config/load.js";
import { ALIAS_BOMB } from "../fixtures/alias-bomb.js";

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
  assert.deepEqual(a1!.paths, {
    kubernetesDir: "/srv/k8s",
    kubeletPkiDir: "/var/lib/kubelet/pki",
    etcdPkiDir: "/srv/k8s/pki/etcd",
  });
  assert.deepEqual(a1!.apiserver, { port: 16443, probe: false });
  assert.equal(a2!.name, "master2.example.com", "name defaults to host");
  assert.equal(a2!.ssh.port, 22022, "node port wins");
  assert.equal(a2!.ssh.user, "other");
  assert.deepEqual(a2!.apiserver, { port: 6443, probe: true });
  assert.equal(config.clusters[1]!.nodes[0]!.paths.kubernetesDir, "/etc/kubernetes");
});

test("paths.etcdPkiDir: <kubernetesDir>/pki/etcd by default, set at the top level, per cluster and per node", () => {
  const dirs = (text: string) =>
    parseConfig(text, "clusters.yaml").clusters.map((c) => c.nodes.map((n) => n.paths.etcdPkiDir));
  const clusters = [
    "clusters:",
    "  - name: a",
    "    nodes:",
    "      - { host: 10.0.0.1 }",
    "      - { host: 10.0.0.2, paths: { kubernetesDir: /srv/k8s } }",
    "      - { host: 10.0.0.3, paths: { etcdPkiDir: /etc/ssl/etcd/ssl } }",
    "  - name: b",
    "    paths: { etcdPkiDir: /srv/b/etcd }",
    "    nodes:",
    "      - { host: 10.0.1.1, paths: { kubernetesDir: /srv/k8s } }",
    "      - { host: 10.0.1.2, paths: { etcdPkiDir: /srv/node/etcd } }",
    "",
  ].join("\n");
  assert.deepEqual(dirs(clusters), [
    ["/etc/kubernetes/pki/etcd", "/srv/k8s/pki/etcd", "/etc/ssl/etcd/ssl"],
    ["/srv/b/etcd", "/srv/node/etcd"],
  ]);
  assert.deepEqual(dirs(`paths: { etcdPkiDir: /srv/top }\n${clusters}`), [
    ["/srv/top", "/srv/top", "/etc/ssl/etcd/ssl"],
    ["/srv/b/etcd", "/srv/node/etcd"],
  ]);
});

test("paths.etcdPkiDir is validated like the other paths, with file and line", () => {
  assert.deepEqual(
    problems(
      [
        "paths: { etcdPkiDir: etc/ssl/etcd }",
        "clusters:",
        "  - name: a",
        "    paths:",
        '      etcdPkiDir: "/srv/etcd\'; reboot"',
        "    nodes:",
        "      - host: 10.0.0.1",
        "        paths: { etcdPkiDir: /etc/ssl/../ssl }",
        "",
      ].join("\n"),
    ),
    [
      "clusters.yaml:1:22: paths.etcdPkiDir: must be an absolute path",
      "clusters.yaml:5:19: clusters[0].paths.etcdPkiDir: must not contain a single quote",
      "clusters.yaml:8:30: clusters[0].nodes[0].paths.etcdPkiDir: must not contain '..'",
    ],
  );
});

test("role: control-plane by default; etcd and worker nodes are never probed for an apiserver", () => {
  const config = parseConfig(
    [
      "apiserver: { probe: true, port: 16443 }",
      "clusters:",
      "  - name: a",
      "    nodes:",
      "      - { host: 10.0.0.1 }",
      "      - { host: 10.0.0.2, role: control-plane }",
      "      - { host: 10.0.0.3, role: etcd, paths: { etcdPkiDir: /etc/ssl/etcd/ssl } }",
      "      - { host: 10.0.0.4, role: worker }",
      "",
    ].join("\n"),
    "clusters.yaml",
  );
  assert.deepEqual(
    config.clusters[0]!.nodes.map((n) => [n.name, n.role, n.apiserver.probe]),
    [
      ["10.0.0.1", "control-plane", true],
      ["10.0.0.2", "control-plane", true],
      ["10.0.0.3", "etcd", false],
      ["10.0.0.4", "worker", false],
    ],
  );
});

test("role: an unknown role and a cluster-wide role are errors with their line", () => {
  assert.deepEqual(
    problems(
      [
        "clusters:",
        "  - name: a",
        "    role: worker",
        "    nodes:",
        "      - { host: 10.0.0.1, role: master }",
        "",
      ].join("\n"),
    ),
    [
      'clusters.yaml:5:33: clusters[0].nodes[0].role: Invalid option: expected one of "control-plane"|"etcd"|"worker"',
      'clusters.yaml:3:5: clusters[0].role: unknown key "role"',
    ],
  );
});

test("role: a worker's or an etcd node's own apiserver settings are errors (they would be ignored)", () => {
  assert.deepEqual(
    problems(
      [
        "apiserver: { probe: true }",
        "clusters:",
        "  - name: a",
        "    apiserver: { port: 16443 }",
        "    nodes:",
        "      - host: 10.0.0.2",
        "        role: worker",
        "        apiserver: { probe: true }",
        "      - { host: 10.0.0.3, role: etcd, apiserver: { port: 2379 } }",
        "      - { host: 10.0.0.4, role: control-plane, apiserver: { port: 6443 } }",
        "",
      ].join("\n"),
    ),
    [
      "clusters.yaml:8:20: clusters[0].nodes[0].apiserver: a worker node has no apiserver to probe; only control-plane nodes do",
      "clusters.yaml:9:50: clusters[0].nodes[1].apiserver: an etcd node has no apiserver to probe; only control-plane nodes do",
    ],
  );
});

test("the shipped example config is valid", async () => {
  const config = loadConfig("config/clusters.example.yaml");
  assert.ok(config.clusters.length > 0);
});

test("alerts.maxSnoozeDays: 14 by default, set at the top level, overridden per cluster", () => {
  const plain = parseConfig(VALID, "clusters.yaml");
  assert.deepEqual(plain.alerts, { maxSnoozeDays: 14 });
  assert.deepEqual(
    plain.clusters.map((c) => c.alerts),
    [{ maxSnoozeDays: 14 }, { maxSnoozeDays: 14 }],
  );
  const set = parseConfig(
    "alerts: { maxSnoozeDays: 30 }\n" +
      VALID.replace(
        "    channel: C0CLUSTERA\n",
        "    channel: C0CLUSTERA\n    alerts: { maxSnoozeDays: 3 }\n",
      ),
    "clusters.yaml",
  );
  assert.deepEqual(set.alerts, { maxSnoozeDays: 30 });
  assert.deepEqual(
    set.clusters.map((c) => [c.name, c.alerts.maxSnoozeDays]),
    [
      ["cluster-a", 3],
      ["cluster-b", 30],
    ],
  );
});

test("alerts.maxSnoozeDays: bad values name file, line and path, at the top level and per cluster", () => {
  const found = problems(
    "alerts:\n  maxSnoozeDays: 0\n  snoozeDays: 3\n" +
      VALID.replace(
        "    channel: C0CLUSTERA\n",
        "    channel: C0CLUSTERA\n    alerts: { maxSnoozeDays: 1.5 }\n",
      ).replace("  - name: cluster-b\n", "  - name: cluster-b\n    alerts: { maxSnoozeDays: 91 }\n"),
  );
  assert.deepEqual(found, [
    "clusters.yaml:2:18: alerts.maxSnoozeDays: must be at least 1 (days)",
    'clusters.yaml:3:3: alerts.snoozeDays: unknown key "snoozeDays"',
    "clusters.yaml:21:30: clusters[0].alerts.maxSnoozeDays: must be a whole number of days",
    "clusters.yaml:33:30: clusters[1].alerts.maxSnoozeDays: must be at most 90 (days): the alert state that holds a snooze lives 90 days",
  ]);
  assert.match(
    problems('alerts: { maxSnoozeDays: "2w" }\n' + VALID)[0]!,
    /^clusters\.yaml:1:26: alerts\.maxSnoozeDays: Invalid input: expected number, received string$/,
  );
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

const JUMP = `
ssh:
  privateKeyPath: /keys/id
  knownHostsPath: /keys/known_hosts
  jumpHost: { host: bastion.example.com, port: 2222, user: jump }
clusters:
  - name: behind
    nodes:
      - host: 10.0.0.11
      - host: 10.0.0.12
        ssh: { jumpHost: { host: 10.0.0.1, port: 22, user: ops, knownHostsPath: /keys/bastions } }
  - name: direct
    ssh: { jumpHost: null }
    nodes:
      - host: 10.1.0.11
      - host: 10.1.0.12
        ssh: { jumpHost: { host: bastion-b, port: 22, user: jump } }
`;

test("ssh.jumpHost: set at the top level, per cluster and per node; null reaches a cluster directly", () => {
  const [behind, direct] = parseConfig(JUMP, "clusters.yaml").clusters;
  const [b1, b2] = behind!.nodes;
  const [d1, d2] = direct!.nodes;
  assert.deepEqual(b1!.ssh.jumpHost, {
    host: "bastion.example.com",
    port: 2222,
    user: "jump",
    knownHostsPath: "/keys/known_hosts",
  });
  assert.deepEqual(b2!.ssh.jumpHost, {
    host: "10.0.0.1",
    port: 22,
    user: "ops",
    knownHostsPath: "/keys/bastions",
  });
  assert.equal(d1!.ssh.jumpHost, undefined);
  assert.deepEqual(d2!.ssh.jumpHost, {
    host: "bastion-b",
    port: 22,
    user: "jump",
    knownHostsPath: "/keys/known_hosts",
  });
  // The bastion's known_hosts defaults to the node's own, wherever that is set.
  const ownFile = parseConfig(
    JUMP.replace(
      "      - host: 10.0.0.11",
      "      - host: 10.0.0.11\n        ssh: { knownHostsPath: /node/kh }",
    ),
    "clusters.yaml",
  );
  assert.equal(ownFile.clusters[0]!.nodes[0]!.ssh.jumpHost?.knownHostsPath, "/node/kh");
});

test("ssh.jumpHost: host, port and user are required; bad values and unknown keys name file and line", () => {
  const jump = (value: string) =>
    problems(
      JUMP.replace("jumpHost: { host: bastion.example.com, port: 2222, user: jump }", `jumpHost: ${value}`),
    );
  assert.deepEqual(jump("{ host: bastion.example.com }"), [
    "clusters.yaml:5:13: ssh.jumpHost.port: is required",
    "clusters.yaml:5:13: ssh.jumpHost.user: is required",
  ]);
  assert.deepEqual(jump("{ host: b, port: 22, user: j, proxy: x }"), [
    'clusters.yaml:5:43: ssh.jumpHost.proxy: unknown key "proxy"',
  ]);
  assert.deepEqual(jump("{ host: 'b;x', port: 0, user: 'a b' }"), [
    "clusters.yaml:5:21: ssh.jumpHost.host: must be a host name or an IP address",
    "clusters.yaml:5:34: ssh.jumpHost.port: Too small: expected number to be >=1",
    "clusters.yaml:5:43: ssh.jumpHost.user: must be a plain user name",
  ]);
  assert.deepEqual(jump("bastion.example.com"), [
    "clusters.yaml:5:13: ssh.jumpHost: Invalid input: expected object, received string",
  ]);
  const [nodeLevel] = problems(JUMP.replace("user: ops,", "user: ops, knownHostPath: /x,"));
  assert.equal(
    nodeLevel,
    'clusters.yaml:11:65: clusters[0].nodes[1].ssh.jumpHost.knownHostPath: unknown key "knownHostPath"',
  );
});

test("ssh.agent: true or false as set; unset, the agent only when no level names privateKeyPath", () => {
  const agentOf = (text: string) =>
    parseConfig(text, "clusters.yaml").clusters.map((c) => c.nodes[0]!.ssh.agent);
  const twoClusters = (top: string, a: string, b: string) =>
    `ssh: ${top}\nclusters:\n  - name: a\n    ssh: ${a}\n    nodes: [{ host: h1 }]\n` +
    `  - name: b\n    ssh: ${b}\n    nodes: [{ host: h2 }]\n`;
  assert.deepEqual(agentOf(twoClusters("{}", "{}", "{ privateKeyPath: /k }")), ["if-SSH_AUTH_SOCK", false]);
  assert.deepEqual(agentOf(twoClusters("{ privateKeyPath: /k }", "{}", "{ agent: true }")), [false, true]);
  assert.deepEqual(agentOf(twoClusters("{ agent: true }", "{ agent: false }", "{ privateKeyPath: /k }")), [
    false,
    true,
  ]);
  assert.deepEqual(problems(twoClusters('{ agent: "yes" }', "{}", "{}")), [
    "clusters.yaml:1:15: ssh.agent: Invalid input: expected boolean, received string",
  ]);
});

test("a missing required key is named", () => {
  const [problem] = problems(VALID.replace("      - host: master2.example.com\n", "      - name: nohost\n"));
  assert.match(problem!, /clusters\[0\]\.nodes\[1\]\.host: is required/);
});

test("YAML syntax errors name the line", () => {
  const [problem] = problems("clusters:\n  - name: a\n   nodes: [\n");
  assert.match(problem!, /^clusters\.yaml:\d+:\d+: YAML syntax: /);
});

test("an empty file, or one of blank lines and comments, says it is empty", () => {
  for (const text of ["", "\n\n  \n", "# nothing yet\n"])
    assert.deepEqual(problems(text), [
      "clusters.yaml: the file is empty; a config lists at least its `clusters:`",
    ]);
  assert.match(problems("~\n")[0]!, /clusters: is required/, "an explicit null is a document");
});

// --- YAML that is broken, hostile or not text: always a ConfigError with file:line:col ---------

test("an alias bomb (billion laughs) is refused at its first nested alias, without expanding it", () => {
  assert.deepEqual(problems(ALIAS_BOMB), [
    `clusters.yaml:3:8: YAML aliases: aliases expand too often (over ${MAX_ALIAS_COUNT} expansions of one anchor; nested aliases, an alias bomb?)`,
  ]);
});

test("an anchor shared by many clusters is fine; an alias without its anchor names its line", () => {
  const clusters = Array.from(
    { length: 500 },
    (_, i) =>
      `  - { name: c${i}, approvers: ${i === 0 ? "&sre [U0ALICE, S0SRE]" : "*sre"}, ` +
      `ssh: ${i === 0 ? "&ssh { user: certsbot }" : "*ssh"}, nodes: [{ host: 10.0.${i >> 8}.${i & 255} }] }`,
  );
  const many = parseConfig(["clusters:", ...clusters].join("\n"), "clusters.yaml").clusters;
  assert.equal(many.length, 500);
  assert.deepEqual(many[499]!.approvers, ["U0ALICE", "S0SRE"]);
  assert.equal(many[499]!.nodes[0]!.ssh.user, "certsbot");
  assert.deepEqual(
    problems("clusters:\n  - name: a\n    approvers: *sre\n    nodes: [{ host: 10.0.0.1 }]\n"),
    ["clusters.yaml:3:16: YAML aliases: Unresolved alias (the anchor must be set before the alias): sre"],
  );
});

test("duplicate keys name the key and where it repeats, at any depth", () => {
  assert.deepEqual(problems(`timezone: UTC\n${VALID}`), [
    'clusters.yaml:3:1: YAML syntax: duplicate key "timezone" (a key may appear once per mapping)',
  ]);
  assert.deepEqual(
    problems(VALID.replace("    channel: C0CLUSTERA\n", "    channel: C0CLUSTERA\n    name: again\n")),
    ['clusters.yaml:18:5: YAML syntax: duplicate key "name" (a key may appear once per mapping)'],
  );
});

test("bad indentation, tabs and a second document are YAML syntax errors with line and column", () => {
  const cases: [string, RegExp][] = [
    ["clusters:\n  - name: a\n     nodes: []\n", /^clusters\.yaml:2:11: YAML syntax: /],
    ["clusters:\n\t- name: a\n", /^clusters\.yaml:2:1: YAML syntax: Tabs are not allowed as indentation$/],
    [
      `${VALID}---\n${VALID}`,
      /^clusters\.yaml:31:1: YAML syntax: more than one YAML document \(a second `---`\); a config is one$/,
    ],
  ];
  for (const [text, expected] of cases) assert.match(problems(text)[0]!, expected, text.slice(0, 40));
});

test("control characters (binary content) name the line and column of the first", () => {
  assert.deepEqual(problems("clusters:\n  - name: a\u0000b\n"), [
    "clusters.yaml:2:12: control character U+0000; a config is YAML text (is this a binary file?)",
  ]);
  assert.match(problems("timezone: UTC\u007f\n")[0]!, /^clusters\.yaml:1:14: control character U\+007F/);
  assert.equal(parseConfig(`# tab\there, CRLF\r\n${VALID}`, "clusters.yaml").clusters.length, 2);
});

describe("loadConfig: the file itself", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "certs-bot-config-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The problems of loading a file holding `bytes` (or made by `make`). */
  function loadProblems(name: string, make: (path: string) => void): string[] {
    const path = join(dir, name);
    make(path);
    try {
      loadConfig(path);
    } catch (err) {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      return err.problems.map((p) => p.replace(dir, "DIR"));
    }
    assert.fail("expected the config to be rejected");
  }
  const file = (bytes: Buffer | string) => (path: string) => writeFileSync(path, bytes);

  test("not UTF-8: Latin-1, UTF-16, binary and a sequence cut off at the end name line and column", () => {
    assert.deepEqual(
      loadProblems("latin1.yaml", file(Buffer.from("clusters:\n  - name: caf\xe9\n", "latin1"))),
      ["DIR/latin1.yaml:2:14: not UTF-8 text (byte 0xe9); save the config as UTF-8"],
    );
    assert.deepEqual(loadProblems("utf16.yaml", file(Buffer.from("\ufeffclusters: []\n", "utf16le"))), [
      "DIR/utf16.yaml:1:1: not UTF-8 text (byte 0xff; the file looks like UTF-16); save the config as UTF-8",
    ]);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);
    assert.deepEqual(loadProblems("image.yaml", file(png)), [
      "DIR/image.yaml:1:1: not UTF-8 text (byte 0x89); save the config as UTF-8",
    ]);
    assert.deepEqual(
      loadProblems("cut.yaml", file(Buffer.from([...Buffer.from("clusters:\n  - é€"), 0xe2, 0x82]))),
      ["DIR/cut.yaml:2:7: not UTF-8 text (byte 0xe2); save the config as UTF-8"],
    );
  });

  test("UTF-8 with a byte order mark loads", () => {
    const path = join(dir, "bom.yaml");
    writeFileSync(path, `\ufeff${VALID}`);
    assert.equal(loadConfig(path).clusters.length, 2);
  });

  test("an empty file, a directory, a FIFO, a symlink loop and a missing file", () => {
    assert.deepEqual(loadProblems("empty.yaml", file("")), [
      "DIR/empty.yaml: the file is empty; a config lists at least its `clusters:`",
    ]);
    assert.deepEqual(
      loadProblems("dir.yaml", (p) => mkdirSync(p)),
      ["DIR/dir.yaml: is a directory, not a config file"],
    );
    assert.deepEqual(
      loadProblems("fifo.yaml", (p) => execFileSync("mkfifo", [p])),
      ["DIR/fifo.yaml: is not a regular file"],
    );
    assert.match(
      loadProblems("loop.yaml", (p) => symlinkSync(p, p))[0]!,
      /^DIR\/loop\.yaml: cannot be read: ELOOP/,
    );
    assert.deepEqual(
      loadProblems("missing.yaml", () => undefined),
      ["DIR/missing.yaml: file not found"],
    );
  });

  test(
    "a file that cannot be read",
    { skip: process.getuid?.() === 0 && "root reads any file (the CLI test runs it as nobody)" },
    () => {
      assert.deepEqual(
        loadProblems("secret.yaml", (p) => writeFileSync(p, VALID, { mode: 0o000 })),
        ["DIR/secret.yaml: cannot be read: permission denied"],
      );
    },
  );
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

test("Slack access: a direct message may be a viewer, never a channel the bot posts in", () => {
  const text = VALID.replace(
    "    channel: C0CLUSTERA\n",
    "    channel: C0CLUSTERA\n    viewers: [D0ALICEDM]\n",
  );
  assert.deepEqual(parseConfig(text, "clusters.yaml").clusters[0]!.viewers, ["D0ALICEDM"]);
  const dm = "must be a Slack channel id such as C0123ABCD (not a direct message, D…)";
  assert.deepEqual(problems(VALID.replace("    channel: C0CLUSTERA\n", "    channel: D0ALICEDM\n")), [
    `clusters.yaml:17:14: clusters[0].channel: ${dm}`,
  ]);
  assert.deepEqual(problems(VALID.replace("digestChannel: C0DIGEST", "digestChannel: D0ALICEDM")), [
    `clusters.yaml:6:18: slack.digestChannel: ${dm}`,
  ]);
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
    windows: [],
    windowMarginMinutes: 20,
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
    windows: [],
    windowMarginMinutes: 20,
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

const WINDOWS = `
timezone: Europe/Berlin
renewal:
  windowMarginMinutes: 30
  windows:
    - { days: [tue, thu], start: "02:00", duration: 3h }
    - { days: [fri], start: "23:00", duration: 1h30m }
clusters:
  - name: inherits
    nodes: [{ host: h1 }]
  - name: own
    renewal:
      windows:
        - { days: [sun], start: "22:00", duration: 240m }
    nodes: [{ host: h2 }]
  - name: anytime
    renewal: { windows: [], windowMarginMinutes: 5 }
    nodes: [{ host: h3 }]
  - name: margin
    renewal: { windowMarginMinutes: 60 }
    nodes: [{ host: h4 }]
`;

test("renewal windows: minutes in the time zone; a cluster's own list or margin replaces the top level's", () => {
  const config = parseConfig(WINDOWS, "clusters.yaml");
  const top = [
    { days: ["tue", "thu"], startMinute: 120, durationMinutes: 180 },
    { days: ["fri"], startMinute: 1380, durationMinutes: 90 },
  ];
  assert.deepEqual(config.renewal.windows, top);
  assert.equal(config.renewal.windowMarginMinutes, 30);
  const [inherits, own, anytime, margin] = config.clusters;
  assert.deepEqual(inherits!.renewal, { windows: top, windowMarginMinutes: 30, policy: null });
  assert.deepEqual(own!.renewal, {
    windows: [{ days: ["sun"], startMinute: 1320, durationMinutes: 240 }],
    windowMarginMinutes: 30,
    policy: null,
  });
  assert.deepEqual(anytime!.renewal, { windows: [], windowMarginMinutes: 5, policy: null }, "[]: any time");
  assert.deepEqual(margin!.renewal, { windows: top, windowMarginMinutes: 60, policy: null });
  assert.deepEqual(parseConfig(VALID, "clusters.yaml").clusters[0]!.renewal, {
    windows: [],
    windowMarginMinutes: 20,
    policy: null,
  });
});

const POLICY = `
renewal:
  windows:
    - { days: [tue], start: "02:00", duration: 3h }
  policy:
    requestWhenDaysLeft: 30
    preApproved: true
clusters:
  - name: inherits
    nodes: [{ host: h1 }]
  - name: own
    renewal:
      policy: { requestWhenDaysLeft: 21 }
    nodes: [{ host: h2 }]
  - name: none
    renewal:
      policy: {}
    nodes: [{ host: h3 }]
`;

test("renewal.policy: the top level's or a cluster's own, with the line that decides it", () => {
  const config = parseConfig(POLICY, "certs-bot.yaml");
  const [inherits, own, none] = config.clusters;
  assert.deepEqual(inherits!.renewal.policy, {
    requestWhenDaysLeft: 30,
    preApproved: true,
    source: "certs-bot.yaml:7",
  });
  assert.deepEqual(own!.renewal.policy, {
    requestWhenDaysLeft: 21,
    preApproved: false,
    source: "certs-bot.yaml:13",
  });
  assert.equal(none!.renewal.policy, null, "policy: {} turns it off for that cluster");
  assert.equal(parseConfig(VALID, "clusters.yaml").clusters[0]!.renewal.policy, null, "off by default");
});

test("renewal.policy: bad values and preApproved without windows name file, line and path", () => {
  const cluster = "clusters:\n  - name: a\n    nodes: [{ host: h1 }]\n";
  assert.deepEqual(
    problems("renewal:\n  policy:\n    requestWhenDaysLeft: 30\n    preApproved: true\n" + cluster),
    [
      "clusters.yaml:4:18: renewal.policy.preApproved: needs maintenance windows: a pre-approved run waits " +
        "for one, and cluster a has none (set renewal.windows)",
    ],
  );
  assert.deepEqual(problems("renewal:\n  policy: { preApproved: true }\n" + cluster), [
    "clusters.yaml:2:26: renewal.policy.preApproved: needs requestWhenDaysLeft: only requests certs-bot " +
      "files itself are pre-approved",
  ]);
  const own = problems(
    "clusters:\n  - name: a\n    renewal:\n      policy:\n        requestWhenDaysLeft: 0\n" +
      "        preApproved: yes\n        when: 3\n    nodes: [{ host: h1 }]\n",
  );
  assert.equal(own.length, 3, own.join("\n"));
  assert.match(
    own[0]!,
    /^clusters\.yaml:5:\d+: clusters\[0\]\.renewal\.policy\.requestWhenDaysLeft: Too small/,
  );
  assert.match(own[1]!, /^clusters\.yaml:6:\d+: clusters\[0\]\.renewal\.policy\.preApproved: /);
  assert.match(own[2]!, /^clusters\.yaml:7:\d+: clusters\[0\]\.renewal\.policy\.when: unknown key "when"/);
  const unwindowed = problems(
    "clusters:\n  - name: b\n    renewal: { policy: { requestWhenDaysLeft: 10, preApproved: true } }\n" +
      "    nodes: [{ host: h2 }]\n",
  );
  assert.match(
    unwindowed.join("\n"),
    /^clusters\.yaml:3:\d+: clusters\[0\]\.renewal\.policy\.preApproved: needs maintenance windows[^\n]*$/,
  );
  // A cluster with its own windows may be pre-approved while the top level has none.
  const windowed = parseConfig(
    "clusters:\n  - name: a\n    renewal:\n      windows: [{ days: [sat], start: '01:00', duration: 2h }]\n" +
      "      policy: { requestWhenDaysLeft: 10, preApproved: true }\n    nodes: [{ host: h1 }]\n",
    "c.yaml",
  );
  assert.equal(windowed.clusters[0]!.renewal.policy?.source, "c.yaml:5");
});

test("renewal windows: bad days, times and lengths name file, line and path", () => {
  const found = problems(
    "renewal:\n  windows:\n" +
      '    - { days: [Tue, monday, mon-fri, xyz], start: "2:00", duration: 3h }\n' +
      '    - { days: [], start: "24:00", duration: 0m }\n' +
      '    - { days: [sat], start: "01:00", duration: -1h }\n' +
      '    - { days: [sun], start: "01:00", duration: 25h, until: "04:00" }\n' +
      VALID,
  );
  assert.deepEqual(found, [
    'clusters.yaml:3:16: renewal.windows[0].days[0]: unknown day "Tue": days are mon, tue, wed, thu, fri, sat, sun; did you mean "tue"?',
    'clusters.yaml:3:21: renewal.windows[0].days[1]: unknown day "monday": days are mon, tue, wed, thu, fri, sat, sun; did you mean "mon"?',
    'clusters.yaml:3:29: renewal.windows[0].days[2]: unknown day "mon-fri": days are mon, tue, wed, thu, fri, sat, sun; list each day, such as [mon, tue, wed, thu, fri]',
    'clusters.yaml:3:38: renewal.windows[0].days[3]: unknown day "xyz": days are mon, tue, wed, thu, fri, sat, sun',
    'clusters.yaml:3:51: renewal.windows[0].start: must be a 24-hour time "HH:MM" such as "02:00" (00:00 to 23:59)',
    "clusters.yaml:4:15: renewal.windows[1].days: list at least one day, such as [sat, sun]",
    'clusters.yaml:4:26: renewal.windows[1].start: must be a 24-hour time "HH:MM" such as "02:00" (00:00 to 23:59)',
    "clusters.yaml:4:45: renewal.windows[1].duration: must be longer than zero",
    'clusters.yaml:5:48: renewal.windows[2].duration: must be a length such as "3h", "90m" or "1h30m"',
    "clusters.yaml:6:48: renewal.windows[3].duration: must be at most 24h (list more days for a longer window)",
    'clusters.yaml:6:53: renewal.windows[3].until: unknown key "until"',
  ]);
});

test("renewal windows: overlaps are refused, across midnight and from Sunday into Monday", () => {
  const found = problems(
    "renewal:\n  windows:\n" +
      '    - { days: [fri], start: "23:00", duration: 3h }\n' +
      '    - { days: [sat], start: "01:00", duration: 1h }\n' +
      '    - { days: [sun], start: "23:00", duration: 2h }\n' +
      '    - { days: [mon], start: "00:30", duration: 1h }\n' +
      '    - { days: [wed, wed], start: "00:30", duration: 1h }\n' +
      '    - { days: [thu], start: "02:00", duration: 1h }\n' +
      VALID.replace(
        "    channel: C0CLUSTERA\n",
        "    channel: C0CLUSTERA\n    renewal:\n      windows:\n" +
          '        - { days: [tue], start: "02:00", duration: 2h }\n' +
          '        - { days: [tue], start: "03:00", duration: 2h }\n',
      ),
  );
  assert.deepEqual(found, [
    "clusters.yaml:4:16: renewal.windows[1].days[0]: sat 01:00 overlaps windows[0] (fri 23:00 for 180m)",
    "clusters.yaml:6:16: renewal.windows[3].days[0]: mon 00:30 overlaps windows[2] (sun 23:00 for 120m)",
    'clusters.yaml:7:21: renewal.windows[4].days[1]: "wed" is listed twice',
    "clusters.yaml:29:20: clusters[0].renewal.windows[1].days[0]: tue 03:00 overlaps windows[0] (tue 02:00 for 120m)",
  ]);
  // Windows that touch are allowed: they are one longer window.
  const touching = parseConfig(
    'renewal:\n  windows:\n    - { days: [sat, sun], start: "00:00", duration: 24h }\n' + VALID,
    "clusters.yaml",
  );
  assert.equal(touching.renewal.windows.length, 1);
});

test("renewal windows: the margin must be shorter than every window it applies to", () => {
  const top = problems(
    'renewal:\n  windowMarginMinutes: 60\n  windows:\n    - { days: [fri], start: "23:00", duration: 1h }\n' +
      VALID,
  );
  assert.deepEqual(top, [
    "clusters.yaml:4:48: renewal.windows[0].duration: is 60m, not longer than windowMarginMinutes (60): no node could ever start in it",
  ]);
  const cluster = problems(
    'renewal:\n  windows:\n    - { days: [fri], start: "23:00", duration: 30m }\n' +
      VALID.replace(
        "    channel: C0CLUSTERA\n",
        "    channel: C0CLUSTERA\n    renewal: { windowMarginMinutes: 30 }\n",
      ),
  );
  assert.deepEqual(cluster, [
    "clusters.yaml:21:37: clusters[0].renewal.windowMarginMinutes: must be smaller than every window this cluster uses: renewal.windows[0] is 30m, so no node could ever start in it",
  ]);
  assert.match(
    problems("renewal: { windowMarginMinutes: -1 }\n" + VALID)[0]!,
    /renewal\.windowMarginMinutes: Too small/,
  );
});

test("renewal.refreshKubeconfigs: none by default; a node's own list, else its cluster's, else the top level's", () => {
  assert.ok(
    parseConfig(VALID, "clusters.yaml").clusters.every((c) =>
      c.nodes.every((n) => n.refreshKubeconfigs.length === 0),
    ),
  );
  const config = parseConfig(
    [
      'renewal: { refreshKubeconfigs: ["/root/.kube/config"] }',
      "clusters:",
      "  - name: a",
      "    nodes:",
      "      - { host: h1 }",
      '      - { host: h2, renewal: { refreshKubeconfigs: ["/home/ops/.kube/config"] } }',
      "      - { host: h3, renewal: { refreshKubeconfigs: [] } }",
      "  - name: b",
      '    renewal: { refreshKubeconfigs: ["/srv/admin.conf"] }',
      "    nodes: [{ host: h4 }]",
      "",
    ].join("\n"),
    "clusters.yaml",
  );
  assert.deepEqual(
    config.clusters.flatMap((c) => c.nodes.map((n) => [n.name, n.refreshKubeconfigs])),
    [
      ["h1", ["/root/.kube/config"]],
      ["h2", ["/home/ops/.kube/config"]],
      ["h3", []],
      ["h4", ["/srv/admin.conf"]],
    ],
  );
  assert.equal("refreshKubeconfigs" in config.renewal, false, "resolved per node only");
});

test("renewal.refreshKubeconfigs: bad paths, a file twice and kubeadm's own files name file, line and path", () => {
  const found = problems(
    [
      'renewal: { refreshKubeconfigs: [root/.kube/config, "/a/../b", "/x/it\'s", "/root/.kube/config", "/root/.kube/config"] }',
      "clusters:",
      "  - name: a",
      "    nodes:",
      '      - { host: h1, renewal: { refreshKubeconfigs: ["/etc/kubernetes/admin.conf"] } }',
      '      - { host: h2, paths: { kubernetesDir: /srv/k8s }, renewal: { refreshKubeconfigs: ["/etc/kubernetes/admin.conf", "/srv/k8s/x.conf"] } }',
      "",
    ].join("\n"),
  );
  assert.deepEqual(found, [
    "clusters.yaml:1:33: renewal.refreshKubeconfigs[0]: must be an absolute path",
    "clusters.yaml:1:52: renewal.refreshKubeconfigs[1]: must not contain '..'",
    "clusters.yaml:1:63: renewal.refreshKubeconfigs[2]: must not contain a single quote",
    "clusters.yaml:1:96: renewal.refreshKubeconfigs[4]: lists /root/.kube/config twice (also [3])",
    "clusters.yaml:5:53: clusters[0].nodes[0].renewal.refreshKubeconfigs[0]: is inside the kubernetesDir " +
      "/etc/kubernetes: kubeadm's own files are renewed and backed up by the renewal itself",
    "clusters.yaml:6:119: clusters[0].nodes[1].renewal.refreshKubeconfigs[1]: is inside the kubernetesDir " +
      "/srv/k8s: kubeadm's own files are renewed and backed up by the renewal itself",
  ]);
});

test("findCluster: any of 500 clusters by name, none for a name not configured, and one added by hand later", () => {
  const text = [
    "clusters:",
    ...Array.from({ length: 500 }, (_, i) => [
      `  - name: c-${i}`,
      `    channel: C0CHANNEL`,
      "    nodes:",
      `      - { host: 10.0.${i >> 8}.${i & 255}, name: n-${i} }`,
    ]).flat(),
    "",
  ].join("\n");
  const config = parseConfig(text, "clusters.yaml");
  assert.equal(findCluster(config, "c-0")?.nodes[0]?.name, "n-0");
  assert.equal(findCluster(config, "c-499")?.nodes[0]?.name, "n-499");
  assert.equal(findCluster(config, "c-500"), undefined);
  assert.equal(findCluster(config, "C-1"), undefined, "names are matched exactly");
  config.clusters.push({ ...config.clusters[0]!, name: "late" });
  assert.equal(findCluster(config, "late")?.name, "late", "a config built by hand and grown since");
});
