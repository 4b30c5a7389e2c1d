/**
 * A handler with an injected fetch, for the tests of the models
 * configuration on the request path (mapping, rewrites, probes, streams).
 */
import type { Logger } from "@logtape/logtape";
import { Balancer, resetHealth } from "../../src/upstream/balancer.ts";
import { createSharedState } from "../../src/base/shared_state.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import {
  createHandler,
  type HandlerObserver,
  type HandlerOptions,
  type ProxyHandler,
} from "../../src/proxy/handler.ts";
import { TEST_HANDLER_SETTINGS } from "../support/handler_settings.ts";

export const PROXY = "http://127.0.0.1:8899";
export const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;

/** One call of the injected fetch. */
export interface Call {
  url: string;
  method: string;
  headers: Headers;
  body: Uint8Array | null;
}

/** What the observer heard. */
export interface Heard {
  mapped: string[];
  rewrote: string[][];
  failovers: number;
}

/** A handler, what it fetched, recorded, logged and reported. */
export interface ModelsSetup extends Disposable {
  handler: ProxyHandler;
  balancer: Balancer;
  calls: Call[];
  records: RequestRecord[];
  logs: { level: string; message: string }[];
  heard: Heard;
}

/** Builds the handler; `respond` answers each upstream call. */
export function modelsSetup(
  respond: (call: Call, n: number) => Response | Promise<Response> = () =>
    Response.json({ ok: true }),
  options: Partial<HandlerOptions> = {},
): ModelsSetup {
  const logs: { level: string; message: string }[] = [];
  const log = (level: string) => (message: unknown) =>
    logs.push({ level, message: String(message) });
  const logger = {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    warning: log("warning"),
    error: log("error"),
    fatal: log("fatal"),
    trace: log("trace"),
    isEnabledFor: () => true,
  } as unknown as Logger;
  const state = createSharedState();
  resetHealth(state);
  const balancer = new Balancer(state, {
    names: ["a", "b"],
    tokens: ["token-a", "token-b"],
    generation: 1,
  }, { backoffBase: 10_000, backoffMax: 60_000, logger });
  const calls: Call[] = [];
  const records: RequestRecord[] = [];
  const heard: Heard = { mapped: [], rewrote: [], failovers: 0 };
  const observer: HandlerObserver = {
    started() {},
    finished() {},
    failover: () => void heard.failovers++,
    mapped: (rule) => void heard.mapped.push(rule),
    rewrote: (kinds) => void heard.rewrote.push([...kinds]),
  };
  const fakeFetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const body = init?.body === undefined || init.body === null
      ? null
      : new Uint8Array(await new Response(init.body).arrayBuffer());
    const call: Call = {
      url: String(input),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body,
    };
    calls.push(call);
    return await respond(call, calls.length - 1);
  };
  const handler = createHandler({
    ...TEST_HANDLER_SETTINGS,
    retryBodyLimit: 64 * 1024,
    maxBodySize: 1024 * 1024,
    maxAttempts: 2,
    balancer: () => balancer,
    logger,
    observer,
    health: () => ({ healthy: true, body: { status: "ok" } }),
    onRecord: (r) => records.push(structuredClone(r)),
    fetch: fakeFetch as typeof fetch,
    connectCheck: null,
    ...options,
  });
  return {
    handler,
    balancer,
    calls,
    records,
    logs,
    heard,
    [Symbol.dispose]: () => handler.close(),
  };
}

/** A POST of `body` (a string is sent as it is). */
export function post(
  path: string,
  body: unknown,
  headers: HeadersInit = {},
): Request {
  return new Request(PROXY + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Waits until the handler has written `n` records. */
export async function recorded(s: ModelsSetup, n: number): Promise<void> {
  for (let i = 0; i < 200 && s.records.length < n; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
}
