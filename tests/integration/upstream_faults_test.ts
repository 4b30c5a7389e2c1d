/**
 * An upstream that fails at the transport level, seen from a raw TCP server:
 * a request the upstream read is delivered once and answered 502 once, a
 * refused connection fails over, and no error body names an address.
 */
import assert from "node:assert/strict";
import {
  freePort,
  startProxy,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A raw HTTP/1.1 upstream: reads each request whole (Content-Length or chunked),
 * counts it by its body, then answers 200 with keep-alive, or closes the
 * connection without a byte when the body contains "close-after-body".
 */
class RawUpstream {
  readonly deliveries = new Map<string, number>();
  readonly url: string;
  #listener: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #serving: Promise<void>;

  constructor() {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.url = `http://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
    this.#serving = this.#accept();
  }

  async #accept(): Promise<void> {
    const handlers: Promise<void>[] = [];
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        handlers.push(this.#serve(conn));
      }
    } catch {
      // closed
    }
    await Promise.all(handlers);
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    let pending = "";
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        pending += decoder.decode(buf.subarray(0, n));
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) continue;
        const request = readBody(pending.slice(0, end), pending.slice(end + 4));
        if (request === null) continue;
        const body = request.body;
        pending = request.rest;
        this.deliveries.set(body, (this.deliveries.get(body) ?? 0) + 1);
        if (body.includes("close-after-body")) break;
        const answer = '{"ok":true}';
        await conn.write(encoder.encode(
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${answer.length}\r\n\r\n${answer}`,
        ));
      }
    } catch {
      // reset by the peer
    } finally {
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await this.#serving;
  }
}

/** The body after a request head (Content-Length or chunked), or null until it is all there. */
function readBody(
  head: string,
  after: string,
): { body: string; rest: string } | null {
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    let body = "";
    let at = 0;
    while (true) {
      const line = after.indexOf("\r\n", at);
      if (line < 0) return null;
      const size = parseInt(after.slice(at, line), 16);
      if (after.length < line + 2 + size + 2) return null;
      if (size === 0) return { body, rest: after.slice(line + 4) };
      body += after.slice(line + 2, line + 2 + size);
      at = line + 2 + size + 2;
    }
  }
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
  if (after.length < length) return null;
  return { body: after.slice(0, length), rest: after.slice(length) };
}

function post(url: string, body: string): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
}

Deno.test("an upstream that closes after reading a POST gets it once, and the client one 502 without internals", async () => {
  const upstream = new RawUpstream();
  const creds = testCredentials(3);
  try {
    await using proxy = await startProxy({
      upstream: upstream.url,
      secretsFile: writeSecrets(creds),
      args: ["--no-threaded", "--max-attempts", "3"],
    });
    // The first request leaves a pooled connection behind: the next one is
    // sent on it, where Deno's fetch would resend it by itself.
    const warm = await post(proxy.url, '{"model":"gpt-4o","n":"warm"}');
    assert.equal(warm.status, 200);
    await warm.body?.cancel();

    const body = '{"model":"gpt-4o","n":"close-after-body"}';
    const res = await post(proxy.url, body);
    const text = await res.text();
    assert.equal(res.status, 502);
    assert.equal(upstream.deliveries.get(body), 1, "delivered exactly once");
    const error = JSON.parse(text).error;
    assert.equal(error.type, "upstream_unreachable");
    assert.match(error.message, /^Cannot reach the upstream: /);
    const port = new URL(upstream.url).port;
    for (const internal of ["127.0.0.1", "http://", port, "localhost"]) {
      assert.ok(!text.includes(internal), `${internal} in ${text}`);
    }
    const logs = await proxy.settledLogs();
    const id = res.headers.get("x-request-id")!;
    const detail = logs.split("\n").find((l) =>
      l.includes("WARNING") && l.includes(id) && l.includes(upstream.url)
    );
    assert.ok(detail, `no WARNING line with the detail for ${id}:\n${logs}`);
    assert.match(detail, /not retried/);
  } finally {
    await upstream.close();
  }
});

Deno.test("a refused connection fails over to the next credential and says so without internals", async () => {
  const port = freePort();
  const creds = testCredentials(2);
  await using proxy = await startProxy({
    upstream: `http://127.0.0.1:${port}`,
    secretsFile: writeSecrets(creds),
    args: ["--no-threaded", "--max-attempts", "2"],
  });
  const res = await post(proxy.url, '{"model":"gpt-4o"}');
  const text = await res.text();
  assert.equal(res.status, 502);
  assert.equal(
    JSON.parse(text).error.message,
    "Cannot reach the upstream: Connection refused",
  );
  for (const internal of ["127.0.0.1", "http://", String(port)]) {
    assert.ok(!text.includes(internal), `${internal} in ${text}`);
  }
  const logs = await proxy.settledLogs();
  const id = res.headers.get("x-request-id")!;
  const failovers = logs.split("\n").filter((l) =>
    l.includes(id) && l.includes("failing over")
  );
  assert.equal(failovers.length, 1, logs);
  assert.match(failovers[0], /Configuration 'cred-1'.*tcp connect error/);
  assert.match(
    logs,
    new RegExp(`Configuration 'cred-2'.*not retried \\[${id}\\]`),
  );
});
