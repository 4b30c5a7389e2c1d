/**
 * What a client is told when its key's budget refuses a request: what is
 * exhausted, how much was used of how much, and when to retry.
 */
import type { BudgetRefusal } from "./budget_table.ts";

/** The 429's message and `Retry-After` seconds for `refusal`, the period ending at `end`. */
export function budgetRefusal(
  refusal: BudgetRefusal,
  end: number,
  now: number,
): { message: string; retryAfter: number } {
  if (refusal.measure === "parallel") {
    return {
      message:
        `This API key may have ${refusal.limit} requests in flight at once; ${refusal.used} are running: retry when one ends`,
      retryAfter: 1,
    };
  }
  const what = refusal.measure === "tokens"
    ? `${refusal.used} of its ${refusal.limit} tokens`
    : `${(refusal.used / 1e9).toFixed(6)} of its ${
      (refusal.limit / 1e9).toFixed(6)
    } spend`;
  if (refusal.reserved) {
    return {
      message:
        `This API key's budget is held by its requests in flight (${what} used so far this period): retry when they end`,
      retryAfter: 1,
    };
  }
  return {
    message: `This API key has used ${what} this period; the budget resets at ${
      new Date(end).toISOString()
    }`,
    retryAfter: Math.max(1, Math.ceil((end - now) / 1000)),
  };
}
