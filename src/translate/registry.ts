/**
 * Which translation joins a client's API to Flow's, and the joined
 * functions: directly when one side is the hub (Chat Completions), through
 * it otherwise (request: client → Chat → Flow; answers: Flow → Chat →
 * client). One {@linkcode Translation} per pair, made once.
 */
import type {
  ApiAdapter,
  ErrorInfo,
  EventTranslator,
  Json,
  RequestContext,
  RequestTranslation,
  StreamFraming,
  WireApi,
} from "./types.ts";
import { chainStreams } from "./chain.ts";
import { ANTHROPIC_ADAPTER } from "./anthropic/adapter.ts";
import { CHAT_ADAPTER } from "./chat/adapter.ts";
import { RESPONSES_ADAPTER } from "./responses/adapter.ts";
import { GEMINI_ADAPTER } from "./gemini/adapter.ts";

/** The adapters, by API. */
const ADAPTERS: Partial<Record<WireApi, ApiAdapter>> = {
  messages: ANTHROPIC_ADAPTER,
  chat: CHAT_ADAPTER,
  responses: RESPONSES_ADAPTER,
  gemini: GEMINI_ADAPTER,
};

/** The client's API and Flow's, as records name the pair: `"messages->chat"`. */
export type TranslationName = `${WireApi}->${WireApi}`;

/** Everything the request path needs to send `from` requests as `to` ones. */
export interface Translation {
  readonly name: TranslationName;
  readonly from: WireApi;
  readonly to: WireApi;
  /** The DEBUG line's words: `Anthropic Messages to Chat Completions`. */
  readonly title: string;
  /** The client's body as Flow's. */
  request(body: Json, context: RequestContext): RequestTranslation;
  /** Flow's 2xx JSON answer as the client's. */
  response(body: Json, context: RequestContext): Json;
  /** Flow's error body (any text) as the client's error body. */
  error(status: number, text: string): Json;
  /** An error of flow-proxy's own in the client's shape. */
  errorBody(info: ErrorInfo): Json;
  /** Flow's events as the client's. */
  stream(context: RequestContext): EventTranslator;
  /** How the client's events are written. */
  framing(context: RequestContext): StreamFraming;
}

const cache = new Map<string, Translation | null>();

/**
 * The translation from `from` to `to`; null when they are the same API or
 * no adapter can be that side (for example Gemini as Flow's API, when no
 * Gemini-native route exists).
 */
export function translationFor(
  from: WireApi,
  to: WireApi,
): Translation | null {
  const key = from + ">" + to;
  let found = cache.get(key);
  if (found === undefined) {
    found = build(from, to);
    cache.set(key, found);
  }
  return found;
}

/** The name of `api` as logs and messages say it (`"Anthropic Messages"`). */
export function apiTitle(api: WireApi): string {
  return ADAPTERS[api]?.title ?? api;
}

/** Whether a client on `from` can reach a model served on `to`. */
export function canTranslate(from: WireApi, to: WireApi): boolean {
  return translationFor(from, to) !== null;
}

function build(from: WireApi, to: WireApi): Translation | null {
  if (from === to) return null;
  const client = ADAPTERS[from];
  const flow = ADAPTERS[to];
  if (client === undefined || flow === undefined) return null;
  const toFlow = flow.requestFromChat;
  const fromFlow = flow.responseToChat;
  const flowEvents = flow.streamToChat;
  if (
    toFlow === undefined || fromFlow === undefined || flowEvents === undefined
  ) return null;
  return {
    name: `${from}->${to}`,
    from,
    to,
    title: `${client.title} to ${flow.title}`,
    request(body, context) {
      const first = client.requestToChat(body, context);
      if (first.refused !== undefined || to === "chat") return first;
      const second = toFlow(first.body, context);
      return {
        body: second.body,
        dropped: [...first.dropped, ...second.dropped],
        refused: second.refused,
      };
    },
    response(body, context) {
      const chat = to === "chat" ? body : fromFlow(body, context);
      return from === "chat" ? chat : client.responseFromChat(chat, context);
    },
    error: (status, text) => client.errorBody(flow.readError(status, text)),
    errorBody: (info) => client.errorBody(info),
    stream(context) {
      if (to === "chat") return client.streamFromChat(context);
      const chat = flowEvents(context);
      if (from === "chat") return chat;
      return chainStreams(chat, client.streamFromChat(context));
    },
    framing: (context) => client.framing(context),
  };
}
