/**
 * A Chat Completions answer as a Gemini `GenerateContentResponse`. Pure.
 * The thinking text becomes `thought: true` parts, tool calls
 * `functionCall` parts (with Chat's id, which Gemini clients send back on
 * the `functionResponse`).
 */
import type { Json } from "../types.ts";

/** Chat's `finish_reason` as Gemini's `finishReason`. */
export function finishReason(finish: unknown): string {
  switch (finish) {
    case "stop":
    case "tool_calls":
    case "function_call":
      return "STOP";
    case "length":
      return "MAX_TOKENS";
    case "content_filter":
      return "SAFETY";
    default:
      return typeof finish === "string" ? "OTHER" : "STOP";
  }
}

/**
 * Chat's `usage` as Gemini's `usageMetadata`: Gemini counts thoughts apart
 * from the candidates (Chat's completion tokens include them) and cached
 * tokens within the prompt (as Chat does).
 */
export function usageMetadata(usage: unknown): Json {
  const u = asObject(usage);
  const prompt = num(u.prompt_tokens);
  const completion = num(u.completion_tokens);
  const cached = num(asObject(u.prompt_tokens_details).cached_tokens);
  const thoughts = num(asObject(u.completion_tokens_details).reasoning_tokens);
  const out: Json = {
    promptTokenCount: prompt,
    candidatesTokenCount: Math.max(0, completion - thoughts),
    totalTokenCount: typeof u.total_tokens === "number"
      ? u.total_tokens
      : prompt + completion,
  };
  if (cached > 0) out.cachedContentTokenCount = cached;
  if (thoughts > 0) out.thoughtsTokenCount = thoughts;
  return out;
}

/** A tool call's `arguments` string as the `functionCall.args` object. */
export function parseArgs(args: unknown): Json {
  if (typeof args !== "string" || args.trim() === "") return {};
  try {
    const parsed = JSON.parse(args);
    return parsed !== null && typeof parsed === "object" &&
        !Array.isArray(parsed)
      ? parsed
      : { value: parsed };
  } catch {
    return {};
  }
}

/** A Chat tool call (whole) as a `functionCall` part. */
export function functionCallPart(call: Json): Json {
  const fn = asObject(call.function);
  const functionCall: Json = {
    name: typeof fn.name === "string" ? fn.name : "",
    args: parseArgs(fn.arguments),
  };
  if (typeof call.id === "string" && call.id !== "") functionCall.id = call.id;
  return { functionCall };
}

/** A Chat Completions response body as a Gemini one. */
export function chatToGeminiResponse(res: Json, model: string): Json {
  const choice = asObject(asArray(res.choices)[0]);
  const message = asObject(choice.message);
  const parts: Json[] = [];
  if (
    typeof message.reasoning_content === "string" &&
    message.reasoning_content !== ""
  ) {
    parts.push({ text: message.reasoning_content, thought: true });
  }
  for (const key of ["content", "refusal"]) {
    const text = message[key];
    if (typeof text === "string" && text !== "") parts.push({ text });
  }
  for (const call of asArray(message.tool_calls)) {
    parts.push(functionCallPart(asObject(call)));
  }
  return {
    candidates: [{
      content: { role: "model", parts },
      finishReason: finishReason(choice.finish_reason),
      index: 0,
    }],
    usageMetadata: usageMetadata(res.usage),
    modelVersion: typeof res.model === "string" ? res.model : model,
    responseId: typeof res.id === "string" ? res.id : crypto.randomUUID(),
  };
}

function num(value: unknown): number {
  return typeof value === "number" ? value : 0;
}

function asObject(value: unknown): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? value as Json
    : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
