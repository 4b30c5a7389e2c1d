import assert from "node:assert/strict";
import {
  type ResponseKind,
  responseKind,
  type Usage,
  UsageTap,
} from "../../src/observe/usage_tap.ts";

// JSON fixtures end in .txt so that deno fmt keeps the upstream's exact bytes.
const FIXTURES = new URL("../fixtures/usage/", import.meta.url);
const encoder = new TextEncoder();

function fixture(name: string): Uint8Array {
  return Deno.readFileSync(new URL(name, FIXTURES));
}

/** Usage without TTFT: what must not depend on how the body was split. */
type Tokens = Omit<Usage, "ttftMs">;

/**
 * Feeds `bytes` in chunks of the given sizes with a fake clock that reads
 * "bytes written so far", so TTFT says which byte completed the first token.
 */
function tap(
  bytes: Uint8Array,
  kind: ResponseKind,
  sizes: Iterable<number> = [bytes.length],
): Usage {
  let clock = 0;
  const usage = new UsageTap({ kind, startedAt: 0, now: () => clock });
  let offset = 0;
  for (const size of sizes) {
    if (offset >= bytes.length) break;
    const end = Math.min(bytes.length, offset + size);
    clock = end;
    usage.write(bytes.subarray(offset, end));
    offset = end;
  }
  assert.equal(offset, bytes.length, "the sizes cover the whole body");
  return usage.finish();
}

function tokens(usage: Usage): Tokens {
  const { ttftMs: _, ...rest } = usage;
  return rest;
}

/** A seeded generator (mulberry32): random splits that are the same on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function* randomSizes(next: () => number, max: number): Generator<number> {
  for (;;) yield 1 + Math.floor(next() * max);
}

/** Offset just past the `\n` that ends the event containing `marker`. */
function eventEnd(bytes: Uint8Array, marker: string): number {
  const text = new TextDecoder().decode(bytes);
  const at = text.indexOf(marker);
  assert.notEqual(at, -1, `fixture has ${marker}`);
  const blank = text.indexOf("\n\n", at);
  return encoder.encode(text.slice(0, blank + 2)).length;
}

interface Case {
  file: string;
  kind: ResponseKind;
  expected: Tokens;
  /** Text inside the first event that carries a token (SSE only). */
  firstToken?: string;
}

const CASES: Case[] = [
  {
    file: "openai_chat.json.txt",
    kind: "json",
    expected: {
      tokensIn: 1117,
      tokensOut: 46,
      cacheReadTokens: 1024,
      cacheWriteTokens: null,
      model: "gpt-4o-2024-08-06",
    },
  },
  {
    file: "openai_chat_stream_usage.sse",
    kind: "sse",
    expected: {
      tokensIn: 19,
      tokensOut: 7,
      cacheReadTokens: 0,
      cacheWriteTokens: null,
      model: "gpt-4o-mini-2024-07-18",
    },
    firstToken: '"content":"Olá"',
  },
  {
    file: "openai_chat_stream.sse",
    kind: "sse",
    expected: {
      tokensIn: null,
      tokensOut: null,
      cacheReadTokens: null,
      cacheWriteTokens: null,
      model: "gpt-4o-2024-08-06",
    },
    firstToken: '"content":"Hi"',
  },
  {
    file: "anthropic_messages.json.txt",
    kind: "json",
    expected: {
      tokensIn: 12,
      tokensOut: 33,
      cacheReadTokens: 4096,
      cacheWriteTokens: 2048,
      model: "claude-sonnet-4-5-20250929",
    },
  },
  {
    file: "anthropic_messages_stream.sse",
    kind: "sse",
    expected: {
      tokensIn: 25,
      tokensOut: 15,
      cacheReadTokens: 3000,
      cacheWriteTokens: 1500,
      model: "claude-sonnet-4-5-20250929",
    },
    firstToken: '"text":"Olá"',
  },
  {
    file: "embeddings.json.txt",
    kind: "json",
    expected: {
      tokensIn: 8,
      tokensOut: null,
      cacheReadTokens: null,
      cacheWriteTokens: null,
      model: "text-embedding-3-small",
    },
  },
  {
    file: "responses.json.txt",
    kind: "json",
    expected: {
      tokensIn: 36,
      tokensOut: 87,
      cacheReadTokens: 0,
      cacheWriteTokens: null,
      model: "gpt-4.1-2025-04-14",
    },
  },
  {
    file: "responses_stream.sse",
    kind: "sse",
    expected: {
      tokensIn: 36,
      tokensOut: 87,
      cacheReadTokens: 8,
      cacheWriteTokens: null,
      model: "gpt-4.1-2025-04-14",
    },
    firstToken: '"delta":"Hello"',
  },
];

Deno.test("UsageTap reads usage from recorded responses", async (t) => {
  for (const c of CASES) {
    await t.step(c.file, () => {
      const bytes = fixture(c.file);
      const usage = tap(bytes, c.kind);
      assert.deepEqual(tokens(usage), c.expected);
      if (c.kind === "json") assert.equal(usage.ttftMs, null);
    });
  }
});

Deno.test("UsageTap gives the same usage whatever the chunk boundaries", async (t) => {
  for (const c of CASES) {
    await t.step(
      `${c.file}: every split point, byte by byte, random splits`,
      () => {
        const bytes = fixture(c.file);
        for (let split = 0; split <= bytes.length; split++) {
          assert.deepEqual(
            tokens(tap(bytes, c.kind, [split, bytes.length])),
            c.expected,
            `split at ${split}`,
          );
        }
        assert.deepEqual(
          tokens(tap(bytes, c.kind, randomSizes(() => 0, 1))),
          c.expected,
          "1 byte at a time",
        );
        const next = random(bytes.length);
        for (let run = 0; run < 50; run++) {
          assert.deepEqual(
            tokens(tap(bytes, c.kind, randomSizes(next, 64))),
            c.expected,
            `random run ${run}`,
          );
        }
      },
    );
  }
});

Deno.test("UsageTap measures TTFT at the event that carries the first token", async (t) => {
  for (const c of CASES.filter((c) => c.firstToken !== undefined)) {
    await t.step(c.file, () => {
      const bytes = fixture(c.file);
      const end = eventEnd(bytes, c.firstToken!);
      // The fake clock reads "bytes written": byte by byte, TTFT is the offset that completed the event.
      assert.equal(tap(bytes, "sse", randomSizes(() => 0, 1)).ttftMs, end);
      const next = random(7);
      for (let run = 0; run < 20; run++) {
        const sizes = [...takeUntil(randomSizes(next, 50), bytes.length)];
        let chunkEnd = 0;
        for (const size of sizes) {
          chunkEnd += size;
          if (chunkEnd >= end) break;
        }
        assert.equal(
          tap(bytes, "sse", sizes).ttftMs,
          Math.min(chunkEnd, bytes.length),
          `run ${run}`,
        );
      }
    });
  }

  await t.step("is measured from startedAt with the injected clock", () => {
    let clock = 5000;
    const usage = new UsageTap({
      kind: "sse",
      startedAt: 4000,
      now: () => clock,
    });
    usage.write(
      encoder.encode(
        'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n',
      ),
    );
    clock = 5200;
    usage.write(encoder.encode(": keep-alive\n\n"));
    clock = 5450;
    usage.write(
      encoder.encode('data: {"choices":[{"delta":{"content":"A"}}]}\n\n'),
    );
    clock = 9000;
    usage.write(
      encoder.encode(
        'data: {"choices":[{"delta":{"content":"B"}}]}\n\ndata: [DONE]\n\n',
      ),
    );
    assert.equal(usage.finish().ttftMs, 1450);
  });

  await t.step("counts a tool call as the first token", () => {
    let clock = 0;
    const usage = new UsageTap({ kind: "sse", startedAt: 0, now: () => clock });
    clock = 10;
    usage.write(
      encoder.encode(
        'data: {"choices":[{"delta":{"role":"assistant","content":null}}]}\n\n',
      ),
    );
    clock = 20;
    usage.write(encoder.encode(
      'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":""}}]}}]}\n\n',
    ));
    assert.equal(usage.finish().ttftMs, 20);
  });

  await t.step("is null when no event carries a token", () => {
    const usage = new UsageTap({ kind: "sse", startedAt: 0, now: () => 99 });
    usage.write(
      encoder.encode(
        'event: ping\ndata: {"type":"ping"}\n\ndata: {"choices":[],"usage":{"prompt_tokens":1}}\n\n',
      ),
    );
    usage.write(
      encoder.encode(
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n',
      ),
    );
    const result = usage.finish();
    assert.equal(result.ttftMs, null);
    assert.equal(result.tokensIn, 1);
  });

  await t.step("is the first byte for other streams and null for JSON", () => {
    let clock = 0;
    const other = new UsageTap({
      kind: "other",
      startedAt: 0,
      now: () => clock,
    });
    clock = 3;
    other.write(new Uint8Array(0));
    clock = 8;
    other.write(new Uint8Array([1, 2, 3]));
    clock = 50;
    other.write(new Uint8Array([4]));
    assert.deepEqual(other.finish(), {
      tokensIn: null,
      tokensOut: null,
      cacheReadTokens: null,
      cacheWriteTokens: null,
      model: null,
      ttftMs: 8,
    });
    const json = new UsageTap({ kind: "json", startedAt: 0, now: () => 42 });
    json.write(fixture("openai_chat.json.txt"));
    assert.equal(json.finish().ttftMs, null);
  });
});

Deno.test("UsageTap parses SSE framing variants", async (t) => {
  await t.step("CRLF line endings", () => {
    for (const c of CASES.filter((c) => c.kind === "sse")) {
      const text = new TextDecoder().decode(fixture(c.file)).replaceAll(
        "\n",
        "\r\n",
      );
      const bytes = encoder.encode(text);
      assert.deepEqual(
        tokens(tap(bytes, "sse", randomSizes(random(3), 16))),
        c.expected,
        c.file,
      );
    }
  });

  await t.step("a multi-byte character split between chunks", () => {
    const bytes = encoder.encode(
      'data: {"model":"modèle-日本-🌍","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n',
    );
    for (let split = 0; split <= bytes.length; split++) {
      assert.equal(
        tap(bytes, "sse", [split, bytes.length]).model,
        "modèle-日本-🌍",
        `split at ${split}`,
      );
    }
  });

  await t.step("an event whose data spans several data lines", () => {
    const bytes = encoder.encode(
      'data: {"choices":[],\ndata: "usage":{"prompt_tokens":3,\ndata:"completion_tokens":4}}\n\n',
    );
    const usage = tap(bytes, "sse");
    assert.equal(usage.tokensIn, 3);
    assert.equal(usage.tokensOut, 4);
  });

  await t.step("a last event without its blank line still counts", () => {
    const usage = tap(
      encoder.encode(
        'data: {"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":9}}',
      ),
      "sse",
    );
    assert.equal(usage.tokensOut, 9);
  });

  await t.step(
    "a line longer than maxJsonBytes is skipped, later events are read",
    () => {
      const long = `data: {"choices":[{"delta":{"content":"${
        "x".repeat(300)
      }"}}]}\n\n`;
      const bytes = encoder.encode(
        `${long}data: {"choices":[],"usage":{"prompt_tokens":5}}\n\n`,
      );
      const usage = new UsageTap({
        kind: "sse",
        startedAt: 0,
        now: () => 1,
        maxJsonBytes: 100,
      });
      for (let i = 0; i < bytes.length; i += 10) {
        usage.write(
          bytes.subarray(i, i + 10),
        );
      }
      assert.equal(usage.finish().tokensIn, 5);
    },
  );
});

Deno.test("UsageTap never changes or keeps the chunks it is given", () => {
  for (const c of CASES) {
    const bytes = fixture(c.file);
    const chunk = bytes.slice();
    const usage = new UsageTap({ kind: c.kind, startedAt: 0, now: () => 1 });
    usage.write(chunk);
    assert.deepEqual(chunk, bytes, `${c.file}: chunk unchanged`);
    // The proxy may reuse its buffer once a chunk is forwarded.
    chunk.fill(0x20);
    assert.deepEqual(tokens(usage.finish()), c.expected, c.file);
  }
});

Deno.test("UsageTap does not parse JSON bodies over maxJsonBytes", () => {
  const bytes = fixture("openai_chat.json.txt");
  const usage = new UsageTap({
    kind: "json",
    startedAt: 0,
    now: () => 1,
    maxJsonBytes: 512,
  });
  usage.write(bytes.subarray(0, 400));
  usage.write(bytes.subarray(400));
  assert.deepEqual(tokens(usage.finish()), {
    tokensIn: null,
    tokensOut: null,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    model: null,
  });
});

Deno.test("UsageTap yields nulls for a garbled stream and never throws", async (t) => {
  const nothing: Tokens = {
    tokensIn: null,
    tokensOut: null,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    model: null,
  };

  await t.step("recorded garbled SSE", () => {
    const bytes = fixture("garbled.sse");
    assert.deepEqual(tokens(tap(bytes, "sse")), nothing);
    assert.deepEqual(
      tokens(tap(bytes, "sse", randomSizes(() => 0, 1))),
      nothing,
    );
  });

  await t.step("invalid JSON bodies", () => {
    for (
      const body of [
        '{"usage":{"prompt_tokens":',
        '{"usage": nope}',
        "\u0000\u00ff",
        '"usage":{"a":1}}}',
        "",
      ]
    ) {
      assert.deepEqual(
        tokens(tap(encoder.encode(body), "json")),
        nothing,
        JSON.stringify(body),
      );
    }
  });

  await t.step("random bytes in every kind", () => {
    const next = random(42);
    for (let run = 0; run < 30; run++) {
      const bytes = new Uint8Array(200 + Math.floor(next() * 300));
      for (let i = 0; i < bytes.length; i++) {
        // Mostly SSE punctuation, so the parser sees lines, fields and JSON fragments.
        const pick = next();
        bytes[i] = pick < 0.3
          ? 'data: {}\n"usage":['.charCodeAt(Math.floor(next() * 18))
          : Math.floor(next() * 256);
      }
      for (const kind of ["sse", "json", "other"] as const) {
        const usage = tap(bytes, kind, randomSizes(next, 40));
        assert.equal(usage.cacheWriteTokens, null);
      }
    }
  });

  await t.step(
    "finish() twice returns the same result and writes after it are ignored",
    () => {
      const usage = new UsageTap({ kind: "sse", startedAt: 0, now: () => 1 });
      usage.write(fixture("anthropic_messages_stream.sse"));
      const first = usage.finish();
      usage.write(
        encoder.encode(
          'data: {"type":"message_delta","usage":{"output_tokens":99}}\n\n',
        ),
      );
      assert.equal(usage.finish(), first);
      assert.equal(first.tokensOut, 15);
    },
  );
});

Deno.test("responseKind() classifies content types", () => {
  assert.equal(responseKind("text/event-stream"), "sse");
  assert.equal(responseKind("text/event-stream; charset=utf-8"), "sse");
  assert.equal(responseKind("Application/JSON; charset=utf-8"), "json");
  assert.equal(responseKind("application/problem+json"), "json");
  assert.equal(responseKind("audio/mpeg"), "other");
  assert.equal(responseKind("text/plain"), "other");
  assert.equal(responseKind(null), "other");
});

function* takeUntil(sizes: Iterable<number>, total: number): Generator<number> {
  let sum = 0;
  for (const size of sizes) {
    if (sum >= total) return;
    yield size;
    sum += size;
  }
}
