/**
 * Gemini `generateContent` / `streamGenerateContent` as one side of a
 * translation (src/translate/types.ts). The client side is complete, plus
 * `requestFromChat` for the round trip tests. Flow has no Gemini-native
 * route by default, so there is no `responseToChat` / `streamToChat`:
 * Gemini is never Flow's side of a translation (the registry gives null).
 */
import type { ApiAdapter } from "../types.ts";
import { DATA_EVENTS, JSON_ARRAY } from "../sse.ts";
import { readErrorBody } from "../error_info.ts";
import { geminiToChatRequest } from "./request_to_chat.ts";
import { chatToGeminiRequest } from "./request_from_chat.ts";
import { chatToGeminiResponse } from "./response_from_chat.ts";
import { GeminiFromChatStream } from "./stream_from_chat.ts";
import { geminiErrorBody } from "./error.ts";

/** Gemini's `models/{model}:generateContent` and `:streamGenerateContent`. */
export const GEMINI_ADAPTER: ApiAdapter = {
  api: "gemini",
  title: "Gemini generateContent",
  requestToChat: geminiToChatRequest,
  responseFromChat: (chat, context) =>
    chatToGeminiResponse(chat, context.model),
  streamFromChat: (context) =>
    new GeminiFromChatStream({ model: context.model }),
  errorBody: geminiErrorBody,
  // `?alt=sse` asks for server-sent events; without it, one JSON array.
  framing: (context) => context.sse === true ? DATA_EVENTS : JSON_ARRAY,
  requestFromChat: chatToGeminiRequest,
  readError: readErrorBody,
};
