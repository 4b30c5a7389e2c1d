/**
 * The ACME pieces that need no CA: option checks, the state directory, the
 * HTTP-01 answers of the challenge listener, the renewal schedule, and the
 * state lock.
 */
import assert from "node:assert/strict";
import { ArgumentError } from "../../src/config/arguments.ts";
import {
  type AcmeSettings,
  acmeStateDirOf,
  checkAcmeOptions,
} from "../../src/server/acme/options.ts";
import {
  checkDelay,
  coversDomains,
  renewalTime,
  RETRY_MAX_MS,
  retryDelay,
} from "../../src/server/acme/renewal.ts";
import {
  acmeStateFiles,
  withStateLock,
  writePrivate,
} from "../../src/server/acme/state.ts";
import { challengeResponse } from "../../src/server/tls_redirect.ts";
import type { CertificateSummary } from "../../src/server/tls.ts";

function settings(overrides: Partial<AcmeSettings> = {}): AcmeSettings {
  return {
    acmeDomains: ["proxy.example.com"],
    acmeEmail: null,
    acmeDirectory: new URL("https://acme.example/dir"),
    acmeCaFile: null,
    acmeHttpPort: 80,
    acmeStateDir: null,
    tlsCert: null,
    tlsKey: null,
    httpRedirectPort: null,
    port: 443,
    dbPath: "/var/lib/flow-proxy/flow-proxy.db",
    ...overrides,
  };
}

Deno.test("checkAcmeOptions() refuses contradicting options with ArgumentError", async (t) => {
  const cases: [string, Partial<AcmeSettings>, RegExp][] = [
    [
      "with --tls-cert",
      { tlsCert: "c.pem" },
      /^--acme-domain cannot be combined with --tls-cert: /,
    ],
    [
      "with --tls-key",
      { tlsKey: "k.pem" },
      /^--acme-domain cannot be combined with --tls-key: /,
    ],
    [
      "with --http-redirect-port",
      { httpRedirectPort: 8080 },
      /^--http-redirect-port cannot be combined with --acme-domain: /,
    ],
    [
      "same port as --port",
      { acmeHttpPort: 443 },
      /^--acme-http-port must differ from --port \(443\)/,
    ],
    ["--acme-email without a domain", {
      acmeDomains: [],
      acmeEmail: "a@example.com",
    }, /^--acme-email needs --acme-domain: /],
    ["--acme-ca-file without a domain", {
      acmeDomains: [],
      acmeCaFile: "ca.pem",
    }, /^--acme-ca-file needs --acme-domain: /],
  ];
  for (const [name, overrides, message] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => checkAcmeOptions(settings(overrides)),
        (err) => err instanceof ArgumentError && message.test(err.message),
      );
    });
  }
  await t.step("a consistent set passes", () => {
    checkAcmeOptions(settings({ acmeEmail: "a@example.com" }));
    checkAcmeOptions(settings({ acmeDomains: [] }));
  });
});

Deno.test("acmeStateDirOf() is --acme-state-dir, else acme/ next to the database", () => {
  const context = { env: {}, cwd: "/srv" };
  assert.equal(
    acmeStateDirOf(settings({ acmeStateDir: "st" }), context),
    "/srv/st",
  );
  assert.equal(acmeStateDirOf(settings(), context), "/var/lib/flow-proxy/acme");
  assert.equal(
    acmeStateDirOf(settings({ dbPath: null }), {
      env: { STATE_DIRECTORY: "/var/lib/flow-proxy" },
      cwd: "/srv",
    }),
    "/var/lib/flow-proxy/acme",
  );
});

Deno.test("challengeResponse() answers a pending token, 404s others, and leaves other paths", async () => {
  const challenges = new Map([["tok-1", "tok-1.thumb"]]);
  const hit = await challengeResponse(
    new Request("http://proxy.example.com/.well-known/acme-challenge/tok-1"),
    challenges,
  );
  assert.equal(hit?.status, 200);
  assert.equal(await hit?.text(), "tok-1.thumb");
  const miss = await challengeResponse(
    new Request("http://proxy.example.com/.well-known/acme-challenge/other"),
    challenges,
  );
  assert.equal(miss?.status, 404);
  assert.equal(
    challengeResponse(
      new Request("http://proxy.example.com/v1/models"),
      challenges,
    ),
    null,
  );
});

const SUMMARY: CertificateSummary = {
  names: ["Proxy.example.com", "127.0.0.1"],
  notBefore: 1_000,
  notAfter: 1_000 + 90 * 86_400,
  serial: "01",
  sha256: "00",
};

Deno.test("renewalTime() is two thirds of the lifetime; checkDelay() sleeps at most an hour", () => {
  assert.equal(renewalTime(SUMMARY), (1_000 + 60 * 86_400) * 1000);
  assert.equal(checkDelay(SUMMARY, 1_000_000), 3_600_000);
  assert.equal(checkDelay(SUMMARY, renewalTime(SUMMARY) - 5), 5);
  assert.equal(checkDelay(SUMMARY, renewalTime(SUMMARY) + 5), 0);
});

Deno.test("retryDelay() doubles from 1 s and stops at the bound", () => {
  assert.deepEqual([1, 2, 3, 4].map(retryDelay), [1000, 2000, 4000, 8000]);
  assert.equal(retryDelay(40), RETRY_MAX_MS);
});

Deno.test("coversDomains() needs every domain, case-insensitively", () => {
  assert.ok(coversDomains(SUMMARY, ["proxy.example.com"]));
  assert.ok(!coversDomains(SUMMARY, ["proxy.example.com", "other.example"]));
});

Deno.test("writePrivate() writes mode 600; withStateLock() runs one holder at a time", async () => {
  const files = acmeStateFiles(Deno.makeTempDirSync());
  await writePrivate(files.certFile, "x");
  assert.equal(Deno.statSync(files.certFile).mode! & 0o777, 0o600);
  const order: string[] = [];
  const first = withStateLock(files, async () => {
    order.push("first in");
    await new Promise((r) => setTimeout(r, 50));
    order.push("first out");
  });
  await new Promise((r) => setTimeout(r, 10));
  const second = withStateLock(files, () => {
    order.push("second");
    return Promise.resolve();
  });
  await Promise.all([first, second]);
  assert.deepEqual(order, ["first in", "first out", "second"]);
});
