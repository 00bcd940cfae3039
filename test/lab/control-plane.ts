// The lab control plane of one lab node: the lab kubeadm (the renew commands of the node's kubeadm
// version, re-issuing with the node's CA via openssl), crictl, docker and systemctl stubs, a lab
// kubelet that syncs static pods with etc/kubernetes/manifests/, and a lab apiserver: a separate
// TLS server process on the node's address and port that serves the apiserver.crt it loaded at
// start until it is restarted the way a restart strategy restarts it. The tools are POSIX sh +
// openssl in test/lab/bin/, installed in the node's binDir; all state is under <root>/lab/ (see
// test/lab/bin/lab-common.sh), so a command run over SSH or locally sees the same node.
//
// The runtime stubs select the way crictl and docker do (regular expressions on names, exact labels,
// namespaces), and the lab can run other pods beside the control plane (DECOY_WORKLOADS: names a
// loose match on a component's name would also hit), so a test can prove a restart stopped exactly
// the control plane. The lab's PATH never reaches a real crictl or docker (LAB_SYSTEM_PATH), so a
// tool removed from a node (removeTool) is really missing there.
import { spawn } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:https";
import { delimiter, dirname, join } from "node:path";
import { connect } from "node:tls";
import { fileURLToPath } from "node:url";
import type { LabNode } from "./tree.js";
import { until } from "./wait.js";

const SOURCE_BIN = join(dirname(fileURLToPath(import.meta.url)), "bin");
const TOOLS = [
  "lab-common.sh",
  "kubeadm",
  "crictl",
  "docker",
  "systemctl",
  "df",
  "lab-kubelet.mjs",
  "lab-apiserver.mjs",
] as const;

export const CONTROL_PLANE_COMPONENTS = [
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "etcd",
] as const;

/** The lab's stubs of a node's tools. */
export type LabTool = "kubeadm" | "crictl" | "docker" | "systemctl" | "df";

/**
 * Failure injection, as files under <root>/lab/fail/ (each can be switched on and off mid-run):
 * - `renew`: kubeadm's renew and phase commands fail and change nothing;
 * - `renew-partial`: kubeadm writes the first certificate or kubeconfig of its command (of
 *   `renew all`: the first it finds), then fails: a renewal that stopped half way;
 * - `no-restart`: once stopped, the apiserver does not come back (the kubelet never starts it);
 * - `no-stop`: nothing stops: the kubelet ignores removed manifests (their containers keep running),
 *   and `crictl rmp`/`stopp` and `docker stop` report success but stop nothing;
 * - `hang-<tool>`: that tool hangs (sleeps a day);
 * - `exit-<tool>`: that tool exits 1 with the error it gives when what it talks to is down (crictl:
 *   the CRI socket refuses; docker: no daemon; systemctl: no bus);
 *   with a pattern, both only when the tool's arguments contain it (e.g. `hang-kubeadm` + "renew"
 *   leaves `kubeadm version` working; `exit-crictl` + "ps" fails `crictl ps` but not `crictl rmp`);
 * - `no-space`: `df` shows every file system full (0 KiB available).
 * A missing tool is not a switch: see `removeTool`.
 */
export type FailSwitch =
  "renew" | "renew-partial" | "no-restart" | "no-stop" | "no-space" | `hang-${LabTool}` | `exit-${LabTool}`;

/** A pod the lab runtime runs beside the static pods, until something stops it (no manifest). */
export interface LabWorkload {
  pod: string;
  namespace: string;
  container: string;
  labels?: Record<string, string>;
}

/**
 * Pods a loose selection of the control plane also hits: `crictl pods --name kube-scheduler`
 * (a regular expression on pod names), `crictl ps --name '^etcd$'` (on container names, in every
 * namespace) and `docker ps --filter name=k8s_etcd_` (k8s_etcd_etcd-backup_backup_…).
 */
export const DECOY_WORKLOADS: readonly LabWorkload[] = [
  { pod: "etcd-backup", namespace: "backup", container: "etcd", labels: { app: "etcd-backup" } },
  {
    pod: "kube-scheduler-extender",
    namespace: "kube-system",
    container: "kube-scheduler-extender",
    labels: { component: "kube-scheduler-extender", tier: "control-plane" },
  },
];

/** The tools the lab stubs that a machine may also have installed for real (this one has a docker CLI). */
const RUNTIME_TOOLS = ["crictl", "docker"] as const;

/**
 * The system part of every lab node's PATH: this process's PATH without the directories that hold
 * a real crictl or docker, so a node only ever finds the lab's (or none, once removed).
 */
export const LAB_SYSTEM_PATH = (process.env.PATH ?? "/usr/bin:/bin")
  .split(delimiter)
  .filter((dir) => dir !== "" && RUNTIME_TOOLS.every((tool) => !existsSync(join(dir, tool))))
  .join(delimiter);

export interface ControlPlaneSpec {
  /** A tree from writeLabNode; its bin/kubeadm stub is replaced by the lab kubeadm. */
  tree: LabNode;
  nodeName: string;
  /** Loopback only. */
  address: string;
  port: number;
  /** `kubeadm version -o short`, e.g. "v1.28.4". */
  version: string;
  /** Static pods; default the control plane, plus etcd when the tree has pki/etcd/. */
  components?: string[];
}

export interface ShResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command was killed (with its process group) after `timeoutMs`. */
  timedOut: boolean;
}

export interface ServedCert {
  fingerprint256: string;
  cert: X509Certificate;
}

export interface LabControlPlane {
  root: string;
  binDir: string;
  labDir: string;
  address: string;
  port: number;
  version: string;
  components: string[];
  /** Environment whose PATH finds the lab tools first. */
  env: NodeJS.ProcessEnv;
  /** Run one shell command line (e.g. a plan step's `line`) on the node, with the lab tools. */
  sh(line: string, opts?: { timeoutMs?: number }): Promise<ShResult>;
  fail(which: FailSwitch, on?: boolean, pattern?: string): void;
  /** Take a runtime tool off the node (then `crictl …` is "not found", exit 127); throws if one is still found. */
  removeTool(tool: (typeof RUNTIME_TOOLS)[number]): Promise<void>;
  /** Put a removed tool back. */
  installTool(tool: (typeof RUNTIME_TOOLS)[number]): void;
  /** Start a pod beside the control plane (new ids); it runs until crictl or docker stops it. */
  runWorkload(workload: LabWorkload): void;
  /** The workload's full id (pod, container and uid) while it runs, else null. */
  workloadId(workload: Pick<LabWorkload, "pod" | "namespace">): string | null;
  running(component: string): boolean;
  apiserverPid(): number | null;
  /** The certificate served on address:port now, or null when nothing answers. */
  served(): Promise<ServedCert | null>;
  /** Whether `path` (/readyz, /healthz) answers 200 "ok". */
  healthy(path?: string): Promise<boolean>;
  /** Wait until the apiserver answers /readyz and serves the certificate with this fingerprint. */
  waitServing(fingerprint256: string, timeoutMs?: number): Promise<void>;
  /** Wait until none of these components runs. */
  waitStopped(components?: readonly string[], timeoutMs?: number): Promise<void>;
  /** Stop the lab kubelet and the apiserver (idempotent). */
  stop(): Promise<void>;
}

const started = new Set<LabControlPlane>();

/** Stop every control plane this process started (for `after`). */
export async function stopAllControlPlanes(): Promise<void> {
  await Promise.all([...started].map((cp) => cp.stop()));
}

export const fingerprintOf = (pem: string | Buffer): string => new X509Certificate(pem).fingerprint256;

const read = (path: string): string => {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
};

function alive(pid: number | null): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // Reaped between the two checks (no stat) or a zombie not yet reaped: gone either way.
  const stat = read(`/proc/${pid}/stat`);
  return stat !== "" && !/^\d+ \(.*\) Z/.test(stat);
}

function manifest(component: string): string {
  return [
    "apiVersion: v1",
    "kind: Pod",
    "metadata:",
    `  name: ${component}`,
    "  namespace: kube-system",
    "spec:",
    "  containers:",
    `  - name: ${component}`,
    "    image: lab",
    "  hostNetwork: true",
    "",
  ].join("\n");
}

/** A workload's name in lab/run/ (namespaces and pod names cannot hold "_"). */
const workloadKey = (w: Pick<LabWorkload, "pod" | "namespace">): string => `${w.namespace}_${w.pod}`;

function shIn(env: NodeJS.ProcessEnv, line: string, timeoutMs = 60_000): Promise<ShResult> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout also kills what the line started (a hanging stub).
    const child = spawn("/bin/sh", ["-c", line], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** Install the lab tools in the tree's binDir, write manifests, start the kubelet and wait for /readyz. */
export async function startControlPlane(spec: ControlPlaneSpec): Promise<LabControlPlane> {
  if (!/^127\.\d+\.\d+\.\d+$|^::1$/.test(spec.address))
    throw new Error(`lab: control plane address ${spec.address} is not loopback`);
  if (!/^v?1\.\d+\.\d+[\w.+-]*$/.test(spec.version)) throw new Error(`lab: bad version ${spec.version}`);
  const { root, binDir, kubernetesDir } = spec.tree;
  const labDir = join(root, "lab");
  rmSync(labDir, { recursive: true, force: true });
  for (const dir of ["run", "fail", "log"]) mkdirSync(join(labDir, dir), { recursive: true });
  for (const tool of TOOLS) copyFileSync(join(SOURCE_BIN, tool), join(binDir, tool));
  const components =
    spec.components ??
    CONTROL_PLANE_COMPONENTS.filter((c) => c !== "etcd" || existsSync(join(kubernetesDir, "pki/etcd")));
  const facts: Record<string, string> = {
    version: spec.version,
    address: spec.address,
    port: String(spec.port),
    "node-name": spec.nodeName,
    node: process.execPath,
    components: components.join("\n"),
  };
  for (const [name, value] of Object.entries(facts)) writeFileSync(join(labDir, name), `${value}\n`);
  mkdirSync(join(kubernetesDir, "manifests"), { recursive: true });
  for (const c of components) writeFileSync(join(kubernetesDir, "manifests", `${c}.yaml`), manifest(c));

  const env = { ...process.env, PATH: `${binDir}${delimiter}${LAB_SYSTEM_PATH}` };
  const run = join(labDir, "run");
  const pidOf = (name: string): number | null => Number(read(join(run, `${name}.pid`))) || null;
  const host = spec.address.includes(":") ? `[${spec.address}]` : spec.address;

  const served = (): Promise<ServedCert | null> =>
    new Promise((resolve) => {
      const socket = connect({ host: spec.address, port: spec.port, rejectUnauthorized: false }, () => {
        const cert = socket.getPeerX509Certificate();
        socket.destroy();
        resolve(cert ? { fingerprint256: cert.fingerprint256, cert } : null);
      });
      socket.setTimeout(2_000, () => {
        socket.destroy();
        resolve(null);
      });
      socket.on("error", () => resolve(null));
    });

  const healthy = (path = "/readyz"): Promise<boolean> =>
    new Promise((resolve) => {
      const req = request(
        { host: spec.address, port: spec.port, path, rejectUnauthorized: false, timeout: 2_000 },
        (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => resolve(res.statusCode === 200 && body === "ok"));
        },
      );
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve(false));
      req.end();
    });

  const running = (component: string): boolean =>
    read(join(run, `${component}.id`)) !== "" &&
    (component !== "kube-apiserver" || alive(pidOf("kube-apiserver")));

  const cp: LabControlPlane = {
    root,
    binDir,
    labDir,
    address: spec.address,
    port: spec.port,
    version: spec.version,
    components,
    env,
    sh: (line, opts) => shIn(env, line, opts?.timeoutMs),
    fail(which, on = true, pattern = "") {
      const file = join(labDir, "fail", which);
      if (on) writeFileSync(file, pattern);
      else rmSync(file, { force: true });
    },
    async removeTool(tool) {
      rmSync(join(binDir, tool), { force: true });
      const found = await cp.sh(`command -v ${tool}`);
      if (found.code === 0)
        throw new Error(
          `lab: ${tool} removed from ${binDir}, yet the node still finds ${found.stdout.trim()}`,
        );
    },
    installTool(tool) {
      copyFileSync(join(SOURCE_BIN, tool), join(binDir, tool));
    },
    runWorkload(w) {
      const name = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
      for (const part of [w.pod, w.namespace, w.container])
        if (!name.test(part)) throw new Error(`lab: workload name ${part} is not a DNS label`);
      const labels = Object.entries(w.labels ?? {}).map(([k, v]) => `${k}=${v}`);
      if (labels.some((l) => /[\s,]/.test(l))) throw new Error(`lab: workload labels ${labels.join()}`);
      const key = workloadKey(w);
      if (
        !read(join(labDir, "workloads"))
          .split("\n")
          .some((l) => l.startsWith(`${key} `))
      )
        appendFileSync(
          join(labDir, "workloads"),
          `${key} ${w.pod} ${w.namespace} ${w.container} ${labels.join(",") || "-"}\n`,
        );
      writeFileSync(join(run, `${key}.id`), `${randomBytes(32).toString("hex")}\n`);
    },
    workloadId: (w) => read(join(run, `${workloadKey(w)}.id`)) || null,
    running,
    apiserverPid: () => (alive(pidOf("kube-apiserver")) ? pidOf("kube-apiserver") : null),
    served,
    healthy,
    async waitServing(fingerprint256, timeoutMs = 15_000) {
      await until(
        `https://${host}:${spec.port} to serve ${fingerprint256.slice(0, 17)}…`,
        async () => (await healthy()) && (await served())?.fingerprint256 === fingerprint256,
        timeoutMs,
      );
    },
    async waitStopped(which = components, timeoutMs = 10_000) {
      await until(`${which.join(", ")} to stop`, async () => which.every((c) => !running(c)), timeoutMs);
    },
    async stop() {
      started.delete(cp);
      for (const name of ["kubelet", "kube-apiserver"]) {
        const pid = pidOf(name);
        if (!alive(pid)) continue;
        process.kill(pid!, "SIGTERM");
        await until(`${name} (${pid}) to exit`, async () => !alive(pid), 5_000).catch(() => {
          if (alive(pid)) process.kill(pid!, "SIGKILL");
        });
      }
    },
  };
  started.add(cp);
  const start = await cp.sh("systemctl start kubelet", { timeoutMs: 10_000 });
  if (start.code !== 0) throw new Error(`lab: kubelet did not start: ${start.stderr}`);
  await cp.waitServing(fingerprintOf(readFileSync(join(kubernetesDir, "pki/apiserver.crt"))));
  return cp;
}
