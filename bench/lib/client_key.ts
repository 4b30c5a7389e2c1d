/**
 * The client key every benchmark request presents, once the benchmark has
 * made one (bench/lib/stack.ts `createClientKey`): wrk's script, the SSE and
 * download clients and the start-up checks all read it here.
 *
 * @module
 */

let clientKey: string | null = null;

/** Makes every later request present `key` (`Authorization: Bearer …`). */
export function useClientKey(key: string | null): void {
  clientKey = key;
}

/**
 * The headers a benchmark client adds to every request: the client key, or
 * nothing before one exists. Every target gets them, so each sees the same
 * request (the bare proxies and nginx replace or ignore the header).
 */
export function clientHeaders(): Record<string, string> {
  return clientKey === null ? {} : { authorization: `Bearer ${clientKey}` };
}
