// The map of the house: which module of src/ may import which. `npm run lint` runs `depcruise src`,
// which fails on any rule below and prints its comment (docs/architecture.md, "Direction").
//
// Layers, bottom to top. A module imports its own layer and the layers below, never one above; the
// one allowance is that the core may name the runner's types (never call it).
//
//   main      service.ts, cli.ts: wire everything together
//   adapters  store/ (Redis), queue/ (BullMQ), slack/ (Bolt, Web API), transport/ (SSH, local,
//             TLS probe), console/ (the terminal), scan/scan.ts (scans nodes over transports)
//   runner    renew/desk.ts, run.ts, job.ts, executor.ts: drive the core through ports
//             (renew/ports.ts, and the Transport interface in transport/transport.ts)
//   core      pure: kubeadm/, certs/, report/, scan/judge.ts + script.ts, notify/, access/,
//             renew/ (plan, render, approval, run-state, thread, ports, steps/), chat/,
//             console/text.ts
//   config    config/: the schema, the resolved config's types and its loader
//
// Within and across layers, folders import in one direction too (no-circular-folders), so a folder
// that holds two layers (scan/, renew/, console/) still has one place in the order.
// eslint's purity rule (eslint.config.js) keeps I/O modules and packages out of the same core list.

const config = "^src/config/";
const configLoader = "^src/config/load\\.ts$";
const core = [
  "^src/(kubeadm|certs|report|notify|access|chat)/",
  "^src/scan/(judge|script)\\.ts$",
  "^src/renew/(plan|render|approval|run-state|thread|ports)\\.ts$",
  "^src/renew/steps/",
  "^src/console/text\\.ts$",
];
const runner = "^src/renew/(desk|run|job|executor)\\.ts$";
const adapters = ["^src/(store|queue|slack|transport)/", "^src/console/", "^src/scan/scan\\.ts$"];
const main = "^src/(service|cli)\\.ts$";
const mapped = [config, ...core, runner, ...adapters, main];
// The Transport port: an interface and its error class, no imports, next to its implementations.
const transportPort = "^src/transport/transport\\.ts$";

/** @type {import("dependency-cruiser").IConfiguration} */
export default {
  forbidden: [
    {
      name: "no-circular",
      comment: "A module never reaches itself through its imports.",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "no-circular-folders",
      comment: "No folder of src/ reaches itself through another: folders import in one direction.",
      severity: "error",
      scope: "folder",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "module-on-the-map",
      comment: "Every module of src/ belongs to a layer above: place a new folder or file there first.",
      severity: "error",
      from: { path: "^src/", pathNot: mapped },
      to: {},
    },
    {
      name: "import-on-the-map",
      comment: "Every module of src/ belongs to a layer above: place a new folder or file there first.",
      severity: "error",
      from: {},
      to: { path: "^src/", pathNot: mapped },
    },
    {
      name: "config-imports-config",
      comment: "config/ is the floor: it imports nothing else of src/.",
      severity: "error",
      from: { path: config },
      to: { path: "^src/", pathNot: config },
    },
    {
      name: "core-imports-no-edge",
      comment:
        "The core imports nothing of the adapters or main, not even a type: what it needs of an edge " +
        "is a port declared in the core (renew/ports.ts, chat/backend.ts) that the edge implements.",
      severity: "error",
      from: { path: core },
      to: { path: [...adapters, main], pathNot: core },
    },
    {
      name: "core-calls-no-runner",
      comment:
        "The core may name the runner's types (the executor's progress events, the desk's outcomes), " +
        "never call it.",
      severity: "error",
      from: { path: core },
      to: { path: runner, dependencyTypesNot: ["type-only"] },
    },
    {
      name: "core-reads-no-config-file",
      comment: "The core takes the resolved config's types from config/load.ts; reading the file is main's.",
      severity: "error",
      from: { path: core },
      to: { path: configLoader, dependencyTypesNot: ["type-only"] },
    },
    {
      name: "runner-through-ports",
      comment:
        "The runner reaches Redis, Slack, BullMQ and the nodes only through ports: renew/ports.ts, " +
        "and the Transport interface in transport/transport.ts.",
      severity: "error",
      from: { path: runner },
      to: { path: [...adapters, main], pathNot: transportPort },
    },
    {
      name: "adapters-below-main",
      comment: "Only main wires: no adapter imports service.ts or cli.ts.",
      severity: "error",
      from: { path: adapters, pathNot: core },
      to: { path: main },
    },
  ],
  options: {
    // Type-only imports count: a type imported upward is a dependency in the wrong direction too.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
  },
};
