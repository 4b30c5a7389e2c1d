/**
 * One way to turn a thrown value into text for a log line or an error
 * message, so every place says the same thing about the same failure.
 */

/**
 * The message of `err`, followed by its cause's when it has one: a `fetch`
 * TypeError says only "fetch failed", its cause says "connection refused".
 */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : "";
  // Some errors (node:sqlite's) carry their own message again as the cause.
  if (cause === "" || err.message.includes(cause)) return err.message;
  return `${err.message}: ${cause}`;
}

/** A file-system error in a few words ("no such file", "permission denied"), else {@linkcode describe}. */
export function describeIoError(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.IsADirectory) return "is a directory";
  return describe(err);
}
