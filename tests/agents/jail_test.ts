import assert from "node:assert/strict";
import { assertJailAvailable, runInNetworkJail } from "./jail.ts";
import { startRefuser } from "./refuser.ts";

Deno.test("runInNetworkJail() runs the command in a namespace with nothing but loopback, up", async () => {
  assertJailAvailable();
  const out = await runInNetworkJail(["ip", "-o", "link", "show"], {
    timeoutMs: 10_000,
  });
  assert.equal(out.code, 0, out.stderr);
  const links = out.stdout.trim().split("\n").map((l) =>
    l.split(":")[1].trim()
  );
  assert.deepEqual(links, ["lo"]);
  assert.match(out.stdout, /LOOPBACK,UP/);
});

Deno.test("the refuser records and refuses CONNECT and absolute-URL requests", async () => {
  const refuser = startRefuser();
  try {
    const port = Number(new URL(refuser.url).port);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(
      new TextEncoder().encode(
        "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n",
      ),
    );
    const buf = new Uint8Array(512);
    const n = await conn.read(buf);
    conn.close();
    assert.match(
      new TextDecoder().decode(buf.subarray(0, n ?? 0)),
      /^HTTP\/1\.1 403/,
    );
    const client = Deno.createHttpClient({ proxy: { url: refuser.url } });
    const res = await fetch("http://example.com/v1/messages", {
      method: "POST",
      body: "prompt",
      client,
    });
    assert.equal(res.status, 403);
    await res.body?.cancel();
    client.close();
    assert.deepEqual(
      refuser.refused.map((r) => [r.method, r.host, r.bodyBytes]),
      [
        ["CONNECT", "api.openai.com:443", 0],
        ["POST", "example.com", 6],
      ],
    );
  } finally {
    await refuser.close();
  }
});
