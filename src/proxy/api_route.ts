/**
 * Which API a request path is (Anthropic Messages, count_tokens, Chat
 * Completions, Responses, embeddings), for the model mapping and the
 * stream-end detection: one Map lookup per request.
 */
import type { ApiKind } from "../models/types.ts";
import type { StreamApi } from "../models/stream_end.ts";

/** What a request path is, for the models configuration. */
export interface ApiRoute {
  /** The API whose mapping applies. */
  api: ApiKind;
  /** `count_tokens` for `/v1/messages/count_tokens`. */
  endpoint: "messages" | "count_tokens" | null;
  /** Whose final stream events end an answer on this path. */
  stream: StreamApi;
}

const MESSAGES: ApiRoute = {
  api: "messages",
  endpoint: "messages",
  stream: "anthropic",
};
const COUNT: ApiRoute = {
  api: "messages",
  endpoint: "count_tokens",
  stream: "anthropic",
};
const CHAT: ApiRoute = { api: "chat", endpoint: null, stream: "chat" };
const RESPONSES: ApiRoute = {
  api: "responses",
  endpoint: null,
  stream: "responses",
};
const EMBEDDINGS: ApiRoute = {
  api: "embeddings",
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

/** The API of a path relative to the proxy; undefined when no mapping applies. */
export function apiRoute(path: string): ApiRoute | undefined {
  return ROUTES.get(path);
}
