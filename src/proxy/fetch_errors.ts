/**
 * Why an upstream `fetch` failed, and whether the request provably never
 * reached the upstream (the only case a non-idempotent call may be retried).
 */

/** What a failed upstream `fetch` tells about the request, for the client and the failover. */
export interface FetchFailure {
  /**
   * True only when the request provably never reached the upstream: the
   * connection could not be made (refused, name not resolved, TLS failed).
   */
  unsent: boolean;
  /** A short cause without internals (no URL, address or port), for the client. */
  reason: string;
}

// Deno's fetch throws `TypeError: fetch failed` whose cause's message is
// hyper's: "error sending request [from <local>] for <url> (<addr>): client
// error (<phase>): <detail>". No error code is exposed, so the text is all
// there is. Only the Connect phase proves that nothing was written: a
// connection closed after the body was read and one closed before a byte
// arrived both read "connection closed before message completed".
const CONNECT_CAUSES: [RegExp, string][] = [
  [/dns error|failed to lookup address/i, "the host name cannot be resolved"],
  [/connection refused/i, "Connection refused"],
  [/no route to host|host is unreachable/i, "No route to host"],
  [/network is unreachable/i, "Network is unreachable"],
  [/tls|certificate|handshake/i, "TLS handshake failed"],
  [/timed out/i, "Connection timed out"],
];
const CONNECT_PHASE = /client error \(Connect\)|tcp connect error/i;
const HYPER_PHASE = /client error \(/i;
const SENT_CAUSES: [RegExp, string][] = [
  [
    /connection closed before message completed|unexpected eof|incomplete/i,
    "the connection closed before the response was complete",
  ],
  [/reset/i, "connection reset"],
  [/broken pipe/i, "connection closed"],
  [/timed out/i, "timed out"],
];

/** Sorts out why an upstream `fetch` (or a read of its body) failed. */
export function classifyFetchError(err: unknown): FetchFailure {
  const text = causeText(err);
  // A bare refusal (no hyper phase, as a mocked fetch throws) cannot come
  // after bytes were written either.
  if (
    CONNECT_PHASE.test(text) ||
    (!HYPER_PHASE.test(text) && /connection refused/i.test(text))
  ) {
    for (const [pattern, reason] of CONNECT_CAUSES) {
      if (pattern.test(text)) return { unsent: true, reason };
    }
    return { unsent: true, reason: "cannot connect" };
  }
  for (const [pattern, reason] of SENT_CAUSES) {
    if (pattern.test(text)) return { unsent: false, reason };
  }
  return { unsent: false, reason: "connection failed" };
}

/** The messages of an error and its causes, for matching only. */
function causeText(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}
