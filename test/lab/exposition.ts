// A strict reader of the Prometheus text exposition format (0.0.4, what node_exporter's textfile
// collector parses), for tests: every line is a HELP, a TYPE, a sample of a family typed before it,
// or `# EOF` as the very last line. Label values are unescaped; a timestamp, a repeated series, a
// sample without a TYPE or a missing final line feed is an error, so a sloppy writer fails here.

export interface ExposedSample {
  labels: Record<string, string>;
  value: number;
}

export interface ExposedFamily {
  help: string;
  type: string;
  samples: ExposedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const ESCAPES: Record<string, string> = { "\\": "\\", '"': '"', n: "\n" };

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('="', i);
    if (eq < 0) throw new Error(`${where}: no ="…" after a label name`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    let value = "";
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] !== "\\") {
        value += text[j];
        continue;
      }
      const escaped = ESCAPES[text[++j] ?? ""];
      if (escaped === undefined) throw new Error(`${where}: bad escape \\${text[j]}`);
      value += escaped;
    }
    if (j >= text.length) throw new Error(`${where}: unterminated value of ${name}`);
    labels[name] = value;
    i = j + 1;
    if (i < text.length && text[i++] !== ",") throw new Error(`${where}: labels not separated by commas`);
  }
  return labels;
}

function parseValue(text: string, where: string): number {
  const special: Record<string, number> = { "+Inf": Infinity, "-Inf": -Infinity, NaN: NaN };
  if (text in special) return special[text]!;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value ${text}`);
  return Number(text);
}

/** Families by name, in the order they appear. */
export function parseExposition(text: string): Map<string, ExposedFamily> {
  if (!text.endsWith("\n")) throw new Error("the last line does not end with a line feed");
  const lines = text.slice(0, -1).split("\n");
  const families = new Map<string, ExposedFamily>();
  const series = new Set<string>();
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line === "# EOF") {
      if (index !== lines.length - 1) throw new Error(`${where}: # EOF before the end`);
      return;
    }
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, keyword, name, rest] = meta as unknown as [string, "HELP" | "TYPE", string, string];
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name ${name}`);
      const family = families.get(name) ?? { help: "", type: "", samples: [] };
      if (family.samples.length) throw new Error(`${where}: ${keyword} after ${name}'s samples`);
      if (keyword === "HELP")
        family.help = rest.replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : c));
      else family.type = rest;
      families.set(name, family);
      return;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`${where}: not a HELP, TYPE or sample line: ${line}`);
    const [, name, labelText, valueText] = sample as unknown as [string, string, string | undefined, string];
    const family = families.get(name);
    if (!family?.type) throw new Error(`${where}: sample of ${name} before its TYPE`);
    const labels = parseLabels(labelText ?? "", where);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`${where}: ${name} repeats a series`);
    series.add(key);
    family.samples.push({ labels, value: parseValue(valueText, where) });
  });
  return families;
}
