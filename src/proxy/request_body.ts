/**
 * The request body of a proxied call: kept in memory up to
 * --retry-body-limit so a failover can send it again (and its `model` read),
 * or streamed once; counted against --max-body-size either way.
 */
import { sniffModel } from "../models/model_sniff.ts";

/** Thrown (or streamed as the error) when a body exceeds the size limit. */
export class PayloadTooLarge extends Error {}

/** Methods RFC 9110 calls idempotent: sending one twice does no harm. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

/**
 * The body of one attempt. Deno's fetch sends a request again by itself when
 * a pooled connection closes or resets before the answer, on the premise
 * that it was stale, even when the upstream had read the whole body; it does
 * so only for bodies it can clone (bytes, strings), not for a stream. A
 * request that is not idempotent goes as a one-chunk stream, written once.
 * (A Blob would keep `Content-Length`, but Deno reads it through async
 * operations that cost about a fifth of the proxy's CPU per request; a body
 * above --retry-body-limit is sent chunked anyway.)
 */
export function sendOnce(
  method: string,
  body: BodyInit | null,
): BodyInit | null {
  if (!(body instanceof Uint8Array) || IDEMPOTENT.has(method)) return body;
  return new ReadableStream<Uint8Array>({
    start(ctrl) {
      ctrl.enqueue(body);
      ctrl.close();
    },
  });
}

/** How the request body is sent, and whether it can be sent again. */
export interface BodyPlan {
  /** True when every attempt can send the whole body (kept in memory, or none). */
  replayable: boolean;
  /** Bytes read from the client so far (all of a kept body). */
  sent(): number;
  /**
   * The body's top-level `model` (see src/models/model_sniff.ts); null for a
   * body too large to keep, which is never read whole.
   */
  model: string | null;
  /** True when the body names its top-level `model` twice, differently. */
  ambiguousModel: boolean;
  /** Where the top-level `model` values are (see `ModelSniff.spans`). */
  spans: readonly number[];
  /** The body for the next attempt. */
  take(): BodyInit | null;
  /** True when a streamed body exceeded the size limit. */
  tooLarge(): boolean;
  /** Drops a body that will not be sent. */
  discard(): Promise<void>;
}

const NO_BODY: BodyPlan = {
  replayable: true,
  sent: () => 0,
  model: null,
  ambiguousModel: false,
  spans: [],
  take: () => null,
  tooLarge: () => false,
  discard: () => Promise.resolve(),
};

/**
 * Plans the request body: keeps it in memory when it is at most `keepLimit` bytes, so a failover
 * can send it again; a larger body streams once, counted against `maxSize`.
 */
export async function planBody(
  req: Request,
  keepLimit: number,
  maxSize: number,
): Promise<BodyPlan> {
  // Deno.serve gives GET and HEAD no body. Reading `req.body` would wrap a
  // small body that Deno already holds in a stream, and the read would then
  // go through that stream: a body of declared length is read directly.
  if (req.method === "GET" || req.method === "HEAD") return NO_BODY;
  const declared = req.headers.get("content-length");
  const length = declared === null ? null : Number(declared);
  if (length !== null && length > maxSize) throw new PayloadTooLarge();

  if (length !== null && length <= keepLimit) {
    const bytes = new Uint8Array(await req.arrayBuffer());
    return keptBody(bytes);
  }
  const stream = req.body;
  if (stream === null) return NO_BODY;
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let kept = 0;
  while (kept <= keepLimit) {
    const { done, value } = await reader.read();
    if (done) return keptBody(concat(chunks, kept));
    chunks.push(value);
    kept += value.byteLength;
    if (kept > maxSize) {
      await reader.cancel().catch(() => {});
      throw new PayloadTooLarge();
    }
  }
  // Too large to keep: stream it once, the kept prefix first. Its model is
  // not guessed from the prefix (the rest may name another one): a key with
  // a model allowlist is refused such a body, and the record takes the
  // model the response names.
  let sent = kept;
  let exceeded = false;
  const rest = new ReadableStream<Uint8Array>({
    start(ctrl) {
      for (const chunk of chunks) ctrl.enqueue(chunk);
      chunks.length = 0;
    },
    async pull(ctrl) {
      const { done, value } = await reader.read();
      if (done) return ctrl.close();
      sent += value.byteLength;
      if (sent > maxSize) {
        exceeded = true;
        reader.cancel().catch(() => {});
        return ctrl.error(new PayloadTooLarge());
      }
      ctrl.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  let taken = false;
  return {
    replayable: false,
    sent: () => sent,
    model: null,
    ambiguousModel: false,
    spans: NO_BODY.spans,
    take() {
      if (taken) throw new Error("A streamed request body can be sent once");
      taken = true;
      return rest;
    },
    tooLarge: () => exceeded,
    discard: () => rest.cancel().catch(() => {}),
  };
}

/**
 * A body held whole: its model is read from all of it, whatever its content
 * type says (the upstream parses the body as JSON either way).
 */
function keptBody(bytes: Uint8Array): BodyPlan {
  const sniffed = sniffModel(bytes);
  return {
    replayable: true,
    sent: () => bytes.byteLength,
    model: sniffed.model,
    ambiguousModel: sniffed.ambiguous,
    spans: sniffed.spans,
    take: () => bytes as Uint8Array<ArrayBuffer>,
    tooLarge: () => false,
    discard: () => Promise.resolve(),
  };
}

/** The chunks as one array (no copy for one chunk). */
function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** The top-level `model` of a JSON body (see {@linkcode sniffModel}). */
export function findModel(bytes: Uint8Array | undefined): string | null {
  return bytes ? sniffModel(bytes).model : null;
}
