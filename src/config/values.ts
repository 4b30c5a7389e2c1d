/**
 * How the text of a `serve` option becomes its value: ports, counts, sizes,
 * durations (in the base time grammar), booleans, URLs, log levels, lists.
 * Every refusal is an {@linkcode ArgumentError} that names where the value
 * came from and quotes it.
 *
 * @module
 */
import { parseCidrs } from "../base/ip_filter.ts";
import { LOG_LEVELS, type LogLevel } from "../base/logging.ts";
import { describe } from "../base/describe.ts";
import { parseDuration as parseGrammarDuration } from "../base/time_grammar.ts";
import { ArgumentError } from "./arguments.ts";
import { parseRedisUrl } from "./redis_url.ts";
import { MAX_DURATION_MS, type OptionSpec } from "./serve_options.ts";

/**
 * The value of option `spec` from its text (or a switch's boolean), as
 * `source` (`--port`, `FLOW_PROXY_PORT`) gave it; throws an
 * {@linkcode ArgumentError} naming `source`.
 */
export function convertOption(
  spec: OptionSpec,
  raw: unknown,
  source: string,
): unknown {
  if (spec.kind === "bool") {
    if (typeof raw === "boolean") {
      // A switch flag: `--no-threaded` means threaded=false; others mean true.
      return spec.flag.startsWith("no-") ? !raw : raw;
    }
    return parseBool(String(raw), source);
  }
  if (spec.kind === "list") {
    const items = Array.isArray(raw)
      ? raw.flatMap((v) => String(v).split(","))
      : String(raw).split(",");
    const list = items.map((s) => s.trim()).filter((s) => s !== "");
    if (spec.key === "allowIp") {
      try {
        parseCidrs(list);
      } catch (err) {
        // Worded as serve.ts has always reported it: `--allow-ip: Invalid …`.
        throw new ArgumentError(
          `${source}: ${describe(err)}`,
        );
      }
    }
    if (spec.key === "acmeDomains") checkDomains(list, source);
    return list;
  }
  const value = String(raw);
  switch (spec.kind) {
    case "string":
      if (value === "") throw new ArgumentError(`${source} must not be empty`);
      return value;
    case "identifier":
      if (!IDENTIFIER.test(value)) {
        throw new ArgumentError(
          `${source} must be letters, digits and underscores, not starting with a digit, got "${value}"`,
        );
      }
      return value;
    case "port": {
      const n = parseInteger(value);
      if (n === null || n < 1 || n > 65535) {
        throw new ArgumentError(
          `${source} must be a port number from 1 to 65535, got "${value}"`,
        );
      }
      return n;
    }
    case "count":
      return parseCount(value, source, spec);
    case "size":
      return parseSizeOption(value, source, spec);
    case "duration":
      return parseDuration(value, source);
    case "url":
      return parseHttpUrl(value, source);
    case "redis":
      return parseRedisUrl(value, source);
    case "level":
      return parseLogLevel(value, source);
    case "failmode":
      if (value !== "open" && value !== "closed") {
        throw new ArgumentError(
          `${source} must be open or closed, got "${value}"`,
        );
      }
      return value;
    case "timezone":
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: value });
        return value;
      } catch {
        throw new ArgumentError(
          `${source} must be an IANA time zone such as UTC or America/Sao_Paulo, got "${value}"`,
        );
      }
  }
}

/** ClickHouse database and table names, as the sink accepts them (they are quoted into SQL). */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A whole number within the spec's bounds; the message says which bound. */
function parseCount(value: string, source: string, spec: OptionSpec): number {
  const min = spec.min ?? 1;
  const max = spec.max ?? Number.MAX_SAFE_INTEGER;
  const what = min === 0
    ? "a whole number of 0 or more"
    : "a positive whole number";
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed) && BigInt(trimmed) > BigInt(max)) {
    throw new ArgumentError(
      `${source} must be a whole number from ${min} to ${max}, got "${value}"`,
    );
  }
  const n = parseInteger(value);
  if (n === null || n < min) {
    throw new ArgumentError(`${source} must be ${what}, got "${value}"`);
  }
  return n;
}

/**
 * A size within the spec's bounds. A sign is refused here with its own
 * message, so `--max-body-size -5` says what is wrong with it.
 */
function parseSizeOption(
  value: string,
  source: string,
  spec: OptionSpec,
): number {
  const min = spec.min ?? 1;
  const what = min === 0 ? "a size of 0 or more" : "a positive size";
  if (/^\s*-/.test(value)) {
    throw new ArgumentError(
      `${source} must be ${what} such as 10MiB or 1048576, got "${value}"`,
    );
  }
  const bytes = parseSize(value, source);
  if (bytes < min) {
    throw new ArgumentError(
      `${source} must be ${what} such as 10MiB or 1048576, got "${value}"`,
    );
  }
  return bytes;
}

function parseInteger(value: string): number | null {
  if (!/^\d+$/.test(value.trim())) return null;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : null;
}

/** Parses `true/false/1/0/yes/no/on/off`. */
export function parseBool(value: string, source: string): boolean {
  switch (value.trim().toLowerCase()) {
    case "1":
    case "true":
    case "yes":
    case "on":
      return true;
    case "0":
    case "false":
    case "no":
    case "off":
      return false;
  }
  throw new ArgumentError(
    `${source} must be true or false (1/0, yes/no, on/off), got "${value}"`,
  );
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** Parses sizes like `10485760`, `512KiB`, `10MiB`, `1GB`. */
export function parseSize(value: string, source: string): number {
  const m = value.trim().match(/^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new ArgumentError(
      `${source} must be a size such as 10MiB or 1048576, got "${value}"`,
    );
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) {
    throw new ArgumentError(
      `${source} must be a size of at most ${Number.MAX_SAFE_INTEGER} bytes, got "${value}"`,
    );
  }
  return bytes;
}

/**
 * Parses a duration flag: the grammar of {@linkcode parseGrammarDuration}
 * (`250ms`, `10s`, `5m`, `1h`), and a bare number is seconds. Positive and
 * at most {@linkcode MAX_DURATION_MS}, the longest a timer can wait.
 */
export function parseDuration(value: string, source: string): number {
  const text = value.trim();
  const ms = parseGrammarDuration(BARE_NUMBER.test(text) ? `${text}s` : text);
  if (ms === null) {
    // `-5s` is a duration, just not one a timer can wait for.
    const unsigned = text.replace(/^-\s*/, "");
    const negative = unsigned !== text &&
      (BARE_NUMBER.test(unsigned) || parseGrammarDuration(unsigned) !== null);
    throw new ArgumentError(
      `${source} must be a ${
        negative ? "positive " : ""
      }duration such as 500ms, 10s or 5m, got "${value}"`,
    );
  }
  if (ms <= 0) {
    throw new ArgumentError(
      `${source} must be a positive duration such as 500ms, 10s or 5m, got "${value}"`,
    );
  }
  if (ms > MAX_DURATION_MS) {
    throw new ArgumentError(
      `${source} must be a duration of at most ${MAX_DURATION_MS} ms (about 24 days), got "${value}"`,
    );
  }
  return ms;
}

/** A number without a unit: seconds, for the duration flags only. */
const BARE_NUMBER = /^\d+(?:\.\d+)?$/;

/** Parses an http(s) URL; anything else is a usage error. */
export function parseHttpUrl(value: string, source: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ArgumentError(
      `${source} must be an http:// or https:// URL, got "${value}"`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ArgumentError(
      `${source} must be an http:// or https:// URL, got "${value}"`,
    );
  }
  if (url.username || url.password) {
    throw new ArgumentError(`${source} must not carry a user name or password`);
  }
  if (url.search || url.hash) {
    throw new ArgumentError(
      `${source} must not have a query or fragment, got "${value}"`,
    );
  }
  return url;
}

/** Parses a log level in any case; WARN is accepted for WARNING. */
export function parseLogLevel(value: string, source: string): LogLevel {
  const upper = value.trim().toUpperCase();
  const level = upper === "WARN" ? "WARNING" : upper;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ArgumentError(
      `${source} must be one of ${LOG_LEVELS.join(", ")}, got "${value}"`,
    );
  }
  return level as LogLevel;
}

/** A DNS name: dot-separated labels of letters, digits and inner hyphens. */
const DOMAIN =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function checkDomains(list: string[], source: string): void {
  for (const name of list) {
    if (!DOMAIN.test(name)) {
      throw new ArgumentError(
        `${source} must be DNS names such as proxy.example.com, got "${name}"`,
      );
    }
  }
}
