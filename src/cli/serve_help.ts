/**
 * `flow-proxy serve --help`, generated from the option table: each option's
 * flag, help and variable, and its default as the row states it.
 *
 * @module
 */
import { SERVE_OPTIONS, type ServeOption } from "../config/serve_options.ts";

/** Help text of `serve`, generated from {@linkcode SERVE_OPTIONS}. */
export function serveHelp(): string {
  const rows = SERVE_OPTIONS.map((o) => {
    const flag = `--${o.flag}${o.switch ? "" : " <value>"}`;
    const env = o.env && !o.switch
      ? ` [env: ${o.env}]`
      : o.env
      ? ` [env: ${o.env}=…]`
      : "";
    return `  ${flag.padEnd(28)} ${o.help}${env}\n  ${"".padEnd(28)} default: ${
      defaultText(o)
    }`;
  });
  rows.push(
    `  ${"--no-db".padEnd(28)} Do not keep the SQLite request log`,
    `  ${
      "--admin-token-file <path>".padEnd(28)
    } Read the admin token from a file [env: FLOW_PROXY_ADMIN_TOKEN_FILE]`,
    `  ${
      "--env-file <path>".padEnd(28)
    } Read variables from this file (default: .env if present)`,
    `  ${"-h, --help".padEnd(28)} Show this help`,
  );
  return `Usage: flow-proxy serve [options]

Run the proxy. Precedence: flag > environment > .env file > default.

Options:
${rows.join("\n")}
`;
}

/**
 * The default of `option` as help shows it: the row's wording when it has
 * one, else its value in the form the option is written (`10MiB`, `5m`).
 */
export function defaultText(option: ServeOption): string {
  if (option.defaultText !== undefined) return option.defaultText;
  const value = option.default;
  if (value instanceof URL) return value.href;
  if (typeof value === "string") return value;
  if (typeof value === "number") {
    if (option.kind === "size") return withUnit(value, SIZE_UNITS);
    if (option.kind === "duration") return withUnit(value, DURATION_UNITS);
    return String(value);
  }
  throw new TypeError(
    `Option --${option.flag} needs a defaultText: its default does not say itself`,
  );
}

const SIZE_UNITS: [string, number][] = [
  ["GiB", 1024 ** 3],
  ["MiB", 1024 ** 2],
  ["KiB", 1024],
];
const DURATION_UNITS: [string, number][] = [
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
];

/** `value` in the largest unit that divides it (10485760 → 10MiB, 75000 → 75s), else as is (ms or bytes). */
function withUnit(value: number, units: [string, number][]): string {
  for (const [name, size] of units) {
    if (value !== 0 && value % size === 0) return `${value / size}${name}`;
  }
  return units === DURATION_UNITS ? `${value}ms` : String(value);
}
