/**
 * The admin API, under {@linkcode ADMIN_PREFIX} on the proxy port:
 *
 * ```
 * GET    /_flow-proxy/admin/status          version, uptime, workers, credential health
 * GET    /_flow-proxy/admin/keys            client keys (never the keys themselves)
 * POST   /_flow-proxy/admin/keys            {name, rpm?, burst?, models?, expires?, owner?, budget?} → the key, once
 * DELETE /_flow-proxy/admin/keys/<name>     revoke
 * GET    /_flow-proxy/admin/usage?since=24h usage summary from the request log (a member's: its keys only)
 * ```
 * plus the budget routes of budget_routes.ts (`PUT keys|users|teams/<name>/budget`),
 * the accounts routes of account_routes.ts and login_route.ts, and the
 * dashboard's routes of dashboard_routes.ts (`GET about`, `credentials`,
 * `overview`, `requests`, `requests/<id>`, `requests.csv`, `usage/series`,
 * `budgets`; `POST credentials/<name>/probe`; `PATCH keys/<name>`), whose
 * shapes docs/dashboard-api.md gives. The admin
 * token (`Authorization: Bearer <token>`), a user's API token or a user's
 * session opens it, never a client key; each route is checked against the
 * permission matrix (src/accounts/permissions.ts). Without a configured token
 * and without accounts (no database) the whole prefix answers 404.
 */
import { BUDGET_ROUTE, serveBudgetRoute } from "./budget_routes.ts";
import { sha256 } from "../base/digest.ts";
import { fail, json, methodNotAllowed, readLog } from "./http.ts";
import { VERSION } from "../version.ts";
import { keyStatus } from "../access/client_keys.ts";
import { ADMIN_PREFIX, isAdminPath } from "../base/reserved_paths.ts";
import { parseSince as parseSinceGrammar } from "../base/time_grammar.ts";
import type { Logger } from "@logtape/logtape";
import type { AccountsClient } from "../accounts/calls.ts";
import {
  DEFAULT_SESSION_POLICY,
  type SessionPolicy,
} from "../accounts/sessions.ts";
import type { Action } from "../accounts/permissions.ts";
import { actorOf, authenticate, type Principal } from "./principal.ts";
import { isAccountRoute, serveAccountRoute } from "./account_routes.ts";
import { authorize, deny } from "./authorize.ts";
import { serveLogin } from "./login_route.ts";
import { type AdminKeys, serveKeyRoute } from "./key_routes.ts";
import {
  type DashboardSources,
  isDashboardRoute,
  serveDashboardRoute,
} from "./dashboard_routes.ts";

/** Default window of `GET usage` without `since`. */
const DEFAULT_USAGE_WINDOW_MS = 24 * 3_600_000;

/** Live facts for `GET status`, supplied by the server. */
export interface AdminStatus {
  workersReady: number;
  workersExpected: number;
  /** Credential health by name, as the balancer reports it (name, state, failures, retry time…). */
  credentials: readonly object[];
}

export type { AdminKeys, DashboardSources };

/** Options of {@linkcode createAdminApi}. */
export interface AdminApiOptions {
  /** The admin token; null leaves only users (accounts) to open the admin API, and without those it is off (404). */
  token: string | null;
  /** Client keys; null when there is no database (`--no-db`). */
  keys: AdminKeys | null;
  /** Workers and credential health, read per `GET status`. */
  status: () => AdminStatus | Promise<AdminStatus>;
  /**
   * The `usageSummary` of the request log from the window start (epoch ms),
   * asked of the store worker (a serving thread never opens SQLite); with
   * `owner`, only the requests of the keys that user owns. Absent = no
   * request log (404).
   */
  usage?: (since: number, owner?: string) => unknown | Promise<unknown>;
  /**
   * Users, sessions, API tokens and the audit trail, held by the store
   * worker; null or absent without a database (only the admin token works).
   */
  accounts?: AccountsClient | null;
  /** Session lifetimes and cookie flags; must match the accounts service's. */
  sessionPolicy?: SessionPolicy;
  /** Where failed logins are logged (WARN). */
  logger?: Pick<Logger, "warn">;
  /** Called once per failed login (`flow_proxy_login_failures_total`). */
  onLoginFailure?: (reason: "invalid" | "locked") => void;
  /** Called after a key was created or revoked (e.g. `KeyWatch.check`, so this worker sees it at once). */
  onKeysChanged?: () => void;
  /** What the dashboard's routes read (dashboard_routes.ts); absent sources answer 404. */
  dashboard?: DashboardSources;
  /** When the server started, epoch ms; default: when this API was created. */
  startedAt?: number;
  /** Clock, epoch ms; injectable for tests. */
  now?: () => number;
}

/** Builds the admin API handler; it expects only requests for which {@linkcode isAdminPath} holds. */
export function createAdminApi(
  options: AdminApiOptions,
): (req: Request, info?: AdminRequestInfo) => Promise<Response> {
  const now = options.now ?? Date.now;
  const startedAt = options.startedAt ?? now();
  const tokenDigest = options.token === null ? null : sha256(options.token);
  const usage = options.usage ?? null;
  const accounts = options.accounts ?? null;
  const policy = options.sessionPolicy ?? DEFAULT_SESSION_POLICY;
  // Without accounts only the admin token authenticates, and it may do everything: nothing to audit.
  const audit: AccountsClient = accounts ??
    ((() => Promise.resolve({ ok: true, value: null })) as AccountsClient);

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

  /** `GET usage`; `owner`: a member's, only the usage of the keys it owns. */
  async function routeUsage(url: URL, owner?: string): Promise<Response> {
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
    const summary = await readLog(() =>
      Promise.resolve(owner === undefined ? usage(since) : usage(since, owner))
    );
    if (summary instanceof Response) return summary;
    return json(200, summary);
  }

  async function granted(
    caller: Caller,
    req: Request,
    rest: string,
    action: Action,
  ): Promise<Response | null> {
    const scope = await authorize(
      { ...caller, req, rest, accounts: audit },
      action,
    );
    if (scope instanceof Response) return scope;
    if (scope === "own") {
      // No route but usage grants "own" for these (the matrix test holds it).
      return await deny(
        { ...caller, req, rest, accounts: audit },
        `${action} is granted to it for its own objects only`,
      );
    }
    return null;
  }

  async function route(
    req: Request,
    url: URL,
    rest: string,
    caller: Caller,
  ): Promise<Response> {
    if (rest === "status") {
      if (req.method !== "GET") return methodNotAllowed("GET");
      return await granted(caller, req, rest, "status.read") ??
        await routeStatus();
    }
    if (rest === "usage") {
      if (req.method !== "GET") return methodNotAllowed("GET");
      const scope = await authorize(
        { ...caller, req, rest, accounts: audit },
        "usage.read",
      );
      if (scope instanceof Response) return scope;
      return await routeUsage(
        url,
        scope === "own" ? caller.principal.name : undefined,
      );
    }
    if (isDashboardRoute(rest)) {
      return await serveDashboardRoute({
        req,
        url,
        rest,
        ...caller,
        accounts: audit,
        sources: options.dashboard ?? {},
        workers: async () => {
          const status = await options.status();
          return {
            ready: status.workersReady,
            expected: status.workersExpected,
          };
        },
        startedAt,
        now: now(),
      });
    }
    if (BUDGET_ROUTE.test(rest)) {
      return await serveBudgetRoute({
        req,
        rest,
        ...caller,
        keys: options.keys,
        users: accounts,
        accounts: audit,
        now: now(),
        onKeysChanged: options.onKeysChanged,
      });
    }
    if (rest === "keys" || /^keys\/[^/]+$/.test(rest)) {
      if (options.keys === null) {
        return fail(
          "not_found",
          "Client keys need the database, and this server runs without one (--no-db)",
        );
      }
      return await serveKeyRoute({
        req,
        rest,
        ...caller,
        keys: options.keys,
        accounts: audit,
        now: now(),
        onKeysChanged: options.onKeysChanged,
      });
    }
    if (accounts !== null && isAccountRoute(rest)) {
      return await serveAccountRoute({
        req,
        url,
        rest,
        ...caller,
        accounts,
        now: now(),
        policy,
      });
    }
    return fail("not_found", `No admin route ${url.pathname}`);
  }

  return async function adminApi(
    req: Request,
    info?: AdminRequestInfo,
  ): Promise<Response> {
    const url = new URL(req.url);
    if (
      (tokenDigest === null && accounts === null) || !isAdminPath(url.pathname)
    ) {
      return fail("not_found", "Not found");
    }
    const rest = url.pathname.slice(ADMIN_PREFIX.length);
    const address = addressOf(info);
    try {
      if (rest === "login" && accounts !== null) {
        if (req.method !== "POST") return methodNotAllowed("POST");
        return await serveLogin(req, address, {
          accounts,
          policy,
          logger: options.logger,
          onLoginFailure: options.onLoginFailure,
        });
      }
      const principal = await authenticate(req, { tokenDigest, accounts });
      if (principal === "csrf") {
        return fail(
          "forbidden",
          "Missing or wrong CSRF token: a request that changes something under a session must send the session's token in x-csrf-token",
        );
      }
      if (principal === "unauthenticated") {
        return fail(
          "unauthorized",
          accounts === null
            ? "Missing or wrong admin token"
            : "Missing or wrong credentials: send the admin token or an API token as a Bearer token, or log in",
          { "www-authenticate": 'Bearer realm="flow-proxy admin"' },
        );
      }
      if (principal.via === "admin-token" && accounts !== null) {
        await accounts({
          call: "audit.append",
          entry: {
            actor: actorOf(principal, address),
            action: "admin_token.use",
            target: `${req.method} ${url.pathname}`,
            outcome: "ok",
          },
        });
      }
      return await route(req, url, rest, { principal, address });
    } catch (err) {
      return fail(
        "internal_error",
        `Admin request failed: ${(err as Error).message}`,
      );
    }
  };
}

/** The caller of an admin request and where it came from. */
interface Caller {
  principal: Principal;
  address: string;
}

/** What the server knows of an admin request's connection. */
export interface AdminRequestInfo {
  remoteAddr: Deno.Addr;
}

function addressOf(info: AdminRequestInfo | undefined): string {
  const addr = info?.remoteAddr;
  return addr && (addr.transport === "tcp" || addr.transport === "udp")
    ? addr.hostname
    : "unknown";
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
