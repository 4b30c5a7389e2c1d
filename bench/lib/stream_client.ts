/**
 * The benchmark's own HTTP client for what wrk cannot measure: time to the
 * first SSE event, whole SSE streams, and a large download.
 *
 * @module
 */
import { MESSAGES_REQUEST } from "./payloads.ts";
import { clientHeaders } from "./client_key.ts";

/** One SSE response, read to its end. */
export interface SseResult {
  /** From calling `fetch` to the first `data:` line, ms. */
  firstEventMs: number;
  /** Events received (blank-line terminated). */
  events: number;
  bytes: number;
  totalMs: number;
}

const LF = 0x0a;
const decoder = new TextDecoder();

/** POSTs a streaming Messages request to `url` and reads the SSE response to its end. */
export async function readSse(url: string): Promise<SseResult> {
  const started = performance.now();
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      ...clientHeaders(),
    },
    body: MESSAGES_REQUEST,
    signal: AbortSignal.timeout(120_000),
  });
  if (res.status !== 200 || res.body === null) {
    await res.body?.cancel();
    throw new Error(`SSE request to ${url} answered ${res.status}`);
  }
  let firstEventMs = -1;
  let head = "";
  let events = 0;
  let bytes = 0;
  let previous = 0;
  for await (const chunk of res.body) {
    if (firstEventMs < 0) {
      head += decoder.decode(chunk, { stream: true });
      if (head.includes("data:")) firstEventMs = performance.now() - started;
    }
    bytes += chunk.byteLength;
    for (let i = 0; i < chunk.byteLength; i++) {
      const byte = chunk[i];
      if (byte === LF && previous === LF) events++;
      previous = byte;
    }
  }
  return { firstEventMs, events, bytes, totalMs: performance.now() - started };
}

/** One download, read to its end. */
export interface DownloadResult {
  bytes: number;
  totalMs: number;
}

/** GETs `url` and counts the bytes of the body. */
export async function download(url: string): Promise<DownloadResult> {
  const started = performance.now();
  const res = await fetch(url, {
    headers: clientHeaders(),
    signal: AbortSignal.timeout(300_000),
  });
  if (res.status !== 200 || res.body === null) {
    await res.body?.cancel();
    throw new Error(`Download from ${url} answered ${res.status}`);
  }
  let bytes = 0;
  for await (const chunk of res.body) bytes += chunk.byteLength;
  return { bytes, totalMs: performance.now() - started };
}
