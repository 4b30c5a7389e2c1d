/** The certificate's expiry gauge and its `/healthz` block. */
import assert from "node:assert/strict";
import { renderTlsMetrics, tlsHealth } from "../../src/observe/tls_metrics.ts";

const SUMMARY = {
  names: ['we"ird', "b"],
  notBefore: 1_700_000_000,
  notAfter: 1_800_000_000,
  serial: "0a",
  sha256: "ab".repeat(32),
};

Deno.test("the expiry gauge: one sample, names comma-joined and escaped", () => {
  assert.equal(
    renderTlsMetrics(SUMMARY),
    [
      "# HELP flow_proxy_tls_certificate_expiry_seconds Unix time of the listener certificate's notAfter",
      "# TYPE flow_proxy_tls_certificate_expiry_seconds gauge",
      'flow_proxy_tls_certificate_expiry_seconds{names="we\\"ird,b"} 1800000000',
      "",
    ].join("\n"),
  );
  assert.equal(renderTlsMetrics(null), "");
});

Deno.test("the /healthz block: names, ISO times, seconds left, serial, fingerprint", () => {
  assert.deepEqual(tlsHealth(SUMMARY, 1_799_999_000_000), {
    names: ['we"ird', "b"],
    notBefore: "2023-11-14T22:13:20.000Z",
    notAfter: "2027-01-15T08:00:00.000Z",
    expiresInSeconds: 1000,
    serial: "0a",
    sha256: "ab".repeat(32),
  });
});
