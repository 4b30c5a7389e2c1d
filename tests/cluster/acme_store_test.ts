import assert from "node:assert/strict";
import { openRedisLink } from "../../src/cluster/redis_link.ts";
import {
  type AcmeStore,
  acmeStore,
  certificateKey,
  CHALLENGE_TTL_MS,
} from "../../src/cluster/acme_store.ts";
import { challengeBook } from "../../src/server/acme/challenges.ts";
import { parseRedisUrl } from "../../src/config/redis_url.ts";
import { startRedis } from "../support/redis.ts";

const quiet = { warn: () => {}, info: () => {} };

Deno.test("acmeStore() shares challenges for ten minutes and a certificate until it expires", async () => {
  await using redis = await startRedis();
  await using link = await openRedisLink({
    url: parseRedisUrl(redis.url(), "--redis-url"),
    prefix: "t:",
    timeoutMs: 500,
    name: "flow-proxy-test",
    logger: quiet,
  });
  const store = acmeStore(link);
  await store.putChallenge("tok", "tok.thumb");
  assert.equal(await store.challenge("tok"), "tok.thumb");
  const ttl = Number(await redis.cli("PTTL", "t:acme:challenge:tok"));
  assert.ok(
    ttl > CHALLENGE_TTL_MS - 60_000 && ttl <= CHALLENGE_TTL_MS,
    `${ttl}`,
  );
  await store.dropChallenge("tok");
  assert.equal(await store.challenge("tok"), null);

  assert.equal(await store.certificate(["b.example", "a.example"]), null);
  const notAfter = Date.now() + 3_600_000;
  await store.storeCertificate(
    ["b.example", "A.example"],
    { cert: "CERT", key: "KEY" },
    notAfter,
  );
  // The same set of names in another order and case finds it.
  assert.deepEqual(await store.certificate(["a.example", "b.example"]), {
    cert: "CERT",
    key: "KEY",
  });
  assert.equal(
    certificateKey(["b.example", "A.example"]),
    "acme:cert:a.example,b.example",
  );
  const expireAt = Number(
    await redis.cli("PEXPIRETIME", "t:acme:cert:a.example,b.example"),
  );
  assert.equal(expireAt, Math.floor(notAfter));
});

Deno.test("challengeBook() answers its own challenges, another instance's from the store, and keeps its own when the store fails", async () => {
  const shared = new Map<string, string>();
  const store: AcmeStore = {
    putChallenge: (t, k) => Promise.resolve(void shared.set(t, k)),
    dropChallenge: (t) => Promise.resolve(void shared.delete(t)),
    challenge: (t) => Promise.resolve(shared.get(t) ?? null),
    certificate: () => Promise.resolve(null),
    storeCertificate: () => Promise.resolve(),
  };
  const book = challengeBook(store, quiet);
  await book.set("mine", "mine.ka");
  assert.equal(shared.get("mine"), "mine.ka");
  assert.equal(await book.get("mine"), "mine.ka");
  shared.set("theirs", "theirs.ka");
  assert.equal(await book.get("theirs"), "theirs.ka");
  assert.equal(await book.get("nobody"), undefined);
  await book.delete("mine");
  assert.equal(shared.has("mine"), false);
  assert.equal(await book.get("mine"), undefined);

  const warnings: string[] = [];
  const down = new Error("Connection is closed.");
  const broken = challengeBook({
    ...store,
    putChallenge: () => Promise.reject(down),
    challenge: () => Promise.reject(down),
  }, { warn: (m) => void warnings.push(m) });
  await broken.set("tok", "tok.ka");
  assert.equal(await broken.get("tok"), "tok.ka");
  assert.equal(await broken.get("other"), undefined);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /Cannot share an ACME challenge through Redis .*only this instance can answer it/,
  );
});
