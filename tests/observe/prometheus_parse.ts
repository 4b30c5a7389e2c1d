/**
 * A strict reader of the Prometheus text format 0.0.4 for tests: it rejects
 * what a scraper would reject (bad escapes, a family typed twice, samples
 * before their `# TYPE`, duplicate series) and returns the samples.
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition. */
export interface Exposition {
  /** Family name → type. */
  types: Map<string, string>;
  /** Family name → help text. */
  help: Map<string, string>;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses `text`; throws an Error naming the line on anything invalid. */
export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  if (text.length > 0 && !text.endsWith("\n")) {
    throw new Error("Exposition must end with a line feed");
  }
  const lines = text.split("\n");
  lines.pop();
  lines.forEach((line, index) => {
    const where = `line ${index + 1}: ${line}`;
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      const rest = line.slice(7);
      const space = rest.indexOf(" ");
      const name = space === -1 ? rest : rest.slice(0, space);
      const value = space === -1 ? "" : rest.slice(space + 1);
      if (!NAME.test(name)) throw new Error(`Bad metric name: ${where}`);
      const map = line.startsWith("# HELP ") ? help : types;
      if (map.has(name)) {
        throw new Error(`Repeated ${line.slice(2, 6)}: ${where}`);
      }
      if (map === types) {
        if (
          !["counter", "gauge", "histogram", "summary", "untyped"].includes(
            value,
          )
        ) {
          throw new Error(`Bad type: ${where}`);
        }
        if (samples.some((s) => familyOf(s.name, types) === name)) {
          throw new Error(`TYPE after samples: ${where}`);
        }
      }
      map.set(name, map === help ? unescapeHelp(value, where) : value);
      return;
    }
    if (line.startsWith("#") || line.length === 0) return;
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, types);
    if (family === null) throw new Error(`Sample without # TYPE: ${where}`);
    const id = `${sample.name}${
      JSON.stringify(Object.entries(sample.labels).sort())
    }`;
    if (seen.has(id)) throw new Error(`Duplicate series: ${where}`);
    seen.add(id);
    samples.push(sample);
  });
  return { types, help, samples };
}

/** The value of the one sample with this name and exactly these labels, or undefined. */
export function sampleValue(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return exposition.samples.find((s) =>
    s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want
  )
    ?.value;
}

/** Sum of the samples with this name whose labels include `labels`. */
export function sumOf(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const s of exposition.samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) {
      sum += s.value;
    }
  }
  return sum;
}

function familyOf(name: string, types: Map<string, string>): string | null {
  if (types.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    if (
      types.get(base) === "histogram" ||
      (suffix !== "_bucket" && types.get(base) === "summary")
    ) return base;
  }
  return null;
}

function parseSample(line: string, where: string): Sample {
  let i = 0;
  while (i < line.length && line[i] !== "{" && line[i] !== " ") i++;
  const name = line.slice(0, i);
  if (!NAME.test(name)) throw new Error(`Bad metric name: ${where}`);
  const labels: Record<string, string> = {};
  if (line[i] === "{") {
    i++;
    while (line[i] !== "}") {
      const eq = line.indexOf("=", i);
      if (eq === -1) throw new Error(`Bad labels: ${where}`);
      const label = line.slice(i, eq);
      if (!LABEL_NAME.test(label)) {
        throw new Error(`Bad label name "${label}": ${where}`);
      }
      if (label in labels) {
        throw new Error(`Repeated label "${label}": ${where}`);
      }
      if (line[eq + 1] !== '"') {
        throw new Error(`Label value not quoted: ${where}`);
      }
      let value = "";
      let j = eq + 2;
      for (;; j++) {
        if (j >= line.length) {
          throw new Error(`Unterminated label value: ${where}`);
        }
        const c = line[j];
        if (c === '"') break;
        if (c === "\\") {
          const next = line[++j];
          if (next === "\\") value += "\\";
          else if (next === '"') value += '"';
          else if (next === "n") value += "\n";
          else throw new Error(`Bad escape \\${next}: ${where}`);
        } else {
          value += c;
        }
      }
      labels[label] = value;
      i = j + 1;
      if (line[i] === ",") i++;
      else if (line[i] !== "}") {
        throw new Error(`Bad label separator: ${where}`);
      }
    }
    i++;
  }
  if (line[i] !== " ") throw new Error(`Missing value: ${where}`);
  const parts = line.slice(i + 1).split(" ");
  if (parts.length > 2) throw new Error(`Trailing text: ${where}`);
  const raw = parts[0];
  const value = raw === "+Inf"
    ? Infinity
    : raw === "-Inf"
    ? -Infinity
    : raw === "NaN"
    ? NaN
    : Number(raw);
  if (raw.length === 0 || (Number.isNaN(value) && raw !== "NaN")) {
    throw new Error(`Bad value: ${where}`);
  }
  return { name, labels, value };
}

function unescapeHelp(text: string, where: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    throw new Error(`Bad escape in HELP: ${where}`);
  });
}
