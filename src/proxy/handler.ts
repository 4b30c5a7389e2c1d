/**
 * The request handler every worker (or the main thread) serves: it checks
 * the method and the route, answers the reserved paths (reserved.ts) and
 * forwards everything else (forward.ts → attempts.ts → respond.ts).
 */
import type { Logger } from "@logtape/logtape";
import type { Balancer } from "../upstream/balancer.ts";
import type { RequestRecord } from "../request_log/record.ts";
import type { AnyAccessControl } from "../access/contract.ts";
import type { ProxyErrorType } from "../base/api_errors.ts";
import { type ApiFamily, apiFamily } from "../base/api_family.ts";
import { requestId } from "./headers.ts";
import { createRouter } from "./routing.ts";
import { DeadlineWatcher, tcpConnectCheck } from "./deadlines.ts";
import type {
  HandlerContext,
  HandlerObserver,
  HandlerSettings,
} from "./context.ts";
import { ALLOW, errorAnswer, refuseLocally } from "./error_answer.ts";
import {
  mayBeReserved,
  type ReservedOptions,
  serveReserved,
} from "./reserved.ts";
import { forwardRequest } from "./forward.ts";
import { ModelsState } from "../models/models_state.ts";

export type { HandlerObserver, HandlerSettings } from "./context.ts";
// Where tests and tools have always found them.
export { findModel } from "./request_body.ts";
export { retryAfterMs } from "./attempts.ts";

/** Options of {@linkcode createHandler}: the settings it reads, and its I/O. */
export interface HandlerOptions extends HandlerSettings, ReservedOptions {
  /** The balancer of the current secrets generation. */
  balancer: () => Balancer;
  logger: Logger;
  observer?: HandlerObserver;
  /** Receives one record per finished request. */
  onRecord?: (record: RequestRecord) => void;
  /** Decides whether a client may use the proxy; absent = everyone may. */
  access?: AnyAccessControl;
  /** Designed for mocking: the upstream `fetch`. */
  fetch?: typeof fetch;
  /** TCP reachability check used when an answer is slower than the connect timeout. */
  connectCheck?: ((signal: AbortSignal) => Promise<boolean>) | null;
  /** The models configuration (mapping, rewrites); the built-in one when absent. */
  models?: ModelsState;
}

/** The handler, plus the resources it holds. */
export interface ProxyHandler {
  (req: Request, info: Deno.ServeHandlerInfo): Promise<Response>;
  /** Stops the deadline timer. */
  close(): void;
  /** Upstream calls being watched right now. */
  readonly watching: number;
}

/** Methods served as they are: checked first, so they cost one lookup. */
const COMMON_METHODS = new Set([
  "GET",
  "POST",
  "HEAD",
  "OPTIONS",
  "PUT",
  "PATCH",
  "DELETE",
]);
/** RFC 9110's methods and PATCH: in any other case, a client's mistake. */
const STANDARD_METHODS = new Set([...COMMON_METHODS, "CONNECT", "TRACE"]);
/** Methods `fetch` refuses to send (any case). */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/** Builds the proxy handler; options are validated here, once. */
export function createHandler(options: HandlerOptions): ProxyHandler {
  checkLimits(options);
  const route = createRouter(options.upstream);
  const deadlines = new DeadlineWatcher({
    connectTimeout: options.connectTimeout,
    headersTimeout: options.headersTimeout,
    idleTimeout: options.idleTimeout,
    connectCheck: options.connectCheck === undefined
      ? tcpConnectCheck(options.upstream)
      : options.connectCheck ?? undefined,
  });
  const context: HandlerContext = {
    settings: options,
    logger: options.logger,
    balancer: options.balancer,
    fetch: options.fetch ?? fetch,
    deadlines,
    observer: options.observer,
    onRecord: options.onRecord,
    access: options.access,
    models: options.models ?? new ModelsState(),
  };

  async function handle(
    req: Request,
    info: Deno.ServeHandlerInfo,
  ): Promise<Response> {
    const { target, forward, path, refusal } = route(req.url);
    const id = requestId(req.headers);
    const family = apiFamily(path);
    const local = answerLocally(req, { refusal, path, id, family }, options);
    if (local !== null) return await local;
    if (!forward && mayBeReserved(path)) {
      const answer = serveReserved(options, { req, info, path, id, family });
      if (answer !== null) return await answer;
    }
    return await forwardRequest(context, {
      req,
      info,
      target,
      path,
      id,
      family,
    });
  }

  const handler = handle as ProxyHandler;
  handler.close = () => deadlines.close();
  Object.defineProperty(handler, "watching", { get: () => deadlines.size });
  return handler;
}

/** What {@linkcode answerLocally} needs to know of a request's route. */
interface LocalAnswerInit {
  /** Why the route refuses the path (it leaves the base path), or null. */
  refusal: string | null;
  path: string;
  id: string;
  family: ApiFamily;
}

/**
 * The answers flow-proxy gives itself before the reserved paths and the
 * upstream: methods `fetch` cannot send, paths that leave the base path,
 * WebSocket upgrades and HEAD probes; null for every other request.
 */
function answerLocally(
  req: Request,
  { refusal, path, id, family }: LocalAnswerInit,
  { logger }: Pick<HandlerOptions, "logger">,
): Response | Promise<Response> | null {
  const method = req.method;
  if (!COMMON_METHODS.has(method)) {
    const refused = refuseMethod(method);
    // CONNECT is answered without a log line, as it always was.
    if (refused === CONNECT_REFUSED) {
      return errorAnswer(id, {
        family,
        ...refused,
        headers: { allow: ALLOW },
      });
    }
    if (refused !== null) {
      return refuseLocally(req, {
        ...refused,
        family,
        id,
        logger,
      });
    }
  }
  if (refusal !== null) {
    return refuseLocally(req, {
      family,
      type: "bad_request",
      message: refusal,
      id,
      logger,
    });
  }
  // fetch cannot tunnel a WebSocket: refused at once, a 426 makes Codex
  // fall back to HTTP after one try (a 405 or 404 after seven).
  if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
    return refuseLocally(req, {
      family,
      type: "upgrade_required",
      message:
        "WebSocket is not supported by flow-proxy: send the request over plain HTTP",
      id,
      logger,
      headers: { connection: "close" },
    });
  }
  if (method === "HEAD" && (path === "/" || path.startsWith("/v1/"))) {
    return headAnswer(id);
  }
  return null;
}

/**
 * A probe (`HEAD /`, Claude Code's first request; `HEAD` on an API path):
 * answered here, so it costs no upstream call and no rotation slot.
 */
function headAnswer(id: string): Response {
  return new Response(null, { status: 200, headers: { "x-request-id": id } });
}

/** Throws a `RangeError` for limits no request could meet. */
function checkLimits(settings: HandlerSettings): void {
  if (!(settings.maxAttempts >= 1)) {
    throw new RangeError("maxAttempts must be at least 1");
  }
  if (!(settings.retryBodyLimit >= 0) || !(settings.maxBodySize > 0)) {
    throw new RangeError(
      `maxBodySize must be positive and retryBodyLimit 0 or more, got ${settings.maxBodySize} and ${settings.retryBodyLimit}`,
    );
  }
}

/** What a CONNECT is told. */
const CONNECT_REFUSED = {
  type: "method_not_allowed",
  message:
    "CONNECT is not supported: flow-proxy must add a credential, which a TLS tunnel cannot carry. Send plain http:// requests (reverse or forward mode)",
} as const;

/** Why an uncommon method is refused, or null when it is served. */
export function refuseMethod(
  method: string,
): { type: ProxyErrorType; message: string } | null {
  const upper = method.toUpperCase();
  if (upper === "CONNECT") return CONNECT_REFUSED;
  // fetch() refuses to send these, and rewrites the case of the six it
  // normalises: answered here, they never count as an upstream failure.
  if (FORBIDDEN_METHODS.has(upper)) {
    return {
      type: "method_not_allowed",
      message: `Method ${method} is not supported`,
    };
  }
  if (STANDARD_METHODS.has(upper)) {
    return {
      type: "bad_request",
      message: `Method names are case-sensitive: send ${upper}, not ${method}`,
    };
  }
  return null;
}
