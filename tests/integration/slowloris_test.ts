/**
 * `serve` closes client connections that send headers too slowly or sit idle,
 * and refuses connections beyond `--max-connections`, while serving others.
 */
import assert from "node:assert/strict";
import { startStack } from "../support/stack.ts";
import { readToClose } from "../support/raw_http.ts";

const encoder = new TextEncoder();
const CONNECTIONS = 20;
const REQUEST = encoder.encode("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");

Deno.test("serve: slowloris and idle keep-alive connections are closed after their timeouts", async () => {
  await using stack = await startStack({
    args: [
      "--num-workers",
      "2",
      "--client-header-timeout",
      "1s",
      "--keepalive-timeout",
      "2s",
    ],
  });
  const { port, url } = stack.proxy;
  const connect = () => Deno.connect({ hostname: "127.0.0.1", port });
  const slow = await Promise.all(Array.from({ length: CONNECTIONS }, connect));
  const idle = await Promise.all(Array.from({ length: CONNECTIONS }, connect));
  let dripping = true;
  // A header byte every 200 ms: 300 bytes would take a minute.
  const drip = Promise.all(slow.map(async (conn) => {
    const head = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + "a".repeat(270);
    for (const ch of head) {
      if (!dripping) return;
      const wrote = await conn.write(encoder.encode(ch)).catch(() => null);
      if (wrote === null) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }));
  try {
    for (const conn of idle) await conn.write(REQUEST);
    const [slowEnds, idleEnds] = await Promise.all([
      Promise.all(slow.map((c) => readToClose(c, 15_000))),
      Promise.all(idle.map((c) => readToClose(c, 15_000))),
    ]);
    assert.deepEqual(
      slowEnds,
      slowEnds.map(() => ""),
      "every slowloris connection was closed without an answer",
    );
    for (const end of idleEnds) {
      assert.ok(end !== null, "every idle connection was closed");
      assert.match(end, /^HTTP\/1\.1 200 OK\r\n[^]*"status":"ok"/);
    }
    const res = await fetch(`${url}/healthz`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    dripping = false;
    await drip;
    for (const conn of [...slow, ...idle]) conn.close();
  }
});

Deno.test("serve: connections beyond --max-connections are closed at once", async () => {
  const cap = 10;
  await using stack = await startStack({
    args: ["--num-workers", "1", "--max-connections", String(cap)],
  });
  const { port } = stack.proxy;
  /** A connection that asked for /healthz, and whether it got an answer. */
  async function ask(): Promise<{ conn: Deno.TcpConn; answered: boolean }> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(REQUEST).catch(() => 0);
    const n = await conn.read(new Uint8Array(4096)).catch(() => null);
    return { conn, answered: n !== null };
  }
  const conns: Deno.TcpConn[] = [];
  try {
    // One by one, so the server has taken each before the next comes.
    const answers: boolean[] = [];
    for (let i = 0; i <= cap; i++) {
      const { conn, answered } = await ask();
      conns.push(conn);
      answers.push(answered);
    }
    const answered = answers.filter((a) => a).length;
    // The start-up health checks may still hold a pooled connection or two.
    assert.ok(
      answered <= cap && answered >= cap - 2,
      `${answered} answered`,
    );
    assert.equal(answers.at(-1), false, "the connection over the cap");
    await stack.proxy.waitForLog(
      /Connection limit reached \(10 open, --max-connections\)/,
    );
    conns[0].close();
    // The freed slot is seen once the server notices the close.
    let again = false;
    for (let i = 0; i < 50 && !again; i++) {
      const next = await ask();
      conns.push(next.conn);
      again = next.answered;
      if (!again) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(again, "a new connection is served once one closed");
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Closed above.
      }
    }
  }
});
