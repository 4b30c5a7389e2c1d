/**
 * Client-key rate limits, concurrency limits and budgets kept in Redis, so
 * they hold exactly across every instance (`--redis-url`). The access check
 * (src/access/access.ts) calls {@linkcode SharedLimits.admit} once per
 * limited request: the GCRA script for the rate limit and one admit script
 * per budget go out in one pipeline, so a request costs one round trip.
 *
 * - Fast path: a key refused by its rate limit is refused here, without
 *   Redis, until the moment Redis said it may retry: GCRA only moves that
 *   moment later, so the local answer is the one Redis would give. A budget
 *   found spent (not just held) is refused here for up to 10 s of its
 *   period: spend only grows until the period ends.
 * - Concurrency: each admitted request holds a lease in Redis with an
 *   expiry, renewed by this thread every `leaseMs / 3` while it runs; the
 *   leases of an instance that died (SIGKILL) expire by themselves.
 * - Spend: {@linkcode SharedLimits.settle} charges with the lease id as the
 *   idempotency key; a charge Redis did not take is buffered
 *   (spend_buffer.ts) and flushed when it is back, counted once.
 *
 * @module
 */
import type {
  BudgetClaim,
  SharedAdmission,
  SharedLimits,
  SharedVerdict,
} from "../access/contract.ts";
import type {
  BudgetCrossing,
  BudgetLease,
  BudgetRefusal,
  BudgetUse,
} from "../access/budget_table.ts";
import type { LimitRule, TakeResult } from "../access/rate_limit.ts";
import type { RedisLink } from "./redis_link.ts";
import {
  budgetKeys,
  defineLimitScripts,
  type LimitClient,
  type LimitCommands,
  rateKey,
} from "./limit_scripts.ts";
import { type Charge, SpendBuffer } from "./spend_buffer.ts";
import { describe } from "../base/describe.ts";

/** How long a lease in Redis lives without being renewed, ms. */
export const LEASE_MS = 15_000;
/** How long a charge's idempotency key is remembered: longer than any outage a buffer outlives. */
export const CHARGE_KEEP_MS = 2 * 24 * 3600 * 1000;
/** Keys remembered as over their rate limit or budget (a bound against made-up names). */
const MAX_DENIED = 4096;
/** Longest a budget found spent is refused here without asking Redis again, ms. */
const SPENT_RECHECK_MS = 10_000;

/** Options of {@linkcode shareLimits}. */
export interface SharedLimitsOptions {
  link: RedisLink;
  /** `--redis-limits-fail closed`. */
  failClosed: boolean;
  /** Told of each 80 % and 100 % threshold a budget crosses, once per period for all instances. */
  onCrossing?: (crossing: BudgetCrossing) => void;
  logger: { error(message: string): void };
  /** Lease lifetime without renewal, ms; default {@linkcode LEASE_MS}. */
  leaseMs?: number;
}

/** The limits of one thread, with what the runtime needs beyond the access check. */
export interface ThreadLimits extends SharedLimits {
  /**
   * Tells Redis what the request log says `slot` used in the period
   * starting at `period`, unless Redis counts that period already (so a
   * count every instance built is never replaced or added to). Dropped
   * while Redis is away.
   */
  seed(
    slot: string,
    period: number,
    use: { tokens: number; nanos: number },
  ): void;
  /** Charges waiting for Redis. */
  readonly buffered: number;
  /** Sends the buffered charges now (also done on reconnect and every renewal tick). */
  flush(): Promise<number>;
  close(): Promise<void>;
}

/** Microseconds between two requests of `rule`, as the local limiter rounds them. */
function intervalOf(rule: LimitRule): number {
  return Math.round(60_000_000 / rule.rpm);
}

/** The limits of one serving thread through `options.link`. */
export function shareLimits(options: SharedLimitsOptions): ThreadLimits {
  const { link } = options;
  const client: LimitClient = defineLimitScripts(link.client);
  const leaseMs = options.leaseMs ?? LEASE_MS;
  const buffer = new SpendBuffer();
  // Unique across instances and restarts: the idempotency key of a charge.
  const thread = crypto.randomUUID().slice(0, 13);
  let next = 0;
  /** Leases this thread holds, by counter, for renewal. */
  const live = new Map<string, Set<string>>();
  const denied = new Map<
    string,
    { until: number; rpm: number; burst: number }
  >();
  /** Budgets found spent (not merely held by requests in flight), by counter. */
  const spent = new Map<
    string,
    { period: number; until: number; limits: string; refusal: BudgetRefusal }
  >();
  let timer: ReturnType<typeof setInterval> | undefined;
  let closed = false;

  function tick(): void {
    if (!link.up) return;
    for (const [slot, ids] of live) {
      if (ids.size === 0) {
        live.delete(slot);
        continue;
      }
      client.fpRenew(budgetKeys(slot)[1], leaseMs, ...ids).catch(ignore);
    }
    if (buffer.size > 0) void flush();
  }

  function start(): void {
    if (timer !== undefined || closed) return;
    timer = setInterval(tick, Math.max(50, Math.floor(leaseMs / 3)));
    Deno.unrefTimer(timer);
  }

  function onReady(): void {
    // Seeds are not sent again here: the request log they come from already
    // holds the buffered requests, so seeding and then flushing would count
    // those twice. A Redis that lost its data counts from the flush on.
    void flush();
  }
  link.client.on("ready", onReady);

  function hold(slot: string, id: string): void {
    let ids = live.get(slot);
    if (ids === undefined) live.set(slot, ids = new Set());
    ids.add(id);
    start();
  }

  function drop(lease: BudgetLease): void {
    if (lease.id !== undefined) live.get(lease.key)?.delete(lease.id);
  }

  function release(lease: BudgetLease): void {
    drop(lease);
    if (lease.id === undefined) return;
    client.fpRelease(...budgetKeys(lease.key), lease.id).catch(ignore);
  }

  function admitArgs(claim: BudgetClaim, id: string): (string | number)[] {
    const { budget, estimate } = claim;
    return [
      ...budgetKeys(claim.slot),
      claim.period,
      id,
      estimate.tokens,
      estimate.nanos ?? 0,
      budget.maxParallel ?? -1,
      budget.tokens ?? -1,
      budget.spendNanos ?? -1,
      leaseMs,
    ];
  }

  function rateOutcome(
    key: string,
    rule: LimitRule,
    reply: number[],
    t: number,
  ): TakeResult {
    const interval = intervalOf(rule);
    const capacity = interval * rule.burst;
    const [allowed, untilFull, untilAllowed] = reply.map(Number);
    if (allowed === 1) {
      return {
        allowed: true,
        limit: rule.rpm,
        remaining: Math.max(0, Math.floor((capacity - untilFull) / interval)),
        resetSeconds: Math.ceil(untilFull / 1e6),
        retryAfterSeconds: 0,
      };
    }
    if (denied.size >= MAX_DENIED) denied.clear();
    denied.set(key, {
      until: t + untilAllowed / 1000,
      rpm: rule.rpm,
      burst: rule.burst,
    });
    return {
      allowed: false,
      limit: rule.rpm,
      remaining: 0,
      resetSeconds: Math.ceil(untilFull / 1e6),
      retryAfterSeconds: Math.max(1, Math.ceil(untilAllowed / 1e6)),
    };
  }

  /** The local answer while `key` is known to be over its limit, else null. */
  function stillDenied(
    key: string,
    rule: LimitRule,
    t: number,
  ): TakeResult | null {
    const known = denied.get(key);
    if (known === undefined) return null;
    if (
      t >= known.until || known.rpm !== rule.rpm || known.burst !== rule.burst
    ) {
      denied.delete(key);
      return null;
    }
    const interval = intervalOf(rule);
    const wait = known.until - t;
    return {
      allowed: false,
      limit: rule.rpm,
      remaining: 0,
      resetSeconds: Math.ceil((wait * 1000 + interval * rule.burst) / 1e6),
      retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)),
    };
  }

  /** The first claim whose budget is known spent this period, or -1. */
  function knownSpent(claims: readonly BudgetClaim[], t: number): number {
    if (spent.size === 0) return -1;
    for (let i = 0; i < claims.length; i++) {
      const known = spent.get(claims[i].slot);
      if (known === undefined) continue;
      if (
        known.period === claims[i].period && t < known.until &&
        known.limits === limitsOf(claims[i])
      ) return i;
      spent.delete(claims[i].slot);
    }
    return -1;
  }

  function rememberSpent(
    claim: BudgetClaim,
    refusal: BudgetRefusal,
    t: number,
  ): void {
    // Spent only grows within a period: until it ends (or the budget
    // changes) Redis would refuse too. Held by requests in flight is not
    // remembered: one may end any moment.
    if (refusal.reserved || refusal.measure === "parallel") return;
    if (spent.size >= MAX_DENIED) spent.clear();
    spent.set(claim.slot, {
      period: claim.period,
      until: Math.min(claim.end, t + SPENT_RECHECK_MS),
      limits: limitsOf(claim),
      refusal,
    });
  }

  async function admit(
    admission: SharedAdmission,
    t: number,
  ): Promise<SharedVerdict | null> {
    const { rule, claims } = admission;
    if (rule !== null) {
      const known = stillDenied(admission.key, rule, t);
      if (known !== null) return { rate: known, leases: [] };
    }
    const over = knownSpent(claims, t);
    if (over >= 0) {
      return {
        rate: null,
        refused: {
          index: over,
          refusal: spent.get(claims[over].slot)!.refusal,
        },
      };
    }
    const ids = claims.map(() => `${thread}-${(next++).toString(36)}`);
    const calls: Call[] = claims.map((
      claim,
      i,
    ) => ["fpAdmit", admitArgs(claim, ids[i])]);
    if (rule !== null) {
      calls.unshift(["fpRate", [
        rateKey(admission.key),
        intervalOf(rule),
        intervalOf(rule) * rule.burst,
      ]]);
    }
    const replies = await pipelined(client, calls);
    const rateReply: PromiseSettledResult<unknown> = rule === null
      ? { status: "fulfilled", value: null }
      : replies[0];
    const budgetReplies = rule === null ? replies : replies.slice(1);
    const leases: BudgetLease[] = [];
    let refused: { index: number; refusal: BudgetRefusal } | null = null;
    let failed = rateReply.status === "rejected";
    budgetReplies.forEach((reply, i) => {
      if (reply.status === "rejected") {
        failed = true;
        return;
      }
      const value = reply.value as (number | string)[];
      if (Number(value[0]) === 1) {
        const claim = claims[i];
        leases.push({
          key: claim.slot,
          budget: claim.budget,
          period: claim.period,
          estimate: claim.estimate,
          id: ids[i],
        });
        hold(claim.slot, ids[i]);
      } else if (refused === null) {
        refused = {
          index: i,
          refusal: {
            measure: value[1] as BudgetRefusal["measure"],
            used: Number(value[2]),
            limit: Number(value[3]),
            reserved: Number(value[4]) === 1,
          },
        };
      }
    });
    const rate = rule === null || rateReply.status === "rejected"
      ? null
      : rateOutcome(admission.key, rule, rateReply.value as number[], t);
    if (failed) {
      // The fallback decides; what Redis did take is given back (or expires).
      for (const lease of leases) release(lease);
      return null;
    }
    if (refused !== null) {
      const { index, refusal } = refused as {
        index: number;
        refusal: BudgetRefusal;
      };
      rememberSpent(claims[index], refusal, t);
    }
    if ((rate !== null && !rate.allowed) || refused !== null) {
      for (const lease of leases) release(lease);
      return refused === null ? { rate, leases: [] } : { rate, refused };
    }
    return { rate, leases };
  }

  function send(charge: Charge): Promise<unknown> {
    return client.fpSettle(
      ...budgetKeys(charge.slot),
      charge.id,
      charge.period,
      charge.tokens,
      charge.nanos,
      charge.tokenLimit,
      charge.spendLimit,
      CHARGE_KEEP_MS,
    ).then((reply) => report(charge, reply));
  }

  function report(charge: Charge, reply: number[]): void {
    const [done, tokens, nanos, crossed] = reply.map(Number);
    if (done !== 1 || !crossed) return;
    const out: BudgetCrossing[] = [];
    if (crossed & 1) out.push(crossing(charge, "tokens", 80, tokens));
    if (crossed & 2) out.push(crossing(charge, "tokens", 100, tokens));
    if (crossed & 4) out.push(crossing(charge, "spend", 80, nanos));
    if (crossed & 8) out.push(crossing(charge, "spend", 100, nanos));
    for (const c of out) options.onCrossing?.(c);
  }

  function settle(lease: BudgetLease, use: BudgetUse): void {
    drop(lease);
    const charge: Charge = {
      slot: lease.key,
      id: lease.id ?? `${thread}-${(next++).toString(36)}`,
      period: lease.period,
      tokens: use.tokens,
      nanos: use.nanos ?? -1,
      tokenLimit: lease.budget.tokens ?? -1,
      spendLimit: lease.budget.spendNanos ?? -1,
    };
    if (!link.up) {
      keep(charge);
      return;
    }
    send(charge).catch(() => keep(charge));
  }

  function keep(charge: Charge): void {
    buffer.push(charge);
    start();
    const dropped = buffer.takeDropped();
    if (dropped > 0) {
      options.logger.error(
        `Redis has been away too long: ${dropped} budget charge(s) beyond the buffer's ${buffer.size} were dropped (the request log still holds them)`,
      );
    }
  }

  function flush(): Promise<number> {
    if (!link.up) return Promise.resolve(0);
    return buffer.flush(send).catch((err) => {
      options.logger.error(`Cannot flush budget charges: ${describe(err)}`);
      return 0;
    });
  }

  return {
    get up() {
      return link.up;
    },
    failClosed: options.failClosed,
    admit,
    settle,
    seed(slot, period, use) {
      if (!link.up) return;
      client.fpSeed(budgetKeys(slot)[0], period, use.tokens, use.nanos).catch(
        ignore,
      );
    },
    get buffered() {
      return buffer.size;
    },
    flush,
    async close() {
      closed = true;
      clearInterval(timer);
      link.client.off("ready", onReady);
      await flush();
    },
  };
}

/** One script call: its name and arguments. */
type Call = [keyof LimitCommands, (string | number)[]];

/**
 * Sends `calls` without waiting between them: one round trip (Redis
 * answers them in order on the one connection), and each script on its own
 * hash tag's slot, so it would also hold on a Redis Cluster. The link does
 * not auto-pipeline: for one command at a time, as most requests send, its
 * per-tick queue costs about twice the CPU (measured in Deno: 69–90 µs
 * against 33–46 µs a call).
 */
function pipelined(
  client: LimitClient,
  calls: Call[],
): Promise<PromiseSettledResult<unknown>[]> {
  return Promise.allSettled(calls.map(([name, args]) => {
    const run = client[name] as (
      ...a: (string | number)[]
    ) => Promise<unknown>;
    return run.apply(client, args);
  }));
}

/** A claim's limits as one comparable value: a changed budget is asked again. */
function limitsOf(claim: BudgetClaim): string {
  const b = claim.budget;
  return `${b.tokens}/${b.spendNanos}/${b.maxParallel}`;
}

function crossing(
  charge: Charge,
  measure: "tokens" | "spend",
  percent: 80 | 100,
  used: number,
): BudgetCrossing {
  return {
    key: charge.slot,
    measure,
    percent,
    used,
    limit: measure === "tokens" ? charge.tokenLimit : charge.spendLimit,
  };
}

function ignore(): void {}
