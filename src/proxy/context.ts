/**
 * What every request of one handler shares: the settings it reads, its I/O
 * and the deadline watcher. `createHandler` builds it once; the pieces of a
 * request (src/proxy/exchange.ts, attempts.ts, respond.ts) read it.
 */
import type { Logger } from "@logtape/logtape";
import type { Settings } from "../config/settings.ts";
import type { RequestRecord } from "../request_log/record.ts";
import type { Balancer } from "../upstream/balancer.ts";
import type { AnyAccessControl } from "../access/contract.ts";
import type { DeadlineWatcher } from "./deadlines.ts";
import type { ModelsState } from "../models/models_state.ts";

/** The settings the handler reads (flags of `serve`, see src/config/settings.ts). */
export type HandlerSettings = Pick<
  Settings,
  | "upstream"
  | "retryBodyLimit"
  | "maxBodySize"
  | "maxAttempts"
  | "connectTimeout"
  | "headersTimeout"
  | "idleTimeout"
  | "cooldownDefault"
>;

/** Hooks for metrics; every method is optional work on the hot path, so keep them cheap. */
export interface HandlerObserver {
  started(): void;
  /** `answer.answeredModel`: the model the upstream's response named, if any (see `ObserveOptions`). */
  finished(
    record: RequestRecord,
    credentialIndex: number | null,
    answer?: { answeredModel: string | null },
  ): void;
  failover(fromIndex: number): void;
  /** A request body was rewritten for its model; one kind per rewrite (`REWRITE_KINDS`). */
  rewrote?(kinds: readonly string[]): void;
  /** A client's model id was mapped to another Flow name by `rule` (`ModelResolution.rule`). */
  mapped?(rule: string): void;
  /** A request was translated (`name`: the client's API and Flow's, `"messages->chat"`). */
  translated?(name: string): void;
}

/** The state one handler shares between its requests. */
export interface HandlerContext {
  settings: HandlerSettings;
  logger: Logger;
  /** The balancer of the current secrets generation. */
  balancer: () => Balancer;
  fetch: typeof fetch;
  deadlines: DeadlineWatcher;
  observer: HandlerObserver | undefined;
  onRecord: ((record: RequestRecord) => void) | undefined;
  access: AnyAccessControl | undefined;
  /** The models configuration: mapping and rewrites. */
  models: ModelsState;
}
