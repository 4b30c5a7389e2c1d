/**
 * The benchmark's streaming upstream: Anthropic-style SSE (first event at
 * once, then one every `gap` ms) and a binary download, plus the fixed chat
 * completion so it can stand in for nginx. nginx serves the JSON benchmark
 * itself and forwards everything else here.
 *
 * ```sh
 * deno run -A bench/upstream.ts --port 9000
 * curl -N -X POST 'http://127.0.0.1:9000/v1/messages?events=5&gap=100'
 * curl -o /dev/null 'http://127.0.0.1:9000/v1/files/blob.bin?size=104857600'
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CHAT_COMPLETION } from "./lib/payloads.ts";

/** Options of {@linkcode serveUpstream}. */
export interface UpstreamOptions {
  hostname?: string;
  /** 0 picks a free port. */
  port: number;
  onListen?: (addr: Deno.NetAddr) => void;
}

const encoder = new TextEncoder();
const CHUNK = new Uint8Array(64 * 1024).fill(0x61);
const COMPLETION_BYTES = encoder.encode(CHAT_COMPLETION);
const MAX_EVENTS = 1_000_000;
const MAX_BYTES = 4 * 1024 ** 3;

/** Starts the upstream; the caller shuts the returned server down. */
export function serveUpstream(options: UpstreamOptions): Deno.HttpServer {
  return Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port,
    onListen: options.onListen ?? (() => {}),
  }, handleUpstream);
}

/** Answers one request of the fake Flow upstream. */
export async function handleUpstream(req: Request): Promise<Response> {
  const url = new URL(req.url);
  // The request body is read and dropped, as a real upstream would read it.
  if (req.body) await req.body.pipeTo(new WritableStream());
  if (url.pathname.endsWith("/v1/messages")) {
    const events = intParam(url, "events", 10, MAX_EVENTS);
    const gap = intParam(url, "gap", 0, 60_000);
    return new Response(messagesStream(events, gap), {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
      },
    });
  }
  if (url.pathname.endsWith("/v1/files/blob.bin")) {
    const size = intParam(url, "size", 100 * 1024 * 1024, MAX_BYTES);
    return new Response(bytesStream(size), {
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(size),
      },
    });
  }
  if (url.pathname.endsWith("/v1/chat/completions")) {
    return new Response(COMPLETION_BYTES, {
      headers: { "content-type": "application/json" },
    });
  }
  return Response.json({ error: { message: "Not found", type: "not_found" } }, {
    status: 404,
  });
}

function intParam(url: URL, name: string, fallback: number, max: number) {
  const raw = url.searchParams.get(name);
  const value = raw === null ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 0) return fallback;
  return Math.min(value, max);
}

/**
 * `events` SSE events shaped like Anthropic's stream: `message_start`, then
 * deltas, then `message_delta` (with usage) and `message_stop`. The first is
 * sent at once; each later one `gapMs` after the previous.
 */
export function messagesStream(
  events: number,
  gapMs: number,
): ReadableStream<Uint8Array> {
  const total = Math.max(events, 3);
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      if (sent > 0 && gapMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, gapMs));
      }
      ctrl.enqueue(encoder.encode(messageEvent(sent, total)));
      sent++;
      if (sent === total) ctrl.close();
    },
  }, { highWaterMark: 0 });
}

function messageEvent(index: number, total: number): string {
  if (index === 0) {
    return `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":25,"output_tokens":1}}}\n\n`;
  }
  if (index === total - 2) {
    return `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":${total}}}\n\n`;
  }
  if (index === total - 1) {
    return `event: message_stop\ndata: {"type":"message_stop"}\n\n`;
  }
  return `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${index} "}}\n\n`;
}

/** `size` bytes of `a`, in 64 KiB chunks, produced only as fast as they are read. */
export function bytesStream(size: number): ReadableStream<Uint8Array> {
  let left = size;
  return new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (left === 0) return ctrl.close();
      const n = Math.min(left, CHUNK.byteLength);
      // A fresh view each time: the runtime may keep a chunk until written.
      ctrl.enqueue(n === CHUNK.byteLength ? CHUNK.slice() : CHUNK.slice(0, n));
      left -= n;
      if (left === 0) ctrl.close();
    },
  }, { highWaterMark: 0 });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string", default: "0" },
      host: { type: "string", default: "127.0.0.1" },
    },
  });
  serveUpstream({
    hostname: values.host,
    port: Number(values.port),
    onListen(addr) {
      Deno.stdout.writeSync(
        encoder.encode(`upstream on http://${addr.hostname}:${addr.port}\n`),
      );
    },
  });
}
