/**
 * The fixed bodies of the benchmark: a ~300-byte chat request, a ~400-byte
 * chat completion, and the base path every target serves under.
 *
 * @module
 */

/** Base path of the fake Flow upstream, as production has `/flow-llm-proxy`. */
export const BASE_PATH = "/flow-llm-proxy";

/** Path of the JSON benchmark (served by nginx's `return 200`). */
export const CHAT_PATH = "/v1/chat/completions";

/** Path of the SSE benchmark (Anthropic Messages stream from bench/upstream.ts). */
export const MESSAGES_PATH = "/v1/messages";

/** Path of the binary download (bench/upstream.ts). */
export const FILES_PATH = "/v1/files/blob.bin";

/** POST body of every JSON request, about 300 bytes. */
export const CHAT_REQUEST = JSON.stringify({
  model: "gpt-4o",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    {
      role: "user",
      content:
        "Say hello in one short sentence, then stop. This body is padded to about three hundred bytes.",
    },
  ],
  max_tokens: 64,
  temperature: 0.2,
  stream: false,
});

/** The fixed chat completion the upstream answers, about 400 bytes. */
export const CHAT_COMPLETION = JSON.stringify({
  id: "chatcmpl-bench000000000000000000001",
  object: "chat.completion",
  created: 1700000000,
  model: "gpt-4o-2024-08-06",
  choices: [{
    index: 0,
    message: {
      role: "assistant",
      content:
        "Hello! This is a fixed completion from the benchmark upstream, as long as a short answer.",
      refusal: null,
    },
    logprobs: null,
    finish_reason: "stop",
  }],
  usage: { prompt_tokens: 42, completion_tokens: 24, total_tokens: 66 },
  system_fingerprint: "fp_bench",
});

/** POST body of the SSE requests (Anthropic Messages, streaming). */
export const MESSAGES_REQUEST = JSON.stringify({
  model: "anthropic.claude-4-5-sonnet",
  max_tokens: 256,
  stream: true,
  messages: [{ role: "user", content: "Count slowly, one number per event." }],
});
