/**
 * What the Anthropic request rewrite and the stream-end detector cost, on a
 * ~200 KB Claude Code request: the median time to rewrite it, the cost of
 * the pre-check on a body of the same size that needs nothing (next to the
 * model sniff the handler already pays for every body), and the detector's
 * cost per MiB of event stream.
 *
 *   deno task bench:rewrite            # = deno run bench/rewrite_bench.ts
 *   deno run bench/rewrite_bench.ts --rounds 2000
 */

import { parseArgs } from "node:util";
import { rewriteAnthropicRequest } from "../src/models/anthropic_compat.ts";
import type { AnthropicCompatModel } from "../src/models/compat_types.ts";
import { StreamEndDetector } from "../src/models/stream_end.ts";
import { sniffModel } from "../src/models/model_sniff.ts";
import {
  CLAUDE_CODE_BETAS,
  claudeCodeRequest,
} from "../tests/models/claude_code_request.ts";

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "500" } },
});
const rounds = Number(values.rounds);

const MODEL: AnthropicCompatModel = {
  name: "anthropic.claude-4-6-opus",
  family: "anthropic",
  outputLimit: 32000,
  thinking: ["enabled"],
  betas: ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"],
  rejectsFields: ["context_management", "output_config"],
};

const encoder = new TextEncoder();
const request = claudeCodeRequest({ turns: 80 });
const needsRewrite = encoder.encode(JSON.stringify(request));
// The same conversation as a client already set up for Flow would send it.
const clean = structuredClone(request);
clean.model = MODEL.name;
clean.max_tokens = 32000;
delete clean.thinking;
delete clean.context_management;
delete clean.output_config;
(clean.messages as unknown[]).splice(1, 1);
const needsNothing = encoder.encode(JSON.stringify(clean));
// A tool result holding a long number: the slower, number-keeping parse.
const withLongNumber = structuredClone(request);
(withLongNumber.messages as { content: unknown }[]).at(-1)!.content =
  '{"id": 12345678901234567890}';
const needsLongRewrite = encoder.encode(JSON.stringify(withLongNumber));

/** Median and 90th percentile of `fn` in milliseconds, after a warm-up. */
function time(fn: () => unknown): { median: number; p90: number } {
  for (let i = 0; i < Math.min(rounds, 200); i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return {
    median: samples[Math.floor(rounds / 2)],
    p90: samples[Math.floor(rounds * 0.9)],
  };
}

function row(name: string, bytes: number, t: { median: number; p90: number }) {
  return `| ${name} | ${(bytes / 1024).toFixed(0)} KiB | ${
    t.median.toFixed(3)
  } | ${t.p90.toFixed(3)} |`;
}

if (rewriteAnthropicRequest(needsNothing, { model: MODEL, betaHeader: null })) {
  throw new Error("The clean body was rewritten: the benchmark is wrong");
}
const rewriteOnce = () =>
  rewriteAnthropicRequest(needsRewrite, {
    model: MODEL,
    betaHeader: CLAUDE_CODE_BETAS,
  });
const sniffed = sniffModel(needsNothing).model;

// An SSE stream of ~1 MiB in 16 KiB chunks, ending with message_stop.
const delta =
  'event: content_block_delta\ndata: {"type":"content_block_delta",' +
  '"index":0,"delta":{"type":"text_delta","text":"some words of text"}}\n\n';
const stream = encoder.encode(
  delta.repeat(Math.ceil(1024 * 1024 / delta.length)) +
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
);
const chunks: Uint8Array[] = [];
for (let at = 0; at < stream.length; at += 16384) {
  chunks.push(stream.subarray(at, at + 16384));
}

const lines = [
  `Deno ${Deno.version.deno}, ${rounds} rounds, times in ms`,
  "",
  "| what | body | median | p90 |",
  "| --- | --- | --- | --- |",
  row("rewrite a Claude Code request", needsRewrite.length, time(rewriteOnce)),
  row(
    "rewrite, body with a 20-digit number",
    needsLongRewrite.length,
    time(() =>
      rewriteAnthropicRequest(needsLongRewrite, {
        model: MODEL,
        betaHeader: CLAUDE_CODE_BETAS,
      })
    ),
  ),
  row(
    "no rewrite needed (pre-check, model sniffed inside)",
    needsNothing.length,
    time(() =>
      rewriteAnthropicRequest(needsNothing, { model: MODEL, betaHeader: null })
    ),
  ),
  row(
    "no rewrite needed (pre-check, model sniffed by the caller)",
    needsNothing.length,
    time(() =>
      rewriteAnthropicRequest(needsNothing, {
        model: MODEL,
        betaHeader: null,
        requestedModel: sniffed,
      })
    ),
  ),
  row(
    "for scale: sniffModel alone (paid today)",
    needsNothing.length,
    time(() => sniffModel(needsNothing)),
  ),
  row(
    "for scale: JSON.parse alone",
    needsRewrite.length,
    time(() => JSON.parse(new TextDecoder().decode(needsRewrite))),
  ),
  row(
    "stream-end detector over the stream",
    stream.length,
    time(() => {
      const detector = new StreamEndDetector();
      for (const chunk of chunks) detector.push(chunk);
      if (detector.outcome !== "completed") throw new Error("No message_stop");
    }),
  ),
];
// Printing is what this script is for.
// deno-lint-ignore no-console
console.log(lines.join("\n"));
