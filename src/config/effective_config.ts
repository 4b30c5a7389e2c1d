/**
 * The configuration in force, option by option, as the dashboard's About
 * page shows it: flag, variable, value and where the value came from, read
 * from the option table (serve_options.ts) so every option is listed. A
 * secret is never shown: the admin token and ClickHouse password as `***`,
 * a password inside a URL (Redis, ClickHouse) replaced by `***`.
 *
 * @module
 */
import {
  type OptionSource,
  SERVE_OPTIONS,
  type Settings,
} from "./serve_options.ts";

/** What stands for a secret's value. */
export const MASK = "***";

/** One row of the configuration in force. */
export interface EffectiveOption {
  /** The flag, `--port`. */
  option: string;
  /** Its environment variable, or null when it has none. */
  env: string | null;
  /** The value as text (durations in ms, sizes in bytes, lists comma-joined); secrets masked. */
  value: string;
  source: OptionSource | "default";
}

/** Settings whose values are secrets, masked whole. */
const SECRET_KEYS: ReadonlySet<keyof Settings> = new Set([
  "adminToken",
  "clickhousePassword",
]);

/** Every option of `serve` with its value in `settings`, secrets masked. */
export function effectiveConfiguration(settings: Settings): EffectiveOption[] {
  const sources = settings.optionSources ?? {};
  const rows: EffectiveOption[] = SERVE_OPTIONS.map((spec) => ({
    option: `--${spec.flag}`,
    env: spec.env ?? null,
    value: shown(spec.key, settings[spec.key]),
    source: sources[spec.key] ?? "default",
  }));
  // ClickHouse's credentials are read from the environment only.
  for (
    const [key, env] of [
      ["clickhouseUser", "FLOW_PROXY_CLICKHOUSE_USER"],
      ["clickhousePassword", "FLOW_PROXY_CLICKHOUSE_PASSWORD"],
    ] as const
  ) {
    const value = settings[key];
    rows.push({
      option: "",
      env,
      value: shown(key, value),
      source: value === null || value === undefined ? "default" : "env",
    });
  }
  return rows;
}

/** `value` as text, a secret masked. */
function shown(key: keyof Settings, value: unknown): string {
  if (value === null || value === undefined) return "";
  if (SECRET_KEYS.has(key)) return MASK;
  if (value instanceof URL) return maskedUrl(value);
  if (Array.isArray(value)) return value.join(",");
  if (typeof value === "string" && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try {
      return maskedUrl(new URL(value));
    } catch {
      return value;
    }
  }
  return String(value);
}

/** A URL with its password (and a user name that may be a token) masked. */
function maskedUrl(url: URL): string {
  if (url.password === "" && url.username === "") return url.href;
  const copy = new URL(url.href);
  if (copy.password !== "") copy.password = MASK;
  else copy.username = MASK;
  return copy.href;
}
