/**
 * What a client is told when its key's budget refuses a request: what is
 * exhausted, how much was used of how much, and when to retry.
 */
import type { BudgetRefusal } from "./budget_table.ts";

/**
 * The 429's message and `Retry-After` seconds for `refusal`, the period
 * ending at `end`. `holder` names a shared budget that refused (a user's or
 * a team's); absent: the key's own.
 */
export function budgetRefusal(
  refusal: BudgetRefusal,
  end: number,
  now: number,
  holder?: { holder: "user" | "team"; name: string },
): { message: string; retryAfter: number } {
  const who = holder === undefined
    ? "This API key"
    : `${holder.holder === "user" ? "User" : "Team"} '${holder.name}'`;
  const whose = holder === undefined
    ? "This API key's budget"
    : `The budget of ${holder.holder} '${holder.name}'`;
  if (refusal.measure === "parallel") {
    return {
      message:
        `${who} may have ${refusal.limit} requests in flight at once; ${refusal.used} are running: retry when one ends`,
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
        `${whose} is held by its requests in flight (${what} used so far this period): retry when they end`,
      retryAfter: 1,
    };
  }
  return {
    message: `${who} has used ${what} this period; the budget resets at ${
      new Date(end).toISOString()
    }`,
    retryAfter: Math.max(1, Math.ceil((end - now) / 1000)),
  };
}
