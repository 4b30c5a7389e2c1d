/**
 * What API translation costs: time to first token through flow-proxy for a
 * pass-through stream and for each translated one, in the same interleaved
 * run against one upstream, and in-process the cost of translating a stream
 * per event and a large request once.
 *
 *   deno task bench:translate             # = deno run -A bench/translate_bench.ts
 *   deno run -A bench/translate_bench.ts --rounds 100 --gap 2
 *
 * The upstream (in this process, 127.0.0.1) answers Chat Completions and
 * Anthropic Messages streams: its first chunk carries the first text at
 * once, then one chunk every `--gap` ms. Time to first token is measured
 * from `fetch` to the first chunk holding the client API's first text
 * event. Target (issue 15): a translated stream's median within 5 ms of the
 * pass-through one.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { messagesStream } from "./upstream.ts";
import { freePort, ProcessSet, waitForHttp } from "./lib/procs.ts";
import {
  childEnv,
  flowProxyArgs,
  ROOT,
  writeSecretsFile,
} from "./lib/stack.ts";
import { fixed, median, table, write } from "./lib/report.ts";

/** One line of the report. */
function line(text: string): void {
  write(text + "\n");
}
import { translationFor } from "../src/translate/registry.ts";
import { StreamPipe } from "../src/translate/stream_pipe.ts";
import type { WireApi } from "../src/translate/types.ts";
import { claudeCodeRequest } from "../tests/models/claude_code_request.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "60" },
    gap: { type: "string", default: "1" },
    events: { type: "string", default: "20" },
  },
});
const rounds = positive("rounds", values.rounds);
const gapMs = positive("gap", values.gap, true);
const events = positive("events", values.events);

function positive(name: string, raw: string, zero = false): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < (zero ? 0 : 1) || n > 100_000) {
    line(
      `--${name} must be an integer from ${zero ? 0 : 1}, got "${raw}"`,
    );
    Deno.exit(2);
  }
  return n;
}

const encoder = new TextEncoder();

/** One chunk of a Chat Completions stream, `text` as its content delta. */
function chatChunk(text: string, finish: string | null = null): string {
  return `data: ${
    JSON.stringify({
      id: "chatcmpl-bench",
      object: "chat.completion.chunk",
      created: 1,
      model: "bench",
      choices: [{ index: 0, delta: { content: text }, finish_reason: finish }],
    })
  }\n\n`;
}

/** A Chat stream: the first text at once, then one chunk every `gapMs`. */
function chatStream(): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      if (sent > 0 && gapMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, gapMs));
      }
      if (sent < events) ctrl.enqueue(encoder.encode(chatChunk(`${sent} `)));
      else {
        ctrl.enqueue(encoder.encode(
          chatChunk("", "stop") +
            `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"bench","choices":[],"usage":{"prompt_tokens":25,"completion_tokens":${events}}}\n\ndata: [DONE]\n\n`,
        ));
        ctrl.close();
      }
      sent++;
    },
  }, { highWaterMark: 0 });
}

async function upstream(req: Request): Promise<Response> {
  const path = new URL(req.url).pathname;
  await req.body?.pipeTo(new WritableStream());
  const sse = { "content-type": "text/event-stream" };
  if (path.endsWith("/v1/chat/completions")) {
    return new Response(chatStream(), { headers: sse });
  }
  if (path.endsWith("/v1/messages")) {
    return new Response(messagesStream(events + 3, gapMs), { headers: sse });
  }
  return Response.json({ error: { message: `no ${path}` } }, { status: 404 });
}

/** One client request measured, and what marks its first token. */
interface Case {
  name: string;
  path: string;
  body: unknown;
  headers?: Record<string, string>;
  /** Text found in the chunk that carries the first token. */
  firstToken: string;
}

const prompt = [{ role: "user", content: "Say hello" }];
const CASES: Case[] = [
  {
    name: "chat → chat (pass-through)",
    path: "/v1/chat/completions",
    body: { model: "gpt-5", stream: true, messages: prompt },
    firstToken: '"content":"0 "',
  },
  {
    name: "messages → messages (pass-through)",
    path: "/v1/messages",
    body: {
      model: "claude-sonnet-4-5",
      max_tokens: 100,
      stream: true,
      messages: prompt,
    },
    headers: { "anthropic-version": "2023-06-01" },
    firstToken: "text_delta",
  },
  {
    name: "messages → chat (Claude Code on GPT-5)",
    path: "/v1/messages",
    body: { model: "gpt-5", max_tokens: 100, stream: true, messages: prompt },
    headers: { "anthropic-version": "2023-06-01" },
    firstToken: "text_delta",
  },
  {
    name: "responses → chat (Codex on Claude)",
    path: "/v1/responses",
    body: { model: "claude-sonnet-4-5", stream: true, input: "Say hello" },
    firstToken: "response.output_text.delta",
  },
  {
    name: "gemini → chat (Gemini CLI on GPT-5)",
    path: "/v1beta/models/gpt-5:streamGenerateContent?alt=sse",
    body: { contents: [{ role: "user", parts: [{ text: "Say hello" }] }] },
    firstToken: '"text":"0 "',
  },
];

/** ms from `fetch` to the chunk holding `firstToken`; null when it never comes. */
async function firstToken(base: string, c: Case): Promise<number | null> {
  const started = performance.now();
  const res = await fetch(base + c.path, {
    method: "POST",
    headers: { "content-type": "application/json", ...c.headers },
    body: JSON.stringify(c.body),
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 200 || res.body === null) {
    await res.body?.cancel();
    return null;
  }
  const decoder = new TextDecoder();
  let seen = "";
  let at: number | null = null;
  for await (const chunk of res.body) {
    if (at === null) {
      seen += decoder.decode(chunk, { stream: true });
      if (seen.includes(c.firstToken)) at = performance.now() - started;
    }
  }
  return at;
}

/** Median µs of `fn` over `n` calls after a warm-up. */
function micro(n: number, fn: () => unknown): number {
  for (let i = 0; i < Math.min(n, 100); i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    samples.push((performance.now() - t) * 1000);
  }
  return median(samples);
}

/** In-process: µs per upstream event through each stream translation. */
function streamCost(): string[][] {
  const chat = encoder.encode(
    Array.from({ length: 200 }, (_, i) => chatChunk(`${i} `)).join("") +
      chatChunk("", "stop") + "data: [DONE]\n\n",
  );
  const rows: string[][] = [];
  const pairs: [WireApi, WireApi][] = [
    ["messages", "chat"],
    ["responses", "chat"],
    ["gemini", "chat"],
  ];
  for (const [from, to] of pairs) {
    const translation = translationFor(from, to);
    if (translation === null) {
      rows.push([`${from} → ${to}`, "n/a (not built)"]);
      continue;
    }
    const context = { model: "bench", stream: true, sse: true };
    const us = micro(200, () => {
      const pipe = new StreamPipe(
        translation.stream(context),
        translation.framing(context),
      );
      pipe.push(chat);
      pipe.end();
    });
    rows.push([`${from} → ${to}`, fixed(us / 201, 2)]);
  }
  return rows;
}

/** In-process: ms to translate a ~200 KB Claude Code request to Chat. */
function requestCost(): string {
  const translation = translationFor("messages", "chat")!;
  const bytes = encoder.encode(
    JSON.stringify(claudeCodeRequest({ turns: 80 })),
  );
  const ms = micro(100, () => {
    const body = JSON.parse(new TextDecoder().decode(bytes));
    const out = translation.request(body, { model: "gpt-5", stream: true });
    return encoder.encode(JSON.stringify(out.body));
  }) / 1000;
  return `${fixed(ms, 2)} ms for a ${
    Math.round(bytes.byteLength / 1024)
  } KB request`;
}

async function main(): Promise<void> {
  const tmp = Deno.makeTempDirSync({ prefix: "fp-translate-bench-" });
  const procs = new ProcessSet();
  const up = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    upstream,
  );
  try {
    const port = freePort();
    const proxy = procs.spawn(
      flowProxyArgs({
        port,
        upstream: `http://127.0.0.1:${up.addr.port}/flow-llm-proxy`,
        secretsFile: writeSecretsFile(tmp),
        dir: tmp,
        workers: 1,
      }),
      { name: "flow-proxy", logDir: tmp, cwd: ROOT, env: childEnv() },
    );
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, {
      timeoutMs: 60_000,
      process: proxy,
      status: 200,
    });
    const samples = CASES.map(() => [] as number[]);
    const missing = CASES.map(() => 0);
    for (let r = 0; r < rounds + 5; r++) {
      for (let k = 0; k < CASES.length; k++) {
        const i = (k + r) % CASES.length;
        const ms = await firstToken(base, CASES[i]);
        if (r < 5) continue; // warm-up
        if (ms === null) missing[i]++;
        else samples[i].push(ms);
      }
    }
    const base0 = median(samples[0]);
    const rows = CASES.map((c, i) => {
      if (samples[i].length === 0) return [c.name, "n/a", "n/a", "n/a"];
      const sorted = [...samples[i]].sort((a, b) => a - b);
      const p95 = sorted[Math.floor(sorted.length * 0.95)];
      const m = median(samples[i]);
      return [
        c.name + (missing[i] ? ` (${missing[i]} without a token)` : ""),
        fixed(m, 2),
        fixed(p95, 2),
        i === 0 ? "—" : `${m - base0 >= 0 ? "+" : ""}${fixed(m - base0, 2)}`,
      ];
    });
    line(
      `## Time to first token through flow-proxy (1 worker, ${rounds} rounds, gap ${gapMs} ms)\n`,
    );
    line(
      table(
        ["stream", "TTFT p50 ms", "TTFT p95 ms", "vs chat pass-through"],
        rows,
      ),
    );
    line("\n## Stream translation in-process\n");
    line(table(["translation", "µs per upstream event"], streamCost()));
    line(`\nRequest translation (messages → chat): ${requestCost()}`);
  } finally {
    await procs.stopAll();
    await up.shutdown();
    Deno.removeSync(tmp, { recursive: true });
  }
}

if (import.meta.main) await main();
