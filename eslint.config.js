// One lint config for the whole repo: typescript-eslint's recommended rules, plus the house rules
// (docs/architecture.md, "Layers"): core/ and present/ are pure, and app/ reaches the world only
// through ports, so none of them imports an I/O package or an I/O module of Node.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const io = [
  "ssh2",
  "ioredis",
  "bullmq",
  "@slack/*",
  "node:child_process",
  "node:http",
  "node:https",
  "node:net",
  "node:tls",
  "node:fs",
  "node:fs/promises",
];

/** typescript-eslint's variant, so a type-only import (a record's shape, pino's Logger) stays allowed. */
const noImports = (files, groups, message) => ({
  files,
  rules: {
    "@typescript-eslint/no-restricted-imports": [
      "error",
      { patterns: groups.map((group) => ({ group: [group], message, allowTypeImports: true })) },
    ],
  },
});

export default tseslint.config(
  { ignores: ["dist/", "node_modules/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["src/**"],
    // A function that does not fit on a screen hides its steps: split it into named ones.
    rules: { "max-lines-per-function": ["error", { max: 80, IIFEs: true }] },
  },
  noImports(
    ["src/core/**", "src/present/**"],
    [...io, "**/adapters/**", "**/app/**"],
    "the pure core imports no I/O",
  ),
  noImports(["src/app/**"], [...io, "**/adapters/**"], "a use case reaches I/O through a port"),
);
