/**
 * Who may use the gateway: the one check the request handler makes before
 * forwarding. In order: client address (`--allow-ip`), client key, the key's
 * model allowlist, the key's rate limit. A refused request never reaches the
 * upstream and never spends rate-limit budget on a check it failed earlier.
 */
import type { ProxyErrorType } from "../base/api_errors.ts";
import type {
  AccessControl,
  AccessDenial,
  AccessRefusal,
  AccessResult,
  AnyAccessControl,
  ClientInfo,
  SharedLimits,
  SharedVerdict,
} from "./contract.ts";
import {
  type KeyRecord,
  type KeyVerifier,
  modelAllowed,
} from "./client_keys.ts";
import { type IpFilter, isLoopbackHost } from "../base/ip_filter.ts";
import {
  effectiveRule,
  type LimitRule,
  type RateLimiter,
  type TakeResult,
} from "./rate_limit.ts";
import type {
  BudgetCrossing,
  BudgetLease,
  BudgetTable,
} from "./budget_table.ts";
import { budgetClaims, takeBudgets } from "./budget_check.ts";
import { budgetRefusal } from "./budget_refusal.ts";
import type { RequestSize } from "./contract.ts";

export type {
  AccessControl,
  AccessDenial,
  AccessGranted,
  AccessRefusal,
  AccessResult,
  AnyAccessControl,
  ClientInfo,
} from "./contract.ts";

/** Longest `Authorization` or `x-api-key` value considered (keys are 47 characters). */
const MAX_KEY_HEADER_BYTES = 512;
/** What a key may look like: visible ASCII, no spaces. */
const KEY_SYNTAX = /^[\x21-\x7e]+$/;
const BEARER = /^bearer +(.*)$/i;

/** Options of {@linkcode createAccessControl}. */
export interface AccessOptions {
  /** The worker's keys (kept current by `watchKeys`); null when there is no key database. */
  keys: KeyVerifier | null;
  /** `--require-key`: enforce even while no key exists. */
  requireKey: boolean;
  /** Shared rate limiter; null disables rate limits. */
  limiter: RateLimiter | null;
  /** `--default-rpm` for keys without their own (0 = unlimited). */
  defaultRpm: number;
  /** `--default-burst` for keys without their own (0 = the RPM). */
  defaultBurst: number;
  /** `--allow-ip` ranges; null lets every address in. */
  ipFilter: IpFilter | null;
  /** Clock, epoch ms; injectable for tests. */
  now?: () => number;
  /**
   * Called for each request a key is let through with (to record its
   * last-used time). It must not block; whatever it throws is passed to
   * `onUseError` and the request goes on.
   */
  onUse?: (name: string, now: number) => void;
  /** Receives what `onUse` threw; default: ignored. */
  onUseError?: (err: unknown) => void;
  /** Shared budget counters; null: budgets are not enforced. */
  budgets?: BudgetTable | null;
  /** The IANA time zone budget periods follow (`--budget-time-zone`); default UTC. */
  budgetTimeZone?: string;
  /** Told of each 80 % and 100 % threshold a key's budget crosses, once per period. */
  onCrossing?: (crossing: BudgetCrossing) => void;
}

/** Options of {@linkcode createAccessControl} with `--redis-url`. */
export interface SharedAccessOptions extends AccessOptions {
  /**
   * The limits every instance shares. Keys with a rate limit or budget are
   * then checked there (the check returns a promise), and `limiter` and
   * `budgets` are the fallback while Redis cannot answer.
   */
  shared: SharedLimits | null;
}

/** The peer's IP address; "" for a Unix socket (never in an IP range). */
function peerAddress(addr: Deno.Addr): string {
  return "hostname" in addr ? addr.hostname : "";
}

const NO_HEADERS: [string, string][] = [];
const WWW_AUTHENTICATE: [string, string][] = [
  ["www-authenticate", 'Bearer realm="flow-proxy"'],
];
const RETRY_SOON: [string, string][] = [["retry-after", "1"]];

/** The `x-ratelimit-*` headers of a rate-limit outcome. */
function rateHeaders(taken: TakeResult): [string, string][] {
  return [
    ["x-ratelimit-limit", String(taken.limit)],
    ["x-ratelimit-remaining", String(taken.remaining)],
    ["x-ratelimit-reset", String(taken.resetSeconds)],
  ];
}

/**
 * Builds the access check. Keys are enforced as soon as the verifier knows
 * one key (revoked ones count: revoking the last key must not open the
 * proxy) or `requireKey` is set; until then requests pass anonymously.
 */
export function createAccessControl(
  options: SharedAccessOptions,
): AnyAccessControl;
export function createAccessControl(options: AccessOptions): AccessControl;
export function createAccessControl(
  options: AccessOptions & { shared?: SharedLimits | null },
): AnyAccessControl {
  const now = options.now ?? Date.now;
  const defaults = { rpm: options.defaultRpm, burst: options.defaultBurst };

  function refuse(
    type: ProxyErrorType,
    reason: AccessRefusal,
    message: string,
    client: string | null = null,
    headers: [string, string][] = NO_HEADERS,
  ): AccessDenial {
    return { ok: false, type, message, headers, client, reason };
  }

  /** Address and key: a refusal, or the key's record (null while keys are not enforced). */
  function identify(
    req: Request,
    info: ClientInfo,
    t: number,
  ): AccessDenial | { record: KeyRecord | null } {
    if (
      options.ipFilter && !options.ipFilter.allows(peerAddress(info.remoteAddr))
    ) {
      return refuse(
        "forbidden",
        "ip_not_allowed",
        "Your address is not allowed to use this proxy",
      );
    }
    const keys = options.keys;
    if (
      !options.requireKey &&
      (keys === null || (keys.size === 0 && !keys.enforced))
    ) {
      return { record: null };
    }

    const presented = presentedKey(req.headers, req.url);
    if (presented.error) {
      return refuse(
        "unauthorized",
        presented.error,
        presented.message,
        null,
        WWW_AUTHENTICATE,
      );
    }
    const verdict = keys?.verify(presented.key, t) ??
      { ok: false, reason: "unknown_key" as const, record: null };
    if (!verdict.ok) {
      return refuse(
        "unauthorized",
        verdict.reason,
        "Invalid, revoked or expired API key",
        verdict.record?.name ?? null,
        WWW_AUTHENTICATE,
      );
    }
    return { record: verdict.record };
  }

  function checkModel(
    req: Request,
    record: KeyRecord,
    model: string | null,
    requested: string | null,
  ): AccessDenial | null {
    const models = record.models;
    if (models === null) return null;
    // The upstream also takes a model from the query and from Azure- and
    // Gemini-style paths: each one named must be allowed, and agree.
    const named = modelsInUrl(req.url);
    if (named === null) {
      return refuse(
        "bad_request",
        "model_conflict",
        "The request path or query names a model that cannot be read",
        record.name,
      );
    }
    if (model !== null) named.push(model);
    // A mapped model is allowed by its Flow name or by the id the client
    // asked for (docs/security.md).
    const alsoAllowed = requested !== null && requested !== model &&
      modelAllowed(models, requested);
    for (const name of named) {
      if (!modelAllowed(models, name) && !(alsoAllowed && name === model)) {
        return refuse(
          "forbidden",
          "model_not_allowed",
          `This API key may not use model "${name}"; allowed: ${
            models.join(", ")
          }`,
          record.name,
        );
      }
    }
    for (const name of named) {
      if (name !== named[0]) {
        return refuse(
          "bad_request",
          "model_conflict",
          `The request names different models ("${
            named[0]
          }" and "${name}"): name one`,
          record.name,
        );
      }
    }
    if (named.length > 0) return null;
    // A body we could not read a model from must not slip past the allowlist
    // (that includes a JSON body too large to be held whole, which is never
    // scanned); reads (GET /v1/models) carry no model and are fine.
    if (req.method === "GET" || req.method === "HEAD") return null;
    return refuse(
      "forbidden",
      "model_missing",
      `This API key may only call the models ${
        models.join(", ")
      }, and no model can be read from the request (a JSON body with a top-level "model", at most --retry-body-limit bytes)`,
      record.name,
    );
  }

  // What early() found for a request it let through, so the full check does
  // not verify the same key (and address) a second time.
  const earlier = new WeakMap<Request, KeyRecord | null>();

  const zone = options.budgetTimeZone ?? "UTC";

  /** The key's budgets: a lease on each, or the 429 of the first without room (undefined lease: none). */
  function takeBudget(
    record: KeyRecord,
    size: RequestSize | undefined,
    t: number,
    headers: [string, string][],
  ): AccessDenial | { lease: BudgetLease | undefined } {
    const budgets = options.budgets;
    // A key without any budget costs what it always did: two field reads.
    if (!budgets || (!record.budget && record.shared === undefined)) {
      return { lease: undefined };
    }
    const taken = takeBudgets(budgets, record, size, t, zone);
    if ("lease" in taken) return taken;
    return refuse(
      "budget_exceeded",
      "budget_exceeded",
      taken.message,
      record.name,
      [
        ...headers,
        ["retry-after", String(taken.retryAfter)],
      ],
    );
  }

  /** A request let through: its last-used time noted, its lease handed on. */
  function grant(
    record: KeyRecord,
    headers: [string, string][],
    lease: BudgetLease | undefined,
    t: number,
  ): AccessResult {
    try {
      options.onUse?.(record.name, t);
    } catch (err) {
      // Bookkeeping of a store must never fail or hold up the request it counts.
      try {
        options.onUseError?.(err);
      } catch {
        // Nothing left to tell.
      }
    }
    return lease === undefined
      ? { ok: true, client: record.name, headers }
      : { ok: true, client: record.name, headers, lease };
  }

  function rateRefusal(
    record: KeyRecord,
    rule: LimitRule,
    taken: TakeResult,
    headers: [string, string][],
  ): AccessDenial {
    return refuse(
      "rate_limited",
      "rate_limited",
      `Rate limit of ${rule.rpm} requests per minute exceeded; retry in ${taken.retryAfterSeconds} s`,
      record.name,
      [...headers, ["retry-after", String(taken.retryAfterSeconds)]],
    );
  }

  /** The rate limit and budgets of this instance (shared by its workers). */
  function localLimits(
    record: KeyRecord,
    rule: LimitRule | null,
    size: RequestSize | undefined,
    t: number,
  ): AccessResult {
    let headers = NO_HEADERS;
    if (rule !== null && options.limiter) {
      const taken = options.limiter.take(record.name, rule, t);
      headers = rateHeaders(taken);
      if (!taken.allowed) return rateRefusal(record, rule, taken, headers);
    }
    const budget = takeBudget(record, size, t, headers);
    if ("ok" in budget) return budget;
    return grant(record, headers, budget.lease, t);
  }

  /** While the shared limits cannot answer: refuse (fail closed) or count on this instance. */
  function withoutShared(
    shared: SharedLimits,
    record: KeyRecord,
    rule: LimitRule | null,
    size: RequestSize | undefined,
    t: number,
  ): AccessResult {
    if (!shared.failClosed) return localLimits(record, rule, size, t);
    return refuse(
      "limits_unavailable",
      "limits_unavailable",
      "This API key's rate limit or budget cannot be checked right now: the store the instances share is unreachable; retry shortly",
      record.name,
      RETRY_SOON,
    );
  }

  /** The rate limit and budgets every instance shares: one Redis round trip. */
  async function sharedLimits(
    shared: SharedLimits,
    record: KeyRecord,
    rule: LimitRule | null,
    size: RequestSize | undefined,
    t: number,
  ): Promise<AccessResult> {
    const budgeted = options.budgets &&
      (record.budget || record.shared !== undefined);
    const claims = budgeted ? budgetClaims(record, size, t, zone) : [];
    const verdict: SharedVerdict | null = await shared.admit(
      { key: record.name, rule, claims },
      t,
    );
    if (verdict === null) return withoutShared(shared, record, rule, size, t);
    let headers = NO_HEADERS;
    if (verdict.rate !== null && rule !== null) {
      headers = rateHeaders(verdict.rate);
      if (!verdict.rate.allowed) {
        return rateRefusal(record, rule, verdict.rate, headers);
      }
    }
    if ("refused" in verdict) {
      const claim = claims[verdict.refused.index];
      const taken = budgetRefusal(
        verdict.refused.refusal,
        claim.end,
        t,
        claim.holder,
      );
      return refuse(
        "budget_exceeded",
        "budget_exceeded",
        taken.message,
        record.name,
        [
          ...headers,
          ["retry-after", String(taken.retryAfter)],
        ],
      );
    }
    const [first, ...also] = verdict.leases;
    const lease = first === undefined
      ? undefined
      : also.length === 0
      ? first
      : { ...first, also };
    return grant(record, headers, lease, t);
  }

  const checkAccess = function checkAccess(
    req,
    info,
    model,
    requested = null,
    size?: RequestSize,
  ): AccessResult | Promise<AccessResult> {
    const t = now();
    let record: KeyRecord | null;
    if (earlier.has(req)) {
      record = earlier.get(req)!;
      earlier.delete(req);
    } else {
      const identified = identify(req, info, t);
      if ("ok" in identified) return identified;
      record = identified.record;
    }
    if (record === null) return { ok: true, client: null, headers: NO_HEADERS };

    const modelRefusal = checkModel(req, record, model, requested);
    if (modelRefusal) return modelRefusal;

    const shared = options.shared;
    const rule = options.limiter || shared
      ? effectiveRule(record, defaults)
      : null;
    if (
      shared &&
      (rule !== null ||
        (options.budgets && (record.budget || record.shared !== undefined)))
    ) {
      if (!shared.up) return withoutShared(shared, record, rule, size, t);
      return sharedLimits(shared, record, rule, size, t);
    }
    return localLimits(record, rule, size, t);
  } as AnyAccessControl;

  checkAccess.settle = function settle(lease, use): void {
    const budgets = options.budgets;
    const shared = options.shared;
    for (const one of [lease, ...(lease.also ?? [])]) {
      // A lease of the fallback is settled here too: this instance's own
      // counters keep limiting while Redis is away.
      if (one.id === undefined && budgets) {
        const crossings = budgets.settle(one, use);
        if (!shared) { for (const c of crossings) options.onCrossing?.(c); }
      }
      // With Redis, thresholds are told once for every instance, by it.
      shared?.settle(one, use);
    }
  };

  checkAccess.early = function early(req, info): AccessDenial | null {
    const identified = identify(req, info, now());
    if ("ok" in identified) return identified;
    earlier.set(req, identified.record);
    return null;
  };
  return checkAccess;
}

/** `/openai/deployments/<model>/…`, legacy `/engines/<model>/…`. */
const DEPLOYMENT_PATH = /\/(?:deployments|engines)\/([^/]+)/g;
/** Gemini's `/models/<model>:generateContent`, and `/models/<model>` itself. */
const MODELS_PATH = /\/models\/([^/:]+)(?=[:/]|$)/g;

/**
 * The models a request URL names (query `model`, deployment and model path
 * segments), percent-decoded; null when one cannot be decoded or decodes to
 * a separator. The path is read resolved, as `fetch` will send it.
 */
export function modelsInUrl(url: string): string[] | null {
  const parsed = new URL(url);
  const names: string[] = parsed.searchParams.getAll("model");
  const path = parsed.pathname;
  for (const pattern of [DEPLOYMENT_PATH, MODELS_PATH]) {
    for (const match of path.matchAll(pattern)) {
      let name: string;
      try {
        name = decodeURIComponent(match[1]);
      } catch {
        return null;
      }
      // An encoded separator makes the segment mean different things to
      // different servers: not a model name to check.
      if (name.includes("/") || name.includes("\\")) return null;
      names.push(name);
    }
  }
  return names;
}

type Presented =
  | { error: null; key: string }
  | {
    error: "missing_key" | "malformed_key" | "conflicting_keys";
    message: string;
  };

/**
 * The key from `Authorization: Bearer …`, `x-api-key`, or Gemini's
 * `x-goog-api-key` header or `?key=` query, checked for shape only; when
 * several are sent they must agree.
 */
function presentedKey(headers: Headers, url: string): Presented {
  const authorization = headers.get("authorization");
  let key: string | null = null;
  let from = "";
  if (authorization !== null) {
    if (authorization.length > MAX_KEY_HEADER_BYTES) {
      return {
        error: "malformed_key",
        message: "The Authorization header is too long",
      };
    }
    const match = BEARER.exec(authorization);
    if (!match || !KEY_SYNTAX.test(match[1])) {
      return {
        error: "malformed_key",
        message: "Malformed Authorization header: expected 'Bearer <API key>'",
      };
    }
    key = match[1];
    from = "Authorization header";
  }
  for (const [where, value] of otherKeys(headers, url)) {
    if (value.length > MAX_KEY_HEADER_BYTES) {
      return { error: "malformed_key", message: `The ${where} is too long` };
    }
    if (!KEY_SYNTAX.test(value)) {
      return { error: "malformed_key", message: `Malformed ${where}` };
    }
    if (key !== null && key !== value) {
      return {
        error: "conflicting_keys",
        message: from === "Authorization header" &&
            where === "x-api-key header"
          ? "The Authorization and x-api-key headers carry different API keys: send one"
          : `The ${from} and the ${where} carry different API keys: send one`,
      };
    }
    key = value;
    from ||= where;
  }
  if (key !== null) return { error: null, key };
  return {
    error: "missing_key",
    message:
      "Missing API key: send it as 'Authorization: Bearer <API key>' or 'x-api-key: <API key>'",
  };
}

/**
 * The keys sent other than `Authorization`, each with where it came from.
 * The query is read only when the URL holds `key=` (Gemini's clients).
 */
function otherKeys(headers: Headers, url: string): [string, string][] {
  const out: [string, string][] = [];
  const apiKey = headers.get("x-api-key");
  if (apiKey !== null) out.push(["x-api-key header", apiKey]);
  const goog = headers.get("x-goog-api-key");
  if (goog !== null) out.push(["x-goog-api-key header", goog]);
  if (url.includes("key=")) {
    for (const value of new URL(url).searchParams.getAll("key")) {
      out.push(["key query parameter", value]);
    }
  }
  return out;
}

/** Access settings that {@linkcode mustRefuseToStart} reads. */
export interface StartRuleSettings {
  requireKey: boolean;
  allowAnonymous: boolean;
}

/**
 * Why `serve` must not start, or null: listening beyond loopback with no
 * client key would hand the Flow credentials to anyone who can reach the port.
 * `keyCount` counts every key in the database, revoked ones included (they
 * keep enforcement on).
 */
export function mustRefuseToStart(
  host: string,
  keyCount: number,
  settings: StartRuleSettings,
): string | null {
  if (
    keyCount > 0 || settings.requireKey || settings.allowAnonymous ||
    isLoopbackHost(host)
  ) return null;
  return `Refusing to serve on ${host} without client API keys: anyone who can reach the port ` +
    `would use your Flow credentials. Create a key first with ` +
    `"flow-proxy keys create --name NAME" (clients then send it as 'Authorization: Bearer <key>' or 'x-api-key'), ` +
    `pass --require-key to start with every request refused until a key exists, ` +
    `or pass --allow-anonymous to serve without keys on purpose`;
}
