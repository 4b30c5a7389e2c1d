/**
 * The `--redis-url` grammar: `redis://` or `rediss://` (TLS), an optional
 * user and password, a host, an optional port (6379) and an optional
 * database number as the path. A password never appears in an error or a
 * log line: {@linkcode redisWhere} is what may be shown.
 *
 * @module
 */
import { ArgumentError } from "./arguments.ts";

const DATABASE = /^\/(\d{1,5})?$/;

/** Parses a Redis URL; anything else is a usage error that never quotes a password. */
export function parseRedisUrl(value: string, source: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ArgumentError(
      `${source} must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0`,
    );
  }
  const shown = redisWhere(url);
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new ArgumentError(
      `${source} must be a redis:// or rediss:// URL, got "${shown}"`,
    );
  }
  if (url.hostname === "") {
    throw new ArgumentError(`${source} must name a host, got "${shown}"`);
  }
  if (!DATABASE.test(url.pathname || "/")) {
    throw new ArgumentError(
      `${source} may only have a database number as its path, got "${shown}"`,
    );
  }
  if (url.search || url.hash) {
    throw new ArgumentError(
      `${source} must not have a query or fragment, got "${shown}"`,
    );
  }
  return url;
}

/** The database number of a parsed Redis URL (0 when the path names none). */
export function redisDatabase(url: URL): number {
  const match = DATABASE.exec(url.pathname || "/");
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

/**
 * The URL as it may be shown: scheme, host, port and database, with the
 * user kept and the password replaced by `***`.
 */
export function redisWhere(url: URL): string {
  const user = url.username === "" && url.password === ""
    ? ""
    : `${url.username}${url.password === "" ? "" : ":***"}@`;
  const port = url.port === "" ? "" : `:${url.port}`;
  const path = url.pathname && url.pathname !== "/" ? url.pathname : "";
  return `${url.protocol}//${user}${url.hostname}${port}${path}`;
}
