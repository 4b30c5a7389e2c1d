/**
 * The closed vocabulary of `RequestRecord.error`: why a request did not end
 * in a plain answer. One list, so the request log, the metrics and the
 * handler cannot drift apart (a kind the metrics do not know is a type error,
 * not a silent zero).
 *
 * Three families, by who assigns them:
 * - every {@linkcode ProxyErrorType}: an error flow-proxy answered itself
 *   (`upstream_timeout`, `no_credentials_available`, …);
 * - {@linkcode ACCESS_REFUSALS}: why access control turned the client away
 *   (`missing_key`, `ip_not_allowed`, …), kept more specific than the answer;
 * - {@linkcode RECORD_ONLY_ERRORS}: outcomes that have no error body of their
 *   own: the upstream's 5xx passed through, a client that left, a stream
 *   broken after its headers were sent.
 */
import { ERROR_STATUS, type ProxyErrorType } from "./api_errors.ts";

/** The reasons a request is refused, for logs and the record (the client sees a less specific message). */
export const ACCESS_REFUSALS = [
  "ip_not_allowed",
  "missing_key",
  "malformed_key",
  "conflicting_keys",
  "unknown_key",
  "revoked_key",
  "expired_key",
  "model_not_allowed",
  "model_missing",
  "model_conflict",
  "rate_limited",
  "budget_exceeded",
  "limits_unavailable",
] as const;

/** One of {@linkcode ACCESS_REFUSALS}. */
export type AccessRefusal = typeof ACCESS_REFUSALS[number];

/** Kinds only a record carries: no error response of flow-proxy's own goes with them. */
export const RECORD_ONLY_ERRORS = [
  /** The upstream answered 5xx and it was passed through. */
  "upstream_5xx",
  /** The client left before the answer was complete. */
  "client_cancel",
  /** The upstream's body failed after the headers were sent. */
  "stream_error",
] as const;

/** One of {@linkcode RECORD_ONLY_ERRORS}. */
export type RecordOnlyError = typeof RECORD_ONLY_ERRORS[number];

/** Every value `RequestRecord.error` may hold besides null. */
export type ErrorKind = ProxyErrorType | AccessRefusal | RecordOnlyError;

/** Every {@linkcode ErrorKind}, once each (`rate_limited` is both a refusal and an error type). */
export const ERROR_KINDS: readonly ErrorKind[] = [
  ...new Set<ErrorKind>([
    ...Object.keys(ERROR_STATUS) as ProxyErrorType[],
    ...ACCESS_REFUSALS,
    ...RECORD_ONLY_ERRORS,
  ]),
];
