// One lint config for the whole repo: typescript-eslint's recommended rules, plus the house rule
// that the pure core never imports an edge (see docs/architecture.md).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const edges = [
  "**/transport/**",
  "**/store/**",
  "**/queue/**",
  "**/http/**",
  "ssh2",
  "ioredis",
  "bullmq",
  "@slack/*",
  "node:child_process",
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
    files: [
      "src/kubeadm/**",
      "src/certs/**",
      "src/report/**",
      "src/notify/**",
      "src/chat/**",
      "src/access/**",
      "src/console/text.ts",
      "src/renew/plan.ts",
      "src/renew/render.ts",
      "src/renew/approval.ts",
      "src/renew/run-state.ts",
      "src/renew/thread.ts",
      "src/renew/steps/**",
      "src/scan/judge.ts",
      "src/scan/script.ts",
    ],
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
