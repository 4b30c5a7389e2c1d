/**
 * The request path's side of issue 15's first direction: an Anthropic
 * Messages request for a model Flow serves on Chat Completions only is sent
 * as a Chat request to `/v1/chat/completions`, and its answer (JSON, stream
 * or error) comes back in Anthropic's shape (src/translate/). Requests whose
 * model is served on the client's API never reach this file.
 */
import type { ModelEntry } from "../models/types.ts";
import { anthropicToChatRequest } from "../translate/anthropic_to_chat_request.ts";
import {
  chatToAnthropicError,
  chatToAnthropicResponse,
} from "../translate/chat_to_anthropic_response.ts";
import type { Exchange } from "./exchange.ts";
import type { BodyPlan } from "./request_body.ts";

/** The one translation of this slice, as records and logs name it. */
export const ANTHROPIC_TO_CHAT = "anthropic->chat";

/** Why `count_tokens` is refused for a model reached through a translation. */
export const COUNT_ACROSS_TRANSLATION =
  "count_tokens is not available for this model: Flow serves it on Chat Completions only, which has no token counting, and flow-proxy does not guess a count";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Whether a request on `/v1/messages` for `entry` must be translated to
 * Chat Completions: the model is not served on Messages but is on Chat.
 */
export function needsChatTranslation(entry: ModelEntry | null): boolean {
  return entry !== null && !entry.apis.includes("messages") &&
    entry.apis.includes("chat");
}

/**
 * Turns `call` into a Chat Completions request for `flow`: the new body
 * (kept bytes, so failover resends them), the new target, no
 * `anthropic-beta`. Returns false when the body is not a JSON object (it is
 * then sent as it came, and Flow answers it). `count_tokens` is marked to
 * be refused (see {@linkcode COUNT_ACROSS_TRANSLATION}).
 */
export function translateToChat(
  call: Exchange,
  body: BodyPlan,
  flow: string,
): boolean {
  call.record.translation = ANTHROPIC_TO_CHAT;
  if (call.api?.endpoint === "count_tokens") {
    call.untranslatable = COUNT_ACROSS_TRANSLATION;
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
  const { body: chat, dropped } = anthropicToChatRequest(
    request as Record<string, unknown>,
    { model: flow },
  );
  const bytes = encoder.encode(JSON.stringify(chat));
  call.body = { ...body, take: () => bytes };
  call.target = chatTarget(call.target, call.path);
  call.betaHeader = null;
  call.translated = true;
  call.record.upstreamModel = flow;
  const { logger } = call.context;
  if (logger.isEnabledFor("debug")) {
    logger.debug(
      `Translated Anthropic Messages to Chat Completions for '${flow}'${
        dropped.length > 0 ? `; dropped: ${dropped.join(", ")}` : ""
      } [${call.id}]`,
    );
  }
  return true;
}

/**
 * `target` (which ends with `path` and maybe a query) on the Chat path
 * instead. The query is dropped: Claude Code's `?beta=true` is Anthropic's.
 */
export function chatTarget(target: string, path: string): string {
  const query = target.indexOf("?");
  const end = query === -1 ? target.length : query;
  const base = target.slice(0, end - path.length);
  return base +
    (path.startsWith("/v1/") ? "/v1/chat/completions" : "/chat/completions");
}

/**
 * A translated request's whole upstream answer in Anthropic's shape: a
 * Messages body for a 2xx Chat completion, an Anthropic error (same status)
 * for an error. Bytes that are not JSON stay as they are on a 2xx.
 */
export function translateWhole(
  status: number,
  bytes: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const text = decoder.decode(bytes);
  if (status >= 400) {
    return encoder.encode(JSON.stringify(chatToAnthropicError(status, text)));
  }
  try {
    const parsed = JSON.parse(text);
    return encoder.encode(JSON.stringify(chatToAnthropicResponse(parsed)));
  } catch {
    return bytes as Uint8Array<ArrayBuffer>;
  }
}
