// Packaging checks that need no Docker engine: the Dockerfile is linted with dockerfile-utils and
// parsed with dockerfile-ast, docker-compose.yml is validated against the official Compose
// Specification JSON schema (the copy shipped in the `dclint` package) with Ajv, and the places that
// name the build output (tsconfig.build.json, package.json `bin`, the image's ENTRYPOINT) must agree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { DockerfileParser, ModifiableInstruction, type Instruction } from "dockerfile-ast";
import { validate as lintDockerfile, ValidationSeverity, type ValidatorSettings } from "dockerfile-utils";
import ts from "typescript";
import { parseDocument } from "yaml";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const repoPath = (...parts: string[]): string => path.join(root, ...parts);
const readRepoFile = (rel: string): string => readFileSync(repoPath(rel), "utf8");

// ---------------------------------------------------------------------------------------------
// Dockerfile helpers

/** LSP DiagnosticSeverity.Error: the severity dockerfile-utils gives to real errors. */
const DIAGNOSTIC_ERROR = 1;

/** Defaults, except that mistakes which silently change what the image runs become errors. */
const lintSettings: ValidatorSettings = {
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.WARNING,
  deprecatedMaintainer: ValidationSeverity.WARNING,
};

type Diagnostic = ReturnType<typeof lintDockerfile>[number];

function lint(content: string): { errors: Diagnostic[]; others: Diagnostic[] } {
  const diagnostics = lintDockerfile(content, lintSettings);
  return {
    errors: diagnostics.filter((d) => d.severity === DIAGNOSTIC_ERROR),
    others: diagnostics.filter((d) => d.severity !== DIAGNOSTIC_ERROR),
  };
}

/** Diagnostic messages are plain strings or LSP MarkupContent, depending on the types' version. */
const messageText = (d: Diagnostic): string => (typeof d.message === "string" ? d.message : d.message.value);

function formatDiagnostics(file: string, diagnostics: Diagnostic[]): string {
  return diagnostics
    .map((d) => {
      const { line, character } = d.range.start;
      return `  ${file}:${line + 1}:${character + 1} severity=${d.severity} code=${String(d.code)} ${messageText(d)}`;
    })
    .join("\n");
}

/**
 * The words of an instruction's arguments, flags excluded. Exec (JSON) form is decoded with
 * JSON.parse, as Docker does, because dockerfile-ast drops whitespace inside JSON strings.
 */
function instructionWords(instruction: Instruction): { execForm: boolean; words: string[] } {
  const content = instruction.getArgumentsContent() ?? "";
  const bracket = content.indexOf("[");
  if (bracket !== -1) {
    try {
      const parsed: unknown = JSON.parse(content.slice(bracket));
      if (Array.isArray(parsed) && parsed.every((w) => typeof w === "string")) {
        return { execForm: true, words: parsed };
      }
    } catch {
      // not exec form (e.g. a `[a-z]` glob): fall through to shell-form words
    }
  }
  return { execForm: false, words: instruction.getArguments().map((a) => a.getValue()) };
}

function flagValue(instruction: Instruction, name: string): string | null | undefined {
  if (!(instruction instanceof ModifiableInstruction)) return undefined;
  const flag = instruction.getFlags().find((f) => f.getName() === name);
  return flag ? flag.getValue() : undefined;
}

const line = (instruction: Instruction): number => instruction.getRange().start.line;

function parseDockerfile() {
  const dockerfile = DockerfileParser.parse(readRepoFile("Dockerfile"));
  const instructions = dockerfile.getInstructions();
  const froms = dockerfile.getFROMs();
  const lastFrom = froms.at(-1);
  assert.ok(lastFrom, "Dockerfile has no FROM");
  const finalStage = instructions.filter((i) => line(i) > line(lastFrom));
  return { instructions, froms, finalStage };
}

/** The container's working directory when `at` runs, following WORKDIRs of the same stage. */
function workdirAt(stage: Instruction[], at: Instruction): string {
  let dir = "/";
  for (const instruction of stage) {
    if (line(instruction) >= line(at)) break;
    if (instruction.getKeyword() === "WORKDIR") {
      const target = instruction.getArguments()[0]?.getValue();
      if (target) dir = path.posix.resolve(dir, target);
    }
  }
  return dir;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|\\]/g, "\\$&")
    .replace(/\*/g, "[^/]*")
    .replace(/\?/g, "[^/]");
  return new RegExp(`^${escaped}$`);
}

/** Does a COPY/ADD source exist in the build context (the repo root)? Simple globs are expanded. */
function sourceExists(source: string): boolean {
  const resolved = path.resolve(root, source);
  if (!/[*?[]/.test(source)) return existsSync(resolved);
  const dir = path.dirname(resolved);
  if (/[*?[]/.test(path.relative(root, dir)) || !existsSync(dir)) return false;
  const pattern = globToRegExp(path.basename(resolved));
  return readdirSync(dir).some((entry) => pattern.test(entry));
}

// ---------------------------------------------------------------------------------------------
// Compose helpers

const requireFromHere = createRequire(import.meta.url);

/**
 * The official compose-spec schema (compose-spec/compose-go's compose_spec.json) as shipped by
 * dclint. `dclint`'s package exports do not expose the file, so it is found next to its package.json.
 */
function loadComposeSchema(): Record<string, unknown> {
  const dclintDir = path.dirname(requireFromHere.resolve("dclint/package.json"));
  const schema = JSON.parse(
    readFileSync(path.join(dclintDir, "schemas/compose.schema.json"), "utf8"),
  ) as Record<string, unknown>;
  // The file names the draft as https://json-schema.org/draft-07/schema, a spelling Ajv does not
  // register; the default Ajv class *is* draft-07, so check the draft and drop the reference.
  const { $schema, ...rest } = schema;
  assert.match(
    String($schema),
    /draft-07/,
    "compose schema moved to another JSON Schema draft: pick the Ajv class",
  );
  return rest;
}

let composeValidator: ValidateFunction | undefined;
function validateCompose(data: unknown): ErrorObject[] {
  if (!composeValidator) {
    // strictTypes off: upstream's schema uses union types and a `oneOf` without `type: object`,
    // which are valid JSON Schema that Ajv's strict mode only warns about. strictSchema stays on.
    const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strictTypes: false });
    composeValidator = ajv.compile(loadComposeSchema());
  }
  return composeValidator(data) ? [] : [...(composeValidator.errors ?? [])];
}

function formatAjvErrors(errors: ErrorObject[]): string {
  return errors
    .map((e) => `  ${e.instancePath || "/"}: ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`)
    .join("\n");
}

function loadCompose(): Record<string, unknown> {
  // merge: compose's YAML parser accepts `<<` merge keys; duplicate keys stay errors.
  const doc = parseDocument(readRepoFile("docker-compose.yml"), { merge: true });
  assert.deepEqual(
    [...doc.errors, ...doc.warnings].map((e) => e.message),
    [],
    "docker-compose.yml is not clean YAML",
  );
  const data: unknown = doc.toJS();
  assert.ok(data && typeof data === "object" && !Array.isArray(data), "docker-compose.yml is not a mapping");
  return data as Record<string, unknown>;
}

type Service = {
  build?: unknown;
  volumes?: unknown;
  command?: unknown;
  environment?: Record<string, unknown>;
  depends_on?: unknown;
  healthcheck?: { test?: unknown };
  read_only?: unknown;
  tmpfs?: unknown;
};

function services(compose: Record<string, unknown>): [string, Service][] {
  return Object.entries((compose.services ?? {}) as Record<string, Service>);
}

/** Host paths of bind mounts (short `./src:/dst[:mode]` syntax and long `type: bind` syntax). */
function bindSources(compose: Record<string, unknown>): { service: string; source: string }[] {
  const found: { service: string; source: string }[] = [];
  for (const [name, service] of services(compose)) {
    for (const volume of (service.volumes ?? []) as unknown[]) {
      if (typeof volume === "string") {
        const source = volume.split(":")[0] ?? "";
        if (/^(\.{1,2}(\/|$)|\/|~)/.test(source)) found.push({ service: name, source });
      } else if (volume && typeof volume === "object") {
        const long = volume as { type?: unknown; source?: unknown };
        if (long.type === "bind" && typeof long.source === "string") {
          found.push({ service: name, source: long.source });
        }
      }
    }
  }
  return found;
}

/** Is the path tracked by git (i.e. shipped by the repo)? undefined where git cannot tell. */
function gitTracked(rel: string): boolean | undefined {
  try {
    return execFileSync("git", ["ls-files", "-z", "--", rel], { cwd: root, encoding: "utf8" }).length > 0;
  } catch {
    return undefined;
  }
}

/** Would git ignore the path? Asked as a file and as a directory: a `secrets/` rule matches only the latter. */
function gitIgnored(rel: string): boolean | undefined {
  try {
    execFileSync("git", ["check-ignore", "--no-index", "--", rel, `${rel}/`], { cwd: root, stdio: "ignore" });
    return true;
  } catch (error) {
    return (error as { status?: number }).status === 1 ? false : undefined;
  }
}

/** Bind sources the repo does not ship: the user creates them (config, SSH key, known_hosts). */
function userProvidedBindSources(): string[] {
  const relSources = bindSources(loadCompose())
    .map(({ source }) => path.relative(root, path.resolve(root, source)))
    .filter((rel) => !rel.startsWith(".."));
  return [...new Set(relSources)].filter((rel) => !(gitTracked(rel) ?? existsSync(repoPath(rel))));
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

test("Dockerfile: dockerfile-utils reports no errors", (t) => {
  const { errors, others } = lint(readRepoFile("Dockerfile"));
  if (others.length > 0) t.diagnostic(`non-error diagnostics:\n${formatDiagnostics("Dockerfile", others)}`);
  assert.equal(errors.length, 0, `Dockerfile has errors:\n${formatDiagnostics("Dockerfile", errors)}`);
});

test("Dockerfile linter bites: an unknown instruction and a one-argument COPY are errors", () => {
  const unknown = lint("FRUM node:20\n").errors;
  assert.ok(
    unknown.some((d) => /Unknown instruction: FRUM/.test(messageText(d))),
    `expected an 'Unknown instruction' error, got:\n${formatDiagnostics("<broken>", unknown)}`,
  );
  const badCopy = lint("FROM node:20\nCOPY only-one-arg\n").errors;
  assert.ok(badCopy.length > 0, "a COPY with one argument should be an error");
  const twoEntrypoints = lint('FROM node:20\nENTRYPOINT ["a"]\nENTRYPOINT ["b"]\n').errors;
  assert.ok(twoEntrypoints.length > 0, "two ENTRYPOINTs in one stage should be an error with these settings");
});

test("Dockerfile: every local COPY/ADD source exists in the build context", () => {
  const { instructions } = parseDockerfile();
  const checked: string[] = [];
  const missing: string[] = [];
  for (const instruction of instructions) {
    const keyword = instruction.getKeyword();
    if (keyword !== "COPY" && keyword !== "ADD") continue;
    if (flagValue(instruction, "from") !== undefined) continue; // from another stage or image
    const { words } = instructionWords(instruction);
    if (/<</.test(instruction.getArgumentsContent() ?? "")) continue; // heredoc: inline content
    for (const source of words.slice(0, -1)) {
      if (keyword === "ADD" && /^([a-z]+:\/\/|git@)/.test(source)) continue; // remote
      checked.push(source);
      const rel = path.relative(root, path.resolve(root, source));
      if (rel.startsWith("..") || path.isAbsolute(rel) || !sourceExists(source)) {
        missing.push(`line ${line(instruction) + 1}: ${keyword} ${source}`);
      }
    }
  }
  assert.ok(checked.length > 0, "found no local COPY sources: is the parser reading the Dockerfile?");
  assert.deepEqual(missing, [], "COPY/ADD sources missing from the build context");
});

test("build output agrees: tsconfig.build.json outDir, package.json bin, image ENTRYPOINT", () => {
  // tsconfig: resolved with TypeScript's own reader, so `extends` and comments are handled.
  const configPath = repoPath("tsconfig.build.json");
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  assert.equal(read.error, undefined, "tsconfig.build.json does not parse");
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configPath);
  assert.ok(parsed.options.outDir, "tsconfig.build.json sets no outDir");
  const outDir = path.relative(root, parsed.options.outDir).split(path.sep).join("/");
  assert.equal(outDir, "dist", "tsconfig.build.json outDir");

  const pkg = JSON.parse(readRepoFile("package.json")) as { bin?: Record<string, string> };
  const bin = pkg.bin?.["certs-bot"];
  assert.equal(bin, "dist/cli.js", "package.json bin.certs-bot");
  assert.ok(bin.startsWith(`${outDir}/`), `bin ${bin} is not inside outDir ${outDir}`);
  const rootDir = parsed.options.rootDir ?? root;
  const source = path.join(rootDir, path.posix.relative(outDir, bin).replace(/\.js$/, ".ts"));
  assert.ok(
    existsSync(source),
    `bin ${bin} would be compiled from ${path.relative(root, source)}, which is missing`,
  );

  // The final stage's ENTRYPOINT runs <WORKDIR>/dist/cli.js, in exec form.
  const { finalStage } = parseDockerfile();
  const entrypoint = finalStage.filter((i) => i.getKeyword() === "ENTRYPOINT").at(-1);
  assert.ok(entrypoint, "the final stage has no ENTRYPOINT");
  const { execForm, words } = instructionWords(entrypoint);
  assert.ok(
    execForm,
    "ENTRYPOINT must be exec (JSON) form: shell form ignores CMD and `docker compose run ... scan` arguments",
  );
  assert.match(words[0] ?? "", /(^|\/)node$/, `ENTRYPOINT should start node, is ${JSON.stringify(words)}`);
  const script = words.slice(1).find((w) => !w.startsWith("-"));
  assert.ok(script, `ENTRYPOINT names no script: ${JSON.stringify(words)}`);
  const workdir = workdirAt(finalStage, entrypoint);
  assert.equal(path.posix.resolve(workdir, script), path.posix.join(workdir, bin), "ENTRYPOINT script");

  // ...and the final stage actually puts outDir there.
  const outDirInImage = path.posix.join(workdir, outDir);
  const copiesOutDir = finalStage.some((i) => {
    if (i.getKeyword() !== "COPY") return false;
    const dest = instructionWords(i).words.at(-1);
    return dest !== undefined && path.posix.resolve(workdirAt(finalStage, i), dest) === outDirInImage;
  });
  assert.ok(copiesOutDir, `the final stage copies nothing to ${outDirInImage}`);
});

/**
 * End of life of the Node.js LTS lines (https://github.com/nodejs/release#release-schedule). A base
 * image past its date fails here; a major not listed is not an LTS line (odd) or needs adding.
 */
const NODE_LTS_END_OF_LIFE: Record<number, string> = {
  20: "2026-04-30",
  22: "2027-04-30",
  24: "2028-04-30",
  26: "2029-04-30",
};

/** The Node major of every stage's `FROM node:<major>…`. */
function nodeMajors(): number[] {
  return parseDockerfile().froms.map((from) => {
    assert.equal(
      from.getImageName(),
      "node",
      `FROM ${from.getImage() ?? ""}: expected the official node image`,
    );
    const major = /^(\d+)(?:-|$)/.exec(from.getImageTag() ?? "")?.[1];
    assert.ok(major, `FROM ${from.getImage() ?? ""}: pin a Node major in the tag`);
    return Number(major);
  });
}

test("Dockerfile: every stage runs the same Node LTS major, before its end of life", () => {
  const majors = nodeMajors();
  assert.equal(new Set(majors).size, 1, `stages use different Node majors: ${majors.join(", ")}`);
  const major = majors[0]!;
  const endOfLife = NODE_LTS_END_OF_LIFE[major];
  assert.ok(endOfLife, `Node ${major} is not a known LTS line`);
  assert.ok(Date.now() < Date.parse(endOfLife), `Node ${major} reached its end of life on ${endOfLife}`);
});

test("package.json engines stays below the image's Node major (the image satisfies it)", () => {
  const pkg = JSON.parse(readRepoFile("package.json")) as { engines?: { node?: string } };
  const minimum = /^>=(\d+)\.\d+/.exec(pkg.engines?.node ?? "")?.[1];
  assert.ok(minimum, `engines.node should be a >=MAJOR.MINOR floor, is ${pkg.engines?.node}`);
  assert.ok(
    Number(minimum) <= nodeMajors()[0]!,
    `engines.node ${pkg.engines?.node} excludes the image's Node`,
  );
});

test("Dockerfile: the final stage runs as a non-root user", () => {
  const { finalStage } = parseDockerfile();
  const user = finalStage.filter((i) => i.getKeyword() === "USER").at(-1);
  assert.ok(user, "the final stage sets no USER: the container would run as root");
  const name = user.getArguments()[0]?.getValue().split(":")[0] ?? "";
  assert.ok(!["", "root", "0"].includes(name), `USER ${name} is root`);
  const entrypoint = finalStage.find((i) => i.getKeyword() === "ENTRYPOINT");
  assert.ok(entrypoint && line(user) < line(entrypoint), "USER comes after the ENTRYPOINT");
});

test("Dockerfile: EXPOSE the metrics port (9464) and Slack's HTTP port (3000)", () => {
  const exposed = parseDockerfile()
    .finalStage.filter((i) => i.getKeyword() === "EXPOSE")
    .flatMap((i) => i.getArguments().map((a) => a.getValue().replace(/\/tcp$/, "")));
  for (const port of ["9464", "3000"]) assert.ok(exposed.includes(port), `port ${port} is not exposed`);
});

test("Dockerfile: HEALTHCHECK asks /healthz on METRICS_PORT (default 9464) with node, in exec form", () => {
  const healthchecks = parseDockerfile().finalStage.filter((i) => i.getKeyword() === "HEALTHCHECK");
  assert.equal(healthchecks.length, 1, "the final stage needs exactly one HEALTHCHECK");
  const content = healthchecks[0]!.getArgumentsContent() ?? "";
  assert.match(
    content,
    /(^|\s)CMD\s+\[/,
    "HEALTHCHECK CMD in exec form: slim images may lack a shell's tools",
  );
  const { execForm, words } = instructionWords(healthchecks[0]!);
  assert.ok(execForm);
  assert.equal(words[0], "node", "the check runs node: slim images have no curl or wget");
  const script = words.join(" ");
  assert.match(script, /http:\/\/127\.0\.0\.1:/);
  assert.match(script, /process\.env\.METRICS_PORT\s*\|\|\s*9464/);
  assert.match(script, /\/healthz/);
});

test("the HEALTHCHECK command passes on 200 from /healthz, fails on 503 and when nothing listens", async () => {
  const healthcheck = parseDockerfile().finalStage.find((i) => i.getKeyword() === "HEALTHCHECK");
  assert.ok(healthcheck);
  const [, ...args] = instructionWords(healthcheck).words;
  let status = 200;
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? "");
    res.writeHead(req.url === "/healthz" ? status : 404).end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const check = (metricsPort: number) =>
    new Promise<number | null>((resolve) =>
      execFile(
        process.execPath,
        args,
        { env: { ...process.env, METRICS_PORT: String(metricsPort) } },
        (err) => resolve(err ? (typeof err.code === "number" ? err.code : null) : 0),
      ),
    );
  try {
    assert.equal(await check(port), 0, "healthy");
    status = 503;
    assert.equal(await check(port), 1, "unhealthy");
  } finally {
    server.close();
  }
  assert.equal(await check(port), 1, "nothing listens");
  assert.deepEqual(paths, ["/healthz", "/healthz"]);
});

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

test("docker-compose.yml validates against the Compose Specification schema", () => {
  const errors = validateCompose(loadCompose());
  assert.equal(errors.length, 0, `docker-compose.yml is not valid compose:\n${formatAjvErrors(errors)}`);
});

test("compose schema bites: a wrongly typed image and an unknown service key are rejected", () => {
  const errors = validateCompose({ services: { x: { image: 5, bogus: true } } });
  assert.ok(
    errors.some((e) => e.instancePath === "/services/x/image" && e.keyword === "type"),
    `expected a type error for image:\n${formatAjvErrors(errors)}`,
  );
  assert.ok(
    errors.some((e) => e.keyword === "additionalProperties" && e.params.additionalProperty === "bogus"),
    `expected 'bogus' to be rejected:\n${formatAjvErrors(errors)}`,
  );
  // ...while current spec features (top-level `name`, long-syntax binds) pass: the schema is not stale.
  const current = {
    name: "certs-bot",
    services: {
      x: { image: "a", volumes: [{ type: "bind", source: "./s", target: "/s", read_only: true }] },
    },
  };
  assert.deepEqual(formatAjvErrors(validateCompose(current)), "");
});

test("docker-compose.yml: build contexts hold their Dockerfile", () => {
  const builds = services(loadCompose()).filter(([, s]) => s.build !== undefined);
  assert.ok(builds.length > 0, "no service builds the image");
  for (const [name, { build }] of builds) {
    const spec = (typeof build === "string" ? { context: build } : build) as {
      context?: string;
      dockerfile?: string;
    };
    const dockerfile = path.resolve(root, spec.context ?? ".", spec.dockerfile ?? "Dockerfile");
    assert.ok(
      existsSync(dockerfile),
      `service ${name} builds from missing ${path.relative(root, dockerfile)}`,
    );
  }
});

test("docker-compose.yml: bind-mount sources shipped by the repo exist", () => {
  const sources = bindSources(loadCompose());
  assert.ok(sources.length > 0, "found no bind mounts: is the compose file being read?");
  for (const { service, source } of sources) {
    const rel = path.relative(root, path.resolve(root, source));
    assert.ok(!rel.startsWith("..") && !path.isAbsolute(rel), `${service}: ${source} is outside the repo`);
    if (gitTracked(rel)) assert.ok(existsSync(repoPath(rel)), `${service}: ${source} is tracked but missing`);
  }
});

test("docker-compose.yml: user-provided bind sources are documented in README.md", (t) => {
  const userProvided = userProvidedBindSources();
  assert.ok(userProvided.length > 0, "expected the config file and secrets directory to be user-provided");
  if (!existsSync(repoPath("README.md"))) {
    t.skip(`README.md does not exist yet; it must document: ${userProvided.map((p) => `./${p}`).join(", ")}`);
    return;
  }
  const readme = readRepoFile("README.md");
  const undocumented = userProvided.filter((rel) => {
    const spellings = [`./${rel}`, `${rel}/`, ...(rel.includes("/") ? [rel] : [])];
    return !spellings.some((s) => readme.includes(s));
  });
  assert.deepEqual(undocumented, [], "bind-mount sources users must create, not mentioned in README.md");
});

test("docker-compose.yml: user-provided bind sources (config, SSH key) are git-ignored", () => {
  const notIgnored = userProvidedBindSources().filter((rel) => gitIgnored(rel) !== true);
  assert.deepEqual(notIgnored, [], "user files mounted into the container could be committed by mistake");
});

/** The service, which must exist. */
function service(compose: Record<string, unknown>, name: string): Service {
  const found = services(compose).find(([n]) => n === name)?.[1];
  assert.ok(found, `docker-compose.yml has no ${name} service`);
  return found;
}

const CERTS_BOT_SERVICES = ["certs-bot", "worker"];

test("docker-compose.yml: Redis as BullMQ needs it: append-only, noeviction, a password from .env", () => {
  const compose = loadCompose();
  const redis = service(compose, "redis");
  assert.ok(Array.isArray(redis.command), "redis command as a list, so each flag is one argument");
  const args = (redis.command as unknown[]).map(String);
  const flag = (name: string) => args[args.indexOf(name) + 1];
  assert.equal(args[0], "redis-server");
  assert.equal(flag("--appendonly"), "yes");
  assert.equal(flag("--maxmemory-policy"), "noeviction");
  assert.match(flag("--requirepass") ?? "", /^\$\{REDIS_PASSWORD(:\?[^}]*)?\}$/);
  const volumes = (redis.volumes ?? []) as unknown[];
  const data = volumes.find((v) => typeof v === "string" && v.endsWith(":/data")) as string | undefined;
  assert.ok(data, "Redis data is not on a volume");
  assert.ok(data.split(":")[0]! in ((compose.volumes ?? {}) as object), `volume ${data} is not declared`);
});

test("docker-compose.yml: Redis has a health check that needs its password and a PONG", () => {
  const redis = service(loadCompose(), "redis");
  const check = redis.healthcheck?.test;
  assert.ok(Array.isArray(check), "redis has no healthcheck");
  assert.match(
    check.join(" "),
    /redis-cli .*ping.*grep -q PONG/,
    "redis-cli exits 0 on NOAUTH: check for PONG",
  );
  assert.match(String(redis.environment?.REDISCLI_AUTH), /^\$\{REDIS_PASSWORD(:\?[^}]*)?\}$/);
});

test("docker-compose.yml: certs-bot waits for a healthy Redis and reaches it with the password", () => {
  const compose = loadCompose();
  for (const name of CERTS_BOT_SERVICES) {
    const bot = service(compose, name);
    assert.deepEqual(bot.depends_on, { redis: { condition: "service_healthy" } }, `${name} depends_on`);
    assert.match(
      String(bot.environment?.REDIS_URL),
      /^redis:\/\/:\$\{REDIS_PASSWORD(:\?[^}]*)?\}@redis:6379$/,
      `${name} REDIS_URL`,
    );
  }
});

test("docker-compose.yml: certs-bot has the image's health check and a read-only root with /tmp on tmpfs", () => {
  const healthcheck = parseDockerfile().finalStage.find((i) => i.getKeyword() === "HEALTHCHECK");
  assert.ok(healthcheck);
  const compose = loadCompose();
  for (const name of CERTS_BOT_SERVICES) {
    const bot = service(compose, name);
    assert.deepEqual(
      bot.healthcheck?.test,
      ["CMD", ...instructionWords(healthcheck).words],
      `${name} healthcheck`,
    );
    assert.equal(bot.read_only, true, `${name} read_only`);
    assert.deepEqual(bot.tmpfs, ["/tmp"], `${name} tmpfs`);
  }
});

test(".env.example sets REDIS_PASSWORD and a REDIS_URL that carries it", () => {
  const example = readRepoFile(".env.example");
  assert.match(example, /^REDIS_PASSWORD=$/m);
  assert.match(example, /^REDIS_URL=redis:\/\/:\$\{REDIS_PASSWORD\}@[^\s]+$/m);
});
