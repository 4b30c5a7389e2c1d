import assert from "node:assert/strict";
import {
  type StreamApi,
  StreamEndDetector,
  type StreamOutcome,
} from "../../src/models/stream_end.ts";

const encoder = new TextEncoder();

/** The outcome after feeding `text` split at `at` (and at no point when -1). */
function detect(text: string, at = -1, api?: StreamApi): StreamOutcome | null {
  const bytes = encoder.encode(text);
  const detector = new StreamEndDetector({ api });
  if (at < 0) return detector.push(bytes);
  detector.push(bytes.subarray(0, at));
  return detector.push(bytes.subarray(at));
}

/** Every split of `text` in two, and byte by byte, gives `expected`. */
function everySplit(
  text: string,
  expected: StreamOutcome | null,
  api?: StreamApi,
) {
  const bytes = encoder.encode(text);
  for (let at = 0; at <= bytes.length; at++) {
    assert.equal(detect(text, at, api), expected, `split at ${at}`);
  }
  const detector = new StreamEndDetector({ api });
  for (let i = 0; i < bytes.length; i++) {
    detector.push(bytes.subarray(i, i + 1));
  }
  assert.equal(detector.outcome, expected, "byte by byte");
}

const anthropic =
  'event: message_start\ndata: {"type":"message_start","message":{}}\n\n' +
  'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"héllo"}}\n\n' +
  'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":3}}\n\n';
const chat = 'data: {"choices":[{"delta":{"content":"hi ✓"}}]}\n\n' +
  'data: {"choices":[],"usage":{"total_tokens":3}}\n\n';
const responses =
  'event: response.created\ndata: {"type":"response.created","response":{"status":"in_progress"}}\n\n' +
  'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"ok"}\n\n';

Deno.test("StreamEndDetector finds the final event at any chunk boundary", async (t) => {
  const cases: [string, string, StreamOutcome][] = [
    [
      "Anthropic message_stop",
      anthropic + 'event: message_stop\ndata: {"type":"message_stop"}\n\n',
      "completed",
    ],
    [
      "Anthropic error",
      anthropic +
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n',
      "failed",
    ],
    ["chat [DONE]", chat + "data: [DONE]\n\n", "completed"],
    [
      "chat [DONE] without a space, CRLF",
      chat.replaceAll("\n", "\r\n") + "data:[DONE]\r\n\r\n",
      "completed",
    ],
    [
      "Responses completed",
      responses +
      'event: response.completed\ndata: {"type":"response.completed","response":{"status":"completed"}}\n\n',
      "completed",
    ],
    [
      "Responses incomplete",
      responses +
      'event: response.incomplete\ndata: {"response":{},"type":"response.incomplete"}\n\n',
      "incomplete",
    ],
    [
      "Responses failed",
      responses +
      'event: response.failed\ndata: {"type":"response.failed"}\n\n',
      "failed",
    ],
    [
      "Responses without event lines, type last",
      'data: {"type":"response.created"}\n\ndata: {"response":{"output":[{"type":"message"}]},"sequence_number":9,"type": "response.completed"}\n\n',
      "completed",
    ],
    [
      "Anthropic without event lines",
      'data: {"type":"message_start"}\n\ndata: {"type":"message_stop"}\n\n',
      "completed",
    ],
  ];
  for (const [name, text, outcome] of cases) {
    await t.step(name, () => everySplit(text, outcome));
  }
});

Deno.test("StreamEndDetector gives null until the final event", async (t) => {
  const cases: [string, string][] = [
    ["Anthropic, no message_stop yet", anthropic + "event: message_stop"],
    ["chat, no [DONE] yet", chat + "data: [DONE"],
    ["Responses, in progress", responses],
    [
      "markers inside JSON strings",
      'data: {"choices":[{"delta":{"content":"\\ndata: [DONE]\\n \\"type\\":\\"message_stop\\""}}]}\n\n',
    ],
    ["a longer event name", "event: message_stopped\n\n"],
    ["a marker not at a line start", "data: x event: message_stop\n"],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => everySplit(text, null));
  }
});

Deno.test("StreamEndDetector with an api counts only that API's final events", () => {
  const text = "data: [DONE]\n\n";
  assert.equal(detect(text, -1, "chat"), "completed");
  assert.equal(detect(text, -1, "anthropic"), null);
  assert.equal(detect("event: message_stop\n", -1, "responses"), null);
  assert.equal(detect("event: response.failed\n", -1, "responses"), "failed");
});

Deno.test("StreamEndDetector keeps the first final event and reads no further", () => {
  const detector = new StreamEndDetector();
  assert.equal(
    detector.push(encoder.encode("event: response.failed\n")),
    "failed",
  );
  assert.equal(detector.push(encoder.encode("data: [DONE]\n")), "failed");
  assert.equal(detector.outcome, "failed");
});
