import assert from "node:assert/strict";
import { classifyFetchError } from "../../src/proxy/fetch_errors.ts";

/** An error shaped like Deno 2.9's fetch failure: `fetch failed`, caused by hyper's message. */
function denoFetchError(cause: string): TypeError {
  return new TypeError("fetch failed", { cause: new Error(cause) });
}

Deno.test("classifyFetchError tells a connection never made from one that may have carried the request", async (t) => {
  const cases: [string, boolean, string][] = [
    [
      "error sending request for url (http://127.0.0.1:37315/x): client error (Connect): tcp connect error: Connection refused (os error 111)",
      true,
      "Connection refused",
    ],
    [
      "error sending request for url (http://no-such-host.invalid/x): client error (Connect): dns error: failed to lookup address information: Name or service not known",
      true,
      "the host name cannot be resolved",
    ],
    [
      "error sending request for url (https://127.0.0.1:36833/x): client error (Connect): tls handshake eof",
      true,
      "TLS handshake failed",
    ],
    [
      "error sending request from 127.0.0.1:55886 for http://127.0.0.1:36833/x (127.0.0.1:36833): client error (SendRequest): connection closed before message completed",
      false,
      "the connection closed before the response was complete",
    ],
    [
      "error sending request from 127.0.0.1:55886 for http://127.0.0.1:36833/x (127.0.0.1:36833): client error (SendRequest): connection error: Connection reset by peer (os error 104)",
      false,
      "connection reset",
    ],
  ];
  for (const [cause, unsent, reason] of cases) {
    await t.step(reason, () => {
      assert.deepEqual(classifyFetchError(denoFetchError(cause)), {
        unsent,
        reason,
      });
    });
  }

  await t.step("a bare refusal (a mocked fetch) is unsent", () => {
    assert.deepEqual(classifyFetchError(new TypeError("Connection refused")), {
      unsent: true,
      reason: "Connection refused",
    });
  });

  await t.step("anything unknown may have been sent", () => {
    assert.deepEqual(classifyFetchError(new Error("something else")), {
      unsent: false,
      reason: "connection failed",
    });
    assert.deepEqual(classifyFetchError("not an error"), {
      unsent: false,
      reason: "connection failed",
    });
  });

  await t.step("no reason carries an address, a port or a URL", () => {
    for (const [cause] of cases) {
      const { reason } = classifyFetchError(denoFetchError(cause));
      assert.doesNotMatch(reason, /127\.0\.0\.1|http|:\d+/);
    }
  });
});
