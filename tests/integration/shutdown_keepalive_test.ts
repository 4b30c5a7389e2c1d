/**
 * Requests that reach idle keep-alive connections just as SIGTERM arrives are
 * answered (with `Connection: close`), never reset.
 */
import assert from "node:assert/strict";
import { startStack } from "../support/stack.ts";

const CONNECTIONS = 20;
const REQUEST = new TextEncoder().encode(
  "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
);

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Reads one response with a `content-length` body off `conn`. */
async function readResponse(
  conn: Deno.TcpConn,
  pending: { bytes: Uint8Array },
): Promise<RawResponse> {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(16 * 1024);
  let data = pending.bytes;
  const append = (n: number) => {
    const next = new Uint8Array(data.length + n);
    next.set(data);
    next.set(buf.subarray(0, n), data.length);
    data = next;
  };
  let headEnd = -1;
  for (let i = 0; i < 100 && headEnd < 0; i++) {
    headEnd = decoder.decode(data).indexOf("\r\n\r\n");
    if (headEnd >= 0) break;
    const n = await conn.read(buf);
    if (n === null) throw new Error("Connection closed before a response");
    append(n);
  }
  const head = decoder.decode(data).slice(0, headEnd);
  const [statusLine, ...lines] = head.split("\r\n");
  const headers = new Map(
    lines.map((line) => {
      const colon = line.indexOf(":");
      return [
        line.slice(0, colon).trim().toLowerCase(),
        line.slice(colon + 1).trim(),
      ];
    }),
  );
  const length = Number(headers.get("content-length"));
  const bodyStart = new TextEncoder().encode(head).length + 4;
  for (let i = 0; i < 100 && data.length < bodyStart + length; i++) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("Connection closed inside a response");
    append(n);
  }
  pending.bytes = data.subarray(bodyStart + length);
  return {
    status: Number(statusLine.split(" ")[1]),
    headers,
    body: decoder.decode(data.subarray(bodyStart, bodyStart + length)),
  };
}

async function openKeptAlive(port: number): Promise<{
  conn: Deno.TcpConn;
  pending: { bytes: Uint8Array };
}> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const pending = { bytes: new Uint8Array(0) };
  await conn.write(REQUEST);
  const first = await readResponse(conn, pending);
  assert.equal(first.status, 200);
  assert.notEqual(first.headers.get("connection"), "close");
  return { conn, pending };
}

for (
  const mode of [
    { name: "--no-threaded", args: ["--no-threaded"], draining: 1 },
    { name: "2 workers", args: ["--num-workers", "2"], draining: 2 },
  ]
) {
  Deno.test(`serve (${mode.name}): requests sent on idle keep-alive connections after SIGTERM get a response with connection: close`, async () => {
    await using stack = await startStack({
      args: [...mode.args, "--shutdown-timeout", "10s"],
    });
    const { proxy } = stack;
    const conns = await Promise.all(
      Array.from({ length: CONNECTIONS }, () => openKeptAlive(proxy.port)),
    );
    try {
      proxy.child.kill("SIGTERM");
      await proxy.waitForLog("SIGTERM received");
      // Each serving thread starts draining when the supervisor's message
      // reaches it, and says so.
      await proxy.waitForLog(
        new RegExp(`(?:Draining connections[^]*){${mode.draining}}`),
      );
      const answers = await Promise.allSettled(
        conns.map(async ({ conn, pending }) => {
          await conn.write(REQUEST);
          return await readResponse(conn, pending);
        }),
      );
      const failed = answers.filter((a) => a.status === "rejected");
      assert.deepEqual(failed, [], `${failed.length} requests got no answer`);
      for (const answer of answers) {
        const res = (answer as PromiseFulfilledResult<RawResponse>).value;
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("connection"), "close");
        assert.match(res.body, /"status":"ok"/);
      }
    } finally {
      for (const { conn } of conns) conn.close();
    }
    const status = await proxy.child.status;
    assert.equal(status.code, 0);
    await proxy.stop();
  });
}
