/**
 * What a request cost, from the tokens its answer reported and the model's
 * price: in billionths of the currency unit (an integer, so sums are exact).
 */
import type { ModelPrice } from "./types.ts";

/** The tokens of one answer, as the request record holds them. */
export interface TokenCounts {
  tokensIn: number | null;
  tokensOut: number | null;
  cacheReadTokens: number | null;
  cacheWriteTokens: number | null;
}

/**
 * The cost of `tokens` at `price`, in billionths of the currency unit;
 * null when the price is unknown or the answer reported no tokens.
 * `inputIncludesCache` is true for OpenAI's APIs, whose prompt tokens count
 * the cached ones too (LiteLLM's Chat answers for Claude count cache reads
 * and writes in them); Anthropic's input tokens count neither.
 */
export function costNanos(
  price: ModelPrice | null | undefined,
  tokens: TokenCounts,
  inputIncludesCache: boolean,
): number | null {
  if (!price) return null;
  if (tokens.tokensIn === null && tokens.tokensOut === null) return null;
  const read = tokens.cacheReadTokens ?? 0;
  const written = tokens.cacheWriteTokens ?? 0;
  let fresh = tokens.tokensIn ?? 0;
  if (inputIncludesCache) fresh = Math.max(0, fresh - read - written);
  // A price per million tokens × tokens = millionths; × 1000 = billionths.
  return Math.round(
    1000 * (fresh * price.input + (tokens.tokensOut ?? 0) * price.output +
      read * price.cacheRead + written * price.cacheWrite),
  );
}

/** `nanos` billionths as an amount with `digits` decimals: `0.012300`. */
export function formatCost(nanos: number, digits = 6): string {
  return (nanos / 1e9).toFixed(digits);
}
