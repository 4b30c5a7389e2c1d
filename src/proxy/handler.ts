/**
 * The request handler every worker (or the main thread) serves: reserved
 * paths, routing, credential choice with failover, and streaming both ways.
 */
import type { Logger } from "@logtape/logtape";
import type { Balancer } from "../upstream/balancer.ts";
import type { ErrorKind, RequestRecord } from "../request_log/record.ts";
import type { AccessRefusal } from "../base/error_kinds.ts";
import {
  type ApiFamily,
  ERROR_STATUS,
  errorBody,
  errorResponse,
  type ProxyErrorType,
} from "../base/api_errors.ts";
import {
  copyResponseHeaders,
  requestId,
  upstreamRequestHeaders,
} from "./headers.ts";
import { apiFamily } from "../base/api_family.ts";
import { RESERVED_PREFIX } from "../base/reserved_paths.ts";
import { classifyFetchError } from "./fetch_errors.ts";
import { sniffModel } from "./model_sniff.ts";
import { TokenRedactor } from "./redact.ts";
import { createRouter } from "./routing.ts";
import { responseKind, type Usage, UsageTap } from "../observe/usage_tap.ts";
import {
  type DeadlineReason,
  DeadlineWatcher,
  tcpConnectCheck,
  type Watch,
} from "./deadlines.ts";
import { describe } from "../base/describe.ts";
import type { AccessControl, AccessDenial } from "../access/contract.ts";

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
}

/** Options of {@linkcode createHandler}. */
export interface HandlerOptions {
  upstream: URL;
  /** The balancer of the current secrets generation. */
  balancer: () => Balancer;
  retryBodyLimit: number;
  maxBodySize: number;
  maxAttempts: number;
  connectTimeout: number;
  headersTimeout: number;
  idleTimeout: number;
  /** Cool-down of a credential after a 429 without a usable `Retry-After`, ms. */
  cooldownDefault: number;
  logger: Logger;
  /** Body of `GET /healthz`: status 200 when healthy, else 503. */
  health: () => { healthy: boolean; body: Record<string, unknown> };
  /** Body of `GET /metrics`, or null when metrics are off. */
  metrics?: () => string;
  observer?: HandlerObserver;
  /** Receives one record per finished request. */
  onRecord?: (record: RequestRecord) => void;
  /** Decides whether a client may use the proxy; absent = everyone may. */
  access?: AccessControl;
  /** Whether a peer address may use `/metrics` and the admin API (`--allow-ip`); absent = all may. */
  allowAddress?: (address: string) => boolean;
  /** Serves the reserved prefix `/_flow-proxy/` (see {@linkcode RESERVED_PREFIX}). */
  admin?: (
    req: Request,
    info: Deno.ServeHandlerInfo,
  ) => Promise<Response> | Response;
  /** Designed for mocking: the upstream `fetch`. */
  fetch?: typeof fetch;
  /** TCP reachability check used when an answer is slower than the connect timeout. */
  connectCheck?: ((signal: AbortSignal) => Promise<boolean>) | null;
}

/** The handler, plus the resources it holds. */
export interface ProxyHandler {
  (req: Request, info: Deno.ServeHandlerInfo): Promise<Response>;
  /** Stops the deadline timer. */
  close(): void;
  /** Upstream calls being watched right now. */
  readonly watching: number;
}

const encoder = new TextEncoder();
/** Non-SSE responses of at most this declared length are read whole (see respondWhole). */
const WHOLE_BODY_LIMIT = 1024 * 1024;
const JSON_HEADERS = { "content-type": "application/json" };
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
const ALLOW = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS";

/** Builds the proxy handler; options are validated here, once. */
export function createHandler(options: HandlerOptions): ProxyHandler {
  if (!(options.maxAttempts >= 1)) {
    throw new RangeError("maxAttempts must be at least 1");
  }
  if (!(options.retryBodyLimit >= 0) || !(options.maxBodySize > 0)) {
    throw new RangeError(
      `maxBodySize must be positive and retryBodyLimit 0 or more, got ${options.maxBodySize} and ${options.retryBodyLimit}`,
    );
  }
  const route = createRouter(options.upstream);
  const doFetch = options.fetch ?? fetch;
  const log = options.logger;
  const observer = options.observer;
  const onRecord = options.onRecord;
  const deadlines = new DeadlineWatcher({
    connectTimeout: options.connectTimeout,
    headersTimeout: options.headersTimeout,
    idleTimeout: options.idleTimeout,
    connectCheck: options.connectCheck === undefined
      ? tcpConnectCheck(options.upstream)
      : options.connectCheck ?? undefined,
  });

  async function handle(
    req: Request,
    info: Deno.ServeHandlerInfo,
  ): Promise<Response> {
    const { target, forward, path, refusal } = route(req.url);
    const id = requestId(req.headers);
    const family = apiFamily(path);

    const method = req.method;
    if (!COMMON_METHODS.has(method)) {
      const upper = method.toUpperCase();
      if (upper === "CONNECT") {
        return fail(
          family,
          "method_not_allowed",
          "CONNECT is not supported: flow-proxy must add a credential, which a TLS tunnel cannot carry. Send plain http:// requests (reverse or forward mode)",
          id,
          { allow: ALLOW },
        );
      }
      // fetch() refuses to send these, and rewrites the case of the six it
      // normalises: answered here, they never count as an upstream failure.
      if (FORBIDDEN_METHODS.has(upper)) {
        return refuseLocally(
          req,
          family,
          "method_not_allowed",
          `Method ${method} is not supported`,
          id,
        );
      }
      if (STANDARD_METHODS.has(upper)) {
        return refuseLocally(
          req,
          family,
          "bad_request",
          `Method names are case-sensitive: send ${upper}, not ${method}`,
          id,
        );
      }
    }
    if (refusal !== null) {
      return refuseLocally(req, family, "bad_request", refusal, id);
    }
    if (!forward) {
      if (
        path === "/healthz" && (req.method === "GET" || req.method === "HEAD")
      ) return healthz(id);
      if (
        options.allowAddress &&
        (path === "/metrics" || path.startsWith(RESERVED_PREFIX)) &&
        !options.allowAddress(peerAddress(info))
      ) {
        return fail(
          family,
          "forbidden",
          "Your address may not use this path (--allow-ip)",
          id,
        );
      }
      if (
        path === "/metrics" && options.metrics &&
        (req.method === "GET" || req.method === "HEAD")
      ) {
        return new Response(options.metrics(), {
          headers: {
            "content-type": "text/plain; version=0.0.4; charset=utf-8",
            "x-request-id": id,
          },
        });
      }
      if (path.startsWith(RESERVED_PREFIX)) {
        if (!options.admin) {
          return fail(family, "not_found", `No such path: ${path}`, id);
        }
        const res = await options.admin(req, info);
        res.headers.set("x-request-id", id);
        return res;
      }
    }
    return await proxy(req, info, { target, path, id, family });
  }

  /** A refusal that no upstream sees: logged, and the body (if any) dropped. */
  async function refuseLocally(
    req: Request,
    family: ApiFamily,
    type: ProxyErrorType,
    message: string,
    id: string,
  ): Promise<Response> {
    log.warn(`Refused a request: ${message} [${id}]`);
    await req.body?.cancel().catch(() => {});
    return fail(
      family,
      type,
      message,
      id,
      type === "method_not_allowed" ? { allow: ALLOW } : undefined,
    );
  }

  function healthz(id: string): Response {
    const { healthy, body } = options.health();
    return new Response(JSON.stringify(body), {
      status: healthy ? 200 : 503,
      headers: {
        ...JSON_HEADERS,
        "x-request-id": id,
        "cache-control": "no-store",
      },
    });
  }

  interface Target {
    target: string;
    path: string;
    id: string;
    family: ApiFamily;
  }

  /**
   * Whatever a proxied request throws (an access check, a store, a bug) is
   * answered 500 here and its record finished, so the `in_flight` gauge that
   * `observer.started()` raised always comes down again.
   */
  async function proxy(
    req: Request,
    info: Deno.ServeHandlerInfo,
    t: Target,
  ): Promise<Response> {
    const run: { finish: ((status: number, error: ErrorKind) => void) | null } =
      {
        finish: null,
      };
    try {
      return await proxyRequest(req, info, t, run);
    } catch (err) {
      log.error(
        `Internal error on ${req.method} ${t.path}: ${describe(err)} [${t.id}]`,
      );
      run.finish?.(500, "internal_error");
      return fail(t.family, "internal_error", "Internal error", t.id);
    }
  }

  async function proxyRequest(
    req: Request,
    info: Deno.ServeHandlerInfo,
    t: Target,
    run: { finish: ((status: number, error: ErrorKind) => void) | null },
  ): Promise<Response> {
    const started = performance.now();
    const record: RequestRecord = {
      id: t.id,
      ts: Date.now(),
      client: null,
      credential: null,
      method: req.method,
      path: t.path,
      model: null,
      status: 0,
      durationMs: 0,
      ttftMs: null,
      bytesIn: 0,
      bytesOut: 0,
      tokensIn: null,
      tokensOut: null,
      cacheReadTokens: null,
      cacheWriteTokens: null,
      error: null,
      attempts: 0,
      stream: false,
    };
    observer?.started();
    run.finish = finish;
    const link = new ClientLink(req);
    let credentialIndex: number | null = null;
    let bodyPlan: BodyPlan | null = null;
    let finished = false;
    function finish(status: number, error: ErrorKind | null): void {
      if (finished) return;
      finished = true;
      record.status = status;
      record.error = error;
      record.bytesIn = bodyPlan?.sent() ?? 0;
      record.durationMs = Math.round((performance.now() - started) * 1000) /
        1000;
      observer?.finished(record, credentialIndex, {
        answeredModel: answeredModels.get(record) ?? null,
      });
      onRecord?.(record);
      const warn = status >= 500 || error !== null;
      // Below the active level the line is not even built.
      if (!log.isEnabledFor(warn ? "warning" : "info")) return;
      const who = record.credential === null
        ? "no configuration"
        : `configuration '${record.credential}'`;
      const line = `Using ${who} for ${record.method} ${t.path}: ${
        status || "-"
      }${error ? ` (${error})` : ""} in ${
        record.durationMs.toFixed(1)
      } ms [${t.id}]${
        record.client === null ? "" : ` client '${record.client}'`
      }`;
      if (warn) log.warn(line);
      else log.info(line);
    }
    function proxyError(
      type: ProxyErrorType,
      message: string,
      headers?: HeadersInit,
    ): Response {
      const res = fail(t.family, type, message, t.id, headers);
      finish(res.status, type);
      return res;
    }

    function refuse(decision: AccessDenial): Response {
      record.client = decision.client;
      log.warn(
        `Refused ${req.method} ${t.path} from ${
          peerAddress(info) || "unknown"
        }: ${decision.reason} [${t.id}]`,
      );
      // The shape follows the path as the client sent it, as it always has.
      const res = fail(
        apiFamily(new URL(req.url).pathname),
        decision.type,
        decision.message,
        t.id,
        decision.headers,
      );
      finish(res.status, decision.reason);
      return res;
    }

    // Address and key first: an unknown client is turned away before its upload is read.
    const early = options.access?.early(req, info);
    if (early) {
      await req.body?.cancel().catch(() => {});
      return refuse(early);
    }

    let body: BodyPlan;
    try {
      body = await planBody(req, options.retryBodyLimit, options.maxBodySize);
    } catch (err) {
      if (err instanceof PayloadTooLarge) {
        return proxyError(
          "payload_too_large",
          `Request body is larger than ${options.maxBodySize} bytes`,
        );
      }
      if (await link.left()) {
        finish(0, "client_cancel");
        return new Response(null, { status: 499 });
      }
      return proxyError(
        "bad_request",
        `Cannot read the request body: ${describe(err)}`,
      );
    }
    record.model = body.model;
    bodyPlan = body;
    if (body.ambiguousModel) {
      await body.discard();
      return proxyError(
        "bad_request",
        'The request body names "model" more than once, with different values',
      );
    }

    let extraHeaders: [string, string][] = [];
    if (options.access) {
      const decision = options.access(req, info, body.model);
      record.client = decision.client;
      if (!decision.ok) {
        await body.discard();
        return refuse(decision);
      }
      extraHeaders = decision.headers;
    }

    const balancer = options.balancer();
    const tried: number[] = [];
    let lastError: { type: ProxyErrorType; message: string } | null = null;
    for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
      const pick = attempt === 1 ? balancer.next() : balancer.nextAfter(tried);
      if (pick === null) break;
      if (attempt > 1) observer?.failover(tried[tried.length - 1]);
      tried.push(pick.index);
      credentialIndex = pick.index;
      record.credential = pick.name;
      record.attempts = attempt;
      const bearer = balancer.bearer(pick.index);
      if (bearer === null) {
        balancer.failed(pick, "its token cannot be made");
        lastError = {
          type: "no_credentials_available",
          message: "No credential could make a token",
        };
        continue;
      }
      const canRetry = () =>
        body.replayable && attempt < options.maxAttempts &&
        balancer.hasAlternative(tried);

      const controller = new AbortController();
      let expired: DeadlineReason | null = null;
      // The client's leaving aborts this attempt's controller, which the
      // deadlines abort too: one signal for the fetch. The client is watched
      // only once the call turns out slow (see ClientLink).
      link.attach(controller);
      const watch = deadlines.watch((reason) => {
        expired = reason;
        controller.abort(
          new DOMException(`Upstream ${reason} timeout`, "TimeoutError"),
        );
      }, link.watch);
      const signal = controller.signal;
      let res: Response;
      try {
        res = await doFetch(t.target, {
          method: req.method,
          headers: upstreamRequestHeaders(req.headers, bearer, t.id),
          body: sendOnce(req.method, body.take()),
          redirect: "manual",
          signal,
        });
      } catch (err) {
        watch.done();
        if (pick.probe) balancer.release(pick);
        if (link.gone) {
          finish(0, "client_cancel");
          return new Response(null, { status: 499 });
        }
        if (body.tooLarge()) {
          return proxyError(
            "payload_too_large",
            `Request body is larger than ${options.maxBodySize} bytes`,
          );
        }
        if (expired === "headers") {
          return proxyError(
            "upstream_timeout",
            `The upstream sent no response headers within ${options.headersTimeout} ms`,
          );
        }
        // Only a request that provably never reached the upstream is sent
        // again: an LLM call is costly and not idempotent, and a connection
        // that closed after the body was written looks like one that closed
        // before. The connect deadline proves nothing either: the request
        // may have been written on a pooled connection.
        const failure = classifyFetchError(err);
        const message = expired === "connect"
          ? `Cannot connect to the upstream within ${options.connectTimeout} ms`
          : `Cannot reach the upstream: ${failure.reason}`;
        lastError = { type: "upstream_unreachable", message };
        const again = expired === null && failure.unsent && canRetry();
        // The detail (URL, local address) stays in the log; the client gets
        // the short cause only.
        log.warn(
          `Configuration '${pick.name}': ${message} (${describe(err)}); ${
            again ? "failing over" : "not retried"
          } [${t.id}]`,
        );
        if (again) continue;
        return proxyError("upstream_unreachable", message);
      }
      watch.headersReceived();
      const status = res.status;
      if (status === 401 || status === 403 || status === 429) {
        if (status === 429) {
          balancer.rateLimited(
            pick,
            retryAfterMs(res.headers.get("retry-after")) ??
              options.cooldownDefault,
          );
        } else {
          balancer.failed(pick, `upstream answered ${status}`);
        }
        if (canRetry()) {
          watch.done();
          await res.body?.cancel().catch(() => {});
          continue;
        }
      } else if (status >= 502 && status <= 504) {
        if (canRetry()) {
          watch.done();
          await res.body?.cancel().catch(() => {});
          log.warn(
            `Configuration '${pick.name}': upstream answered ${status}; failing over [${t.id}]`,
          );
          continue;
        }
        if (pick.probe) balancer.release(pick);
      } else {
        balancer.succeeded(pick);
      }
      if (attempt > 1 && status < 400) {
        log.info(`Failover successful - using config '${pick.name}' [${t.id}]`);
      }
      return await respond(req, res, watch, controller, {
        record,
        link,
        info,
        started,
        finish,
        extraHeaders,
        redactor: redactorFor(balancer),
        id: t.id,
        family: t.family,
      });
    }
    const retryAfter = {
      "retry-after": String(
        Math.max(1, Math.ceil(balancer.retryAfterMs() / 1000)),
      ),
    };
    if (lastError) {
      return proxyError(
        lastError.type,
        lastError.message,
        lastError.type === "no_credentials_available" ? retryAfter : undefined,
      );
    }
    return proxyError(
      "no_credentials_available",
      "Every credential is failed or cooling down; try again later",
      retryAfter,
    );
  }

  interface RespondContext {
    record: RequestRecord;
    /** The client's connection: `gone` once it left (while watched). */
    link: ClientLink;
    /** Its `completed` settles when the response was delivered (rejects if not). */
    info: Deno.ServeHandlerInfo;
    started: number;
    finish: (status: number, error: ErrorKind | null) => void;
    extraHeaders: [string, string][];
    /** Strips the credentials' tokens from what the upstream sends back. */
    redactor: TokenRedactor;
    id: string;
    family: ApiFamily;
  }

  async function respond(
    req: Request,
    res: Response,
    watch: Watch,
    controller: AbortController,
    ctx: RespondContext,
  ): Promise<Response> {
    const { record } = ctx;
    const status = res.status;
    const upstreamBody = res.body;
    if (upstreamBody === null || req.method === "HEAD") {
      watch.done();
      upstreamBody?.cancel().catch(() => {});
      ctx.finish(status, passedError(status));
      return relay(res, null, ctx);
    }
    const kind = responseKind(res.headers.get("content-type"));
    const isSse = kind === "sse";
    record.stream = isSse;
    // Usage and time to first token come from a tap that sees the same chunks.
    const tap = new UsageTap({ kind, startedAt: ctx.started });
    const length = Number(res.headers.get("content-length") ?? Infinity);
    if (!isSse && length <= WHOLE_BODY_LIMIT) {
      return await respondWhole(res, watch, tap, ctx);
    }
    if (kind === "other" && Number.isFinite(length)) {
      return passThrough(res, upstreamBody, length, watch, ctx);
    }
    return respondStream(res, upstreamBody, watch, controller, tap, ctx);
  }

  /**
   * An event stream, or a body of unknown or large length that may carry
   * usage: forwarded chunk by chunk through the usage tap, with the idle
   * deadline between chunks. (Its own function: the closures below are
   * allocated only for the responses that need them.)
   */
  function respondStream(
    res: Response,
    upstreamBody: ReadableStream<Uint8Array>,
    watch: Watch,
    controller: AbortController,
    tap: UsageTap,
    ctx: RespondContext,
  ): Response {
    const { record } = ctx;
    const status = res.status;
    const isSse = record.stream;
    const reader = upstreamBody.getReader();
    const redact = ctx.redactor.stream();
    function finish(status: number, error: ErrorKind | null): void {
      applyUsage(record, tap.finish());
      ctx.finish(status, error);
    }
    // A deadline aborts the controller; cancelling the reader as well ends a
    // pending read at once (seen to hang under load with the signal alone).
    let clientGone = false;
    controller.signal.addEventListener("abort", () => {
      if (!clientGone) reader.cancel().catch(() => {});
    }, { once: true });
    function failStream(
      ctrl: ReadableStreamDefaultController<Uint8Array>,
      err: unknown,
    ): void {
      watch.done();
      if (ctx.link.gone) {
        // The client left; the response is being cancelled as well.
        finish(status, "client_cancel");
        return ctrl.close();
      }
      const timedOut = watch.expired === "idle";
      const message = timedOut
        ? `The upstream sent nothing for ${options.idleTimeout} ms`
        : midResponse(err, ctx.id);
      finish(status, timedOut ? "upstream_timeout" : "stream_error");
      if (!isSse) return ctrl.error(new Error(message));
      const type = timedOut ? "upstream_timeout" : "upstream_unreachable";
      const rest = redact.flush();
      if (rest !== null) ctrl.enqueue(rest);
      ctrl.enqueue(
        encoder.encode(
          `event: error\ndata: ${errorBody(ctx.family, type, message)}\n\n`,
        ),
      );
      ctrl.close();
    }
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        // Loops only while the redactor holds a whole chunk back (it may
        // begin a token): a pull must enqueue something or end the stream.
        while (true) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          watch.pull();
          try {
            chunk = await reader.read();
          } catch (err) {
            return failStream(ctrl, err);
          }
          if (chunk.done) {
            if (controller.signal.aborted) {
              return failStream(ctrl, controller.signal.reason);
            }
            watch.done();
            const rest = redact.flush();
            if (rest !== null) ctrl.enqueue(rest);
            ctrl.close();
            finish(status, passedError(status));
            return;
          }
          const value = chunk.value as Uint8Array<ArrayBuffer>;
          // Until the client asks for more, its pace is not the upstream's.
          watch.pause();
          record.bytesOut += value.byteLength;
          tap.write(value);
          const out = redact.push(value);
          if (out.byteLength > 0) return ctrl.enqueue(out);
        }
      },
      cancel() {
        clientGone = true;
        watch.done();
        controller.abort(new DOMException("Client disconnected", "AbortError"));
        reader.cancel().catch(() => {});
        finish(status, "client_cancel");
      },
    }, { highWaterMark: 0 });
    return relay(res, body, ctx);
  }

  /**
   * A small body of declared length that is not an event stream arrives in
   * one or two reads anyway: reading it whole lets Deno send it without a
   * JavaScript stream per response, which costs more than the rest of the
   * proxy together. The bound keeps memory flat.
   */
  async function respondWhole(
    res: Response,
    watch: Watch,
    tap: UsageTap,
    ctx: RespondContext,
  ): Promise<Response> {
    const { record } = ctx;
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await res.bytes();
    } catch (err) {
      watch.done();
      const timedOut = watch.expired === "idle";
      const clientGone = !timedOut && ctx.link.gone;
      applyUsage(record, tap.finish());
      if (clientGone) {
        ctx.finish(0, "client_cancel");
        return new Response(null, { status: 499 });
      }
      const type = timedOut ? "upstream_timeout" : "upstream_unreachable";
      const message = timedOut
        ? `The upstream sent nothing for ${options.idleTimeout} ms`
        : midResponse(err, ctx.id);
      ctx.finish(
        ERROR_STATUS[type],
        timedOut ? "upstream_timeout" : "stream_error",
      );
      return fail(ctx.family, type, message, ctx.id);
    }
    watch.done();
    record.bytesOut = bytes.byteLength;
    tap.writeWhole(bytes);
    applyUsage(record, tap.finish());
    ctx.finish(res.status, passedError(res.status));
    return relay(res, ctx.redactor.whole(bytes), ctx);
  }

  /**
   * A large body of declared length that is neither JSON nor an event stream
   * (a file, an image) carries no usage: Deno sends it from the upstream's
   * socket to the client's without JavaScript per chunk. The record is
   * finished when the response has been delivered; its first byte is taken
   * as the headers' arrival.
   */
  function passThrough(
    res: Response,
    body: ReadableStream<Uint8Array>,
    length: number,
    watch: Watch,
    ctx: RespondContext,
  ): Response {
    watch.done();
    const { record } = ctx;
    record.ttftMs = Math.round((performance.now() - ctx.started) * 1000) / 1000;
    // A long download: watching the client costs nothing in comparison, and
    // tells a client that left from a failed transfer.
    ctx.link.watch();
    (ctx.info.completed ?? Promise.resolve()).then(
      () => {
        record.bytesOut = length;
        ctx.finish(res.status, passedError(res.status));
      },
      () =>
        ctx.finish(
          res.status,
          ctx.link.gone ? "client_cancel" : "stream_error",
        ),
    );
    return relay(res, body, ctx);
  }

  /** The client's message for a body that failed mid-way; the detail goes to the log. */
  function midResponse(err: unknown, id: string): string {
    const message = `The upstream connection failed mid-response: ${
      classifyFetchError(err).reason
    }`;
    log.warn(`${message} (${describe(err)}) [${id}]`);
    return message;
  }

  /** The client's response: the upstream's status and headers, and `body`. */
  function relay(
    res: Response,
    body: BodyInit | null,
    ctx: RespondContext,
  ): Response {
    const out = new Response(body, {
      status: res.status,
      statusText: res.statusText,
    });
    copyResponseHeaders(res.headers, out.headers, {
      id: ctx.id,
      extra: ctx.extraHeaders,
      redactor: ctx.redactor,
    });
    return out;
  }

  function fail(
    family: ApiFamily,
    type: ProxyErrorType,
    message: string,
    id: string,
    headers?: HeadersInit,
  ): Response {
    const res = errorResponse(family, type, message, headers);
    res.headers.set("x-request-id", id);
    return res;
  }

  const handler = handle as ProxyHandler;
  handler.close = () => deadlines.close();
  Object.defineProperty(handler, "watching", { get: () => deadlines.size });
  return handler;
}

/** One redactor per secrets generation, made when its first answer arrives. */
const redactors = new WeakMap<Balancer, TokenRedactor>();

/** The redactor of `balancer`'s tokens. */
function redactorFor(balancer: Balancer): TokenRedactor {
  let redactor = redactors.get(balancer);
  if (redactor === undefined) {
    const tokens: string[] = [];
    for (let i = 0; i < balancer.size; i++) {
      const bearer = balancer.bearer(i);
      if (bearer !== null) tokens.push(bearer);
    }
    redactor = new TokenRedactor(tokens);
    redactors.set(balancer, redactor);
  }
  return redactor;
}

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
function sendOnce(method: string, body: BodyInit | null): BodyInit | null {
  if (!(body instanceof Uint8Array) || IDEMPOTENT.has(method)) return body;
  return new ReadableStream<Uint8Array>({
    start(ctrl) {
      ctrl.enqueue(body);
      ctrl.close();
    },
  });
}

/** The record's error for an upstream answer passed through: 5xx are upstream errors. */
function passedError(status: number): "upstream_5xx" | null {
  return status >= 500 ? "upstream_5xx" : null;
}

/**
 * The model each response named, by record: not a record field (the log
 * keeps the model asked for), but the metrics' only trusted model label.
 */
const answeredModels = new WeakMap<RequestRecord, string>();

/** Copies what the usage tap found into the record. */
function applyUsage(record: RequestRecord, usage: Usage): void {
  if (usage.model !== null) answeredModels.set(record, usage.model);
  record.ttftMs = usage.ttftMs;
  record.tokensIn = usage.tokensIn;
  record.tokensOut = usage.tokensOut;
  record.cacheReadTokens = usage.cacheReadTokens;
  record.cacheWriteTokens = usage.cacheWriteTokens;
  record.model ??= usage.model;
}

class PayloadTooLarge extends Error {}

/** How long {@linkcode ClientLink.left} waits for Deno to report a client that left. */
const CLIENT_LEFT_WAIT_MS = 50;

/**
 * The client's connection, as far as the proxy needs it: a client that left
 * aborts the current upstream attempt. Reading `Request.signal` of
 * `Deno.serve` starts an async operation per request that costs about a tenth
 * of a bare proxy's CPU time, so it is read only for calls that outlive
 * CLIENT_WATCH_AFTER_MS (the deadline watcher calls `watch`), for downloads
 * passed through, and after a failed read. Deno reports a client that left
 * before the signal was read as soon as it is.
 */
class ClientLink {
  /** True once the client left (as far as it was watched). */
  gone = false;
  #req: Request;
  #controller: AbortController | null = null;
  #watching = false;

  constructor(req: Request) {
    this.#req = req;
  }

  /** The attempt whose upstream call the client's leaving aborts. */
  attach(controller: AbortController): void {
    this.#controller = controller;
    if (this.gone) controller.abort(this.#req.signal.reason);
  }

  /** Starts watching the client (once); bound, for the deadline watcher. */
  watch = (): void => {
    if (this.#watching) return;
    this.#watching = true;
    const signal = this.#req.signal;
    const left = () => {
      this.gone = true;
      this.#controller?.abort(signal.reason);
    };
    if (signal.aborted) left();
    else signal.addEventListener("abort", left, { once: true });
  };

  /** After a failed read: whether the client left (waits briefly to know). */
  left(): Promise<boolean> {
    this.watch();
    if (this.gone) return Promise.resolve(true);
    const signal = this.#req.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve(this.gone || signal.aborted);
      };
      const timer = setTimeout(done, CLIENT_LEFT_WAIT_MS);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

/** How the request body is sent, and whether it can be sent again. */
interface BodyPlan {
  /** True when every attempt can send the whole body (kept in memory, or none). */
  replayable: boolean;
  /** Bytes read from the client so far (all of a kept body). */
  sent(): number;
  /**
   * The body's top-level `model` (see src/proxy/model_sniff.ts); null for a
   * body too large to keep, which is never read whole.
   */
  model: string | null;
  /** True when the body names its top-level `model` twice, differently. */
  ambiguousModel: boolean;
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
  take: () => null,
  tooLarge: () => false,
  discard: () => Promise.resolve(),
};

/**
 * Keeps the body in memory when it is at most `keepLimit` bytes, so a failover
 * can send it again; a larger body streams once, counted against `maxSize`.
 */
async function planBody(
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
    take: () => bytes as Uint8Array<ArrayBuffer>,
    tooLarge: () => false,
    discard: () => Promise.resolve(),
  };
}

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

/** `Retry-After` in ms: delta-seconds or an HTTP date; null when absent or bad. */
export function retryAfterMs(
  value: string | null,
  now = Date.now(),
): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Only an HTTP date (it has a day or month name); V8 parses "1.5" as 2001.
  if (!/[A-Za-z]{3}/.test(trimmed)) return null;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

function peerAddress(info: Deno.ServeHandlerInfo): string {
  const addr = info.remoteAddr as Deno.Addr;
  return "hostname" in addr ? addr.hostname : "";
}
