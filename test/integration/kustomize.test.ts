// The Kubernetes manifests (deploy/kubernetes/) as `kubectl kustomize` renders them: the base and
// the example overlay. Every object is validated against the Kubernetes OpenAPI schemas
// (kubernetes-models) and the ServiceMonitor against the prometheus-operator CRD schema
// (@kubernetes-models/prometheus-operator); unknown fields, which those schemas allow, are caught
// by TypeScript against the same packages' interfaces. Then what the manifests say must agree with
// the code and the image: env names, ports, probes, the config path, the non-root user and the SSH
// paths of the mounted clusters.yaml.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { parseAllDocuments } from "yaml";
import { Deployment, type IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { ConfigMap, type IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service, type IService } from "kubernetes-models/v1/Service";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import {
  ServiceMonitor,
  type IServiceMonitor,
} from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { DEFAULT_PORT } from "../../src/adapters/slack/app.js";
import { parseConfig } from "../../src/config/load.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BASE = "deploy/kubernetes/base";
const OVERLAY = "deploy/kubernetes/overlays/example";

/** METRICS_PORT's default: the /metrics, /healthz and /readyz listener of serve and worker. */
const METRICS_PORT = 9464;
/** uid of `node` in the node:*-bookworm-slim images, the Dockerfile's USER. */
const NODE_UID = 1000;

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}

/**
 * Each kind the manifests may contain: the model whose validate() applies its schema, and the module
 * of its interface for the unknown-field check (the schemas allow unknown fields; TypeScript's
 * excess-property check on an object literal does not).
 */
const MODELS: Record<string, { model: new (data: never) => { validate(): void }; module: string }> = {
  "apps/v1/Deployment": { model: Deployment, module: "kubernetes-models/apps/v1/Deployment" },
  "v1/ConfigMap": { model: ConfigMap, module: "kubernetes-models/v1/ConfigMap" },
  "v1/Namespace": { model: Namespace, module: "kubernetes-models/v1/Namespace" },
  "v1/Service": { model: Service, module: "kubernetes-models/v1/Service" },
  "monitoring.coreos.com/v1/ServiceMonitor": {
    model: ServiceMonitor,
    module: "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor",
  },
};

/** Type errors of `const x: I<Kind> = <object>` for each object: a misspelt or unknown field is one. */
function unknownFields(objs: KubeObject[]): string[] {
  const file = path.join(root, "test/integration/rendered-manifests.ts");
  const text = objs
    .map(
      (o, i) => `import type { I${o.kind} as T${i} } from "${MODELS[`${o.apiVersion}/${o.kind}`]?.module}";
export const o${i}: T${i} = ${JSON.stringify(o)};`,
    )
    .join("\n");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, text, language) : getSourceFile(name, language, ...rest);
  host.fileExists = (name) => name === file || fileExists(name);
  host.readFile = (name) => (name === file ? text : readFile(name));
  return ts.getPreEmitDiagnostics(ts.createProgram([file], options, host)).map((d) => {
    const index = Number(
      /^(?:import type .* as T|export const o)(\d+)/.exec(
        d.file?.text.split("\n")[d.file.getLineAndCharacterOfPosition(d.start ?? 0).line] ?? "",
      )?.[1],
    );
    const obj = objs[Math.floor(index)];
    return `${obj?.kind} ${obj?.metadata.name}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
  });
}

function render(dir: string): KubeObject[] {
  const out = execFileSync("kubectl", ["kustomize", path.join(root, dir)], { encoding: "utf8" });
  return parseAllDocuments(out).map((doc) => {
    assert.deepEqual(doc.errors, [], `${dir}: kustomize output is not YAML`);
    return doc.toJS() as KubeObject;
  });
}

/** Like the root-only tests, these are skipped, saying so, where kubectl is missing. */
const skip = spawnSync("kubectl", ["version", "--client"]).status === 0 ? false : "kubectl is not installed";
const rendered = skip ? { base: [], overlay: [] } : { base: render(BASE), overlay: render(OVERLAY) };

function objects<T>(objs: KubeObject[], kind: string): (T & KubeObject)[] {
  return objs.filter((o) => o.kind === kind) as (T & KubeObject)[];
}

function deployment(objs: KubeObject[], role: "serve" | "worker"): IDeployment {
  const found = objects<IDeployment>(objs, "Deployment").find((d) => d.metadata.name === `certs-bot-${role}`);
  assert.ok(found, `no certs-bot-${role} Deployment`);
  return found;
}

function podSpec(d: IDeployment): IPodSpec {
  const spec = d.spec?.template.spec;
  assert.ok(spec);
  return spec;
}

function container(d: IDeployment): IContainer {
  const containers = podSpec(d).containers;
  assert.equal(containers.length, 1, `${d.metadata?.name}: one container`);
  return containers[0]!;
}

/** A probe's port as a number: named ports are looked up in the container. */
function portNumber(c: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port !== "string") return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** Every identifier of the form SOME_NAME that src/ mentions (where the code reads its env). */
function srcWords(): Set<string> {
  const words = new Set<string>();
  const files = readdirSync(path.join(root, "src"), { recursive: true, encoding: "utf8" });
  for (const file of files.filter((f) => f.endsWith(".ts"))) {
    for (const word of readFileSync(path.join(root, "src", file), "utf8").match(/\b[A-Z][A-Z0-9_]+\b/g) ??
      []) {
      words.add(word);
    }
  }
  return words;
}

/** The image's ENV CERTS_BOT_CONFIG and USER, read from the Dockerfile. */
function imageSettings(): { configPath: string; user: string } {
  const dockerfile = readFileSync(path.join(root, "Dockerfile"), "utf8");
  const configPath = /CERTS_BOT_CONFIG=(\S+)/.exec(dockerfile)?.[1];
  const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(configPath, "the Dockerfile sets CERTS_BOT_CONFIG");
  assert.equal(users.length, 1, "the Dockerfile has one USER");
  return { configPath, user: users[0]! };
}

for (const [name, objs] of Object.entries(rendered)) {
  test(`${name}: every object is valid against its Kubernetes (or CRD) schema`, { skip }, () => {
    assert.ok(objs.length > 0);
    for (const obj of objs) {
      const kind = MODELS[`${obj.apiVersion}/${obj.kind}`];
      assert.ok(kind, `${obj.kind} ${obj.metadata.name}: no schema for ${obj.apiVersion}`);
      assert.doesNotThrow(() => new kind.model(obj as never).validate(), `${obj.kind} ${obj.metadata.name}`);
    }
    assert.deepEqual(unknownFields(objs), []);
  });

  test(
    `${name}: serve is one replica, replaced (Recreate) so two never overlap; workers scale`,
    { skip },
    () => {
      const serve = deployment(objs, "serve");
      assert.equal(serve.spec?.replicas, 1);
      assert.equal(serve.spec?.strategy?.type, "Recreate");
      assert.deepEqual(container(serve).args, ["serve"]);
      assert.deepEqual(container(deployment(objs, "worker")).args, ["worker"]);
    },
  );

  test(`${name}: ports, probes and env names match the code`, { skip }, () => {
    const words = srcWords();
    for (const role of ["serve", "worker"] as const) {
      const c = container(deployment(objs, role));
      const where = `${role}: `;
      assert.equal(portNumber(c, "metrics"), METRICS_PORT, `${where}container port metrics`);
      assert.equal(c.livenessProbe?.httpGet?.path, "/healthz", where);
      assert.equal(portNumber(c, c.livenessProbe?.httpGet?.port), METRICS_PORT, where);
      assert.equal(c.readinessProbe?.httpGet?.path, "/readyz", where);
      assert.equal(portNumber(c, c.readinessProbe?.httpGet?.port), METRICS_PORT, where);
      const env = new Map((c.env ?? []).map((e) => [e.name, e]));
      assert.equal(env.get("METRICS_PORT")?.value, String(METRICS_PORT), where);
      for (const e of c.env ?? []) {
        // METRICS_PORT is the metrics listener's, asserted above.
        if (e.name !== "METRICS_PORT") assert.ok(words.has(e.name), `${where}src/ never reads ${e.name}`);
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) assert.equal(ref.key, e.name, `${where}the Secret key is named after the variable`);
      }
      assert.equal(env.get("SLACK_BOT_TOKEN")?.valueFrom?.secretKeyRef?.optional, undefined, where);
      assert.ok(env.get("REDIS_URL")?.valueFrom?.secretKeyRef, `${where}REDIS_URL comes from a Secret`);
      assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory, `${where}requests`);
      assert.ok(c.resources?.limits?.memory, `${where}memory limit`);
    }
    const serve = container(deployment(objs, "serve"));
    const env = new Map((serve.env ?? []).map((e) => [e.name, e]));
    assert.equal(portNumber(serve, "http"), DEFAULT_PORT);
    assert.equal(env.get("PORT")?.value, String(DEFAULT_PORT));
    for (const name of ["SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"]) {
      assert.equal(
        env.get(name)?.valueFrom?.secretKeyRef?.optional,
        true,
        `${name}: one of the two, or neither`,
      );
    }
  });

  test(`${name}: the Services expose http on serve and metrics on both, by port name`, { skip }, () => {
    const services = objects<IService>(objs, "Service");
    const byName = new Map(services.map((s) => [s.metadata.name, s]));
    const ports = (s: IService | undefined): Record<string, unknown> =>
      Object.fromEntries((s?.spec?.ports ?? []).map((p) => [p.name, [p.port, p.targetPort]]));
    assert.deepEqual(ports(byName.get("certs-bot")), {
      http: [DEFAULT_PORT, "http"],
      metrics: [METRICS_PORT, "metrics"],
    });
    assert.deepEqual(ports(byName.get("certs-bot-worker")), { metrics: [METRICS_PORT, "metrics"] });
    for (const [service, role] of [
      ["certs-bot", "serve"],
      ["certs-bot-worker", "worker"],
    ] as const) {
      const labels = deployment(objs, role).spec?.template.metadata?.labels ?? {};
      const selector = Object.entries(byName.get(service)?.spec?.selector ?? {});
      assert.ok(selector.length > 0);
      for (const [key, value] of selector) assert.equal(labels[key], value, `${service} selects ${role}`);
    }
  });

  test(
    `${name}: pods run restricted, as the image's non-root user, with a writable /tmp only`,
    { skip },
    () => {
      const { user } = imageSettings();
      assert.equal(user, "node");
      for (const role of ["serve", "worker"] as const) {
        const spec = podSpec(deployment(objs, role));
        const c = container(deployment(objs, role));
        assert.equal(spec.securityContext?.runAsNonRoot, true);
        assert.equal(spec.securityContext?.runAsUser, NODE_UID);
        assert.equal(spec.securityContext?.seccompProfile?.type, "RuntimeDefault");
        assert.equal(spec.automountServiceAccountToken, false);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"]);
        assert.equal(c.securityContext?.privileged ?? false, false);
        const writable = (c.volumeMounts ?? []).filter((m) => !m.readOnly);
        assert.deepEqual(
          writable.map((m) => m.mountPath),
          ["/tmp"],
        );
        const tmp = spec.volumes?.find((v) => v.name === writable[0]?.name);
        assert.ok(tmp?.emptyDir, "/tmp is an emptyDir");
      }
    },
  );

  test(
    `${name}: clusters.yaml is mounted where CERTS_BOT_CONFIG points, its SSH paths on the Secret`,
    { skip },
    () => {
      const { configPath } = imageSettings();
      for (const role of ["serve", "worker"] as const) {
        const spec = podSpec(deployment(objs, role));
        const c = container(deployment(objs, role));
        assert.equal(c.env?.find((e) => e.name === "CERTS_BOT_CONFIG")?.value, configPath);
        const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === path.dirname(configPath));
        assert.ok(mount, `${role}: nothing mounted at ${path.dirname(configPath)}`);
        const volume = spec.volumes?.find((v) => v.name === mount.name);
        const configMap = objects<IConfigMap>(objs, "ConfigMap").find(
          (m) => m.metadata.name === volume?.configMap?.name,
        );
        const text = configMap?.data?.[path.basename(configPath)];
        assert.ok(text, `${role}: the mounted ConfigMap has no ${path.basename(configPath)}`);
        const config = parseConfig(text, configPath);

        // Every node's key and known_hosts are files of the mounted SSH Secret.
        const secretFiles = new Set<string>();
        for (const m of c.volumeMounts ?? []) {
          const secret = spec.volumes?.find((v) => v.name === m.name)?.secret;
          if (!secret) continue;
          assert.equal(m.readOnly, true, `${role}: Secret ${secret.secretName} is mounted read-only`);
          for (const item of secret.items ?? []) secretFiles.add(path.join(m.mountPath, item.path));
        }
        const nodes = config.clusters.flatMap((cluster) => cluster.nodes);
        assert.ok(nodes.length > 0);
        for (const node of nodes) {
          assert.ok(secretFiles.has(node.ssh.privateKeyPath), `${node.name}: ${node.ssh.privateKeyPath}`);
          assert.ok(secretFiles.has(node.ssh.knownHostsPath), `${node.name}: ${node.ssh.knownHostsPath}`);
        }
      }
    },
  );

  test(
    `${name}: Secrets are referenced, never shipped, and the README names each one and its keys`,
    { skip },
    () => {
      assert.deepEqual(objects(objs, "Secret"), []);
      const readme = readFileSync(path.join(root, "README.md"), "utf8");
      const refs = new Map<string, Set<string>>();
      const add = (secret: string, key: string): void => {
        refs.set(secret, (refs.get(secret) ?? new Set()).add(key));
      };
      for (const role of ["serve", "worker"] as const) {
        const d = deployment(objs, role);
        for (const e of container(d).env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref?.name) add(ref.name, ref.key);
        }
        for (const v of podSpec(d).volumes ?? []) {
          for (const item of v.secret?.items ?? []) add(v.secret?.secretName ?? "", item.key);
        }
      }
      assert.deepEqual([...refs.keys()].sort(), ["certs-bot-redis", "certs-bot-slack", "certs-bot-ssh"]);
      for (const [secret, keys] of refs) {
        assert.ok(readme.includes(secret), `README does not name Secret ${secret}`);
        for (const key of keys)
          assert.ok(readme.includes(key), `README does not name ${secret}'s key ${key}`);
      }
    },
  );
}

test("overlay: image tag, one namespace for all, its clusters.yaml, and the ServiceMonitor", { skip }, () => {
  const objs = rendered.overlay;
  const namespaces = objects(objs, "Namespace");
  assert.equal(namespaces.length, 1);
  const namespace = namespaces[0]!.metadata.name;
  for (const obj of objs.filter((o) => o.kind !== "Namespace")) {
    assert.equal(obj.metadata.namespace, namespace, `${obj.kind} ${obj.metadata.name}`);
  }
  for (const role of ["serve", "worker"] as const) {
    const image = container(deployment(objs, role)).image ?? "";
    assert.match(image, /^[^:]+\/certs-bot:\d+\.\d+\.\d+$/, `${role}: a pinned tag`);
  }
  const config = (objs: KubeObject[]): string | undefined =>
    objects<IConfigMap>(objs, "ConfigMap")[0]?.data?.["clusters.yaml"];
  assert.notEqual(config(objs), config(rendered.base), "the overlay's clusters.yaml replaces the base's");
  assert.equal(objects(objs, "ConfigMap").length, 1);

  const monitors = objects<IServiceMonitor>(objs, "ServiceMonitor");
  assert.equal(monitors.length, 1);
  const monitor = monitors[0]!;
  const match = Object.entries(monitor.spec.selector.matchLabels ?? {});
  assert.ok(match.length > 0);
  const scraped = objects<IService>(objs, "Service").filter((s) =>
    match.every(([key, value]) => s.metadata.labels?.[key] === value),
  );
  assert.deepEqual(scraped.map((s) => s.metadata.name).sort(), ["certs-bot", "certs-bot-worker"]);
  assert.deepEqual(
    monitor.spec.endpoints?.map((e) => [e.port, e.path]),
    [["metrics", "/metrics"]],
  );
  for (const s of scraped)
    assert.ok(
      s.spec?.ports?.some((p) => p.name === "metrics"),
      s.metadata.name,
    );
});

test("base: no ServiceMonitor unless an overlay enables the component", { skip }, () => {
  assert.deepEqual(objects(rendered.base, "ServiceMonitor"), []);
});
