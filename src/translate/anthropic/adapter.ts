/**
 * Anthropic Messages as either side of a translation (src/translate/types.ts):
 * the client side (a Messages request as a Chat one, Chat answers and
 * events as Messages') and the upstream side (a Chat request as a Messages
 * one, Messages answers and events as Chat's).
 */
import type { ApiAdapter } from "../types.ts";
import { NAMED_EVENTS } from "../sse.ts";
import { readErrorBody } from "../error_info.ts";
import { anthropicToChatRequest } from "./request_to_chat.ts";
import { chatToAnthropicResponse } from "./response_from_chat.ts";
import { AnthropicFromChatStream } from "./stream_from_chat.ts";
import { anthropicErrorBody } from "./error.ts";
import { chatToAnthropicRequest } from "./request_from_chat.ts";
import { anthropicToChatResponse } from "./response_to_chat.ts";
import { ChatFromAnthropicStream } from "./stream_to_chat.ts";

/** Anthropic Messages (`/v1/messages`). */
export const ANTHROPIC_ADAPTER: ApiAdapter = {
  api: "messages",
  title: "Anthropic Messages",
  requestToChat: (body, context) =>
    anthropicToChatRequest(body, { model: context.model }),
  responseFromChat: (chat) => chatToAnthropicResponse(chat),
  streamFromChat: (context) =>
    new AnthropicFromChatStream({ model: context.model }),
  errorBody: anthropicErrorBody,
  framing: () => NAMED_EVENTS,
  requestFromChat: chatToAnthropicRequest,
  responseToChat: (body, context) =>
    anthropicToChatResponse(body, context.model),
  streamToChat: (context) =>
    new ChatFromAnthropicStream({ model: context.model }),
  readError: readErrorBody,
};
