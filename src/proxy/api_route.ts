/**
 * Which API a request path is (Anthropic Messages, count_tokens, Chat
 * Completions, Responses, embeddings, Gemini's generateContent), for the
 * model mapping, translation and the stream-end detection: one Map lookup
 * per request, and a prefix test for Gemini's paths.
 */
import type { ApiKind } from "../models/types.ts";
import type { StreamApi } from "../models/stream_end.ts";
import type { WireApi } from "../translate/types.ts";

/** What a request path is, for the models configuration. */
export interface ApiRoute {
  /** The API whose mapping applies. */
  api: ApiKind;
  /** The API the client speaks, for translation; null when none applies (embeddings). */
  wire: WireApi | null;
  /** `count_tokens` for a token count (Anthropic's or Gemini's `countTokens`). */
  endpoint: "messages" | "count_tokens" | "generate" | null;
  /** Whose final stream events end an answer on this path. */
  stream: StreamApi | "gemini";
  /** Gemini: the model named in the path (`models/{model}:…`). */
  model?: string;
  /** Gemini: `streamGenerateContent` (the path, not the body, asks for a stream). */
  streaming?: boolean;
}

const MESSAGES: ApiRoute = {
  api: "messages",
  wire: "messages",
  endpoint: "messages",
  stream: "anthropic",
};
const COUNT: ApiRoute = {
  api: "messages",
  wire: "messages",
  endpoint: "count_tokens",
  stream: "anthropic",
};
const CHAT: ApiRoute = {
  api: "chat",
  wire: "chat",
  endpoint: null,
  stream: "chat",
};
const RESPONSES: ApiRoute = {
  api: "responses",
  wire: "responses",
  endpoint: null,
  stream: "responses",
};
const EMBEDDINGS: ApiRoute = {
  api: "embeddings",
  wire: null,
  endpoint: null,
  stream: "chat",
};

/** Every mapped path, with and without the `/v1` prefix (no slicing per request). */
const ROUTES = new Map<string, ApiRoute>();
for (
  const [path, route] of [
    ["/messages", MESSAGES],
    ["/messages/count_tokens", COUNT],
    ["/chat/completions", CHAT],
    ["/responses", RESPONSES],
    ["/embeddings", EMBEDDINGS],
  ] as const
) {
  ROUTES.set(path, route);
  ROUTES.set("/v1" + path, route);
}

/** Gemini's methods on a model, by what follows the `:`. */
const GEMINI_METHODS: Readonly<
  Record<string, { endpoint: "generate" | "count_tokens"; streaming: boolean }>
> = {
  generateContent: { endpoint: "generate", streaming: false },
  streamGenerateContent: { endpoint: "generate", streaming: true },
  countTokens: { endpoint: "count_tokens", streaming: false },
};

/** Gemini's model paths: `/v1beta/models/{model}:{method}` (and `/v1/…`). */
const GEMINI_PATH = /^\/(?:v1beta|v1|v1alpha)\/models\/([^/:]+):([A-Za-z]+)$/;

/** The API of a path relative to the proxy; undefined when no mapping applies. */
export function apiRoute(path: string): ApiRoute | undefined {
  const route = ROUTES.get(path);
  if (route !== undefined || !path.includes(":")) return route;
  return geminiRoute(path);
}

/** A Gemini `models/{model}:{method}` path's route; undefined for any other. */
export function geminiRoute(path: string): ApiRoute | undefined {
  const match = GEMINI_PATH.exec(path);
  if (match === null) return undefined;
  const method = GEMINI_METHODS[match[2]];
  if (method === undefined) return undefined;
  let model: string;
  try {
    model = decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
  return {
    api: "gemini",
    wire: "gemini",
    endpoint: method.endpoint,
    stream: "gemini",
    model,
    streaming: method.streaming,
  };
}
