/**
 * One finished request, as workers hand it to the supervisor and the
 * supervisor hands it to the request-log sinks (SQLite, ClickHouse).
 *
 * Times are milliseconds; `ts` is the wall-clock start (epoch ms).
 * Fields that may be unknown are `null`, never omitted.
 */
import type { ErrorKind } from "../base/error_kinds.ts";

export type { ErrorKind };

export interface RequestRecord {
  /** The `x-request-id` sent back to the client. */
  id: string;
  /** Wall-clock start, epoch milliseconds. */
  ts: number;
  /** Client key name, once client keys are in use; else null. */
  client: string | null;
  /** Name of the credential that served the final attempt; null if none was used. */
  credential: string | null;
  method: string;
  /** Path without the query string. */
  path: string;
  /** `model` from a JSON request body, when present: what the client asked for. */
  model: string | null;
  /** The model sent upstream when flow-proxy mapped or rewrote the request for it; null or absent otherwise. */
  upstreamModel?: string | null;
  /**
   * The API translation that ran, as the client's API and Flow's
   * (`"messages->chat"`, `"responses->chat"`, `"gemini->chat"`); null or
   * absent when none did.
   */
  translation?: string | null;
  /**
   * What the request cost, in billionths of the models configuration's
   * currency, from the tokens Flow reported and the model's price; null or
   * absent when the price or the tokens are unknown (never a guessed 0).
   */
  costNanos?: number | null;
  /** The currency of `costNanos` (`USD`), set with it. */
  costCurrency?: string | null;
  /** Status sent to the client (0 when the client left before headers). */
  status: number;
  /** Whole request, from arrival to the last byte sent. */
  durationMs: number;
  /** Time to first token (SSE) or first byte (other streams); null if none. */
  ttftMs: number | null;
  bytesIn: number;
  bytesOut: number;
  tokensIn: number | null;
  tokensOut: number | null;
  cacheReadTokens: number | null;
  cacheWriteTokens: number | null;
  /** Why the request did not end in a plain answer (`upstream_timeout`, `client_cancel`, `missing_key`, …), or null. */
  error: ErrorKind | null;
  /** Upstream attempts made (1 without failover). */
  attempts: number;
  /** True when the response was streamed as SSE. */
  stream: boolean;
  /** What a rewrite changed in the request body (its kinds, comma-joined); null or absent when nothing was. */
  rewrite?: string | null;
  /** Each upstream attempt, when there were several (failover); null or absent otherwise. */
  attemptLog?: AttemptEntry[] | null;
}

/** One upstream attempt of a request that failed over. */
export interface AttemptEntry {
  /** The credential tried. */
  credential: string | null;
  /** What it answered (0: no answer). */
  status: number;
  /** Why the attempt failed, or null for the one that answered. */
  error: string | null;
  durationMs: number;
}
