/** Header rules between client, proxy and upstream. */
import { benchOff } from "../base/bench_switches.ts";

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
  "x-goog-api-key",
  "content-length",
  "accept-encoding",
]);

/** `FLOW_PROXY_BENCH_OFF=id` (bench/README.md): one fixed id instead of a UUID per request. */
const ID_OFF = benchOff("id");
const FIXED_ID = "00000000-0000-4000-8000-000000000000";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:@\/+=-]{1,128}$/;

/** The client's `x-request-id` when it is sane, else a fresh {@linkcode timeOrderedId}. */
export function requestId(headers: Headers): string {
  const id = headers.get("x-request-id");
  if (id !== null && SANE_REQUEST_ID.test(id)) return id;
  return ID_OFF ? FIXED_ID : timeOrderedId(Date.now());
}

/**
 * A UUID version 7 (RFC 9562): the epoch milliseconds in the first 48 bits,
 * then 74 random bits of `crypto.randomUUID()`. Ids made later sort after,
 * so the request log's index on `id` grows at its end instead of at random
 * pages (4× cheaper to insert into; docs/benchmarks.md).
 */
export function timeOrderedId(ms: number): string {
  const time = ms.toString(16).padStart(12, "0");
  const random = crypto.randomUUID();
  // random: xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx; keep from the third group's second digit.
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}

/** Names listed in a `Connection` header, lower-cased. */
function connectionTokens(headers: Headers): Set<string> | null {
  const value = headers.get("connection");
  if (value === null) return null;
  return new Set(value.toLowerCase().split(",").map((s) => s.trim()));
}

/**
 * Headers for the upstream request: the client's, filtered, plus the Flow
 * token and request id. A list, not a `Headers`: `fetch` checks each header
 * once as it reads the list, where a `Headers` would be checked twice.
 * `betaHeader`, when given, replaces the client's `anthropic-beta` (null:
 * send none).
 */
export function upstreamRequestHeaders(
  client: Headers,
  bearer: string,
  id: string,
  betaHeader?: string | null,
): [string, string][] {
  const listed = connectionTokens(client);
  const out: [string, string][] = [];
  const replaceBeta = betaHeader !== undefined;
  for (const entry of client) {
    const name = entry[0];
    if (
      DROP_FROM_CLIENT.has(name) || name === "x-request-id" ||
      listed?.has(name) || (replaceBeta && name === "anthropic-beta")
    ) continue;
    out.push(entry);
  }
  if (betaHeader) out.push(["anthropic-beta", betaHeader]);
  out.push(["authorization", bearer], ["x-request-id", id]);
  // Deno's fetch decodes what it asked for; asking for identity keeps the
  // bytes and the upstream's Content-Encoding in agreement.
  out.push(["accept-encoding", "identity"]);
  return out;
}

/** Options of {@linkcode copyResponseHeaders}. */
export interface CopyResponseHeadersOptions {
  /** The request id, sent as `x-request-id`. */
  id: string;
  /** Headers (rate-limit state) that replace the upstream's of the same name. */
  extra?: [string, string][];
  /** Masks the credentials' tokens in values an upstream may have reflected. */
  redactor?: { header(value: string): string };
}

/**
 * Fills the client's response headers (`into`, the new Response's own):
 * appending to a Response built without headers costs half of what building
 * one from a list does, which Deno converts and checks pair by pair. The
 * upstream was asked for identity, so the bytes are passed as they came and
 * `Content-Encoding` still describes them.
 */
export function copyResponseHeaders(
  upstream: Headers,
  into: Headers,
  options: CopyResponseHeadersOptions,
): void {
  const extra = options.extra ?? [];
  const redactor = options.redactor;
  const listed = connectionTokens(upstream);
  for (const [name, value] of upstream) {
    if (
      HOP_BY_HOP.has(name) || name === "x-request-id" || listed?.has(name) ||
      (extra.length > 0 && extra.some((e) => e[0] === name))
    ) continue;
    into.append(name, redactor ? redactor.header(value) : value);
  }
  into.append("x-request-id", options.id);
  for (const [name, value] of extra) into.append(name, value);
}
