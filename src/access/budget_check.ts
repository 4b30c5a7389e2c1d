/**
 * The budget step of the access check: a request of a key is checked
 * against the key's own budget and the budgets it shares (its owner's, the
 * owner's team's: src/access/budget.ts `SharedBudget`). Every one must have
 * room; the request then holds a lease on each, settled together.
 *
 * @module
 */
import {
  type Budget,
  estimateUse,
  periodBounds,
  type SharedBudget,
} from "./budget.ts";
import { budgetRefusal } from "./budget_refusal.ts";
import type { BudgetLease, BudgetTable } from "./budget_table.ts";
import type { KeyRecord } from "./client_keys.ts";
import type { BudgetClaim, RequestSize } from "./contract.ts";

/**
 * Admits a request of `record` (a key with a budget or shared budgets) at
 * time `t`: one lease carrying the others in `also`, or the refusal of the
 * first budget without room, which gives back what the others reserved.
 */
export function takeBudgets(
  budgets: BudgetTable,
  record: KeyRecord,
  size: RequestSize | undefined,
  t: number,
  zone: string,
): { lease: BudgetLease | undefined } | {
  message: string;
  retryAfter: number;
} {
  const estimate = estimateUse(
    size?.bodyBytes ?? 0,
    size?.inputNanosPerToken ?? null,
    size?.outputNanosPerToken ?? null,
  );
  const leases: BudgetLease[] = [];
  const take = (slot: string, limits: Budget, holder?: SharedBudget) => {
    const bounds = periodBounds(t, limits.period, zone);
    const taken = budgets.admit(slot, limits, bounds.start, estimate);
    if (taken.ok) {
      leases.push(taken.lease);
      return null;
    }
    for (const lease of leases) budgets.release(lease);
    return budgetRefusal(taken.refusal, bounds.end, t, holder);
  };
  if (record.budget) {
    const refusal = take(record.name, record.budget);
    if (refusal) return refusal;
  }
  for (const shared of record.shared ?? []) {
    const refusal = take(shared.slot, shared.budget, shared);
    if (refusal) return refusal;
  }
  const [first, ...also] = leases;
  return { lease: also.length === 0 ? first : { ...first, also } };
}

/** The budgets a request of `record` needs room in at time `t`, with what it is expected to use. */
export function budgetClaims(
  record: KeyRecord,
  size: RequestSize | undefined,
  t: number,
  zone: string,
): BudgetClaim[] {
  const estimate = estimateUse(
    size?.bodyBytes ?? 0,
    size?.inputNanosPerToken ?? null,
    size?.outputNanosPerToken ?? null,
  );
  const claims: BudgetClaim[] = [];
  const claim = (slot: string, budget: Budget, holder?: SharedBudget) => {
    const bounds = periodBounds(t, budget.period, zone);
    claims.push({
      slot,
      budget,
      period: bounds.start,
      end: bounds.end,
      holder,
      estimate,
    });
  };
  if (record.budget) claim(record.name, record.budget);
  for (const shared of record.shared ?? []) {
    claim(shared.slot, shared.budget, shared);
  }
  return claims;
}
