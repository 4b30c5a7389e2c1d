/**
 * The closed vocabulary of request rewrites: what the model rewrite may
 * change in a request (src/models/anthropic_compat.ts), one counter each in
 * `/metrics` (src/observe/metrics_layout.ts). A leaf, so metrics need not
 * import the rewrite.
 */

/** The kinds of change the rewrite makes, one counter each in `/metrics`. */
export type RewriteKind =
  | "model"
  | "beta"
  | "thinking"
  | "context_management"
  | "system_message"
  | "max_tokens"
  | "output_config";

/** Every {@linkcode RewriteKind}, in the order rewrites are made. */
export const REWRITE_KINDS: readonly RewriteKind[] = Object.freeze([
  "model",
  "beta",
  "max_tokens",
  "thinking",
  "context_management",
  "output_config",
  "system_message",
]);
