/**
 * Benchmark-only switches: `FLOW_PROXY_BENCH_OFF=log,record,…` turns default
 * features off one at a time so `bench/run.ts --features` can measure what
 * each costs per request in one interleaved run. Not a setting: it is not
 * in `serve --help` or the docs of the product (bench/README.md describes
 * it), nothing but the benchmark sets it, and with the variable unset —
 * always, outside the benchmark — every feature is on. Read once per isolate.
 */

/** The features a benchmark can switch off (bench/README.md says what each covers). */
export const BENCH_FEATURES = [
  "log",
  "record",
  "sqlite",
  "metrics",
  "usage",
  "access",
  "id",
  "deadline",
] as const;

/** One switchable feature. */
export type BenchFeature = typeof BENCH_FEATURES[number];

/** The variable the benchmark sets. */
export const BENCH_OFF_VARIABLE = "FLOW_PROXY_BENCH_OFF";

function readOff(): ReadonlySet<string> {
  let text: string | undefined;
  try {
    text = Deno.env.get(BENCH_OFF_VARIABLE);
  } catch {
    // No env permission: nothing is off.
  }
  if (!text) return new Set();
  const names = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(BENCH_FEATURES as readonly string[]).includes(name)) {
      throw new TypeError(
        `Invalid ${BENCH_OFF_VARIABLE} "${text}": "${name}" is not one of ${
          BENCH_FEATURES.join(", ")
        }`,
      );
    }
  }
  return new Set(names);
}

const OFF = readOff();

/** The features switched off in this isolate, in the order of {@linkcode BENCH_FEATURES}; [] without the variable. */
export function benchOffList(): BenchFeature[] {
  return BENCH_FEATURES.filter((f) => OFF.has(f));
}

/** Whether the benchmark switched `feature` off (false unless FLOW_PROXY_BENCH_OFF names it). */
export function benchOff(feature: BenchFeature): boolean {
  return OFF.has(feature);
}
