/**
 * The admin API, under {@linkcode ADMIN_PREFIX} on the proxy port:
 *
 * ```
 * GET    /_flow-proxy/admin/status          version, uptime, workers, credential health
 * GET    /_flow-proxy/admin/keys            client keys (never the keys themselves)
 * POST   /_flow-proxy/admin/keys            {name, rpm?, burst?, models?, expires?} → the key, once
 * DELETE /_flow-proxy/admin/keys/<name>     revoke
 * GET    /_flow-proxy/admin/usage?since=24h usage summary from the request log
 * ```
 * Only the admin token opens it (`Authorization: Bearer <token>`), never a
 * client key; without a configured token the whole prefix answers 404.
 */
import { constantTimeEqual, sha256 } from "../base/digest.ts";
import { errorResponse, type ProxyErrorType } from "../base/api_errors.ts";
import { VERSION } from "../version.ts";
import {
  type CreateKeyInput,
  type KeyRecord,
  keyRecordJson,
  keyStatus,
  parseExpiry,
} from "../access/client_keys.ts";
import { ADMIN_PREFIX, isAdminPath } from "../base/reserved_paths.ts";
import { parseSince as parseSinceGrammar } from "../base/time_grammar.ts";

/** Largest request body the admin API reads. */
const MAX_BODY_BYTES = 64 * 1024;
/** Default window of `GET usage` without `since`. */
const DEFAULT_USAGE_WINDOW_MS = 24 * 3_600_000;

/** Live facts for `GET status`, supplied by the server. */
export interface AdminStatus {
  workersReady: number;
  workersExpected: number;
  /** Credential health by name, as the balancer reports it (name, state, failures, retry time…). */
  credentials: readonly object[];
}

/**
 * The key operations the admin API needs: a `KeyStore`, or (in the server)
 * requests to the store worker, so that no SQLite call runs on a serving thread.
 */
export interface AdminKeys {
  list(): KeyRecord[] | Promise<KeyRecord[]>;
  create(
    input: CreateKeyInput,
  ):
    | { key: string; record: KeyRecord }
    | Promise<{ key: string; record: KeyRecord }>;
  revoke(name: string): boolean | Promise<boolean>;
}

/** Options of {@linkcode createAdminApi}. */
export interface AdminApiOptions {
  /** The admin token; null turns the admin API off (404). */
  token: string | null;
  /** Client keys; null when there is no database (`--no-db`). */
  keys: AdminKeys | null;
  /** Workers and credential health, read per `GET status`. */
  status: () => AdminStatus | Promise<AdminStatus>;
  /**
   * The `usageSummary` of the request log from the window start (epoch ms),
   * asked of the store worker (a serving thread never opens SQLite); absent =
   * no request log (404).
   */
  usage?: (since: number) => unknown | Promise<unknown>;
  /** Called after a key was created or revoked (e.g. `KeyWatch.check`, so this worker sees it at once). */
  onKeysChanged?: () => void;
  /** When the server started, epoch ms; default: when this API was created. */
  startedAt?: number;
  /** Clock, epoch ms; injectable for tests. */
  now?: () => number;
}

/** Builds the admin API handler; it expects only requests for which {@linkcode isAdminPath} holds. */
export function createAdminApi(
  options: AdminApiOptions,
): (req: Request) => Promise<Response> {
  const now = options.now ?? Date.now;
  const startedAt = options.startedAt ?? now();
  const tokenDigest = options.token === null ? null : sha256(options.token);
  const usage = options.usage ?? null;

  function authorized(req: Request): boolean {
    const header = req.headers.get("authorization");
    const match = header === null ? null : /^bearer +(\S+)$/i.exec(header);
    if (!match || tokenDigest === null) return false;
    // Comparing digests keeps the comparison constant-time whatever the length presented.
    return constantTimeEqual(sha256(match[1]), tokenDigest);
  }

  async function routeKeys(req: Request, rest: string): Promise<Response> {
    const store = options.keys;
    if (store === null) {
      return fail(
        "not_found",
        "Client keys need the database, and this server runs without one (--no-db)",
      );
    }
    if (rest === "keys") {
      if (req.method === "GET") {
        const t = now();
        return json(200, {
          object: "list",
          data: (await store.list()).map((r) => keyRecordJson(r, t)),
        });
      }
      if (req.method === "POST") return await createKey(req, store);
      return methodNotAllowed("GET, POST");
    }
    let name: string;
    try {
      name = decodeURIComponent(rest.slice("keys/".length));
    } catch {
      return fail("bad_request", "Malformed key name in the path");
    }
    if (req.method !== "DELETE") return methodNotAllowed("DELETE");
    if (!(await store.revoke(name))) {
      return fail("not_found", `No active key named "${name}"`);
    }
    options.onKeysChanged?.();
    return json(200, { name, revoked: true });
  }

  async function createKey(
    req: Request,
    store: AdminKeys,
  ): Promise<Response> {
    const body = await readJsonObject(req);
    if (typeof body === "string") return fail("bad_request", body);
    const unknown = Object.keys(body).filter((k) =>
      !["name", "rpm", "burst", "models", "expires"].includes(k)
    );
    if (unknown.length > 0) {
      return fail("bad_request", `Unknown field "${unknown[0]}"`);
    }
    const input: CreateKeyInput = { name: body.name as string };
    try {
      for (const field of ["rpm", "burst"] as const) {
        const value = body[field];
        if (
          value !== undefined && value !== null && typeof value !== "number"
        ) {
          throw new TypeError(`"${field}" must be a whole number`);
        }
        input[field] = value as number | null | undefined;
      }
      if (typeof body.models === "string") {
        input.models = body.models.split(",").map((m) => m.trim()).filter((m) =>
          m !== ""
        );
      } else if (body.models !== undefined && body.models !== null) {
        input.models = body.models as string[];
      }
      if (body.expires !== undefined && body.expires !== null) {
        if (typeof body.expires !== "string") {
          throw new TypeError(
            `"expires" must be a duration such as "30d" or a date such as "2026-12-31"`,
          );
        }
        input.expiresAt = parseExpiry(body.expires, now());
      }
      const { key, record } = await store.create(input);
      options.onKeysChanged?.();
      return json(201, { key, ...keyRecordJson(record, now()) });
    } catch (err) {
      return fail("bad_request", (err as Error).message);
    }
  }

  async function routeStatus(): Promise<Response> {
    const status = await options.status();
    const t = now();
    const keys = (await options.keys?.list()) ?? [];
    return json(200, {
      "version": VERSION,
      "started_at": new Date(startedAt).toISOString(),
      "uptime_seconds": Math.max(0, Math.floor((t - startedAt) / 1000)),
      "workers": {
        "ready": status.workersReady,
        "expected": status.workersExpected,
      },
      "credentials": status.credentials,
      "keys": {
        "total": keys.length,
        "active": keys.filter((k) => keyStatus(k, t) === "active").length,
      },
    });
  }

  async function routeUsage(url: URL): Promise<Response> {
    if (usage === null) {
      return fail(
        "not_found",
        "Usage needs the request log, and this server runs without one",
      );
    }
    const raw = url.searchParams.get("since");
    let since: number;
    try {
      since = raw === null
        ? now() - DEFAULT_USAGE_WINDOW_MS
        : parseSince(raw, now());
    } catch (err) {
      return fail("bad_request", (err as Error).message);
    }
    return json(200, await usage(since));
  }

  return async function adminApi(req: Request): Promise<Response> {
    if (tokenDigest === null || !isAdminPath(new URL(req.url).pathname)) {
      return fail("not_found", "Not found");
    }
    if (!authorized(req)) {
      return fail("unauthorized", "Missing or wrong admin token", {
        "www-authenticate": 'Bearer realm="flow-proxy admin"',
      });
    }
    const url = new URL(req.url);
    const rest = url.pathname.slice(ADMIN_PREFIX.length);
    try {
      if (rest === "status") {
        return req.method === "GET"
          ? await routeStatus()
          : methodNotAllowed("GET");
      }
      if (rest === "usage") {
        return req.method === "GET"
          ? await routeUsage(url)
          : methodNotAllowed("GET");
      }
      if (rest === "keys" || /^keys\/[^/]+$/.test(rest)) {
        return await routeKeys(req, rest);
      }
      return fail("not_found", `No admin route ${url.pathname}`);
    } catch (err) {
      return fail(
        "internal_error",
        `Admin request failed: ${(err as Error).message}`,
      );
    }
  };
}

/**
 * `since` as a duration back from now (`24h`, `7d`), a date or date and time
 * (UTC unless zoned; a date that does not exist is refused), or epoch
 * milliseconds: the base time grammar, as `usage --since` reads it.
 */
function parseSince(value: string, now: number): number {
  const at = parseSinceGrammar(value, now);
  if (at === null) {
    throw new TypeError(
      `Invalid "since" value "${value}": use a duration such as 24h or 7d, an ISO date, or epoch milliseconds`,
    );
  }
  return at;
}

async function readJsonObject(
  req: Request,
): Promise<Record<string, unknown> | string> {
  const declared = Number(req.headers.get("content-length") ?? 0);
  if (declared > MAX_BODY_BYTES) {
    return `Request body is larger than ${MAX_BODY_BYTES} bytes`;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    for await (const chunk of req.body) {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) {
        return `Request body is larger than ${MAX_BODY_BYTES} bytes`;
      }
      chunks.push(chunk);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(concat(chunks, size)));
  } catch {
    return "Request body must be a JSON object";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "Request body must be a JSON object";
  }
  return value as Record<string, unknown>;
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    // A created key is in the body: no cache may keep it.
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
    },
  });
}

function fail(
  type: ProxyErrorType,
  message: string,
  headers?: HeadersInit,
): Response {
  const response = errorResponse("openai", type, message, headers);
  response.headers.set("cache-control", "no-store");
  return response;
}

function methodNotAllowed(allow: string): Response {
  return fail("method_not_allowed", `Use ${allow}`, { allow });
}
