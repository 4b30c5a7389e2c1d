/**
 * The attempt loop of a proxied request: a credential per attempt, and the
 * failover decision after each answer or failure. Only a request that
 * provably never reached the upstream, or was refused by it, is sent again.
 */
import type { ProxyErrorType } from "../base/api_errors.ts";
import { describe } from "../base/describe.ts";
import type { Balancer, Pick as CredentialPick } from "../upstream/balancer.ts";
import { upstreamRequestHeaders } from "./headers.ts";
import { classifyFetchError } from "./fetch_errors.ts";
import { TokenRedactor } from "./redact.ts";
import type { Exchange } from "./exchange.ts";
import type { BodyPlan } from "./request_body.ts";
import { sendOnce } from "./request_body.ts";
import { respond } from "./respond.ts";
import type { AttemptEntry } from "../request_log/record.ts";

/** Sends `call` upstream, failing over between credentials; answers the client. */
export function runAttempts(call: Exchange): Promise<Response> {
  return new Attempts(call).run();
}

function ignore(): void {}

/** The loop's state: one object per request, no closure per attempt but the deadline's. */
class Attempts {
  #call: Exchange;
  #body: BodyPlan;
  #balancer: Balancer;
  #tried: number[] = [];
  #attempt = 0;
  #lastError: { type: ProxyErrorType; message: string } | null = null;
  /** The attempts so far, made at the first failover only (a request that needs one attempt allocates none). */
  #log: AttemptEntry[] | null = null;
  /** When the current attempt began: the request's arrival until a failover (so one attempt reads no clock). */
  #started = 0;

  constructor(call: Exchange) {
    this.#call = call;
    this.#body = call.body!;
    this.#balancer = call.context.balancer();
  }

  async run(): Promise<Response> {
    const call = this.#call;
    this.#started = call.started;
    const { settings, observer, deadlines } = call.context;
    const balancer = this.#balancer;
    const tried = this.#tried;
    for (let attempt = 1; attempt <= settings.maxAttempts; attempt++) {
      this.#attempt = attempt;
      const pick = attempt === 1 ? balancer.next() : balancer.nextAfter(tried);
      if (pick === null) break;
      if (attempt > 1) observer?.failover(tried[tried.length - 1]);
      tried.push(pick.index);
      call.credentialIndex = pick.index;
      call.record.credential = pick.name;
      call.record.attempts = attempt;
      const bearer = balancer.bearer(pick.index);
      if (bearer === null) {
        this.#note(pick, 0, "no_token");
        balancer.failed(pick, "its token cannot be made");
        this.#lastError = {
          type: "no_credentials_available",
          message: "No credential could make a token",
        };
        continue;
      }
      const controller = new AbortController();
      call.controller = controller;
      // The client's leaving aborts this attempt's controller, which the
      // deadlines abort too: one signal for the fetch. The client is watched
      // only once the call turns out slow (see ClientLink).
      call.link.attach(controller);
      call.watch = deadlines.watch((reason) => {
        controller.abort(
          new DOMException(`Upstream ${reason} timeout`, "TimeoutError"),
        );
      }, call.link.watch);
      let res: Response;
      try {
        res = await call.context.fetch(call.target, {
          method: call.req.method,
          headers: upstreamRequestHeaders(
            call.req.headers,
            bearer,
            call.id,
            call.betaHeader,
          ),
          body: sendOnce(call.req.method, this.#body.take()),
          redirect: "manual",
          signal: controller.signal,
        });
      } catch (err) {
        const failed = this.#fetchFailed(pick, err);
        if (failed === null) {
          this.#note(pick, 0, "upstream_unreachable");
          continue;
        }
        this.#finish(pick, 0, "upstream_unreachable");
        return failed;
      }
      call.watch.headersReceived();
      if (this.#failsOver(pick, res.status, res.headers)) {
        this.#note(
          pick,
          res.status,
          res.status === 429
            ? "rate_limited"
            : res.status >= 500
            ? "upstream_5xx"
            : "auth_refused",
        );
        call.watch.done();
        await res.body?.cancel().catch(ignore);
        continue;
      }
      this.#finish(pick, res.status, null);
      if (attempt > 1 && res.status < 400) {
        call.context.logger.info(
          `Failover successful - using config '${pick.name}' [${call.id}]`,
        );
      }
      call.redactor = redactorFor(balancer);
      return await respond(call, res);
    }
    if (this.#log !== null) this.#call.record.attemptLog = this.#log;
    return this.#exhausted();
  }

  /** Notes an attempt that failed over, for the request log's `attempt_log`. */
  #note(pick: CredentialPick, status: number, error: string): void {
    const now = performance.now();
    (this.#log ??= []).push({
      credential: pick.name,
      status,
      error,
      durationMs: now - this.#started,
    });
    this.#started = now;
  }

  /** The last attempt: with earlier ones noted, the whole list goes on the record. */
  #finish(pick: CredentialPick, status: number, error: string | null): void {
    if (this.#log === null) return;
    this.#log.push({
      credential: pick.name,
      status,
      error,
      durationMs: performance.now() - this.#started,
    });
    this.#call.record.attemptLog = this.#log;
  }

  /** Whether another attempt may send the whole body to another credential. */
  #canRetry(): boolean {
    return this.#body.replayable &&
      this.#attempt < this.#call.context.settings.maxAttempts &&
      this.#balancer.hasAlternative(this.#tried);
  }

  /** After a failed fetch: the client's answer, or null to fail over. */
  #fetchFailed(pick: CredentialPick, err: unknown): Response | null {
    const call = this.#call;
    const { settings, logger } = call.context;
    const watch = call.watch;
    watch.done();
    if (pick.probe) this.#balancer.release(pick);
    if (call.link.gone) return call.clientLeft();
    if (this.#body.tooLarge()) {
      return call.fail(
        "payload_too_large",
        `Request body is larger than ${settings.maxBodySize} bytes`,
      );
    }
    const expired = watch.expired;
    if (expired === "headers") {
      return call.fail(
        "upstream_timeout",
        `The upstream sent no response headers within ${settings.headersTimeout} ms`,
      );
    }
    // Only a request that provably never reached the upstream is sent
    // again: an LLM call is costly and not idempotent, and a connection
    // that closed after the body was written looks like one that closed
    // before. The connect deadline proves nothing either: the request
    // may have been written on a pooled connection.
    const failure = classifyFetchError(err);
    const message = expired === "connect"
      ? `Cannot connect to the upstream within ${settings.connectTimeout} ms`
      : `Cannot reach the upstream: ${failure.reason}`;
    this.#lastError = { type: "upstream_unreachable", message };
    const again = expired === null && failure.unsent && this.#canRetry();
    // The detail (URL, local address) stays in the log; the client gets
    // the short cause only.
    logger.warn(
      `Configuration '${pick.name}': ${message} (${describe(err)}); ${
        again ? "failing over" : "not retried"
      } [${call.id}]`,
    );
    return again ? null : call.fail("upstream_unreachable", message);
  }

  /**
   * After an answer: tells the balancer, and whether to fail over (the
   * caller then drops the answer). Synchronous, so an answer that is passed
   * on costs no extra promise.
   */
  #failsOver(pick: CredentialPick, status: number, headers: Headers): boolean {
    const balancer = this.#balancer;
    if (status === 401 || status === 403 || status === 429) {
      // Flow may refuse the count_tokens route itself, not the credential:
      // its answer goes to the client as it is, and the credential stays.
      if (this.#call.api?.endpoint === "count_tokens") {
        if (pick.probe) balancer.release(pick);
        return false;
      }
      if (status === 429) {
        balancer.rateLimited(
          pick,
          retryAfterMs(headers.get("retry-after")) ??
            this.#call.context.settings.cooldownDefault,
        );
      } else {
        balancer.failed(pick, `upstream answered ${status}`);
      }
      return this.#canRetry();
    }
    if (status >= 502 && status <= 504) {
      if (this.#canRetry()) {
        this.#call.context.logger.warn(
          `Configuration '${pick.name}': upstream answered ${status}; failing over [${this.#call.id}]`,
        );
        return true;
      }
      if (pick.probe) balancer.release(pick);
      return false;
    }
    balancer.succeeded(pick);
    return false;
  }

  /** No attempt left: the last error, or that no credential is usable. */
  #exhausted(): Response {
    const retryAfter = {
      "retry-after": String(
        Math.max(1, Math.ceil(this.#balancer.retryAfterMs() / 1000)),
      ),
    };
    const lastError = this.#lastError;
    if (lastError) {
      return this.#call.fail(
        lastError.type,
        lastError.message,
        lastError.type === "no_credentials_available" ? retryAfter : undefined,
      );
    }
    return this.#call.fail(
      "no_credentials_available",
      "Every credential is failed or cooling down; try again later",
      retryAfter,
    );
  }
}

/** One redactor per secrets generation, made when its first answer arrives. */
const redactors = new WeakMap<Balancer, TokenRedactor>();

/** The redactor of `balancer`'s tokens. */
export function redactorFor(balancer: Balancer): TokenRedactor {
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
