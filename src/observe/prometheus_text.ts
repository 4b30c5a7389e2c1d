/**
 * Writing the Prometheus text exposition format, version 0.0.4
 * (`text/plain; version=0.0.4`): `# HELP` and `# TYPE` once per family, then
 * its samples.
 */

/** The `Content-Type` of a `/metrics` response. */
export const PROMETHEUS_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

/** Metric types of the text format. */
export type MetricType = "counter" | "gauge" | "histogram";

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  if (!/[\\"\n]/.test(value)) return value;
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(
    /\n/g,
    "\\n",
  );
}

/** Escapes `# HELP` text: backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value as the format spells it (`+Inf`, `NaN`, integers without exponent). */
export function formatValue(value: number | bigint): string {
  if (typeof value === "bigint") return value.toString();
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * Collects one exposition; families are written in the order they are
 * declared, and each is declared once.
 */
export class PrometheusTextWriter {
  #lines: string[] = [];
  #families = new Set<string>();

  /** Starts a family: its `# HELP` and `# TYPE` lines. */
  family(name: string, type: MetricType, help: string): void {
    if (this.#families.has(name)) {
      throw new TypeError(`Metric family "${name}" is declared twice`);
    }
    this.#families.add(name);
    this.#lines.push(
      `# HELP ${name} ${escapeHelp(help)}`,
      `# TYPE ${name} ${type}`,
    );
  }

  /** One sample; `labels` are written in their insertion order, values escaped. */
  sample(
    name: string,
    labels: Record<string, string> | null,
    value: number | bigint,
  ): void {
    let line = name;
    if (labels !== null) {
      const parts: string[] = [];
      for (const key in labels) {
        parts.push(`${key}="${escapeLabelValue(labels[key])}"`);
      }
      if (parts.length > 0) line += `{${parts.join(",")}}`;
    }
    this.#lines.push(`${line} ${formatValue(value)}`);
  }

  /** The exposition text, ending with a line feed. */
  toString(): string {
    return this.#lines.length === 0 ? "" : this.#lines.join("\n") + "\n";
  }
}
