/**
 * Client-key budgets shared by every worker, in the `budgets` region of the
 * SharedArrayBuffer (src/base/shared_state.ts): what each key has spent in
 * its current period, what its requests in flight have reserved, and how
 * many are in flight.
 *
 * A request is let through when what was spent plus what is reserved is
 * still under the limit; it then reserves its estimate until its answer
 * says what it used. So parallel requests cannot all pass on the same
 * remainder, and a budget is overdrawn by at most one request's own use
 * beyond its estimate. Each slot has a tiny spin lock (a compare-and-swap
 * on one field) so the check and the reservation are one step for all
 * workers.
 *
 * Layout: `BUDGET_SLOTS` slots of `FIELDS` BigInt64 values each:
 * ```
 * TAG         0 = free, else a 64-bit hash of the key's name
 * LOCK        0 = free, 1 = held
 * PERIOD      start of the period the counters are for, epoch ms
 * TOKENS      tokens used in the period
 * NANOS       spend in the period, billionths of the currency
 * RES_TOKENS  tokens reserved by requests in flight
 * RES_NANOS   spend reserved by requests in flight
 * IN_FLIGHT   requests in flight (any period)
 * FLAGS       thresholds already reported this period (bits: see CROSSING_BITS)
 * ```
 */
import { claimSlot, slotTag } from "./shared_slots.ts";
import { BUDGETS_BYTES, type Region } from "../base/shared_state.ts";
import type { Budget } from "./budget.ts";

// TAG, the slot's first value (where claimSlot looks), is 0 in a free slot.
const LOCK = 1;
const PERIOD = 2;
const TOKENS = 3;
const NANOS = 4;
const RES_TOKENS = 5;
const RES_NANOS = 6;
const IN_FLIGHT = 7;
const FLAGS = 8;
const FIELDS = 9;

/** Keys with a budget one process can follow exactly (the rest are counted per thread). */
export const BUDGET_SLOTS = Math.floor(BUDGETS_BYTES / (FIELDS * 8));

/** What a budget limits, as refusals and crossings name it. */
export type BudgetMeasure = "tokens" | "spend" | "parallel";

/** What a request is expected to use, reserved while it runs. */
export interface BudgetEstimate {
  tokens: number;
  /** Null when the model has no price. */
  nanos: number | null;
}

/** What an answer reported it used. */
export interface BudgetUse {
  tokens: number;
  nanos: number | null;
}

/** A request let through: hand it back to {@linkcode BudgetTable.settle} once, when it ends. */
export interface BudgetLease {
  readonly key: string;
  readonly budget: Budget;
  readonly period: number;
  readonly estimate: BudgetEstimate;
  /** Leases taken with this one on the owner's and the team's budgets, settled with it. */
  readonly also?: readonly BudgetLease[];
  /** Set on a lease held in Redis (src/cluster/shared_limits.ts): its id there; absent: held in this table. */
  readonly id?: string;
}

/** A refusal: what is exhausted and until when. */
export interface BudgetRefusal {
  measure: BudgetMeasure;
  used: number;
  limit: number;
  /** True when spent alone is under the limit, but requests in flight reserve the rest. */
  reserved: boolean;
}

/** A threshold (80 or 100 % of a limit) crossed for the first time this period. */
export interface BudgetCrossing {
  key: string;
  measure: "tokens" | "spend";
  percent: 80 | 100;
  used: number;
  limit: number;
}

const CROSSING_BITS = {
  tokens80: 1n,
  tokens100: 2n,
  spend80: 4n,
  spend100: 8n,
} as const;

/** Budgets keyed by key name, shared through a region of a SharedArrayBuffer. */
export class BudgetTable {
  #cells: BigInt64Array;
  #slots = new Map<string, number>();
  /** Slots of keys that found no shared one (counted per thread only). */
  #local = new Map<string, BigInt64Array>();
  #onOverflow?: (key: string) => void;

  /** Maps the table onto `region` (at least `BUDGETS_BYTES` bytes, 8-aligned). */
  constructor(
    region: Region,
    options: { onOverflow?: (key: string) => void } = {},
  ) {
    if (region.byteLength < BUDGET_SLOTS * FIELDS * 8) {
      throw new RangeError(
        `Budget region has ${region.byteLength} bytes, needs ${
          BUDGET_SLOTS * FIELDS * 8
        }`,
      );
    }
    if (region.byteOffset % 8 !== 0) {
      throw new RangeError(
        `Budget region must start at a multiple of 8, got offset ${region.byteOffset}`,
      );
    }
    this.#cells = new BigInt64Array(
      region.buffer,
      region.byteOffset,
      BUDGET_SLOTS * FIELDS,
    );
    this.#onOverflow = options.onOverflow;
  }

  /**
   * Lets a request of `key` through if its `budget` has room in the period
   * starting at `period`, reserving `estimate`; else says what is
   * exhausted.
   */
  admit(
    key: string,
    budget: Budget,
    period: number,
    estimate: BudgetEstimate,
  ): { ok: true; lease: BudgetLease } | { ok: false; refusal: BudgetRefusal } {
    const [cells, base] = this.#slot(key);
    const at = BigInt(period);
    lock(cells, base);
    try {
      if (cells[base + PERIOD] < at) startPeriod(cells, base, at);
      const inFlight = Number(cells[base + IN_FLIGHT]);
      if (budget.maxParallel !== null && inFlight >= budget.maxParallel) {
        return refused("parallel", inFlight, budget.maxParallel, false);
      }
      const current = cells[base + PERIOD] === at;
      if (budget.tokens !== null) {
        const used = current ? Number(cells[base + TOKENS]) : 0;
        const held = current ? Number(cells[base + RES_TOKENS]) : 0;
        if (used + held >= budget.tokens) {
          return refused("tokens", used, budget.tokens, used < budget.tokens);
        }
      }
      if (budget.spendNanos !== null) {
        const used = current ? Number(cells[base + NANOS]) : 0;
        const held = current ? Number(cells[base + RES_NANOS]) : 0;
        if (used + held >= budget.spendNanos) {
          return refused(
            "spend",
            used,
            budget.spendNanos,
            used < budget.spendNanos,
          );
        }
      }
      cells[base + IN_FLIGHT] += 1n;
      if (current) {
        cells[base + RES_TOKENS] += BigInt(estimate.tokens);
        cells[base + RES_NANOS] += BigInt(estimate.nanos ?? 0);
      }
      return { ok: true, lease: { key, budget, period, estimate } };
    } finally {
      unlock(cells, base);
    }
  }

  /**
   * A request let through by `lease` ended, having used `use`: releases
   * its reservation and charges what it used to the period it was let
   * through in (if that period is over, nothing is charged: the request log
   * keeps it under its start time). Returns the thresholds this crossed
   * first.
   */
  settle(lease: BudgetLease, use: BudgetUse): BudgetCrossing[] {
    const [cells, base] = this.#slot(lease.key);
    const at = BigInt(lease.period);
    const crossings: BudgetCrossing[] = [];
    lock(cells, base);
    try {
      if (cells[base + IN_FLIGHT] > 0n) cells[base + IN_FLIGHT] -= 1n;
      if (cells[base + PERIOD] !== at) return crossings;
      cells[base + RES_TOKENS] -= BigInt(lease.estimate.tokens);
      cells[base + RES_NANOS] -= BigInt(lease.estimate.nanos ?? 0);
      const { budget } = lease;
      const tokens = cells[base + TOKENS] + BigInt(use.tokens);
      cells[base + TOKENS] = tokens;
      this.#cross(
        cells,
        base,
        crossings,
        lease.key,
        "tokens",
        tokens,
        budget.tokens,
      );
      if (use.nanos !== null) {
        const nanos = cells[base + NANOS] + BigInt(use.nanos);
        cells[base + NANOS] = nanos;
        this.#cross(
          cells,
          base,
          crossings,
          lease.key,
          "spend",
          nanos,
          budget.spendNanos,
        );
      }
      return crossings;
    } finally {
      unlock(cells, base);
    }
  }

  /** Gives back a lease whose request never ran (another budget refused it): no use, no crossings. */
  release(lease: BudgetLease): void {
    const [cells, base] = this.#slot(lease.key);
    lock(cells, base);
    try {
      if (cells[base + IN_FLIGHT] > 0n) cells[base + IN_FLIGHT] -= 1n;
      if (cells[base + PERIOD] !== BigInt(lease.period)) return;
      cells[base + RES_TOKENS] -= BigInt(lease.estimate.tokens);
      cells[base + RES_NANOS] -= BigInt(lease.estimate.nanos ?? 0);
    } finally {
      unlock(cells, base);
    }
  }

  /**
   * Sets what `key` used in the period starting at `period`, as the request
   * log says, unless the table already counts that period (or a later one)
   * for the key.
   */
  seed(
    key: string,
    period: number,
    use: { tokens: number; nanos: number },
  ): void {
    const [cells, base] = this.#slot(key);
    const at = BigInt(period);
    lock(cells, base);
    try {
      // A live count (this period or a later one) is never replaced by the
      // request log's, which lags behind it.
      if (cells[base + PERIOD] >= at) return;
      startPeriod(cells, base, at);
      cells[base + TOKENS] = BigInt(use.tokens);
      cells[base + NANOS] = BigInt(use.nanos);
    } finally {
      unlock(cells, base);
    }
  }

  /** What `key` used in the period starting at `period`, and its requests in flight. */
  usage(key: string, period: number): {
    tokens: number;
    nanos: number;
    inFlight: number;
  } {
    const [cells, base] = this.#slot(key);
    const current = Atomics.load(cells, base + PERIOD) === BigInt(period);
    return {
      tokens: current ? Number(Atomics.load(cells, base + TOKENS)) : 0,
      nanos: current ? Number(Atomics.load(cells, base + NANOS)) : 0,
      inFlight: Number(Atomics.load(cells, base + IN_FLIGHT)),
    };
  }

  #cross(
    cells: BigInt64Array,
    base: number,
    out: BudgetCrossing[],
    key: string,
    measure: "tokens" | "spend",
    used: bigint,
    limit: number | null,
  ): void {
    if (limit === null) return;
    for (const percent of [80, 100] as const) {
      const bit = CROSSING_BITS[`${measure}${percent}`];
      if (used * 100n < BigInt(limit) * BigInt(percent)) continue;
      if ((cells[base + FLAGS] & bit) !== 0n) continue;
      cells[base + FLAGS] |= bit;
      out.push({ key, measure, percent, used: Number(used), limit });
    }
  }

  /** The cells holding `key` and the index of its slot's first field. */
  #slot(key: string): [BigInt64Array, number] {
    const cached = this.#slots.get(key);
    if (cached !== undefined) {
      return cached < 0 ? [this.#localSlot(key), 0] : [this.#cells, cached];
    }
    const base = claimSlot(this.#cells, BUDGET_SLOTS, FIELDS, slotTag(key));
    if (base >= 0) {
      this.#slots.set(key, base);
      return [this.#cells, base];
    }
    this.#slots.set(key, -1);
    this.#onOverflow?.(key);
    return [this.#localSlot(key), 0];
  }

  #localSlot(key: string): BigInt64Array {
    let cells = this.#local.get(key);
    if (cells === undefined) {
      cells = new BigInt64Array(new SharedArrayBuffer(FIELDS * 8));
      this.#local.set(key, cells);
    }
    return cells;
  }
}

function refused(
  measure: BudgetMeasure,
  used: number,
  limit: number,
  reserved: boolean,
): { ok: false; refusal: BudgetRefusal } {
  return { ok: false, refusal: { measure, used, limit, reserved } };
}

/** Zeroes a slot's period counters for the period starting at `at` (lock held). */
function startPeriod(cells: BigInt64Array, base: number, at: bigint): void {
  cells[base + PERIOD] = at;
  cells[base + TOKENS] = 0n;
  cells[base + NANOS] = 0n;
  cells[base + RES_TOKENS] = 0n;
  cells[base + RES_NANOS] = 0n;
  cells[base + FLAGS] = 0n;
}

/** Takes a slot's lock: held for a few loads and stores, so spinning is cheap. */
function lock(cells: BigInt64Array, base: number): void {
  while (Atomics.compareExchange(cells, base + LOCK, 0n, 1n) !== 0n) {
    // Another worker holds it for a handful of instructions.
  }
}

function unlock(cells: BigInt64Array, base: number): void {
  Atomics.store(cells, base + LOCK, 0n);
}
