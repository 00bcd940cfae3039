// The map of the house: which module of src/ may import which. `npm run lint` runs `depcruise src`,
// which fails on any rule below and prints its comment (docs/architecture.md, "Layers").
//
// Each folder of src/ is one layer. Bottom to top; a module imports its own layer and the layers
// below, never one above, not even a type:
//
//   config/    the schema, the resolved config's types and its loader, Slack id rules
//   core/      the pure domain: kubeadm catalogue and versions, certificates, reports, the judge,
//              access rules, the alert state machine, renewal plans, approval, run state, steps,
//              and every port (the interfaces the edges implement) with its data types
//   present/   what people read: Block Kit types and limits, times and durations, action ids,
//              every view (Slack, terminal, CLI tables)
//   app/       use cases over the ports: the scan (with its alerts), digest and renewal jobs, the
//              command router, the button table, the renewal desk, run and executor
//   adapters/  the edges: store/ (Redis), queue/ (BullMQ), slack/ (Bolt, Web API), nodes/ (SSH,
//              local, TLS probe, the scan over transports), console/ (the terminal), http/ (/metrics,
//              /healthz, /readyz)
//   main       src/cli.ts and src/service.ts: wire everything together
//
// Within a layer, folders import in one direction too (no-circular-folders).
// eslint's purity rule (eslint.config.js) keeps I/O modules and packages out of core/ and present/.

const layers = [
  { name: "config", path: "^src/config/" },
  { name: "core", path: "^src/core/" },
  { name: "present", path: "^src/present/" },
  { name: "app", path: "^src/app/" },
  { name: "adapters", path: "^src/adapters/" },
  { name: "main", path: "^src/(cli|service)\\.ts$" },
];
const mapped = layers.map((layer) => layer.path);

/** Each layer may not import any layer above it. */
const upward = layers.slice(0, -1).map((layer, index) => ({
  name: `${layer.name}-imports-nothing-above`,
  comment:
    `${layer.name} imports only its own layer and those below it (` +
    `${layers
      .slice(0, index + 1)
      .map((below) => below.name)
      .join(", ")}): what it needs from above is a port in core/ that the upper layer implements.`,
  severity: "error",
  from: { path: layer.path },
  to: { path: layers.slice(index + 1).map((above) => above.path) },
}));

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
    ...upward,
    {
      name: "core-reads-no-config-file",
      comment: "The core takes the resolved config's types from config/load.ts; reading the file is main's.",
      severity: "error",
      from: { path: ["^src/core/", "^src/present/"] },
      to: { path: "^src/config/load\\.ts$", dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    // Type-only imports count: a type imported upward is a dependency in the wrong direction too.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
  },
};
