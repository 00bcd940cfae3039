// What each command of the real CLI loads, read from Node's module resolution: a resolve hook in
// the child process appends every URL it resolves to a file. `--help`, `scan --help` and `scan`
// must not load Bolt, BullMQ or ioredis (a monitoring plugin runs `scan` every few minutes and
// would pay for them at each start); the service commands load them, which also shows the hook
// sees what it is looking for. Errors thrown by modules loaded on demand still exit 3 in one line.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const HOOK = `
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.CERTS_BOT_MODULE_LOG, result.url + "\\n");
  return result;
}`;
const REGISTER = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)});`;

const HEAVY = ["@slack/bolt", "@slack/web-api", "bullmq", "ioredis"];
/** What the scan itself needs: YAML and the schema to read the config, ssh2 to reach the nodes. */
const SCAN = ["yaml", "zod", "ssh2"];

let dir: string;
let config: string;
let runs = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "certs-bot-cli-loading-"));
  config = join(dir, "clusters.yaml");
  writeFileSync(config, "clusters:\n  - name: lab-a\n    nodes: [{ host: 127.0.0.1 }]\n");
});

after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The packages from node_modules the process resolved, by name. */
  packages: Set<string>;
}

function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  const log = join(dir, `modules-${++runs}.log`);
  writeFileSync(log, "");
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        "--import",
        "tsx",
        "--import",
        `data:text/javascript,${encodeURIComponent(REGISTER)}`,
        "src/cli.ts",
        ...args,
      ],
      { env: { ...process.env, ...env, CERTS_BOT_MODULE_LOG: log } },
      (err, stdout, stderr) => {
        const packages = new Set(
          [...readFileSync(log, "utf8").matchAll(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map(
            (m) => m[1]!,
          ),
        );
        resolve({
          code: err ? (typeof err.code === "number" ? err.code : null) : 0,
          stdout,
          stderr,
          packages,
        });
      },
    );
  });
}

const loaded = (run: Run, names: string[]) => names.filter((name) => run.packages.has(name));

test("--version prints package.json's version and loads neither the service nor the scan", async () => {
  const run = await cli({}, "--version");
  assert.equal(run.code, 0, run.stderr);
  const { version } = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")) as {
    version: string;
  };
  assert.equal(run.stdout, `${version}\n`);
  assert.deepEqual(loaded(run, [...HEAVY, ...SCAN]), []);
});

test("--help and scan --help load commander, and neither the service nor the scan", async () => {
  for (const args of [["--help"], ["scan", "--help"]]) {
    const run = await cli({}, ...args);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Usage: certs-bot /);
    assert.ok(
      run.packages.has("commander"),
      `${args.join(" ")}: the hook saw ${[...run.packages].join(", ")}`,
    );
    assert.deepEqual(loaded(run, [...HEAVY, ...SCAN]), [], args.join(" "));
  }
});

test("scan loads what it reads the config and the nodes with, not Bolt, BullMQ or ioredis", async () => {
  const run = await cli({}, "scan", "--config", config, "--cluster", "prod");
  assert.equal(run.stderr, 'certs-bot: unknown cluster "prod" (configured: lab-a)\n');
  assert.equal(run.code, 3);
  assert.deepEqual(loaded(run, SCAN), SCAN);
  assert.deepEqual(loaded(run, HEAVY), []);
});

test("a config error from the config module loaded on demand still exits 3 in one line", async () => {
  const run = await cli({}, "scan", "--config", join(dir, "missing.yaml"));
  assert.equal(run.code, 3);
  assert.equal(run.stdout, "");
  assert.match(
    run.stderr,
    /^certs-bot: \S+missing\.yaml: invalid configuration\n {2}- \S+: file not found\n$/,
  );
  assert.deepEqual(loaded(run, HEAVY), []);
});

test("worker loads the service (Bolt, BullMQ, ioredis), and their settings errors still exit 3 in one line", async () => {
  const run = await cli(
    { SLACK_BOT_TOKEN: "xoxb-test", REDIS_URL: "http://127.0.0.1:6379" },
    "worker",
    "--config",
    config,
  );
  assert.equal(
    run.stderr,
    "certs-bot: REDIS_URL must start with redis:// or rediss:// (TLS), not http:// (http://127.0.0.1:6379/)\n",
  );
  assert.equal(run.code, 3);
  assert.deepEqual(loaded(run, HEAVY), HEAVY);
});

test("serve's Slack settings error, from Bolt's module loaded on demand, still exits 3 in one line", async () => {
  const env = { SLACK_BOT_TOKEN: "xoxb-test", SLACK_SIGNING_SECRET: "secret", PORT: "99999" };
  const run = await cli(env, "serve", "--config", config);
  assert.equal(
    run.stderr,
    'certs-bot: PORT must be a TCP port (1-65535) for the Slack HTTP mode, not "99999"\n',
  );
  assert.equal(run.code, 3);
});
