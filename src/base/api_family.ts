/**
 * Which API a request path belongs to, and so which error shape its client
 * expects.
 */

/** Which error shape a client expects. */
export type ApiFamily = "openai" | "anthropic" | "gemini";

const MESSAGES = /(^|\/)v1\/messages(\/|$)/;
/**
 * Gemini's model methods (`v1beta/models/{model}:generateContent`) and any
 * `v1beta`/`v1alpha` path but Google's OpenAI-compatible `v1beta/openai/`.
 */
const GEMINI =
  /(^|\/)(?:v1(?:beta|alpha)\/(?!openai(?:\/|$))|v1\/models\/[^/]+:[A-Za-z]+$)/;

/**
 * The API family of a request path: Anthropic for `/v1/messages…`, Gemini
 * for `/v1beta/…`, `/v1alpha/…` and `/v1/models/{model}:{method}`, else
 * OpenAI.
 */
export function apiFamily(path: string): ApiFamily {
  if (MESSAGES.test(path)) return "anthropic";
  return GEMINI.test(path) ? "gemini" : "openai";
}
