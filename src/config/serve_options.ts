/**
 * The options of `serve`, one row each: flag, variable, how the value is
 * read, help and default. Parsing (`settings.ts`) and help
 * (`cli/serve_help.ts`) both come from this table, so a new option is one
 * new row, and each default is stated once, in its row.
 *
 * @module
 */
import type { LogLevel } from "../base/logging.ts";
import { defaultDbPath, defaultSecretsFile } from "./default_paths.ts";

/** Let's Encrypt's production ACME directory, the default of `--acme-directory`. */
export const ACME_PRODUCTION_DIRECTORY =
  "https://acme-v02.api.letsencrypt.org/directory";

/** Default production upstream. */
export const DEFAULT_UPSTREAM = "https://flow.ciandt.com/flow-llm-proxy";

/** Resolved settings of `serve`. Durations are milliseconds, sizes bytes. */
export interface Settings {
  host: string;
  port: number;
  secretsFile: string;
  /** Models file (catalogue, mapping, compatibility switches), or null for the built-in one. */
  modelsFile: string | null;
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
  /** Rows older than this many days are dropped by ClickHouse (`TTL`), or null: kept. */
  clickhouseTtlDays: number | null;
  requireKey: boolean;
  allowAnonymous: boolean;
  /** CIDR ranges allowed to connect; empty means everyone. */
  allowIp: string[];
  /** Requests per minute for client keys without their own limit; 0 = unlimited. */
  defaultRpm: number;
  /** Burst for client keys without their own; 0 = same as the RPM. */
  defaultBurst: number;
  /** The IANA time zone key budgets' days, weeks and months follow. */
  budgetTimeZone: string;
  adminToken: string | null;
  /** An admin session not used for this long ends. */
  sessionIdle: number;
  /** An admin session ends this long after login. */
  sessionMaxAge: number;
  /** Mark the session cookie `Secure` (behind TLS). */
  secureCookies: boolean;
  /** PEM certificate (chain) file for HTTPS, or null for plain HTTP. */
  tlsCert: string | null;
  /** PEM private key file of {@linkcode tlsCert}. */
  tlsKey: string | null;
  /** Serve a certificate whose notAfter has passed (tests only). */
  tlsAllowExpired: boolean;
  /** With TLS: a plain-HTTP port that only redirects to HTTPS, or null. */
  httpRedirectPort: number | null;
  /** With TLS: send Strict-Transport-Security on every answer. */
  hsts: boolean;
  /** Names to obtain a certificate for over ACME; empty: ACME off. */
  acmeDomains: string[];
  /** Contact address of the ACME account, or null for none. */
  acmeEmail: string | null;
  /** The ACME server's directory URL. */
  acmeDirectory: URL;
  /** PEM CA file trusted for the ACME server's HTTPS (a private CA), or null. */
  acmeCaFile: string | null;
  /** Plain-HTTP port answering HTTP-01 challenges (and redirecting the rest). */
  acmeHttpPort: number;
  /** Directory of the ACME account key and certificate, or null: next to the database. */
  acmeStateDir: string | null;
  /** Redis (or Valkey) holding the state several instances share; null: each instance alone. */
  redisUrl: URL | null;
  /** Prefix of every key flow-proxy writes in Redis. */
  redisPrefix: string;
  /** Longest wait for one Redis answer before local state decides, ms. */
  redisTimeout: number;
  /**
   * Where each option that is not at its default was set, by settings key
   * (the admin API's `GET about`); absent keys are defaults.
   */
  optionSources?: Readonly<Partial<Record<keyof Settings, OptionSource>>>;
}

/** Where an option's value came from: a flag, the environment, or the `.env` file. */
export type OptionSource = "flag" | "env" | "file";

/** How an option's text is read (see `values.ts`). */
export type Kind =
  | "string"
  | "port"
  | "count"
  | "size"
  | "duration"
  | "url"
  | "level"
  | "timezone"
  | "bool"
  | "list"
  | "identifier"
  | "redis";

/** Longest duration a timer can hold: `setTimeout` fires at once beyond 2^31-1 ms. */
export const MAX_DURATION_MS = 2 ** 31 - 1;
/** Most Web Workers `--num-workers` accepts: each is a V8 isolate of its own. */
export const MAX_WORKERS = 256;

/** What a computed default may depend on. */
export interface DefaultContext {
  /** The environment, `.env` included. */
  env: Record<string, string | undefined>;
  /** Directory against which relative defaults resolve. */
  cwd: string;
  /** CPU count, when the caller knows better than `navigator`. */
  cpus?: number;
}

/** One option of `serve`: its flag, variable, value kind, help and default. */
export interface OptionSpec<K extends keyof Settings = keyof Settings> {
  /** Key in {@linkcode Settings}. */
  key: K;
  flag: string;
  env?: string;
  kind: Kind;
  help: string;
  /** The default value, or how to compute it where it depends on the machine. */
  default: Settings[K] | ((context: DefaultContext) => Settings[K]);
  /**
   * Help's wording of the default where the value does not say it (null, a
   * switch, a computed value); otherwise help formats {@linkcode default}.
   */
  defaultText?: string;
  /** Flag takes no value (a boolean switch). */
  switch?: boolean;
  /** Smallest number accepted (counts, sizes); 1 unless stated. */
  min?: number;
  /** Largest number accepted (counts, sizes, durations in ms). */
  max?: number;
}

/** An option row whose default has the type of its key. */
export type ServeOption = {
  [K in OptionKey]: OptionSpec<K>;
}[OptionKey];

/** The settings an option row may set (every one but where they came from). */
type OptionKey = Exclude<keyof Settings, "optionSources">;

/** The options of `serve`, in help order. */
export const SERVE_OPTIONS: readonly ServeOption[] = [
  {
    key: "host",
    flag: "host",
    env: "FLOW_PROXY_HOST",
    kind: "string",
    help: "Address to listen on",
    default: "127.0.0.1",
  },
  {
    key: "port",
    flag: "port",
    env: "FLOW_PROXY_PORT",
    kind: "port",
    help: "Port to listen on (1-65535)",
    default: 8899,
  },
  {
    key: "secretsFile",
    flag: "secrets-file",
    env: "FLOW_PROXY_SECRETS_FILE",
    kind: "string",
    help: "Credentials file",
    default: ({ env }) => defaultSecretsFile(env),
    defaultText:
      "$CREDENTIALS_DIRECTORY/secrets.json if present, else secrets.json",
  },
  {
    key: "modelsFile",
    flag: "config",
    env: "FLOW_PROXY_CONFIG",
    kind: "string",
    help: "Models file: catalogue, mapping, compatibility (docs/models.md)",
    // Worked out from the secrets file in settings.ts, once that is known.
    default: null,
    defaultText:
      "models.json beside the secrets file if present, else built in",
  },
  {
    key: "upstream",
    flag: "upstream",
    env: "FLOW_PROXY_UPSTREAM",
    kind: "url",
    help: "Flow LLM proxy base URL",
    default: new URL(DEFAULT_UPSTREAM),
  },
  {
    key: "numWorkers",
    flag: "num-workers",
    env: "FLOW_PROXY_NUM_WORKERS",
    kind: "count",
    help: "Web Workers serving requests",
    default: ({ cpus }) =>
      Math.max(1, cpus ?? navigator.hardwareConcurrency ?? 1),
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
    default: true,
    defaultText: "threaded",
  },
  {
    key: "logLevel",
    flag: "log-level",
    env: "FLOW_PROXY_LOG_LEVEL",
    kind: "level",
    help: "DEBUG, INFO, WARNING or ERROR",
    default: "INFO",
  },
  {
    key: "logFile",
    flag: "log-file",
    env: "FLOW_PROXY_LOG_FILE",
    kind: "string",
    help: "Also write log lines to this file",
    default: null,
    defaultText: "none (stderr only)",
  },
  {
    key: "retryBodyLimit",
    flag: "retry-body-limit",
    env: "FLOW_PROXY_RETRY_BODY_LIMIT",
    kind: "size",
    help: "Keep request bodies up to this size for failover (e.g. 10MiB)",
    default: 10 * 1024 * 1024,
    min: 0,
  },
  {
    key: "maxBodySize",
    flag: "max-body-size",
    env: "FLOW_PROXY_MAX_BODY_SIZE",
    kind: "size",
    help: "Largest request body accepted; larger gets 413",
    default: 100 * 1024 * 1024,
  },
  {
    key: "maxAttempts",
    flag: "max-attempts",
    env: "FLOW_PROXY_MAX_ATTEMPTS",
    kind: "count",
    help: "Upstream attempts per request, failover included",
    default: 3,
    max: 100,
  },
  {
    key: "connectTimeout",
    flag: "connect-timeout",
    env: "FLOW_PROXY_CONNECT_TIMEOUT",
    kind: "duration",
    help: "Time to connect to the upstream (e.g. 10s)",
    default: 10_000,
  },
  {
    key: "headersTimeout",
    flag: "headers-timeout",
    env: "FLOW_PROXY_HEADERS_TIMEOUT",
    kind: "duration",
    help: "Time from sending a request to the upstream's response headers",
    default: 600_000,
  },
  {
    key: "idleTimeout",
    flag: "idle-timeout",
    env: "FLOW_PROXY_IDLE_TIMEOUT",
    kind: "duration",
    help: "Longest silence between two chunks of a response body",
    default: 300_000,
  },
  {
    key: "shutdownTimeout",
    flag: "shutdown-timeout",
    env: "FLOW_PROXY_SHUTDOWN_TIMEOUT",
    kind: "duration",
    help: "Grace period for in-flight requests on SIGTERM/SIGINT",
    default: 30_000,
  },
  {
    key: "clientHeaderTimeout",
    flag: "client-header-timeout",
    env: "FLOW_PROXY_CLIENT_HEADER_TIMEOUT",
    kind: "duration",
    help: "A new client connection must send its request headers within this",
    default: 30_000,
  },
  {
    key: "keepAliveTimeout",
    flag: "keepalive-timeout",
    env: "FLOW_PROXY_KEEPALIVE_TIMEOUT",
    kind: "duration",
    help: "Close a client connection idle for this long",
    default: 75_000,
  },
  {
    key: "maxConnections",
    flag: "max-connections",
    env: "FLOW_PROXY_MAX_CONNECTIONS",
    kind: "count",
    help: "Client connections open at once, per worker (more are refused)",
    default: 4096,
  },
  {
    key: "backoffBase",
    flag: "backoff-base",
    env: "FLOW_PROXY_BACKOFF_BASE",
    kind: "duration",
    help: "First retry of a failed credential after this long",
    default: 10_000,
  },
  {
    key: "backoffMax",
    flag: "backoff-max",
    env: "FLOW_PROXY_BACKOFF_MAX",
    kind: "duration",
    help: "Longest backoff of a failed credential",
    default: 300_000,
  },
  {
    key: "cooldownDefault",
    flag: "cooldown",
    env: "FLOW_PROXY_COOLDOWN",
    kind: "duration",
    help: "Cool-down after a 429 without Retry-After",
    default: 30_000,
  },
  {
    key: "watchSecrets",
    flag: "no-watch-secrets",
    env: "FLOW_PROXY_WATCH_SECRETS",
    kind: "bool",
    switch: true,
    help:
      "Do not reload the secrets and models files when they change (SIGHUP still does)",
    default: true,
    defaultText: "watch",
  },
  {
    key: "dbPath",
    flag: "db",
    env: "FLOW_PROXY_DB",
    kind: "string",
    help: "SQLite request log and client keys",
    default: ({ env, cwd }) => defaultDbPath(env, cwd),
    defaultText: "$STATE_DIRECTORY/flow-proxy.db if set, else flow-proxy.db",
  },
  {
    key: "logQueueSize",
    flag: "log-queue-size",
    env: "FLOW_PROXY_LOG_QUEUE_SIZE",
    kind: "count",
    help: "Request records buffered for the log stores before dropping",
    default: 10_000,
    max: 10_000_000,
  },
  {
    key: "clickhouseUrl",
    flag: "clickhouse-url",
    env: "FLOW_PROXY_CLICKHOUSE_URL",
    kind: "url",
    help: "Also write request records to ClickHouse at this HTTP URL",
    default: null,
    defaultText: "none",
  },
  {
    key: "clickhouseDatabase",
    flag: "clickhouse-database",
    env: "FLOW_PROXY_CLICKHOUSE_DATABASE",
    kind: "identifier",
    help: "ClickHouse database",
    default: "default",
  },
  {
    key: "clickhouseTable",
    flag: "clickhouse-table",
    env: "FLOW_PROXY_CLICKHOUSE_TABLE",
    kind: "identifier",
    help: "ClickHouse table (created if missing)",
    default: "flow_proxy_requests",
  },
  {
    key: "clickhouseTtlDays",
    flag: "clickhouse-ttl-days",
    env: "FLOW_PROXY_CLICKHOUSE_TTL_DAYS",
    kind: "count",
    help: "ClickHouse drops request rows older than this many days (TTL)",
    default: null,
    defaultText: "none: kept",
    max: 36_500,
  },
  {
    key: "requireKey",
    flag: "require-key",
    env: "FLOW_PROXY_REQUIRE_KEY",
    kind: "bool",
    switch: true,
    help: "Require a client key even when none exists yet",
    default: false,
    defaultText: "off (on once a key exists)",
  },
  {
    key: "allowAnonymous",
    flag: "allow-anonymous",
    env: "FLOW_PROXY_ALLOW_ANONYMOUS",
    kind: "bool",
    switch: true,
    help: "Allow a non-loopback host without client keys",
    default: false,
    defaultText: "off",
  },
  {
    key: "allowIp",
    flag: "allow-ip",
    env: "FLOW_PROXY_ALLOW_IP",
    kind: "list",
    help:
      "Only these CIDR ranges may connect (repeatable; env: comma-separated)",
    default: [],
    defaultText: "everyone",
  },
  {
    key: "defaultRpm",
    flag: "default-rpm",
    env: "FLOW_PROXY_DEFAULT_RPM",
    kind: "count",
    help:
      "Requests per minute for keys without their own limit (0 = unlimited)",
    default: 0,
    min: 0,
  },
  {
    key: "defaultBurst",
    flag: "default-burst",
    env: "FLOW_PROXY_DEFAULT_BURST",
    kind: "count",
    help: "Burst for keys without their own (0 = the RPM)",
    default: 0,
    min: 0,
  },
  {
    key: "budgetTimeZone",
    flag: "budget-time-zone",
    env: "FLOW_PROXY_BUDGET_TIME_ZONE",
    kind: "timezone",
    help: "IANA time zone of key budgets' calendar days, weeks and months",
    default: "UTC",
  },
  {
    key: "adminToken",
    flag: "admin-token",
    env: "FLOW_PROXY_ADMIN_TOKEN",
    kind: "string",
    help: "Token for the admin API under /_flow-proxy/ (or --admin-token-file)",
    default: null,
    defaultText: "none: only users open the admin API",
  },
  {
    key: "sessionIdle",
    flag: "session-idle",
    env: "FLOW_PROXY_SESSION_IDLE",
    kind: "duration",
    help: "An admin session not used for this long ends",
    default: 30 * 60_000,
  },
  {
    key: "sessionMaxAge",
    flag: "session-max-age",
    env: "FLOW_PROXY_SESSION_MAX_AGE",
    kind: "duration",
    help: "An admin session ends this long after login, however used",
    default: 12 * 3_600_000,
  },
  {
    key: "secureCookies",
    flag: "secure-cookies",
    env: "FLOW_PROXY_SECURE_COOKIES",
    kind: "bool",
    switch: true,
    help:
      "Mark the session cookie Secure (behind a TLS proxy; on by itself with --tls-cert)",
    default: false,
    defaultText: "off, on with --tls-cert",
  },
  {
    key: "tlsCert",
    flag: "tls-cert",
    env: "FLOW_PROXY_TLS_CERT",
    kind: "string",
    help:
      "Serve HTTPS with this PEM certificate chain (relative: in $CREDENTIALS_DIRECTORY if set; docs/tls.md)",
    default: null,
    defaultText: "none: plain HTTP",
  },
  {
    key: "tlsKey",
    flag: "tls-key",
    env: "FLOW_PROXY_TLS_KEY",
    kind: "string",
    help: "PEM private key of --tls-cert (relative: as --tls-cert)",
    default: null,
    defaultText: "none",
  },
  {
    key: "tlsAllowExpired",
    flag: "tls-allow-expired",
    env: "FLOW_PROXY_TLS_ALLOW_EXPIRED",
    kind: "bool",
    switch: true,
    help: "Serve a certificate past its expiry (for tests)",
    default: false,
    defaultText: "off",
  },
  {
    key: "httpRedirectPort",
    flag: "http-redirect-port",
    env: "FLOW_PROXY_HTTP_REDIRECT_PORT",
    kind: "port",
    help: "With TLS: plain HTTP on this port answers 308 to the HTTPS URL",
    default: null,
    defaultText: "none",
  },
  {
    key: "hsts",
    flag: "hsts",
    env: "FLOW_PROXY_HSTS",
    kind: "bool",
    switch: true,
    help: "With TLS: send Strict-Transport-Security (max-age one year)",
    default: false,
    defaultText: "off",
  },
  {
    key: "acmeDomains",
    flag: "acme-domain",
    env: "FLOW_PROXY_ACME_DOMAIN",
    kind: "list",
    help:
      "Serve HTTPS with a certificate for this name obtained over ACME (repeatable; env: comma-separated; docs/tls.md)",
    default: [],
    defaultText: "none: no ACME",
  },
  {
    key: "acmeEmail",
    flag: "acme-email",
    env: "FLOW_PROXY_ACME_EMAIL",
    kind: "string",
    help: "Contact e-mail of the ACME account (expiry notices)",
    default: null,
    defaultText: "none",
  },
  {
    key: "acmeDirectory",
    flag: "acme-directory",
    env: "FLOW_PROXY_ACME_DIRECTORY",
    kind: "url",
    help:
      "ACME directory URL (staging: https://acme-staging-v02.api.letsencrypt.org/directory)",
    default: new URL(ACME_PRODUCTION_DIRECTORY),
    defaultText: "Let's Encrypt production",
  },
  {
    key: "acmeCaFile",
    flag: "acme-ca-file",
    env: "FLOW_PROXY_ACME_CA_FILE",
    kind: "string",
    help:
      "PEM CA certificate trusted for the ACME server's HTTPS (a private CA)",
    default: null,
    defaultText: "the system's",
  },
  {
    key: "acmeHttpPort",
    flag: "acme-http-port",
    env: "FLOW_PROXY_ACME_HTTP_PORT",
    kind: "port",
    help:
      "With ACME: plain HTTP on this port answers HTTP-01 challenges and redirects the rest to HTTPS",
    default: 80,
  },
  {
    key: "acmeStateDir",
    flag: "acme-state-dir",
    env: "FLOW_PROXY_ACME_STATE_DIR",
    kind: "string",
    help:
      "With ACME: where the account key and certificate are kept (mode 600)",
    default: null,
    defaultText: "acme/ next to the database ($STATE_DIRECTORY)",
  },
  {
    key: "redisUrl",
    flag: "redis-url",
    env: "FLOW_PROXY_REDIS_URL",
    kind: "redis",
    help:
      "Share health, limits, budgets and keys with other instances through this Redis or Valkey (redis:// or rediss://[user:password@]host[:port][/db])",
    default: null,
    defaultText: "none (this instance alone)",
  },
  {
    key: "redisPrefix",
    flag: "redis-prefix",
    env: "FLOW_PROXY_REDIS_PREFIX",
    kind: "string",
    help: "With Redis: prefix of every key flow-proxy writes",
    default: "flow-proxy:",
  },
  {
    key: "redisTimeout",
    flag: "redis-timeout",
    env: "FLOW_PROXY_REDIS_TIMEOUT",
    kind: "duration",
    help: "With Redis: longest wait for one answer before local state decides",
    default: 200,
  },
];

/** Options that are not settings but change how settings are read. */
export const EXTRA_OPTIONS = {
  "env-file": { type: "string" },
  "admin-token-file": { type: "string" },
  "no-db": { type: "boolean" },
  "help": { type: "boolean", short: "h" },
} as const;
