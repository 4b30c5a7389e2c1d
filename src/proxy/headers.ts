/** Header rules between client, proxy and upstream. */

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the legacy proxy ones. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
]);

/** Request headers never forwarded: hop-by-hop, `host`, the client's own credentials. */
const DROP_FROM_CLIENT = new Set([
  ...HOP_BY_HOP,
  "host",
  "authorization",
  "x-api-key",
  "content-length",
  "accept-encoding",
]);

const SANE_REQUEST_ID = /^[A-Za-z0-9._:@\/+=-]{1,128}$/;

/** The client's `x-request-id` when it is sane, else a fresh UUID. */
export function requestId(headers: Headers): string {
  const id = headers.get("x-request-id");
  return id !== null && SANE_REQUEST_ID.test(id) ? id : crypto.randomUUID();
}

/** Names listed in a `Connection` header, lower-cased. */
function connectionTokens(headers: Headers): Set<string> | null {
  const value = headers.get("connection");
  if (value === null) return null;
  return new Set(value.toLowerCase().split(",").map((s) => s.trim()));
}

/** Headers for the upstream request: the client's, filtered, plus the Flow token and request id. */
export function upstreamRequestHeaders(
  client: Headers,
  bearer: string,
  id: string,
): Headers {
  const out = new Headers();
  const listed = connectionTokens(client);
  for (const [name, value] of client) {
    if (DROP_FROM_CLIENT.has(name) || listed?.has(name)) continue;
    out.append(name, value);
  }
  out.set("authorization", bearer);
  out.set("x-request-id", id);
  // Deno's fetch decodes what it asked for; asking for identity keeps the
  // bytes and the upstream's Content-Encoding in agreement.
  out.set("accept-encoding", "identity");
  return out;
}

/**
 * Headers for the client's response. The upstream was asked for identity, so
 * the bytes are passed as they came and `Content-Encoding` still describes them.
 */
export function clientResponseHeaders(upstream: Headers, id: string): Headers {
  const out = new Headers();
  const listed = connectionTokens(upstream);
  for (const [name, value] of upstream) {
    if (HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    out.append(name, value);
  }
  out.set("x-request-id", id);
  return out;
}
