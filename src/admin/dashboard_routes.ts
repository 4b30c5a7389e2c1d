/**
 * The routes the web dashboard reads (docs/dashboard-api.md has their
 * shapes), beside the rest of the admin API:
 *
 * ```
 * GET  about                          version, uptime, configuration (secrets masked), TLS    status.read
 * GET  credentials                    each credential's state, failures, next probe, share    status.read
 * POST credentials/<name>/probe       try a failed or cooling credential now (202)            credentials.probe
 * GET  overview?window=600            live series sampled from the shared metrics             status.read
 * GET  requests?<filters>&cursor=     the request log, newest first, keyset pages            requests.read
 * GET  requests/<id>                  one request in full                                     requests.read
 * GET  requests.csv?<filters>         the same list as CSV, streamed                          requests.read
 * GET  usage/series?since=30d&by=     tokens and spend by day × model|key|user|team          usage.read
 * GET  budgets                        every budget, what is used and when it resets           usage.read
 * ```
 * A member (`own`) sees only its own keys' requests, usage and budgets;
 * another's request answers 404 like a missing one.
 *
 * @module
 */
import type { Action } from "../accounts/permissions.ts";
import type { AccountsClient } from "../accounts/calls.ts";
import type { EffectiveOption } from "../config/effective_config.ts";
import type { CertificateSummary } from "../observe/tls_metrics.ts";
import { MAX_WINDOW_MS, type OverviewSampler } from "../observe/overview.ts";
import { VERSION } from "../version.ts";
import { authorize, deny } from "./authorize.ts";
import type { Principal } from "./principal.ts";
import { fail, json, methodNotAllowed, pathName } from "./http.ts";
import { actorOf } from "./principal.ts";
import {
  type DashboardLog,
  serveRequestRoute,
  serveUsageSeries,
} from "./request_routes.ts";

export type { DashboardLog };

/** One credential as `GET credentials` lists it. */
export interface CredentialItem {
  name: string;
  state: "ok" | "failed" | "cooling" | "probing";
  "failures_in_row": number;
  "next_probe_at": string | null;
  "last_error": string | null;
  /** Requests it served since the server started. */
  requests: number;
  /** Its part of the requests served by any credential, 0..1. */
  share: number;
}

/** One budget as `GET budgets` lists it. */
export interface BudgetItem {
  holder: "key" | "user" | "team";
  name: string;
  period: "day" | "week" | "month";
  "tokens_limit": number | null;
  "tokens_used": number;
  "spend_limit": number | null;
  "spend_used": number | null;
  currency: string | null;
  "resets_at": string;
  /** Parallel requests allowed, and in flight now. */
  "max_parallel": number | null;
  "in_flight": number;
  /** The key's owner (key budgets), for filtering. */
  owner?: string | null;
}

/** What the dashboard's routes read; each absent source answers 404. */
export interface DashboardSources {
  /** The options in force, secrets masked. */
  configuration?: () => EffectiveOption[];
  /** The listener's certificate; null for plain HTTP. */
  tls?: () => CertificateSummary | null;
  /** Every credential's health and share of traffic. */
  credentials?: () => CredentialItem[];
  /** Asks for credential `name` to be tried now; its state after, or null when there is none. */
  probe?: (name: string) => { name: string; state: string } | null;
  /** The overview's sampler (started by the first overview request). */
  overview?: OverviewSampler;
  /** The request log's reads, through the store worker. */
  log?: DashboardLog;
  /** Budgets now; `owner`: only those of that user's keys, the user and its team. */
  budgets?: (owner: string | null) => BudgetItem[] | Promise<BudgetItem[]>;
}

/** Links the About page shows. */
export const DOCS_LINKS: readonly { title: string; url: string }[] = [
  "user-guide",
  "operations",
  "security",
  "accounts",
  "budgets",
  "request-log",
  "metrics",
  "dashboard",
  "dashboard-api",
].map((name) => ({
  title: name.replace(/-/g, " ").replace(/^./, (c) => c.toUpperCase()),
  url: `https://github.com/ciandt/flow-proxy/blob/main/docs/${name}.md`,
}));

/** What a dashboard route is given. */
export interface DashboardRoute {
  req: Request;
  url: URL;
  /** The path after the admin prefix. */
  rest: string;
  principal: Principal;
  address: string;
  accounts: AccountsClient;
  sources: DashboardSources;
  /** Workers ready and expected (the `GET status` facts). */
  workers: () => Promise<{ ready: number; expected: number }>;
  startedAt: number;
  now: number;
}

/** Whether `rest` is one of the dashboard's routes. */
export function isDashboardRoute(rest: string): boolean {
  return rest === "about" || rest === "credentials" ||
    /^credentials\/[^/]+\/probe$/.test(rest) || rest === "overview" ||
    rest === "requests" || rest === "requests.csv" ||
    /^requests\/[^/]+$/.test(rest) || rest === "usage/series" ||
    rest === "budgets";
}

/** Serves a route for which {@linkcode isDashboardRoute} holds. */
export async function serveDashboardRoute(
  r: DashboardRoute,
): Promise<Response> {
  if (/^credentials\/[^/]+\/probe$/.test(r.rest)) return await probe(r);
  if (r.req.method !== "GET") return methodNotAllowed("GET");
  const action: Action = r.rest === "about" || r.rest === "credentials" ||
      r.rest === "overview"
    ? "status.read"
    : r.rest.startsWith("requests")
    ? "requests.read"
    : "usage.read";
  const scope = await authorize(r, action);
  if (scope instanceof Response) return scope;
  // The admin token is nobody's: it owns no key, and sees everything anyway.
  const owner = scope === "own" ? r.principal.name : null;
  if (action === "status.read" && scope === "own") {
    return await deny(r, `${action} is granted to it for its own objects only`);
  }
  switch (r.rest) {
    case "about":
      return await about(r);
    case "credentials":
      return credentials(r);
    case "overview":
      return overview(r);
    case "usage/series":
      return await serveUsageSeries(r, owner);
    case "budgets":
      return await budgets(r, owner);
  }
  return await serveRequestRoute(r, owner);
}

async function about(r: DashboardRoute): Promise<Response> {
  const workers = await r.workers();
  const tls = r.sources.tls?.() ?? null;
  return json(200, {
    version: VERSION,
    started_at: new Date(r.startedAt).toISOString(),
    uptime_seconds: Math.max(0, Math.floor((r.now - r.startedAt) / 1000)),
    workers,
    configuration: r.sources.configuration?.() ?? [],
    tls: tls === null ? null : {
      certificates: [{
        names: tls.names,
        not_before: new Date(tls.notBefore * 1000).toISOString(),
        not_after: new Date(tls.notAfter * 1000).toISOString(),
      }],
    },
    docs: DOCS_LINKS,
  });
}

function credentials(r: DashboardRoute): Response {
  return json(200, { items: r.sources.credentials?.() ?? [] });
}

async function probe(r: DashboardRoute): Promise<Response> {
  if (r.req.method !== "POST") return methodNotAllowed("POST");
  const scope = await authorize(r, "credentials.probe");
  if (scope instanceof Response) return scope;
  const name = pathName(r.rest.slice(0, -"/probe".length), "credentials/");
  if (name === null) {
    return fail("bad_request", "Malformed credential name in the path");
  }
  const probed = r.sources.probe?.(name) ?? null;
  if (probed === null) {
    return fail("not_found", `No credential named "${name}"`);
  }
  await r.accounts({
    call: "audit.append",
    entry: {
      actor: actorOf(r.principal, r.address),
      action: "credential.probe",
      target: name,
      outcome: "ok",
    },
  });
  return json(202, { name: probed.name, state: probed.state });
}

/** Default window of `GET overview`, seconds. */
const DEFAULT_WINDOW_S = 600;

function overview(r: DashboardRoute): Response {
  const sampler = r.sources.overview;
  if (sampler === undefined) {
    return fail("not_found", "The overview needs the shared metrics");
  }
  const raw = r.url.searchParams.get("window");
  let windowS = DEFAULT_WINDOW_S;
  if (raw !== null) {
    windowS = Number(raw);
    if (
      !/^\d+$/.test(raw) || windowS < 1 || windowS > MAX_WINDOW_MS / 1000
    ) {
      return fail(
        "bad_request",
        `Invalid "window" value "${raw}": must be whole seconds from 1 to ${
          MAX_WINDOW_MS / 1000
        }`,
      );
    }
  }
  sampler.start();
  const latest = sampler.latest();
  return json(200, {
    now: new Date(r.now).toISOString(),
    interval_seconds: sampler.intervalSeconds,
    series: sampler.series(windowS * 1000).map((p) => ({
      t_ms: p.tMs,
      rps: p.rps,
      error_rate: p.errorRate,
      p50_ms: p.p50Ms,
      p95_ms: p.p95Ms,
      ttft_p50_ms: p.ttftP50Ms,
      ttft_p95_ms: p.ttftP95Ms,
      tokens_per_min: p.tokensPerMin,
      in_flight: p.inFlight,
    })),
    totals: {
      requests: latest.requests,
      errors: latest.errors,
      in_flight: latest.inFlight,
    },
    credentials: r.sources.credentials?.() ?? [],
  });
}

async function budgets(
  r: DashboardRoute,
  owner: string | null,
): Promise<Response> {
  if (r.sources.budgets === undefined) {
    return fail(
      "not_found",
      "Budgets need the database, and this server runs without one (--no-db)",
    );
  }
  return json(200, { items: await r.sources.budgets(owner) });
}
