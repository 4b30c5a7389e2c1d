/**
 * Invalid values for every option of `serve`, shared by the in-process test
 * of the settings parser and the one that runs the real CLI.
 */
import { SERVE_OPTIONS } from "../../src/config/serve_options.ts";

/** One value an option must refuse, and how the message says why. */
export interface InvalidCase {
  /** Flag without the dashes, as in {@linkcode SERVE_OPTIONS}. */
  flag: string;
  /** Its environment variable, or null for a switch given as a flag only. */
  env: string | null;
  /** A switch is only checked through its variable (the flag takes no value). */
  switch: boolean;
  value: string;
  /** Message after the source name and a space (or directly, when it starts with ":"). */
  phrase: string;
  /** The message ends with `, got "<value>"`. */
  quotesValue: boolean;
}

const PORT = "must be a port number from 1 to 65535";
const POSITIVE_COUNT = "must be a positive whole number";
const COUNT_0 = "must be a whole number of 0 or more";
const POSITIVE_SIZE = "must be a positive size such as 10MiB or 1048576";
const SIZE_0 = "must be a size of 0 or more such as 10MiB or 1048576";
const SIZE = "must be a size such as 10MiB or 1048576";
const SIZE_MAX = "must be a size of at most 9007199254740991 bytes";
const POSITIVE_DURATION =
  "must be a positive duration such as 500ms, 10s or 5m";
const DURATION = "must be a duration such as 500ms, 10s or 5m";
const DURATION_MAX =
  "must be a duration of at most 2147483647 ms (about 24 days)";
const URL = "must be an http:// or https:// URL";
const LEVEL = "must be one of DEBUG, INFO, WARNING, ERROR";
const EMPTY = "must not be empty";
const IDENTIFIER =
  "must be letters, digits and underscores, not starting with a digit";
const BOOL = "must be true or false (1/0, yes/no, on/off)";
const CIDR = ": Invalid IP range";
const DOMAIN = "must be DNS names such as proxy.example.com";

const OVERFLOW = "99999999999999999999";

/** `[value, phrase]` pairs by flag; `quotesValue` is false only where noted. */
const VALUES: Record<string, [string, string][]> = {
  "host": [["", EMPTY]],
  "port": [
    ["0", PORT],
    ["-1", PORT],
    ["abc", PORT],
    ["80.5", PORT],
    ["65536", PORT],
    [OVERFLOW, PORT],
  ],
  "secrets-file": [["", EMPTY]],
  "config": [["", EMPTY]],
  "upstream": [["ftp://x", URL], ["not a url", URL], ["-1", URL]],
  "num-workers": [
    ["0", POSITIVE_COUNT],
    ["-1", POSITIVE_COUNT],
    ["two", POSITIVE_COUNT],
    ["1.5", POSITIVE_COUNT],
    ["257", "must be a whole number from 1 to 256"],
    [OVERFLOW, "must be a whole number from 1 to 256"],
  ],
  "no-threaded": [["maybe", BOOL], ["2", BOOL], ["-1", BOOL]],
  "log-level": [["verbose", LEVEL], ["0", LEVEL], ["-1", LEVEL]],
  "redis-limits-fail": [
    ["half", "must be open or closed"],
    ["", "must be open or closed"],
    ["-1", "must be open or closed"],
  ],
  "log-file": [["", EMPTY]],
  "retry-body-limit": [
    ["-5", SIZE_0],
    ["-1MiB", SIZE_0],
    ["ten", SIZE],
    ["10XB", SIZE],
    [`${OVERFLOW}GiB`, SIZE_MAX],
  ],
  "max-body-size": [
    ["0", POSITIVE_SIZE],
    ["0KiB", POSITIVE_SIZE],
    ["0.5", POSITIVE_SIZE],
    ["-5", POSITIVE_SIZE],
    ["ten", SIZE],
    ["10XB", SIZE],
    [`${OVERFLOW}GiB`, SIZE_MAX],
  ],
  "max-attempts": [
    ["0", POSITIVE_COUNT],
    ["-1", POSITIVE_COUNT],
    ["x", POSITIVE_COUNT],
    ["101", "must be a whole number from 1 to 100"],
  ],
  "max-connections": [
    ["0", POSITIVE_COUNT],
    ["-1", POSITIVE_COUNT],
    ["x", POSITIVE_COUNT],
  ],
  "no-watch-secrets": [["maybe", BOOL]],
  "db": [["", EMPTY]],
  "log-queue-size": [
    ["0", POSITIVE_COUNT],
    ["-1", POSITIVE_COUNT],
    ["x", POSITIVE_COUNT],
    ["10000001", "must be a whole number from 1 to 10000000"],
  ],
  "clickhouse-url": [["ftp://x", URL], ["-1", URL]],
  "clickhouse-database": [["a-b", IDENTIFIER], ["1abc", IDENTIFIER]],
  "clickhouse-table": [["x;drop", IDENTIFIER], ["", IDENTIFIER]],
  "clickhouse-ttl-days": [
    ["0", POSITIVE_COUNT],
    ["x", POSITIVE_COUNT],
    ["36501", "must be a whole number from 1 to 36500"],
  ],
  "require-key": [["maybe", BOOL]],
  "allow-anonymous": [["2", BOOL]],
  "allow-ip": [["10.0.0.0/33", CIDR], ["abc", CIDR]],
  "default-rpm": [
    ["-1", COUNT_0],
    ["x", COUNT_0],
    ["1.5", COUNT_0],
    [OVERFLOW, "must be a whole number from 0 to 9007199254740991"],
  ],
  "default-burst": [
    ["-1", COUNT_0],
    ["x", COUNT_0],
    [OVERFLOW, "must be a whole number from 0 to 9007199254740991"],
  ],
  "budget-time-zone": [
    [
      "Mars/Olympus",
      "must be an IANA time zone such as UTC or America/Sao_Paulo",
    ],
    ["-1", "must be an IANA time zone such as UTC or America/Sao_Paulo"],
  ],
  "admin-token": [["", EMPTY]],
  "secure-cookies": [["2", BOOL]],
  "tls-cert": [["", EMPTY]],
  "tls-key": [["", EMPTY]],
  "tls-allow-expired": [["maybe", BOOL], ["2", BOOL]],
  "http-redirect-port": [["0", PORT], ["65536", PORT], ["http", PORT]],
  "hsts": [["maybe", BOOL]],
  "acme-domain": [
    ["bad-.example", DOMAIN],
    ["a_b.example", DOMAIN],
    ["proxy.example.com:443", DOMAIN],
  ],
  "acme-email": [["", EMPTY]],
  "acme-directory": [["ftp://acme.example/dir", URL], ["dir", URL]],
  "acme-ca-file": [["", EMPTY]],
  "acme-http-port": [["0", PORT], ["65536", PORT], ["http", PORT]],
  "acme-state-dir": [["", EMPTY]],
  "redis-url": [
    ["http://127.0.0.1:6379", "must be a redis:// or rediss:// URL"],
    [
      "redis://127.0.0.1:6379/db1",
      "may only have a database number as its path",
    ],
    ["redis:///0", "must name a host"],
  ],
  "redis-prefix": [["", EMPTY]],
};

const DURATIONS: [string, string][] = [
  ["0", POSITIVE_DURATION],
  ["0ms", POSITIVE_DURATION],
  ["0.1ms", POSITIVE_DURATION],
  ["-5s", POSITIVE_DURATION],
  ["-1", POSITIVE_DURATION],
  ["soon", DURATION],
  ["10x", DURATION],
  ["5M", DURATION],
  ["1000h", DURATION_MAX],
  [`${OVERFLOW}s`, DURATION_MAX],
];
for (
  const flag of [
    "connect-timeout",
    "headers-timeout",
    "idle-timeout",
    "shutdown-timeout",
    "client-header-timeout",
    "keepalive-timeout",
    "backoff-base",
    "backoff-max",
    "cooldown",
    "session-idle",
    "session-max-age",
    "redis-timeout",
  ]
) {
  VALUES[flag] = DURATIONS;
}

/** Every invalid case, in option order. */
export const INVALID_CASES: readonly InvalidCase[] = SERVE_OPTIONS.flatMap(
  (spec) =>
    (VALUES[spec.flag] ?? []).map(([value, phrase]) => ({
      flag: spec.flag,
      env: spec.env ?? null,
      switch: spec.switch ?? false,
      value,
      phrase,
      quotesValue: phrase !== EMPTY && phrase !== CIDR,
    })),
);

/** Flags of {@linkcode SERVE_OPTIONS} with no invalid case: must stay empty. */
export const UNCOVERED_FLAGS: readonly string[] = SERVE_OPTIONS
  .filter((spec) => !(spec.flag in VALUES)).map((spec) => spec.flag);

/** The message `source` must produce for `c`, as a whole-line pattern. */
export function expectedMessage(c: InvalidCase, source: string): RegExp {
  const tail = c.quotesValue ? escape(`, got "${c.value}"`) : ".*";
  const gap = c.phrase.startsWith(":") ? "" : " ";
  return new RegExp(`^${escape(source)}${gap}${escape(c.phrase)}${tail}$`);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
