// One lint config for the whole repo: typescript-eslint's recommended rules, plus the house rule
// that the pure core never imports an edge (see docs/architecture.md).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const edges = [
  "**/adapters/**",
  "**/app/**",
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
  {
    files: ["src/core/**", "src/present/**"],
    // typescript-eslint's variant, so a type-only import (a record's shape) stays allowed.
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: edges.map((group) => ({
            group: [group],
            message: "the pure core imports no I/O",
            allowTypeImports: true,
          })),
        },
      ],
    },
  },
);
