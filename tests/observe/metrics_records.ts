/** Request records for tests: one with every field defaulted (makeRecord), and the ones metrics_test.ts and its worker send. */
import type { RequestRecord } from "../../src/request_log/record.ts";

/** Models the workers use: the same names race to be interned from both. */
export const TEST_MODELS = [
  "gpt-4o",
  "anthropic.claude-4-5-sonnet",
  "gemini-2.5-pro",
  "text-embedding-3-small",
];

/** A finished request; every field has a default, `fields` overrides. */
export function makeRecord(fields: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: "req-1",
    ts: 1_763_000_000_000,
    client: null,
    credential: null,
    method: "POST",
    path: "/v1/chat/completions",
    model: null,
    status: 200,
    durationMs: 100,
    ttftMs: null,
    bytesIn: 10,
    bytesOut: 20,
    tokensIn: null,
    tokensOut: null,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: false,
    ...fields,
  };
}

/** Record number `i` of a worker's run: 200 chat with 10 in / 5 out tokens of model i % 4, TTFT 0.3 s. */
export function testRecord(i: number): RequestRecord {
  return makeRecord({
    model: TEST_MODELS[i % TEST_MODELS.length],
    durationMs: 1500,
    ttftMs: 300,
    tokensIn: 10,
    tokensOut: 5,
    stream: true,
  });
}
