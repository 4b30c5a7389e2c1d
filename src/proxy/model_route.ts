/**
 * The models configuration on the request path: which API a path is, the
 * Flow name a requested model maps to, and the Anthropic rewrites
 * (src/models/). A body that needs nothing is neither parsed nor copied:
 * the cost is the path's Map lookup and the resolver's.
 */
import { COMPAT_OFF } from "../models/types.ts";
import {
  formatRewriteLine,
  rewriteAnthropicRequest,
} from "../models/anthropic_compat.ts";
import type { Exchange } from "./exchange.ts";
import type { BodyPlan } from "./request_body.ts";
import { spliceModel } from "../models/model_sniff.ts";
import { buildModelsListing } from "../models/listing.ts";
import { translateRequest, translationNeeded } from "./translation.ts";

/** Whether `path` is the models listing (`/v1/models` or `/models`). */
export function isModelsListing(path: string): boolean {
  return path === "/v1/models" || path === "/models";
}

/**
 * Maps the model of `call` and rewrites its body for the target, when
 * needed: sets `call.body` (the new bytes), `call.betaHeader` and
 * `record.upstreamModel`, logs one DEBUG line and tells the observer.
 * Returns the model sent upstream (the requested one when unchanged).
 */
export function applyModels(call: Exchange, body: BodyPlan): string | null {
  const route = call.api;
  // Gemini's `?key=` is the client's key: never sent upstream.
  if (call.family === "gemini") call.target = withoutKeyQuery(call.target);
  // Gemini names the model in the path, not the body.
  const requested = route?.model ?? body.model;
  if (requested === null || route === undefined || !body.replayable) {
    return requested;
  }
  const { models, observer, logger } = call.context;
  const resolution = models.resolve(requested, route.api);
  if (resolution === null) return requested;
  const { flow, entry, rule } = resolution;
  call.price = entry?.price ?? null;
  const mapped = flow !== requested;
  const translation = translationNeeded(route, entry);
  if (translation !== null) {
    if (!translateRequest(call, body, flow, translation)) return requested;
    if (mapped) observer?.mapped?.(rule);
    return flow;
  }
  if (
    entry !== null && entry.family === "anthropic" &&
    (route.endpoint === "messages" || route.endpoint === "count_tokens")
  ) {
    const bytes = body.take() as Uint8Array;
    const rewrite = rewriteAnthropicRequest(bytes, {
      model: entry,
      betaHeader: call.req.headers.get("anthropic-beta"),
      flowModel: flow,
      switches: models.config.compat ? entry.compat : COMPAT_OFF,
      endpoint: route.endpoint,
      requestedModel: requested,
    });
    if (rewrite === null) return requested;
    if (rewrite.body !== bytes) call.body = withBytes(body, rewrite.body);
    call.betaHeader = rewrite.betaHeader;
    call.record.upstreamModel = flow;
    if (mapped) observer?.mapped?.(rule);
    const kinds = rewrite.rewrites.map((r) => r.kind);
    observer?.rewrote?.(kinds);
    if (kinds.length > 0) call.record.rewrite = [...new Set(kinds)].join(",");
    if (logger.isEnabledFor("debug")) {
      logger.debug(
        `${mapped ? mappedLine(requested, flow, rule) + "; " : ""}${
          formatRewriteLine(flow, rewrite.rewrites)
        } [${call.id}]`,
      );
    }
    return flow;
  }
  if (!mapped) return requested;
  if (route.wire === "gemini") {
    call.target = withGeminiModel(call.target, flow);
  } else {
    call.body = withBytes(
      body,
      spliceModel(body.take() as Uint8Array, body, flow),
    );
  }
  call.record.upstreamModel = flow;
  observer?.mapped?.(rule);
  if (logger.isEnabledFor("debug")) {
    logger.debug(`${mappedLine(requested, flow, rule)} [${call.id}]`);
  }
  return flow;
}

/** Gemini's model segment in a target: `/models/{model}:` before any query. */
const GEMINI_MODEL_SEGMENT = /\/models\/[^/:?]+:(?=[A-Za-z]+(?:\?|$))/;

/** `target` with the model in its Gemini path replaced by `model`. */
export function withGeminiModel(target: string, model: string): string {
  return target.replace(
    GEMINI_MODEL_SEGMENT,
    `/models/${encodeURIComponent(model)}:`,
  );
}

/** `target` without `key` query parameters (Gemini's client key). */
export function withoutKeyQuery(target: string): string {
  const query = target.indexOf("?");
  if (query === -1 || !target.includes("key=", query)) return target;
  const params = new URLSearchParams(target.slice(query + 1));
  if (!params.has("key")) return target;
  params.delete("key");
  const rest = params.toString();
  return target.slice(0, query) + (rest === "" ? "" : "?" + rest);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Flow's `GET /v1/models` answer with the aliases appended (see
 * `buildModelsListing`); the bytes as they came (redacted) when they are
 * not a JSON listing.
 */
export function withAliases(
  call: Exchange,
  bytes: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const redacted = call.redactor!.whole(bytes as Uint8Array<ArrayBuffer>);
  let upstream: unknown;
  try {
    upstream = JSON.parse(decoder.decode(redacted));
  } catch {
    return redacted;
  }
  const data = (upstream as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return redacted;
  const listing = buildModelsListing(call.context.models.config, { upstream });
  return encoder.encode(JSON.stringify(listing));
}

/** The mapping's part of the DEBUG line. */
function mappedLine(requested: string, flow: string, rule: string): string {
  return `Mapped model '${requested}' to '${flow}' (rule ${rule})`;
}

/** `body` sending `bytes` instead (its counters stay the client's). */
function withBytes(body: BodyPlan, bytes: Uint8Array): BodyPlan {
  return { ...body, take: () => bytes as Uint8Array<ArrayBuffer> };
}
