// Parking static pod manifests so the kubelet stops the control plane, and always putting them back.
// A parked manifest is a control plane that stays down, so the parking is guarded on the node itself:
// one long script moves the manifests aside, marks them parked, waits until certs-bot releases it or
// its own deadline passes, and its EXIT trap moves them back — when certs-bot releases it, when the
// connection drops, when a tool fails, when it is told to stop. certs-bot watches from outside (the
// container runtime, or the apiserver's health), releases, then checks that every manifest is back
// and puts back anything still parked itself. Putting back needs only `mv`: never the tool that failed.
// Each parking has its own token: a parking script left running by a dropped connection puts back
// only while its own mark is there, so it never undoes a later parking or a later put-back.
import { randomUUID } from "node:crypto";
import { command, type Command } from "../../kubeadm/versions.js";
import { quote, StepFailure, type NodeSpec, type StepContext } from "./step.js";

const manifest = (spec: NodeSpec, c: string): string => `${spec.kubernetesDir}/manifests/${c}.yaml`;
const parkedManifest = (spec: NodeSpec, c: string): string => `${spec.aside}/manifests/${c}.yaml`;
const releaseFlag = (spec: NodeSpec, token: string): string => `${spec.aside}/manifests/.release-${token}`;
const parkedMark = (spec: NodeSpec, token: string): string => `${spec.aside}/manifests/.parked-${token}`;

/** The commands approvers see for parking and for putting back. */
export const parkCommands = (spec: NodeSpec): Command[] => [
  command("mkdir", "-p", { path: `${spec.aside}/manifests` }),
  ...spec.components.map((c) =>
    command("mv", { path: manifest(spec, c) }, { path: parkedManifest(spec, c) }),
  ),
];
export const putBackCommands = (spec: NodeSpec): Command[] =>
  spec.components.map((c) => command("mv", { path: parkedManifest(spec, c) }, { path: manifest(spec, c) }));

/** Moves back every parked manifest whose place is free; idempotent, each move may fail alone. */
function moveBackLines(spec: NodeSpec): string[] {
  return spec.components.map(
    (c) =>
      `if [ -e ${quote(parkedManifest(spec, c))} ] && [ ! -e ${quote(manifest(spec, c))} ]; then ` +
      `mv ${quote(parkedManifest(spec, c))} ${quote(manifest(spec, c))} || true; fi`,
  );
}

/** Every parking's marks go: a parking script still running stands down (its put-back is skipped). */
const clearMarks = (spec: NodeSpec): string =>
  `rm -f ${quote(`${spec.aside}/manifests`)}/.parked-* ${quote(`${spec.aside}/manifests`)}/.release-* 2>/dev/null || true`;

const removeAsideDirs = (spec: NodeSpec): string[] => [
  `rmdir ${quote(`${spec.aside}/manifests`)} 2>/dev/null || true`,
  `rmdir ${quote(spec.aside)} 2>/dev/null || true`,
];

/** certs-bot's own put-back: every parking's marks go (any parking script left running stands down). */
function putBackScript(spec: NodeSpec): string {
  return [clearMarks(spec), ...moveBackLines(spec), ...removeAsideDirs(spec)].join("\n");
}

/**
 * The guarded parking: parks, marks, waits for its release (at most `seconds`), and on exit puts back
 * — only while its mark is still there (a later parking or put-back removed it: theirs now).
 */
function parkScript(spec: NodeSpec, token: string, seconds: number): string {
  const mark = quote(parkedMark(spec, token));
  const release = quote(releaseFlag(spec, token));
  const dir = quote(`${spec.aside}/manifests`);
  return [
    "put_back() {",
    `  if [ -e ${mark} ]; then`,
    ...moveBackLines(spec).map((l) => `    ${l}`),
    "  fi",
    `  rm -f ${mark} ${release}`,
    ...removeAsideDirs(spec).map((l) => `  ${l}`),
    "}",
    "trap put_back EXIT",
    "trap 'exit 3' HUP INT TERM PIPE",
    clearMarks(spec),
    // An orphaned parking script's exit may remove the empty directory meanwhile: once our mark is
    // in it, it is not empty and stays.
    `n=0; until mkdir -p ${dir} 2>/dev/null && { : > ${mark}; } 2>/dev/null; do`,
    '  n=$((n + 1)); [ "$n" -lt 5 ] || { echo "cannot make the parking directory" >&2; exit 1; }; sleep 1',
    "done",
    ...parkCommands(spec)
      .slice(1)
      .map((c) => c.line),
    "i=0",
    `while [ ! -e ${release} ] && [ -e ${mark} ]; do`,
    `  if [ "$i" -ge ${seconds} ]; then echo "no release within ${seconds} s: putting the manifests back" >&2; exit 3; fi`,
    "  sleep 1",
    "  i=$((i + 1))",
    "done",
  ].join("\n");
}

/** Every manifest is in manifests/ and none is parked. */
export async function manifestsBack(ctx: StepContext): Promise<boolean> {
  const { spec } = ctx;
  const checks = spec.components.flatMap((c) => [
    `[ -f ${quote(manifest(spec, c))} ]`,
    `[ ! -e ${quote(parkedManifest(spec, c))} ]`,
  ]);
  return (await ctx.probeExec(checks.join(" && "))).code === 0;
}

/** Puts back whatever is parked (no tool but mv; retried while the node is unreachable). */
export async function putBack(ctx: StepContext): Promise<string> {
  await ctx.exec(putBackScript(ctx.spec), "putting the manifests back", { reconnect: true });
  if (!(await manifestsBack(ctx)))
    throw new StepFailure(
      `a manifest is still not back in ${ctx.spec.kubernetesDir}/manifests/ (see ${ctx.spec.aside}/manifests)`,
    );
  return "every manifest is in manifests/";
}

/**
 * Parks the manifests until `stopped` holds (at most `ms`), then puts them back, whatever happened.
 * Returns whether `stopped` was seen; throws StepFailure when the parking or the watching failed
 * (after the manifests are back) or when they could not be put back.
 */
export async function parkUntil(
  ctx: StepContext,
  what: string,
  ms: number,
  stopped: () => Promise<boolean>,
): Promise<boolean> {
  const { spec } = ctx;
  const seconds = Math.ceil(ms / 1000) + 10;
  const token = randomUUID().slice(0, 8);
  let ended = false;
  const parking = ctx
    .exec(parkScript(spec, token, seconds), "parking the manifests", { timeoutMs: (seconds + 30) * 1000 })
    .then(
      () => undefined,
      (err: Error) => err,
    )
    .finally(() => (ended = true));
  let parked = false;
  let seen = false;
  let watchError: Error | undefined;
  // Not seeing `stopped` within `ms` is an answer (false); a failing watch is an error.
  await ctx
    .waitFor(what, ms, async () => {
      if (ended) return true;
      try {
        parked ||= (await ctx.probeExec(`[ -e ${quote(parkedMark(spec, token))} ]`)).code === 0;
        seen = parked && (await stopped());
      } catch (err) {
        watchError = err as Error;
        return true;
      }
      return seen;
    })
    .catch(() => undefined);
  await ctx.probeExec(`: > ${quote(releaseFlag(spec, token))}`, { reconnect: true }).catch(() => undefined);
  const parkingError = await parking;
  await putBack(ctx);
  if (parkingError) throw parkingError;
  if (watchError) throw watchError;
  return seen;
}

/**
 * Restarts the control plane with nothing but `mv`: park until the apiserver stops answering (or the
 * containers wait passes), put back. What a rollback uses, so it never needs the tool that failed.
 */
export async function restartWithoutTools(ctx: StepContext): Promise<string> {
  const stopped = await parkUntil(
    ctx,
    "for the apiserver to stop",
    ctx.waits.containersGoneMs,
    async () => !(await ctx.healthy()),
  );
  return stopped
    ? "parked the manifests until the apiserver stopped, then put them back"
    : `the apiserver still answered after ${ctx.waits.containersGoneMs} ms parked; put the manifests back`;
}
