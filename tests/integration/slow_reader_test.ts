/**
 * The idle timeout measures the upstream, not the client: a client that
 * pauses reading longer than `--idle-timeout` still gets the whole stream,
 * while an upstream that falls silent is still cut as `upstream_timeout`.
 */
import assert from "node:assert/strict";
import { startStack } from "../support/stack.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const IDLE_MS = 300;
const CHUNKS = 160;
const PAD = "x".repeat(64 * 1024);

/** An event stream that yields a 64 KiB event whenever asked, ending with [DONE]. */
function steadyStream(): Response {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (i === CHUNKS) {
        ctrl.enqueue(encoder.encode("data: [DONE]\n\n"));
        return ctrl.close();
      }
      ctrl.enqueue(encoder.encode(`data: {"i":${i++},"pad":"${PAD}"}\n\n`));
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    headers: { "content-type": "text/event-stream" },
  });
}

/** Reads a chunked HTTP/1.1 response from `conn` to its end; `pauseMs` after the headers. */
async function readResponse(
  conn: Deno.Conn,
  pauseMs: number,
): Promise<{ head: string; body: string }> {
  const buf = new Uint8Array(64 * 1024);
  const parts: string[] = [];
  let paused = pauseMs === 0;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (!paused && parts.join("").includes("\r\n\r\n")) {
      paused = true;
      // The client stops reading: socket buffers fill, then the proxy stops
      // being asked for chunks.
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    const n = await conn.read(buf);
    if (n === null) break;
    parts.push(decoder.decode(buf.subarray(0, n)));
  }
  const text = parts.join("");
  const end = text.indexOf("\r\n\r\n");
  const head = text.slice(0, end);
  let rest = text.slice(end + 4);
  let body = "";
  // Chunked framing: "<hex>\r\n<data>\r\n" … "0\r\n\r\n".
  while (rest.length > 0) {
    const line = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, line), 16);
    if (!(size > 0)) break;
    body += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 2 + size + 2);
  }
  return { head, body };
}

async function request(url: string, id: string): Promise<Deno.Conn> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const body = '{"model":"gpt-4o","stream":true}';
  await conn.write(encoder.encode(
    `POST /v1/chat/completions HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nx-request-id: ${id}\r\nconnection: close\r\n\r\n${body}`,
  ));
  return conn;
}

Deno.test("a client that pauses reading longer than --idle-timeout gets the whole stream, and is not recorded as an upstream timeout", async () => {
  await using stack = await startStack({
    behave: () => ({ kind: "respond", respond: steadyStream }),
    args: ["--no-threaded", "--idle-timeout", `${IDLE_MS}ms`],
  });
  const conn = await request(stack.proxy.url, "slow-reader-1");
  let response;
  try {
    response = await readResponse(conn, IDLE_MS * 4);
  } finally {
    conn.close();
  }
  assert.match(response.head, /^HTTP\/1\.1 200/);
  const logs = await stack.proxy.settledLogs();
  assert.ok(
    response.body.includes(`data: {"i":${CHUNKS - 1},`),
    `the last event arrived: ${response.body.length} bytes\n${logs}`,
  );
  assert.ok(response.body.endsWith("data: [DONE]\n\n"), "the stream ended");
  assert.ok(!response.body.includes("event: error"));
  const line = logs.split("\n").find((l) => l.includes("[slow-reader-1]"));
  assert.ok(line, logs);
  assert.doesNotMatch(line, /upstream_timeout/);
  assert.match(line, /: 200 in /);
});

Deno.test("an upstream that falls silent mid-stream is still cut as upstream_timeout", async () => {
  await using stack = await startStack({
    behave: () => ({
      kind: "sse",
      events: ['data: {"n":1}\n\n', 'data: {"n":2}\n\n'],
      stopAfter: 1,
      then: "stall",
    }),
    args: ["--no-threaded", "--idle-timeout", `${IDLE_MS}ms`],
  });
  const conn = await request(stack.proxy.url, "silent-upstream-1");
  let response;
  try {
    response = await readResponse(conn, 0);
  } finally {
    conn.close();
  }
  assert.ok(response.body.startsWith('data: {"n":1}\n\n'), response.body);
  assert.match(response.body, /event: error\ndata: .*upstream_timeout/);
  const logs = await stack.proxy.settledLogs();
  const line = logs.split("\n").find((l) => l.includes("[silent-upstream-1]"));
  assert.ok(line, logs);
  assert.match(line, /\(upstream_timeout\)/);
});
