// A config that cannot be used, through the real CLI as a child process: whatever the file holds
// (an alias bomb, broken YAML, bytes that are not UTF-8 text, nothing) or is (a directory, a file
// the user may not read), `certs-bot scan` prints one config error naming file:line:col where there
// is one, exits 3 like every config error, and prints no stack trace and nothing on stdout.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ALIAS_BOMB } from "../fixtures/alias-bomb.js";

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "certs-bot-config-cli-"));
  chmodSync(dir, 0o755); // the unreadable case runs the CLI as another user, who must reach the file
});

after(() => rmSync(dir, { recursive: true, force: true }));

const NODE = "nodes: [{ host: 10.0.0.1 }]";

interface Case {
  name: string;
  make(path: string): void;
  /** What stderr says after `certs-bot: `, with the file's path as FILE. */
  says: RegExp;
  /** Run as another user (root reads every file). */
  asOther?: boolean;
}

const CASES: Case[] = [
  {
    name: "bomb.yaml",
    make: (p) => writeFileSync(p, ALIAS_BOMB),
    says: /^FILE:3:8: YAML aliases: aliases expand too often/m,
  },
  {
    name: "duplicate.yaml",
    make: (p) => writeFileSync(p, `clusters:\n  - name: a\n    name: b\n    ${NODE}\n`),
    says: /^FILE:3:5: YAML syntax: duplicate key "name"/m,
  },
  {
    name: "indent.yaml",
    make: (p) => writeFileSync(p, `clusters:\n  - name: a\n     ${NODE}\n`),
    says: /^FILE:2:11: YAML syntax: /m,
  },
  {
    name: "tabs.yaml",
    make: (p) => writeFileSync(p, `clusters:\n\t- name: a\n`),
    says: /^FILE:2:1: YAML syntax: Tabs are not allowed as indentation/m,
  },
  {
    name: "latin1.yaml",
    make: (p) => writeFileSync(p, Buffer.from(`clusters:\n  - name: caf\xe9\n    ${NODE}\n`, "latin1")),
    says: /^FILE:2:14: not UTF-8 text \(byte 0xe9\)/m,
  },
  {
    name: "binary.yaml",
    make: (p) => writeFileSync(p, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0])),
    says: /^FILE:1:1: control character U\+007F; a config is YAML text \(is this a binary file\?\)/m,
  },
  { name: "empty.yaml", make: (p) => writeFileSync(p, ""), says: /^FILE: the file is empty/m },
  { name: "directory.yaml", make: (p) => mkdirSync(p), says: /^FILE: is a directory, not a config file/m },
  {
    name: "unreadable.yaml",
    make: (p) => writeFileSync(p, `clusters:\n  - name: a\n    ${NODE}\n`, { mode: 0o600 }),
    says: /^FILE: cannot be read: permission denied/m,
    asOther: true,
  },
];

function scan(
  config: string,
  asOther: boolean,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const isRoot = process.getuid?.() === 0;
  if (asOther && !isRoot) chmodSync(config, 0o000);
  const user = asOther && isRoot ? { uid: 65534, gid: 65534 } : {};
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", "scan", "--config", config],
      { ...user, env: { ...process.env, LOG_LEVEL: "debug" } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

test("certs-bot scan: every unusable config is one config error with file:line, exit 3, no stack trace", async () => {
  for (const { name, make, says, asOther = false } of CASES) {
    const path = join(dir, name);
    make(path);
    const { code, stdout, stderr } = await scan(path, asOther);
    assert.equal(code, 3, `${name}: exit code\n${stderr}`);
    assert.equal(stdout, "", `${name}: nothing on stdout`);
    assert.ok(stderr.startsWith(`certs-bot: ${path}: invalid configuration\n  - `), `${name}:\n${stderr}`);
    assert.match(stderr.replaceAll(`${path}`, "FILE").replace(/^ {2}- /gm, ""), says, name);
    assert.doesNotMatch(stderr, /^\s+at /m, `${name}: no stack trace`);
    assert.doesNotMatch(stderr, /unexpected failure|"stack"|Error:/, `${name}: not an unexpected failure`);
    for (const line of stderr.trimEnd().split("\n").slice(1))
      assert.ok(line.startsWith(`  - ${path}`), `${name}: a problem a line, each naming the file: ${line}`);
  }
});
