/**
 * What access control tells the request handler: let the request through
 * (as which client, with which headers), or refuse it. A refusal is a value,
 * not a `Response`: the handler answers it in the shape of the API its
 * client speaks (see src/base/api_errors.ts).
 */
import type { ProxyErrorType } from "../base/api_errors.ts";
import type { AccessRefusal } from "../base/error_kinds.ts";
import type {
  BudgetEstimate,
  BudgetLease,
  BudgetRefusal,
  BudgetUse,
} from "./budget_table.ts";
import type { Budget, SharedBudget } from "./budget.ts";
import type { LimitRule, TakeResult } from "./rate_limit.ts";

/** The reasons a request is refused (listed with every record error kind in base/error_kinds.ts). */
export type { AccessRefusal };

/** A request let through. */
export interface AccessGranted {
  ok: true;
  /** The key's name, or null while keys are not enforced. */
  client: string | null;
  /** `x-ratelimit-*` headers to add to the response (empty when not limited). */
  headers: [string, string][];
  /** Set when the key has a budget: give it to `AccessControl.settle` when the request ends. */
  lease?: BudgetLease;
}

/**
 * What a request is expected to cost, for a key's budget: its body's size
 * and the model's price per token (billionths of the currency; null when
 * the model has no price).
 */
export interface RequestSize {
  bodyBytes: number;
  inputNanosPerToken: number | null;
  outputNanosPerToken: number | null;
}

/** A request refused: what the client is told, and why (for logs and the record). */
export interface AccessDenial {
  ok: false;
  /** The error type; it fixes the status (see `ERROR_STATUS`). */
  type: ProxyErrorType;
  /** The message the client reads. */
  message: string;
  /** Headers to add to the error response: `www-authenticate`, `retry-after`, `x-ratelimit-*`. */
  headers: [string, string][];
  /** The key's name whenever a key was recognised, even though refused. */
  client: string | null;
  /** Why, for logs and the request record: `ip_not_allowed`, `missing_key`, … */
  reason: AccessRefusal;
}

/** The verdict on one request. */
export type AccessResult = AccessGranted | AccessDenial;

/** Where a request came from, as `Deno.ServeHandlerInfo` gives it. */
export interface ClientInfo {
  remoteAddr: Deno.Addr;
}

/**
 * Checks one request against the access rules (see `createAccessControl`).
 * `R` is what the full check returns: an {@linkcode AccessResult}, or with
 * shared limits (`--redis-url`) possibly a promise of one
 * ({@linkcode AnyAccessControl}).
 */
export interface AccessControl<R = AccessResult> {
  /**
   * The full check, once the request's model is known (a promise only
   * when a key with limits is checked in Redis, `--redis-url`): `model` is the one
   * sent upstream; `requested`, when flow-proxy mapped it from another id,
   * the client's, which a key's allowlist may name instead.
   */
  (
    req: Request,
    info: ClientInfo,
    model: string | null,
    requested?: string | null,
    size?: RequestSize,
  ): R;
  /**
   * A request let through with a budget `lease` ended, having used `use`:
   * releases what it reserved and charges what it used.
   */
  settle(lease: BudgetLease, use: BudgetUse): void;
  /**
   * The checks that need no body (address and key), to run before reading
   * one: a refusal, or null when the full check may follow once the model is
   * known. Lets an unauthenticated client be turned away without its upload.
   */
  early(req: Request, info: ClientInfo): AccessDenial | null;
}

/** An access check that may answer through Redis: what the request handler takes. */
export type AnyAccessControl = AccessControl<
  AccessResult | Promise<AccessResult>
>;

/** One budget a request needs room in: its key's own, its owner's or its team's. */
export interface BudgetClaim {
  /** The counter: the key's name, `user:<name>` or `team:<name>`. */
  slot: string;
  budget: Budget;
  /** Start and end of the budget's current period, epoch ms. */
  period: number;
  end: number;
  /** The user or team whose budget it is; absent: the key's own. */
  holder?: SharedBudget;
  estimate: BudgetEstimate;
}

/** What the limits across instances are asked for one request. */
export interface SharedAdmission {
  /** The key's name. */
  key: string;
  /** Its rate limit; null: none. */
  rule: LimitRule | null;
  /** Its budgets, in the order the local check takes them. */
  claims: readonly BudgetClaim[];
}

/**
 * The limits' answer: the rate limit's outcome (null without a rule) and
 * either a lease per claim or the first claim that refused. When the rate
 * limit refuses, `leases` is empty (nothing stays reserved).
 */
export type SharedVerdict =
  | { rate: TakeResult | null; leases: BudgetLease[] }
  | {
    rate: TakeResult | null;
    refused: { index: number; refusal: BudgetRefusal };
  };

/**
 * Rate limits, concurrency limits and budgets kept in Redis for every
 * instance (src/cluster/shared_limits.ts). The access check falls back to
 * its own per-instance limits whenever this cannot answer.
 */
export interface SharedLimits {
  /** False while Redis is known to be unreachable: the check falls back without waiting. */
  readonly up: boolean;
  /** `--redis-limits-fail closed`: refuse limited keys instead of falling back. */
  readonly failClosed: boolean;
  /** One pipelined round trip; null when Redis did not answer in time. */
  admit(admission: SharedAdmission, now: number): Promise<SharedVerdict | null>;
  /**
   * Charges what a request used: to its lease in Redis, or (a lease of the
   * fallback) as a charge alone. Never throws; buffered while Redis is away.
   */
  settle(lease: BudgetLease, use: BudgetUse): void;
}
