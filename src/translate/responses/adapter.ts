/**
 * The OpenAI Responses API (`/v1/responses`) as both sides of a
 * translation (src/translate/types.ts): Codex and the OpenAI SDK's
 * `responses` on a model Flow serves on Chat Completions (Claude, Gemini),
 * and Chat or Anthropic clients on a model served on Responses only.
 */
import type { ApiAdapter } from "../types.ts";
import { NAMED_EVENTS } from "../sse.ts";
import { readErrorBody } from "../error_info.ts";
import { openAiErrorBody } from "../chat/adapter.ts";
import { responsesToChatRequest } from "./request_to_chat.ts";
import { chatToResponsesResponse } from "./response_from_chat.ts";
import { ResponsesFromChatStream } from "./stream_from_chat.ts";
import { chatToResponsesRequest } from "./request_from_chat.ts";
import { responsesToChatResponse } from "./response_to_chat.ts";
import { ChatFromResponsesStream } from "./stream_to_chat.ts";

/** OpenAI Responses (`/v1/responses`). */
export const RESPONSES_ADAPTER: ApiAdapter = {
  api: "responses",
  title: "Responses",
  requestToChat: responsesToChatRequest,
  responseFromChat: chatToResponsesResponse,
  streamFromChat: (context) => new ResponsesFromChatStream(context),
  errorBody: openAiErrorBody,
  framing: () => NAMED_EVENTS,
  requestFromChat: chatToResponsesRequest,
  responseToChat: responsesToChatResponse,
  streamToChat: (context) => new ChatFromResponsesStream(context),
  readError: readErrorBody,
};
