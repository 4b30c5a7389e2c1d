/**
 * Settings for `flow-proxy serve`: flag > environment > `.env` file > default.
 *
 * Every option is one row of {@linkcode SERVE_OPTIONS}; parsing, help text and
 * precedence all come from that table, so a new option is one new row.
 */
import { parseArgs, parseEnv } from "node:util";
import { join, resolve } from "node:path";
import { parseCidrs } from "../base/ip_filter.ts";
import { LOG_LEVELS, type LogLevel } from "../base/logging.ts";
import { describe, describeIoError } from "../base/describe.ts";
import { parseDuration as parseGrammarDuration } from "../base/time_grammar.ts";
import {
  ArgumentError,
  cleanParseArgsMessage,
  joinNegativeValues,
} from "./arguments.ts";

/** Default production upstream. */
export const DEFAULT_UPSTREAM = "https://flow.ciandt.com/flow-llm-proxy";

/** Resolved settings of `serve`. Durations are milliseconds, sizes bytes. */
export interface Settings {
  host: string;
  port: number;
  secretsFile: string;
  upstream: URL;
  numWorkers: number;
  threaded: boolean;
  logLevel: LogLevel;
  logFile: string | null;
  /** The `.env` file that was read, or null. */
  envFile: string | null;
  /** Request bodies up to this size are kept so the request can be replayed on failover. */
  retryBodyLimit: number;
  /** Largest request body accepted (413 beyond). */
  maxBodySize: number;
  /** Upstream attempts per request, failover included. */
  maxAttempts: number;
  connectTimeout: number;
  headersTimeout: number;
  idleTimeout: number;
  shutdownTimeout: number;
  /** A new client connection must send its first request headers within this. */
  clientHeaderTimeout: number;
  /** A client connection with no request in flight is closed after this. */
  keepAliveTimeout: number;
  /** Client connections open at once per serving thread. */
  maxConnections: number;
  /** First retry of a failed credential after this long; doubles per failure. */
  backoffBase: number;
  /** Cap of the failed-credential backoff. */
  backoffMax: number;
  /** Cool-down after a 429 that carries no usable `Retry-After`. */
  cooldownDefault: number;
  /** Reload secrets when the file changes (SIGHUP always reloads). */
  watchSecrets: boolean;
  /** SQLite request log path, or null when disabled. */
  dbPath: string | null;
  /** Records waiting to be written before new ones are dropped. */
  logQueueSize: number;
  clickhouseUrl: URL | null;
  clickhouseDatabase: string;
  clickhouseTable: string;
  clickhouseUser: string | null;
  clickhousePassword: string | null;
  requireKey: boolean;
  allowAnonymous: boolean;
  /** CIDR ranges allowed to connect; empty means everyone. */
  allowIp: string[];
  /** Requests per minute for client keys without their own limit; 0 = unlimited. */
  defaultRpm: number;
  /** Burst for client keys without their own; 0 = same as the RPM. */
  defaultBurst: number;
  adminToken: string | null;
}

type Kind =
  | "string"
  | "port"
  | "count"
  | "size"
  | "duration"
  | "url"
  | "level"
  | "bool"
  | "list"
  | "identifier";

/** Longest duration a timer can hold: `setTimeout` fires at once beyond 2^31-1 ms. */
export const MAX_DURATION_MS = 2 ** 31 - 1;
/** Most Web Workers `--num-workers` accepts: each is a V8 isolate of its own. */
export const MAX_WORKERS = 256;

interface OptionSpec {
  /** Key in {@linkcode Settings}. */
  key: keyof Settings;
  flag: string;
  env?: string;
  kind: Kind;
  help: string;
  /** Shown in help; the actual default is computed in {@linkcode defaults}. */
  defaultText: string;
  /** Flag takes no value (a boolean switch). */
  switch?: boolean;
  /** Smallest number accepted (counts, sizes); 1 unless stated. */
  min?: number;
  /** Largest number accepted (counts, sizes, durations in ms). */
  max?: number;
}

/** The options of `serve`, in help order. */
export const SERVE_OPTIONS: readonly OptionSpec[] = [
  {
    key: "host",
    flag: "host",
    env: "FLOW_PROXY_HOST",
    kind: "string",
    help: "Address to listen on",
    defaultText: "127.0.0.1",
  },
  {
    key: "port",
    flag: "port",
    env: "FLOW_PROXY_PORT",
    kind: "port",
    help: "Port to listen on (1-65535)",
    defaultText: "8899",
  },
  {
    key: "secretsFile",
    flag: "secrets-file",
    env: "FLOW_PROXY_SECRETS_FILE",
    kind: "string",
    help: "Credentials file",
    defaultText:
      "$CREDENTIALS_DIRECTORY/secrets.json if present, else secrets.json",
  },
  {
    key: "upstream",
    flag: "upstream",
    env: "FLOW_PROXY_UPSTREAM",
    kind: "url",
    help: "Flow LLM proxy base URL",
    defaultText: DEFAULT_UPSTREAM,
  },
  {
    key: "numWorkers",
    flag: "num-workers",
    env: "FLOW_PROXY_NUM_WORKERS",
    kind: "count",
    help: "Web Workers serving requests",
    defaultText: "number of CPU cores",
    max: MAX_WORKERS,
  },
  {
    key: "threaded",
    flag: "no-threaded",
    env: "FLOW_PROXY_THREADED",
    kind: "bool",
    switch: true,
    help:
      "Serve on the main thread instead of Web Workers (env: FLOW_PROXY_THREADED=0)",
    defaultText: "threaded",
  },
  {
    key: "logLevel",
    flag: "log-level",
    env: "FLOW_PROXY_LOG_LEVEL",
    kind: "level",
    help: "DEBUG, INFO, WARNING or ERROR",
    defaultText: "INFO",
  },
  {
    key: "logFile",
    flag: "log-file",
    env: "FLOW_PROXY_LOG_FILE",
    kind: "string",
    help: "Also write log lines to this file",
    defaultText: "none (stderr only)",
  },
  {
    key: "retryBodyLimit",
    flag: "retry-body-limit",
    env: "FLOW_PROXY_RETRY_BODY_LIMIT",
    kind: "size",
    help: "Keep request bodies up to this size for failover (e.g. 10MiB)",
    defaultText: "10MiB",
    min: 0,
  },
  {
    key: "maxBodySize",
    flag: "max-body-size",
    env: "FLOW_PROXY_MAX_BODY_SIZE",
    kind: "size",
    help: "Largest request body accepted; larger gets 413",
    defaultText: "100MiB",
  },
  {
    key: "maxAttempts",
    flag: "max-attempts",
    env: "FLOW_PROXY_MAX_ATTEMPTS",
    kind: "count",
    help: "Upstream attempts per request, failover included",
    defaultText: "3",
    max: 100,
  },
  {
    key: "connectTimeout",
    flag: "connect-timeout",
    env: "FLOW_PROXY_CONNECT_TIMEOUT",
    kind: "duration",
    help: "Time to connect to the upstream (e.g. 10s)",
    defaultText: "10s",
  },
  {
    key: "headersTimeout",
    flag: "headers-timeout",
    env: "FLOW_PROXY_HEADERS_TIMEOUT",
    kind: "duration",
    help: "Time from sending a request to the upstream's response headers",
    defaultText: "10m",
  },
  {
    key: "idleTimeout",
    flag: "idle-timeout",
    env: "FLOW_PROXY_IDLE_TIMEOUT",
    kind: "duration",
    help: "Longest silence between two chunks of a response body",
    defaultText: "5m",
  },
  {
    key: "shutdownTimeout",
    flag: "shutdown-timeout",
    env: "FLOW_PROXY_SHUTDOWN_TIMEOUT",
    kind: "duration",
    help: "Grace period for in-flight requests on SIGTERM/SIGINT",
    defaultText: "30s",
  },
  {
    key: "clientHeaderTimeout",
    flag: "client-header-timeout",
    env: "FLOW_PROXY_CLIENT_HEADER_TIMEOUT",
    kind: "duration",
    help: "A new client connection must send its request headers within this",
    defaultText: "30s",
  },
  {
    key: "keepAliveTimeout",
    flag: "keepalive-timeout",
    env: "FLOW_PROXY_KEEPALIVE_TIMEOUT",
    kind: "duration",
    help: "Close a client connection idle for this long",
    defaultText: "75s",
  },
  {
    key: "maxConnections",
    flag: "max-connections",
    env: "FLOW_PROXY_MAX_CONNECTIONS",
    kind: "count",
    help: "Client connections open at once, per worker (more are refused)",
    defaultText: "4096",
  },
  {
    key: "backoffBase",
    flag: "backoff-base",
    env: "FLOW_PROXY_BACKOFF_BASE",
    kind: "duration",
    help: "First retry of a failed credential after this long",
    defaultText: "10s",
  },
  {
    key: "backoffMax",
    flag: "backoff-max",
    env: "FLOW_PROXY_BACKOFF_MAX",
    kind: "duration",
    help: "Longest backoff of a failed credential",
    defaultText: "5m",
  },
  {
    key: "cooldownDefault",
    flag: "cooldown",
    env: "FLOW_PROXY_COOLDOWN",
    kind: "duration",
    help: "Cool-down after a 429 without Retry-After",
    defaultText: "30s",
  },
  {
    key: "watchSecrets",
    flag: "no-watch-secrets",
    env: "FLOW_PROXY_WATCH_SECRETS",
    kind: "bool",
    switch: true,
    help:
      "Do not reload the secrets file when it changes (SIGHUP still reloads)",
    defaultText: "watch",
  },
  {
    key: "dbPath",
    flag: "db",
    env: "FLOW_PROXY_DB",
    kind: "string",
    help: "SQLite request log and client keys",
    defaultText: "$STATE_DIRECTORY/flow-proxy.db if set, else flow-proxy.db",
  },
  {
    key: "logQueueSize",
    flag: "log-queue-size",
    env: "FLOW_PROXY_LOG_QUEUE_SIZE",
    kind: "count",
    help: "Request records buffered for the log stores before dropping",
    defaultText: "10000",
    max: 10_000_000,
  },
  {
    key: "clickhouseUrl",
    flag: "clickhouse-url",
    env: "FLOW_PROXY_CLICKHOUSE_URL",
    kind: "url",
    help: "Also write request records to ClickHouse at this HTTP URL",
    defaultText: "none",
  },
  {
    key: "clickhouseDatabase",
    flag: "clickhouse-database",
    env: "FLOW_PROXY_CLICKHOUSE_DATABASE",
    kind: "identifier",
    help: "ClickHouse database",
    defaultText: "default",
  },
  {
    key: "clickhouseTable",
    flag: "clickhouse-table",
    env: "FLOW_PROXY_CLICKHOUSE_TABLE",
    kind: "identifier",
    help: "ClickHouse table (created if missing)",
    defaultText: "flow_proxy_requests",
  },
  {
    key: "requireKey",
    flag: "require-key",
    env: "FLOW_PROXY_REQUIRE_KEY",
    kind: "bool",
    switch: true,
    help: "Require a client key even when none exists yet",
    defaultText: "off (on once a key exists)",
  },
  {
    key: "allowAnonymous",
    flag: "allow-anonymous",
    env: "FLOW_PROXY_ALLOW_ANONYMOUS",
    kind: "bool",
    switch: true,
    help: "Allow a non-loopback host without client keys",
    defaultText: "off",
  },
  {
    key: "allowIp",
    flag: "allow-ip",
    env: "FLOW_PROXY_ALLOW_IP",
    kind: "list",
    help:
      "Only these CIDR ranges may connect (repeatable; env: comma-separated)",
    defaultText: "everyone",
  },
  {
    key: "defaultRpm",
    flag: "default-rpm",
    env: "FLOW_PROXY_DEFAULT_RPM",
    kind: "count",
    help:
      "Requests per minute for keys without their own limit (0 = unlimited)",
    defaultText: "0",
    min: 0,
  },
  {
    key: "defaultBurst",
    flag: "default-burst",
    env: "FLOW_PROXY_DEFAULT_BURST",
    kind: "count",
    help: "Burst for keys without their own (0 = the RPM)",
    defaultText: "0",
    min: 0,
  },
  {
    key: "adminToken",
    flag: "admin-token",
    env: "FLOW_PROXY_ADMIN_TOKEN",
    kind: "string",
    help: "Token for the admin API under /_flow-proxy/ (or --admin-token-file)",
    defaultText: "none: admin API off",
  },
];

/** Options that are not settings but change how settings are read. */
const EXTRA_OPTIONS = {
  "env-file": { type: "string" },
  "admin-token-file": { type: "string" },
  "no-db": { type: "boolean" },
  "help": { type: "boolean", short: "h" },
} as const;

/** Inputs of {@linkcode resolveSettings}, injectable for tests. */
export interface ResolveOptions {
  /** Process environment; defaults to `Deno.env.toObject()`. */
  env?: Record<string, string | undefined>;
  /** Directory where `.env` and relative defaults are looked up. */
  cwd?: string;
  /** CPU count used for the default number of workers. */
  cpus?: number;
}

/** Outcome of parsing `serve` arguments: settings, or a request for help. */
export type ResolveResult = { help: true } | {
  help: false;
  settings: Settings;
};

/** Parses `serve` arguments and the environment into settings. */
export function resolveSettings(
  args: string[],
  options: ResolveOptions = {},
): ResolveResult {
  const cwd = options.cwd ?? Deno.cwd();
  const parsed = parseFlags(args);
  if (parsed.values.help) return { help: true };

  // `.env` never overrides the real environment (as process.loadEnvFile).
  const { envFile, env, fileVars } = loadEnvironment(
    parsed.values["env-file"] as string | undefined,
    options,
  );

  const values: Record<string, unknown> = {};
  const sources = new Map<keyof Settings, string>();
  for (const spec of SERVE_OPTIONS) {
    const flagValue = parsed.values[spec.flag];
    if (flagValue !== undefined) {
      sources.set(spec.key, `--${spec.flag}`);
      values[spec.key] = convert(spec, flagValue, `--${spec.flag}`);
    } else if (
      spec.env && env[spec.env] !== undefined && env[spec.env] !== ""
    ) {
      // A value from the .env file says so: the user may not know it is there.
      const source = fileVars.has(spec.env)
        ? `${spec.env} (from ${envFile})`
        : spec.env;
      sources.set(spec.key, source);
      values[spec.key] = convert(spec, env[spec.env]!, source);
    }
  }
  if (parsed.values["no-db"]) values.dbPath = null;

  let adminToken = values.adminToken as string | undefined;
  const tokenFile = (parsed.values["admin-token-file"] as string | undefined) ??
    env.FLOW_PROXY_ADMIN_TOKEN_FILE;
  if (adminToken === undefined && tokenFile) {
    try {
      adminToken = readSmallTextFileSync(tokenFile).trim();
    } catch (err) {
      throw new ArgumentError(
        `Cannot read admin token file "${tokenFile}": ${describeIoError(err)}`,
      );
    }
    if (adminToken === "") {
      throw new ArgumentError(`Admin token file "${tokenFile}" is empty`);
    }
  }
  if (adminToken !== undefined) values.adminToken = adminToken;

  const settings: Settings = {
    ...defaults(env, cwd, options.cpus),
    ...values,
    envFile,
  } as Settings;
  if (settings.backoffMax < settings.backoffBase) {
    // The balancer needs base ≤ max; blame the one the user set.
    const base = sources.get("backoffBase");
    const max = sources.get("backoffMax") ?? "--backoff-max";
    throw new ArgumentError(
      base
        ? `${base} must not be longer than ${max} (${settings.backoffMax} ms), got ${settings.backoffBase} ms`
        : `${max} must not be shorter than --backoff-base (${settings.backoffBase} ms), got ${settings.backoffMax} ms`,
    );
  }
  if (settings.adminToken !== null && settings.adminToken.length < 16) {
    throw new ArgumentError("Admin token must be at least 16 characters long");
  }
  if (settings.clickhouseUrl) {
    settings.clickhouseUser ??= null;
    settings.clickhousePassword ??= null;
  }
  return { help: false, settings };
}

/**
 * The environment as commands see it: `.env` (the explicit file, or `.env` in
 * `cwd` when present) under the real environment, which always wins.
 */
export function loadEnvironment(
  explicitEnvFile: string | undefined,
  options: ResolveOptions = {},
): {
  envFile: string | null;
  env: Record<string, string | undefined>;
  /** Variables whose value came from the `.env` file (not overridden by the environment). */
  fileVars: Set<string>;
} {
  const processEnv = options.env ?? Deno.env.toObject();
  const file = readEnvFile(explicitEnvFile, options.cwd ?? Deno.cwd());
  const fileVars = new Set(
    Object.keys(file.vars).filter((name) => processEnv[name] === undefined),
  );
  return { envFile: file.path, env: { ...file.vars, ...processEnv }, fileVars };
}

/** Default secrets file: `$CREDENTIALS_DIRECTORY/secrets.json` when it exists, else `secrets.json`. */
export function defaultSecretsFile(
  env: Record<string, string | undefined>,
): string {
  const credDir = env.CREDENTIALS_DIRECTORY;
  if (credDir && exists(join(credDir, "secrets.json"))) {
    return join(credDir, "secrets.json");
  }
  return "secrets.json";
}

/** Default database: `$STATE_DIRECTORY/flow-proxy.db` (systemd), else `flow-proxy.db` in `cwd`. */
export function defaultDbPath(
  env: Record<string, string | undefined>,
  cwd: string,
): string {
  const stateDir = env.STATE_DIRECTORY?.split(":")[0];
  return stateDir
    ? join(resolve(cwd, stateDir), "flow-proxy.db")
    : join(cwd, "flow-proxy.db");
}

function defaults(
  env: Record<string, string | undefined>,
  cwd: string,
  cpus?: number,
): Settings {
  const secretsFile = defaultSecretsFile(env);
  return {
    host: "127.0.0.1",
    port: 8899,
    secretsFile,
    upstream: new URL(DEFAULT_UPSTREAM),
    numWorkers: Math.max(1, cpus ?? navigator.hardwareConcurrency ?? 1),
    threaded: true,
    logLevel: "INFO",
    logFile: null,
    envFile: null,
    retryBodyLimit: 10 * 1024 * 1024,
    maxBodySize: 100 * 1024 * 1024,
    maxAttempts: 3,
    connectTimeout: 10_000,
    headersTimeout: 600_000,
    idleTimeout: 300_000,
    shutdownTimeout: 30_000,
    clientHeaderTimeout: 30_000,
    keepAliveTimeout: 75_000,
    maxConnections: 4096,
    backoffBase: 10_000,
    backoffMax: 300_000,
    cooldownDefault: 30_000,
    watchSecrets: true,
    dbPath: defaultDbPath(env, cwd),
    logQueueSize: 10_000,
    clickhouseUrl: null,
    clickhouseDatabase: "default",
    clickhouseTable: "flow_proxy_requests",
    clickhouseUser: env.FLOW_PROXY_CLICKHOUSE_USER ?? null,
    clickhousePassword: env.FLOW_PROXY_CLICKHOUSE_PASSWORD ?? null,
    requireKey: false,
    allowAnonymous: false,
    allowIp: [],
    defaultRpm: 0,
    defaultBurst: 0,
    adminToken: null,
  };
}

function parseFlags(args: string[]) {
  const options: Record<
    string,
    { type: "string" | "boolean"; multiple?: boolean; short?: string }
  > = {
    ...EXTRA_OPTIONS,
  };
  for (const spec of SERVE_OPTIONS) {
    options[spec.flag] = spec.switch
      ? { type: "boolean" }
      : { type: "string", multiple: spec.kind === "list" };
  }
  try {
    return parseArgs({
      args: joinNegativeValues(args, options),
      options,
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new ArgumentError(cleanParseArgsMessage(err));
  }
}

function convert(spec: OptionSpec, raw: unknown, source: string): unknown {
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
    case "level":
      return parseLogLevel(value, source);
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

function readEnvFile(
  explicit: string | undefined,
  cwd: string,
): { path: string | null; vars: Record<string, string> } {
  const path = explicit ?? join(cwd, ".env");
  let text: string;
  try {
    text = readSmallTextFileSync(path);
  } catch (err) {
    if (explicit === undefined && err instanceof Deno.errors.NotFound) {
      return { path: null, vars: {} };
    }
    throw new ArgumentError(
      `Cannot read env file "${path}": ${describeIoError(err)}`,
    );
  }
  return { path, vars: { ...parseEnv(text) } as Record<string, string> };
}

/** Largest `.env` or admin token file read; a real one is a few hundred bytes. */
const MAX_SMALL_FILE_BYTES = 1024 * 1024;

/**
 * Reads a small text file that only a regular file may be: a FIFO would
 * block the open, `/dev/zero` would never end. Throws `TypeError` for those
 * and for a file over {@linkcode MAX_SMALL_FILE_BYTES}, whatever `stat` says.
 */
function readSmallTextFileSync(path: string): string {
  // Checked before opening: opening a FIFO blocks until a writer appears.
  refuseNonRegularFile(Deno.statSync(path));
  using file = Deno.openSync(path, { read: true });
  refuseNonRegularFile(file.statSync());
  // Whole 64 KiB chunks, even past the limit: some files (/proc) refuse
  // reads of odd sizes.
  const chunk = new Uint8Array(64 * 1024);
  const buffer = new Uint8Array(MAX_SMALL_FILE_BYTES + chunk.length);
  let total = 0;
  while (total <= MAX_SMALL_FILE_BYTES) {
    const n = file.readSync(chunk);
    if (n === null) break;
    buffer.set(chunk.subarray(0, n), total);
    total += n;
  }
  if (total > MAX_SMALL_FILE_BYTES) {
    throw new TypeError(`too large (more than ${MAX_SMALL_FILE_BYTES} bytes)`);
  }
  return new TextDecoder().decode(buffer.subarray(0, total));
}

/**
 * Throws a `TypeError` saying what `info` is when it is not a regular file,
 * e.g. `is a named pipe (FIFO), not a regular file`.
 */
export function refuseNonRegularFile(info: Deno.FileInfo): void {
  if (info.isFile) return;
  if (info.isDirectory) throw new TypeError("is a directory");
  const what = info.isFifo
    ? "a named pipe (FIFO)"
    : info.isCharDevice
    ? "a character device"
    : info.isBlockDevice
    ? "a block device"
    : info.isSocket
    ? "a socket"
    : "something else";
  throw new TypeError(`is ${what}, not a regular file`);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Help text of `serve`, generated from {@linkcode SERVE_OPTIONS}. */
export function serveHelp(): string {
  const rows = SERVE_OPTIONS.map((o) => {
    const flag = `--${o.flag}${o.switch ? "" : " <value>"}`;
    const env = o.env && !o.switch
      ? ` [env: ${o.env}]`
      : o.env
      ? ` [env: ${o.env}=…]`
      : "";
    return `  ${flag.padEnd(28)} ${o.help}${env}\n  ${
      "".padEnd(28)
    } default: ${o.defaultText}`;
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
