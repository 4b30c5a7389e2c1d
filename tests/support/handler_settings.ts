/**
 * The settings an in-process handler test runs with unless it says
 * otherwise: an upstream nobody listens on (tests inject `fetch`), small
 * body limits, one attempt and deadlines no test reaches.
 */
import type { HandlerSettings } from "../../src/proxy/context.ts";

/** Spread into `createHandler`'s options, then override what the test is about. */
export const TEST_HANDLER_SETTINGS: Readonly<HandlerSettings> = Object.freeze({
  upstream: new URL("http://127.0.0.1:9/flow-llm-proxy"),
  retryBodyLimit: 1024,
  maxBodySize: 4096,
  maxAttempts: 1,
  connectTimeout: 10_000,
  headersTimeout: 60_000,
  idleTimeout: 60_000,
  cooldownDefault: 30_000,
});
