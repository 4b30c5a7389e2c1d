/**
 * A proxied request from its arrival to the attempt loop: the access checks
 * (the address and key before the body is read, the model after) and the
 * request-body plan; whatever throws is answered 500 here.
 */
import { describe } from "../base/describe.ts";
import type { HandlerContext } from "./context.ts";
import { Exchange, type ExchangeInit } from "./exchange.ts";
import { type BodyPlan, PayloadTooLarge, planBody } from "./request_body.ts";
import { runAttempts } from "./attempts.ts";
import { applyModels } from "./model_route.ts";

function ignore(): void {}

/**
 * Proxies one request: checks access, plans the body, then runs the
 * attempts. Whatever it throws (an access check, a store, a bug) is answered
 * 500 and its record finished, so the `in_flight` gauge that
 * `observer.started()` raised always comes down again. (One async function,
 * not a wrapper around another: each level costs every request a promise.)
 */
export async function forwardRequest(
  context: HandlerContext,
  init: ExchangeInit,
): Promise<Response> {
  const call = new Exchange(context, init);
  const { req, info } = init;
  const { access, settings } = context;
  try {
    // Address and key first: an unknown client is turned away before its upload is read.
    const early = access?.early(req, info);
    if (early) {
      await req.body?.cancel().catch(ignore);
      return call.refuse(early);
    }
    let body: BodyPlan;
    try {
      body = await planBody(req, settings.retryBodyLimit, settings.maxBodySize);
    } catch (err) {
      return await unreadBody(call, err);
    }
    const requested = call.api?.model ?? body.model;
    call.record.model = requested;
    call.body = body;
    if (body.ambiguousModel) {
      await body.discard();
      return call.fail(
        "bad_request",
        'The request body names "model" more than once, with different values',
      );
    }
    const upstreamModel = applyModels(call, body);
    if (call.untranslatable !== null) {
      await body.discard();
      return call.fail("bad_request", call.untranslatable);
    }
    if (access) {
      const price = call.price;
      let decision = access(req, info, upstreamModel, requested, {
        bodyBytes: body.sent(),
        inputNanosPerToken: price === null ? null : price.input * 1000,
        outputNanosPerToken: price === null ? null : price.output * 1000,
      });
      // A promise only with --redis-url, for a key with limits.
      if (decision instanceof Promise) decision = await decision;
      call.record.client = decision.client;
      if (!decision.ok) {
        await body.discard();
        return call.refuse(decision);
      }
      call.extraHeaders = decision.headers;
      if (decision.lease !== undefined) call.lease = decision.lease;
    }
    return await runAttempts(call);
  } catch (err) {
    context.logger.error(
      `Internal error on ${req.method} ${init.path}: ${
        describe(err)
      } [${init.id}]`,
    );
    return call.fail("internal_error", "Internal error");
  }
}

/** The answer when the request body could not be read. */
async function unreadBody(call: Exchange, err: unknown): Promise<Response> {
  if (err instanceof PayloadTooLarge) {
    return call.fail(
      "payload_too_large",
      `Request body is larger than ${call.context.settings.maxBodySize} bytes`,
    );
  }
  if (await call.link.left()) return call.clientLeft();
  return call.fail(
    "bad_request",
    `Cannot read the request body: ${describe(err)}`,
  );
}
