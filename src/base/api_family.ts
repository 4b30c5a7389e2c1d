/**
 * Which API a request path belongs to, and so which error shape its client
 * expects.
 */

/** Which error shape a client expects. */
export type ApiFamily = "openai" | "anthropic";

/** The API family of a request path: Anthropic for `/v1/messages…`, else OpenAI. */
export function apiFamily(path: string): ApiFamily {
  return /(^|\/)v1\/messages(\/|$)/.test(path) ? "anthropic" : "openai";
}
