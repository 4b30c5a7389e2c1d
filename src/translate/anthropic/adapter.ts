/**
 * Anthropic Messages as one side of a translation (src/translate/types.ts).
 * The client side is complete; the upstream side (a Chat request as a
 * Messages one, Messages answers and events as Chat's) is what
 * `requestFromChat`, `responseToChat` and `streamToChat` add.
 */
import type { ApiAdapter } from "../types.ts";
import { NAMED_EVENTS } from "../sse.ts";
import { readErrorBody } from "../error_info.ts";
import { anthropicToChatRequest } from "./request_to_chat.ts";
import { chatToAnthropicResponse } from "./response_from_chat.ts";
import { AnthropicFromChatStream } from "./stream_from_chat.ts";
import { anthropicErrorBody } from "./error.ts";

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
  readError: readErrorBody,
};
