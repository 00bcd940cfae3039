// How each kubeadm version renews the catalogue's certificates, one declarative row per version
// range (like the catalogue: behaviour hangs off this table, nothing else names a kubeadm command).
// The per-certificate part (kubeadm's name for it under each method, since when it knows it) is in
// the catalogue's entries.
// Pure. Every command is built from fixed words and validated paths (`Command`), so nothing from
// chat or config reaches a shell unchecked.
import { catalogueEntry, kubeadmPath, kubeadmRenewal, type RenewableName } from "./catalogue.js";

/** A parsed `kubeadm version -o short`: v1.28.4, 1.19.16, v1.11.10-rc.1+abc. */
export interface KubeadmVersion {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

const VERSION = /^v?(\d{1,3})\.(\d{1,3})\.(\d{1,4})(?:[-+][0-9A-Za-z.+-]{0,64})?$/;

export function parseKubeadmVersion(text: string | undefined): KubeadmVersion | null {
  const match = VERSION.exec(text?.trim() ?? "");
  if (!match) return null;
  const [major, minor, patch] = match.slice(1, 4).map(Number) as [number, number, number];
  return { major, minor, patch, text: text!.trim() };
}

/**
 * - `renew`: kubeadm re-issues a pair in place, keeping its subject and SANs (1.15+);
 * - `phase`: kubeadm only creates missing pairs, so the old pair is moved aside first and the
 *   cluster's own kubeadm configuration is passed (`--config`) so the new certificate gets the
 *   same SANs and endpoints.
 */
export type RenewMethod = "renew" | "phase";

/** What a plan says once when any of its nodes renews this way. */
export const METHOD_NOTES: Readonly<Record<RenewMethod, string | null>> = {
  renew: null,
  phase:
    "Phase-based nodes (kubeadm before 1.15) take their SANs and endpoints from the cluster's own kubeadm " +
    "configuration (`kubeadm config view`, which needs a working admin.conf).",
};

export interface VersionRule {
  /** "1.20+", "1.15–1.19", … */
  readonly label: string;
  /** Minor versions of 1.x covered, inclusive; `to` null: open-ended. */
  readonly from: number;
  readonly to: number | null;
  readonly method: RenewMethod;
  /** The fixed words before a certificate's name. */
  readonly certs: readonly string[];
  /** The fixed words before a kubeconfig's name (same as `certs` for `renew`). */
  readonly kubeconfigs: readonly string[];
  /** `renew` only: the words that renew every certificate at once. */
  readonly all?: readonly string[];
  /** `phase` only: how the cluster's kubeadm configuration is exported for `--config`. */
  readonly configView?: readonly string[];
  /** The health endpoint of that generation's apiserver. */
  readonly readyz: "/readyz" | "/healthz";
}

/** Newest first; the first row whose range holds the version applies. */
export const VERSION_RULES: readonly VersionRule[] = [
  {
    label: "1.20+",
    from: 20,
    to: null,
    method: "renew",
    certs: ["kubeadm", "certs", "renew"],
    kubeconfigs: ["kubeadm", "certs", "renew"],
    all: ["kubeadm", "certs", "renew", "all"],
    readyz: "/readyz",
  },
  {
    label: "1.15–1.19",
    from: 15,
    to: 19,
    method: "renew",
    certs: ["kubeadm", "alpha", "certs", "renew"],
    kubeconfigs: ["kubeadm", "alpha", "certs", "renew"],
    all: ["kubeadm", "alpha", "certs", "renew", "all"],
    readyz: "/readyz", // since 1.16; 1.15 below
  },
  {
    label: "1.13–1.14",
    from: 13,
    to: 14,
    method: "phase",
    certs: ["kubeadm", "init", "phase", "certs"],
    kubeconfigs: ["kubeadm", "init", "phase", "kubeconfig"],
    configView: ["kubeadm", "config", "view"],
    readyz: "/healthz",
  },
  {
    label: "1.8–1.12",
    from: 8,
    to: 12,
    method: "phase",
    certs: ["kubeadm", "alpha", "phase", "certs"],
    kubeconfigs: ["kubeadm", "alpha", "phase", "kubeconfig"],
    configView: ["kubeadm", "config", "view"],
    readyz: "/healthz",
  },
];

export type RuleLookup =
  { ok: true; version: KubeadmVersion; rule: VersionRule } | { ok: false; reason: string };

/** The row for a node's `kubeadm version -o short`, or why there is none. */
export function ruleFor(versionText: string | undefined): RuleLookup {
  if (versionText === undefined || versionText.trim() === "") {
    return {
      ok: false,
      reason: "no kubeadm found on the node (kubeadm version -o short printed nothing), so it cannot renew",
    };
  }
  const version = parseKubeadmVersion(versionText);
  if (!version) {
    return {
      ok: false,
      reason: `kubeadm version "${versionText.trim()}" is not a version certs-bot can read`,
    };
  }
  if (version.major !== 1) {
    return {
      ok: false,
      reason: `kubeadm ${version.text} is not a 1.x release; certs-bot knows 1.8 and later`,
    };
  }
  const rule = VERSION_RULES.find((r) => version.minor >= r.from && (r.to === null || version.minor <= r.to));
  if (!rule) {
    return {
      ok: false,
      reason: `kubeadm ${version.text} is older than 1.8, which has no certificate phases; renew by hand`,
    };
  }
  return { ok: true, version, rule };
}

/** Whether this version's kubeadm knows how to renew `name`. */
export const knows = (rule: VersionRule, version: KubeadmVersion, name: RenewableName): boolean =>
  version.minor >= (kubeadmRenewal(name).since ?? 0);

/** kubeadm's name for `name` under this row's method (a kubeconfig's phase drops `.conf`). */
const argOf = (rule: VersionRule, name: RenewableName): string => kubeadmRenewal(name)[rule.method];

/** The apiserver's health endpoint for this exact version (/readyz arrived in 1.16). */
export const healthPath = (rule: VersionRule, version: KubeadmVersion): "/readyz" | "/healthz" =>
  rule.readyz === "/readyz" && version.minor >= 16 ? "/readyz" : "/healthz";

// --- Commands ----------------------------------------------------------------------------------

/**
 * A word of a command: fixed text, a validated absolute path (always single-quoted), or `code`:
 * shell text written in this repository (a quoted pattern, `$(…)`), never anything from chat or config.
 */
export type Word = string | { path: string } | { code: string };

/** One shell command line, from fixed words and validated paths only. */
export interface Command {
  readonly words: readonly Word[];
  /** The line as it will run: fixed words bare, paths single-quoted. */
  readonly line: string;
}

/** Fixed words: what a template may contain. Shell operators are fixed words too. */
const FIXED = /^(?:[A-Za-z0-9_.,:=/@%+-]+|&&|\|\||\||;|>|!|\[|\]|\$\(|\))$/;

export class UnsafeCommandError extends Error {}

/** Absolute, no `..`, no quote, no control characters: it means what it says when single-quoted. */
export function checkPath(path: string): string {
  const ok =
    path.startsWith("/") &&
    !path.includes("'") &&
    !path.split("/").includes("..") &&
    ![...path].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (!ok) throw new UnsafeCommandError(`unsafe path ${JSON.stringify(path)}`);
  return path;
}

function checkCode(code: string): string {
  if ([...code].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    throw new UnsafeCommandError(`unsafe shell text ${JSON.stringify(code)}`);
  return code;
}

export function command(...words: Word[]): Command {
  const line = words
    .map((word) => {
      if (typeof word !== "string")
        return "path" in word ? `'${checkPath(word.path)}'` : checkCode(word.code);
      if (!FIXED.test(word)) throw new UnsafeCommandError(`unsafe word ${JSON.stringify(word)}`);
      return word;
    })
    .join(" ");
  return { words, line };
}

/** Where a renewable entry's files are, relative to kubernetesDir: [certificate, key] or [kubeconfig]. */
export function filesOf(name: RenewableName): string[] {
  const entry = catalogueEntry(name);
  const path = kubeadmPath(entry);
  return entry.kind === "kubeconfig" ? [path] : [path, path.replace(/\.crt$/, ".key")];
}

/** Where a phase-based renew moves each of `name`'s files: relative to kubernetesDir, and under `asideDir`. */
export function parkedFiles(name: RenewableName, asideDir: string): { file: string; aside: string }[] {
  return filesOf(name).map((file) => ({
    file,
    aside: `${asideDir}/${name.replace(/\.conf$/, "")}${file.slice(file.lastIndexOf("."))}`,
  }));
}

export const DEFAULT_KUBERNETES_DIR = "/etc/kubernetes";

export interface RenewCommandInput {
  rule: VersionRule;
  version: KubeadmVersion;
  /** Everything to renew, or every renewable file present ("all" when the version has it). */
  names: readonly RenewableName[];
  all: boolean;
  kubernetesDir: string;
  /** `phase`: where the old pairs are moved, and where the exported kubeadm configuration is. */
  asideDir: string;
  configFile: string;
}

/**
 * The commands that renew `names` on a node of this version.
 * - `renew`: `… renew all` or one `… renew NAME` each; `--cert-dir` when pki is not the default.
 * - `phase`: export the cluster's configuration, move each old pair aside, re-create it with
 *   `--config`; kubeconfigs one phase each (not `kubeconfig all`, which would also revisit
 *   kubelet.conf, the kubelet's own credential).
 */
export function renewCommands(input: RenewCommandInput): Command[] {
  const { rule, names, kubernetesDir } = input;
  const at = (rel: string) => ({ path: checkPath(`${kubernetesDir}/${rel}`) });
  if (rule.method === "renew") {
    const certDir: Word[] = kubernetesDir === DEFAULT_KUBERNETES_DIR ? [] : ["--cert-dir", at("pki")];
    if (input.all && rule.all) return [command(...rule.all, ...certDir)];
    return names.map((name) => command(...rule.certs, argOf(rule, name), ...certDir));
  }
  const config: Word[] = ["--config", { path: checkPath(input.configFile) }];
  const kubeconfigDir: Word[] =
    kubernetesDir === DEFAULT_KUBERNETES_DIR ? [] : ["--kubeconfig-dir", { path: kubernetesDir }];
  const commands = [
    command(...rule.configView!, "--kubeconfig", at(catalogueEntry("admin.conf").path), ">", {
      path: input.configFile,
    }),
    command("mkdir", "-p", { path: checkPath(input.asideDir) }),
  ];
  for (const name of names) {
    for (const { file, aside } of parkedFiles(name, input.asideDir))
      commands.push(command("mv", at(file), { path: aside }));
    const kind = catalogueEntry(name).kind;
    commands.push(
      kind === "kubeconfig"
        ? command(...rule.kubeconfigs, argOf(rule, name), ...config, ...kubeconfigDir)
        : command(...rule.certs, argOf(rule, name), ...config),
    );
  }
  return commands;
}
