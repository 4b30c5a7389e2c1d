/**
 * What the instances behind one name share of ACME through Redis, so that
 * one order serves them all:
 *
 * - HTTP-01 challenges (`acme:challenge:<token>`, ten minutes): behind a load
 *   balancer the CA's validation request reaches any instance, which answers
 *   from Redis a challenge that another instance's order created;
 * - the certificate and its key (`acme:cert:<domains>`, a hash expiring when
 *   the certificate does): an instance that starts with an empty state
 *   directory, or whose renewal comes due after another's, takes the pair
 *   from Redis instead of ordering again (a CA limits duplicate
 *   certificates: Let's Encrypt to five a week).
 *
 * The private key is kept in Redis as it is in the state directory: protect
 * Redis (a password or ACL, `rediss://`), docs/tls.md says so. Every call
 * fails soft: with Redis down an instance orders on its own, as without it.
 *
 * @module
 */
import type { RedisLink } from "./redis_link.ts";

/** How long a challenge stays answerable, ms (an order takes seconds). */
export const CHALLENGE_TTL_MS = 10 * 60_000;

/** A certificate and its key, PEM. */
export interface StoredPem {
  cert: string;
  key: string;
}

/** See the module doc. */
export interface AcmeStore {
  /** Publishes a pending challenge's key authorization. */
  putChallenge(token: string, keyAuthorization: string): Promise<void>;
  /** Removes a challenge once its order is done. */
  dropChallenge(token: string): Promise<void>;
  /** The key authorization of a token another instance published, or null. */
  challenge(token: string): Promise<string | null>;
  /** The pair stored for this set of domains, or null. */
  certificate(domains: readonly string[]): Promise<StoredPem | null>;
  /** Stores the pair until `notAfterMs` (epoch ms). */
  storeCertificate(
    domains: readonly string[],
    pem: StoredPem,
    notAfterMs: number,
  ): Promise<void>;
}

/** The Redis key of a set of domains' certificate (order-insensitive). */
export function certificateKey(domains: readonly string[]): string {
  return `acme:cert:${
    [...domains].map((d) => d.toLowerCase()).sort().join(",")
  }`;
}

/** An {@linkcode AcmeStore} in the link's Redis (keys under its prefix). */
export function acmeStore(link: RedisLink): AcmeStore {
  const client = link.client;
  const challengeKey = (token: string) => `acme:challenge:${token}`;
  return {
    async putChallenge(token, keyAuthorization) {
      await client.set(
        challengeKey(token),
        keyAuthorization,
        "PX",
        CHALLENGE_TTL_MS,
      );
    },
    async dropChallenge(token) {
      await client.del(challengeKey(token));
    },
    challenge: (token) => client.get(challengeKey(token)),
    async certificate(domains) {
      const got = await client.hgetall(certificateKey(domains));
      return typeof got.cert === "string" && typeof got.key === "string"
        ? { cert: got.cert, key: got.key }
        : null;
    },
    async storeCertificate(domains, pem, notAfterMs) {
      const key = certificateKey(domains);
      const results = await client.multi()
        .hset(key, { cert: pem.cert, key: pem.key })
        .pexpireat(key, Math.floor(notAfterMs))
        .exec();
      const failed = results?.find(([err]) => err !== null)?.[0];
      if (failed) throw failed;
    },
  };
}
