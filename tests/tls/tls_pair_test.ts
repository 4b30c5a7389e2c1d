/**
 * Reading and checking a certificate pair: what is accepted, what is shown
 * of it, and each refusal with a message naming the file and the problem.
 */
import assert from "node:assert/strict";
import { loadTlsPair, TlsError, tlsFilesOf } from "../../src/server/tls.ts";
import { ArgumentError } from "../../src/config/arguments.ts";
import { fingerprintOf, hasOpenssl, makeCa, makeLeaf } from "./test_ca.ts";

const ignore = !hasOpenssl();
const OPTIONS = { allowExpired: false };

Deno.test({
  name: "a valid pair is read with its names, expiry, serial and fingerprint",
  ignore,
  async fn() {
    const ca = makeCa();
    try {
      const leaf = makeLeaf(ca, "good");
      const pair = await loadTlsPair(
        { certFile: leaf.certFile, keyFile: leaf.keyFile },
        OPTIONS,
      );
      assert.deepEqual(pair.summary.names, ["localhost", "127.0.0.1"]);
      const inADay = Date.now() / 1000 + 86400;
      assert.ok(Math.abs(pair.summary.notAfter - inADay) < 120);
      assert.equal(pair.summary.sha256, fingerprintOf(leaf.certFile));
      assert.match(pair.summary.serial, /^[0-9a-f]+$/);
      assert.match(pair.key, /PRIVATE KEY/);
    } finally {
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "an RSA pair is accepted too",
  ignore,
  async fn() {
    const ca = makeCa();
    try {
      const leaf = makeLeaf(ca, "rsa", { rsa: true });
      const pair = await loadTlsPair(leaf, OPTIONS);
      assert.equal(pair.summary.sha256, fingerprintOf(leaf.certFile));
    } finally {
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});

async function refusal(
  files: { certFile: string; keyFile: string },
  allowExpired = false,
): Promise<string> {
  const err = await loadTlsPair(files, { allowExpired }).then(
    () => null,
    (e) => e,
  );
  assert.ok(err instanceof TlsError, `refused with a TlsError: ${err}`);
  return err.message;
}

Deno.test({
  name: "refusals: missing, not PEM, not a key, mismatched, expired",
  ignore,
  async fn(t) {
    const ca = makeCa();
    try {
      const a = makeLeaf(ca, "a");
      const b = makeLeaf(ca, "b");
      await t.step("a missing file", async () => {
        const message = await refusal({
          certFile: `${ca.dir}/nope.pem`,
          keyFile: a.keyFile,
        });
        assert.match(
          message,
          /^Cannot read TLS certificate file ".*nope\.pem": /,
        );
      });
      await t.step("a directory", async () => {
        const message = await refusal({
          certFile: a.certFile,
          keyFile: ca.dir,
        });
        assert.match(message, /^Cannot read TLS key file ".*": is a directory/);
      });
      await t.step("a certificate that is not PEM", async () => {
        Deno.writeTextFileSync(`${ca.dir}/text.pem`, "hello\n");
        const message = await refusal({
          certFile: `${ca.dir}/text.pem`,
          keyFile: a.keyFile,
        });
        assert.match(message, /text\.pem" is not a PEM certificate/);
      });
      await t.step("DER bytes", async () => {
        Deno.writeFileSync(
          `${ca.dir}/der.pem`,
          new Uint8Array([0x30, 0x82, 0xff, 0xfe]),
        );
        const message = await refusal({
          certFile: `${ca.dir}/der.pem`,
          keyFile: a.keyFile,
        });
        assert.match(message, /der\.pem" is not PEM text/);
      });
      await t.step("a certificate given as the key", async () => {
        const message = await refusal({
          certFile: a.certFile,
          keyFile: a.certFile,
        });
        assert.match(message, /a\.pem" is not a PEM private key/);
      });
      await t.step(
        "a broken PEM key: no key bytes in the message",
        async () => {
          const broken =
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
          Deno.writeTextFileSync(`${ca.dir}/broken.key`, broken);
          const message = await refusal({
            certFile: a.certFile,
            keyFile: `${ca.dir}/broken.key`,
          });
          assert.match(
            message,
            /broken\.key" cannot be parsed as a private key/,
          );
          assert.doesNotMatch(message, /c2VjcmV0/);
        },
      );
      await t.step("the key of another certificate", async () => {
        const message = await refusal({
          certFile: a.certFile,
          keyFile: b.keyFile,
        });
        assert.match(
          message,
          /^TLS key file ".*b\.key" does not match the certificate in ".*a\.pem"/,
        );
      });
      await t.step("an expired certificate, unless allowed", async () => {
        const old = makeLeaf(ca, "old", { days: -1 });
        const message = await refusal(old);
        assert.match(
          message,
          /^TLS certificate in ".*old\.pem" expired on \d{4}-\d\d-\d\dT.*--tls-allow-expired/,
        );
        const pair = await loadTlsPair(old, { allowExpired: true });
        assert.ok(pair.summary.notAfter * 1000 < Date.now());
      });
    } finally {
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});

Deno.test("TLS files: none, both, or an argument error naming the missing one", () => {
  const context = { env: {}, cwd: "/srv" };
  assert.equal(tlsFilesOf({ tlsCert: null, tlsKey: null }, context), null);
  assert.throws(
    () => tlsFilesOf({ tlsCert: "c.pem", tlsKey: null }, context),
    (err: unknown) =>
      err instanceof ArgumentError &&
      /^--tls-cert needs --tls-key too/.test(err.message),
  );
  assert.throws(
    () => tlsFilesOf({ tlsCert: null, tlsKey: "k.pem" }, context),
    (err: unknown) =>
      err instanceof ArgumentError &&
      /^--tls-key needs --tls-cert too/.test(err.message),
  );
  assert.deepEqual(
    tlsFilesOf({ tlsCert: "c.pem", tlsKey: "/etc/k.pem" }, context),
    { certFile: "/srv/c.pem", keyFile: "/etc/k.pem" },
  );
});

Deno.test("TLS files: relative names are found in $CREDENTIALS_DIRECTORY", () => {
  const context = {
    env: { CREDENTIALS_DIRECTORY: "/run/credentials/fp" },
    cwd: "/srv",
  };
  assert.deepEqual(
    tlsFilesOf({ tlsCert: "tls.crt", tlsKey: "tls.key" }, context),
    {
      certFile: "/run/credentials/fp/tls.crt",
      keyFile: "/run/credentials/fp/tls.key",
    },
  );
});

Deno.test("serialHex() prints whole bytes, as openssl does, when the serial starts with a zero nibble", async () => {
  const { serialHex } = await import("../../src/server/tls_x509.ts");
  assert.equal(serialHex("89A3DBAA"), "89a3dbaa");
  assert.equal(serialHex("9A3DBAA"), "09a3dbaa");
  assert.equal(serialHex("A"), "0a");
});
