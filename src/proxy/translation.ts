/**
 * The request path's side of API translation (src/translate/): a request
 * on an API its model is not served on is sent to one it is, and the
 * answer (JSON, stream or error) comes back in the client's shape. Requests
 * whose model is served on the client's API never reach this file.
 */
import type { ApiKind, ModelEntry } from "../models/types.ts";
import {
  apiTitle,
  canTranslate,
  type Translation,
  translationFor,
} from "../translate/registry.ts";
import type { Json, RequestContext, WireApi } from "../translate/types.ts";
import type { Exchange } from "./exchange.ts";
import type { BodyPlan } from "./request_body.ts";
import type { ApiRoute } from "./api_route.ts";

/** Why a token count is refused for a model reached through a translation. */
export function countAcrossTranslation(to: WireApi): string {
  return `Token counting is not available for this model: Flow serves it on ${
    apiTitle(to)
  } only, which has no token counting, and flow-proxy does not guess a count`;
}

/** Where each API is asked on Flow, relative to the base path. */
const UPSTREAM_PATHS: Record<Exclude<WireApi, "gemini">, string> = {
  messages: "/v1/messages",
  chat: "/v1/chat/completions",
  responses: "/v1/responses",
};

/** The order a translation looks for an API the model is served on. */
const PREFERENCE: readonly WireApi[] = ["chat", "messages", "responses"];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The translation a request on `route` needs for `entry`, or null when the
 * model is served on the client's API (or nothing is known of it, or no
 * API it is served on can be reached).
 */
export function translationNeeded(
  route: ApiRoute,
  entry: ModelEntry | null,
): Translation | null {
  if (entry === null || route.wire === null) return null;
  const from = route.wire;
  if (entry.apis.includes(from as ApiKind)) return null;
  const preferred = entry.translateTo;
  if (
    preferred !== undefined && entry.apis.includes(preferred) &&
    canTranslate(from, preferred as WireApi)
  ) {
    return translationFor(from, preferred as WireApi);
  }
  for (const to of PREFERENCE) {
    if (entry.apis.includes(to as ApiKind) && canTranslate(from, to)) {
      return translationFor(from, to);
    }
  }
  return null;
}

/**
 * Sends `call` as `translation.to` for `flow`: the new body (kept bytes, so
 * failover resends them), the new target, no `anthropic-beta`. Returns false
 * when the body is not a JSON object (it is then sent as it came, and Flow
 * answers it). A token count, or a request the translation refuses, is
 * marked to be answered 400 (`call.untranslatable`).
 */
export function translateRequest(
  call: Exchange,
  body: BodyPlan,
  flow: string,
  translation: Translation,
): boolean {
  const route = call.api!;
  call.record.translation = translation.name;
  if (route.endpoint === "count_tokens") {
    call.untranslatable = countAcrossTranslation(translation.to);
    return true;
  }
  let request: unknown;
  try {
    request = JSON.parse(decoder.decode(body.take() as Uint8Array));
  } catch {
    request = null;
  }
  if (
    request === null || typeof request !== "object" || Array.isArray(request)
  ) {
    call.record.translation = null;
    return false;
  }
  const context: RequestContext = {
    model: flow,
    stream: route.streaming ?? false,
  };
  const entry = call.context.models.config.catalogue.byName.get(flow);
  if (entry !== undefined) {
    if (entry.outputLimit > 0) context.outputLimit = entry.outputLimit;
    context.thinking = entry.thinking;
  }
  if (route.wire === "gemini") context.sse = altSse(call.target);
  const out = translation.request(request as Json, context);
  if (out.refused !== undefined) {
    call.untranslatable = out.refused;
    return true;
  }
  const bytes = encoder.encode(JSON.stringify(out.body));
  call.body = { ...body, take: () => bytes };
  call.target = upstreamTarget(call.target, call.path, translation.to, flow);
  call.betaHeader = null;
  call.translation = translation;
  call.translationContext = context;
  call.record.upstreamModel = flow;
  const { logger, observer } = call.context;
  observer?.translated?.(translation.name);
  if (logger.isEnabledFor("debug")) {
    logger.debug(
      `Translated ${translation.title} for '${flow}'${
        out.dropped.length > 0 ? `; dropped: ${out.dropped.join(", ")}` : ""
      } [${call.id}]`,
    );
  }
  return true;
}

/** Whether a Gemini request's query asks for server-sent events (`alt=sse`). */
function altSse(target: string): boolean {
  const query = target.indexOf("?");
  return query !== -1 &&
    new URLSearchParams(target.slice(query + 1)).get("alt") === "sse";
}

/**
 * `target` (which ends with `path` and maybe a query) on Flow's path for
 * `to` instead. The query is dropped: it is the client API's (Claude
 * Code's `?beta=true`, Gemini's `alt=sse` and `key=`).
 */
export function upstreamTarget(
  target: string,
  path: string,
  to: WireApi,
  model: string,
): string {
  const query = target.indexOf("?");
  const end = query === -1 ? target.length : query;
  const base = target.slice(0, end - path.length);
  if (to === "gemini") {
    return `${base}/v1beta/models/${encodeURIComponent(model)}:generateContent`;
  }
  const upstream = UPSTREAM_PATHS[to];
  // A client that left out `/v1` (`/messages`) reached Flow without it too.
  return base +
    (path.startsWith("/v1/") || path.startsWith("/v1beta/")
      ? upstream
      : upstream.slice(3));
}

/**
 * A translated request's whole upstream answer in the client's shape: the
 * client API's body for a 2xx answer, its error (same status) for an
 * error. Bytes that are not JSON stay as they are on a 2xx.
 */
export function translateWhole(
  call: Exchange,
  status: number,
  bytes: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const translation = call.translation!;
  const text = decoder.decode(bytes);
  if (status >= 400) {
    return encoder.encode(JSON.stringify(translation.error(status, text)));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return bytes as Uint8Array<ArrayBuffer>;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return bytes as Uint8Array<ArrayBuffer>;
  }
  const answer = translation.response(
    parsed as Json,
    call.translationContext!,
  );
  return encoder.encode(JSON.stringify(answer));
}
