/**
 * Observability end to end: /metrics summed over workers and valid for
 * promtool, usage and TTFT recorded for every kind of response, SQLite rows.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openAiEvents } from "../support/mock_upstream.ts";
import { runCli } from "../support/proxy.ts";
import { startStack } from "../support/stack.ts";

const encoder = new TextEncoder();

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(
    res.headers.get("content-type")!,
    /text\/plain; version=0\.0\.4/,
  );
  return await res.text();
}

function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (
      !Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))
    ) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

async function promtool(
  args: string[],
  stdin: string,
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(stdin));
  await writer.close();
  const out = await child.output();
  const d = new TextDecoder();
  return {
    code: out.code,
    output: d.decode(out.stdout) + d.decode(out.stderr),
  };
}

Deno.test("metrics are one view over all workers and pass promtool", async () => {
  await using stack = await startStack({
    credentials: 2,
    args: ["--num-workers", "2", "--no-db"],
  });
  const { proxy } = stack;
  // Separate connections, so the kernel spreads them over both workers.
  const clients = Array.from(
    { length: 16 },
    () => Deno.createHttpClient({ poolMaxIdlePerHost: 1 }),
  );
  try {
    await Promise.all(clients.map(async (client) => {
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${proxy.url}/v1/chat/completions`, {
          client,
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "gpt-4o", messages: [] }),
        });
        await res.body?.cancel();
      }
    }));
  } finally {
    for (const c of clients) c.close();
  }
  const workers = new Set(
    (await proxy.settledLogs()).match(/\[worker-\d\] Using/g),
  );
  assert.equal(workers.size, 2, "both workers served");
  // Whichever worker answers the scrape, the numbers are the sum over both.
  for (let i = 0; i < 4; i++) {
    const text = await scrape(proxy.url);
    assert.equal(
      sample(text, "flow_proxy_requests_total", { route: "chat" }),
      80,
    );
    assert.equal(
      sample(text, "flow_proxy_tokens_total", {
        model: "gpt-4o",
        direction: "in",
      }),
      80 * 7,
    );
    assert.equal(
      sample(text, "flow_proxy_tokens_total", {
        model: "gpt-4o",
        direction: "out",
      }),
      80 * 3,
    );
    assert.equal(
      sample(text, "flow_proxy_request_duration_seconds_count", {
        route: "chat",
      }),
      80,
    );
  }
  const check = await promtool(["check", "metrics"], await scrape(proxy.url));
  assert.equal(check.code, 0, check.output);
});

Deno.test("every request is recorded with usage and TTFT, and `usage` totals them", async () => {
  const gate = Promise.withResolvers<void>();
  let slowFirstEvent = false;
  // The database sits beside secrets.json.
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-test-" });
  const db = `${dir}/requests.db`;
  await using stack = await startStack({
    credentials: 2,
    dir,
    behave: (r) => {
      if (r.path.endsWith("/fail")) return { kind: "status", status: 500 };
      if (slowFirstEvent && r.path.endsWith("/v1/chat/completions")) {
        return {
          kind: "respond",
          respond: () =>
            new Response(
              new ReadableStream({
                async start(ctrl) {
                  // Headers go out at once; the first token waits for the gate.
                  ctrl.enqueue(encoder.encode(": keep-alive\n\n"));
                  await gate.promise;
                  for (const e of openAiEvents("gpt-4o")) {
                    ctrl.enqueue(encoder.encode(e));
                  }
                  ctrl.close();
                },
              }),
              { headers: { "content-type": "text/event-stream" } },
            ),
        };
      }
      return undefined;
    },
    args: ["--num-workers", "2", "--db", db],
  });
  const { creds, proxy } = stack;
  const post = (path: string, body: unknown, id: string) =>
    fetch(`${proxy.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": id },
      body: JSON.stringify(body),
    }).then((r) => r.text());

  await post(
    "/v1/chat/completions",
    { model: "gpt-4o", messages: [] },
    "r-openai-json",
  );
  await post(
    "/v1/chat/completions",
    {
      model: "gpt-4o",
      stream: true,
      stream_options: { include_usage: true },
      messages: [],
    },
    "r-openai-sse",
  );
  await post("/v1/messages", {
    model: "anthropic.claude-4-5-sonnet",
    max_tokens: 5,
    messages: [],
  }, "r-anthropic-json");
  await post(
    "/v1/messages",
    {
      model: "anthropic.claude-4-5-sonnet",
      stream: true,
      max_tokens: 5,
      messages: [],
    },
    "r-anthropic-sse",
  );
  await post("/fail", { model: "gpt-4o" }, "r-fail");

  slowFirstEvent = true;
  const started = performance.now();
  const pending = post("/v1/chat/completions", {
    model: "gpt-4o",
    stream: true,
    messages: [],
  }, "r-ttft");
  await new Promise((r) => setTimeout(r, 300));
  const released = performance.now();
  gate.resolve();
  await pending;

  // Records reach SQLite in batches; wait (bounded) for all six.
  const rows = await waitForRows(db, 6);
  const byId = new Map(rows.map((r) => [r.id as string, r]));
  const openaiJson = byId.get("r-openai-json")!;
  assert.equal(openaiJson.model, "gpt-4o");
  assert.equal(openaiJson.tokens_in, 7);
  assert.equal(openaiJson.tokens_out, 3);
  assert.equal(openaiJson.status, 200);
  assert.ok(creds.some((c) => c.name === openaiJson.credential));
  assert.equal(openaiJson.ttft_ms, null);
  assert.equal(byId.get("r-openai-sse")!.tokens_in, 7);
  assert.equal(byId.get("r-openai-sse")!.stream, 1);
  assert.equal(byId.get("r-anthropic-json")!.tokens_in, 11);
  assert.equal(byId.get("r-anthropic-json")!.tokens_out, 4);
  assert.equal(byId.get("r-anthropic-sse")!.tokens_in, 11);
  assert.equal(byId.get("r-anthropic-sse")!.tokens_out, 4);
  // A streamed answer has a first token: a time, within the request's span.
  const anthropicSse = byId.get("r-anthropic-sse")!;
  assert.ok(
    typeof anthropicSse.ttft_ms === "number" && anthropicSse.ttft_ms > 0 &&
      anthropicSse.ttft_ms <= (anthropicSse.duration_ms as number),
    `ttft ${anthropicSse.ttft_ms} ms of ${anthropicSse.duration_ms} ms`,
  );
  assert.equal(byId.get("r-fail")!.status, 500);

  // TTFT is the first token, not the headers or the keep-alive comment.
  const ttft = byId.get("r-ttft")!.ttft_ms as number;
  const lowest = released - started - 50;
  assert.ok(
    ttft >= lowest,
    `ttft ${ttft} ms came before the first token (>= ${lowest})`,
  );

  const usage = await runCli(["usage", "--db", db, "--json"]);
  assert.equal(usage.code, 0, usage.stderr);
  const summary = JSON.parse(usage.stdout);
  assert.equal(summary.total.requests, 6);
  assert.equal(summary.total.tokensIn, 7 + 7 + 11 + 11 + 7);
});

async function waitForRows(
  path: string,
  count: number,
): Promise<Record<string, unknown>[]> {
  for (let i = 0; i < 100; i++) {
    try {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        const rows = db.prepare("SELECT * FROM requests").all() as Record<
          string,
          unknown
        >[];
        if (rows.length >= count) return rows;
      } finally {
        db.close();
      }
    } catch {
      // Not created yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Fewer than ${count} rows in ${path}`);
}
