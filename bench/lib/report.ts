/**
 * Statistics and markdown for the benchmark report.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Writes text to stdout (the benchmark's only output channel besides its files). */
export function write(text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.byteLength) {
    offset += Deno.stdout.writeSync(bytes.subarray(offset));
  }
}

/** The median of the finite values; NaN when there are none. */
export function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `value` with `digits` decimals, or "—" when it is not a number. */
export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "—";
}

/** A signed difference such as `+0.14`. */
export function signed(value: number, digits: number): string {
  if (!Number.isFinite(value)) return "—";
  const text = value.toFixed(digits);
  return value >= 0 ? `+${text}` : text;
}

/** A ratio such as `0.93×`. */
export function ratio(value: number, base: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(base) || base === 0) {
    return "—";
  }
  return `${(value / base).toFixed(2)}×`;
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / 1024 / 1024).toFixed(1) : "—";
}

/** A markdown table; the first `textColumns` columns align left, the rest (numbers) right. */
export function table(
  header: string[],
  rows: string[][],
  textColumns = 1,
): string {
  const lines = [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => i < textColumns ? "---" : "---:").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ];
  return `${lines.join("\n")}\n`;
}

/** A duration such as `10s`, `2m`, `500ms` in seconds. */
export function parseSeconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new TypeError(`Invalid duration: "${text}" (e.g. 10s, 2m)`);
  const value = Number(match[1]);
  const unit = match[2] ?? "s";
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600 }[unit]!;
  return value * factor;
}
