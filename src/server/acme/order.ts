/**
 * One certificate order over ACME with the HTTP-01 challenge, through the
 * `acme-client` package. The only module that imports it; loaded by
 * `manager.ts`, which `serve` imports only when `--acme-domain` is given.
 *
 * @module
 */
import acme from "acme-client";
import { Agent } from "node:https";
import type { ChallengeBook } from "./challenges.ts";

/**
 * Bound on each request to the ACME server: without it a server gone
 * mid-order (its connection kept alive, then silent) stalls the order.
 */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Options of {@linkcode orderCertificate}. */
export interface OrderOptions {
  directoryUrl: string;
  domains: readonly string[];
  email: string | null;
  /** PEM account key; null: a new one is made and returned. */
  accountKey: string | null;
  /** The account's URL at this directory, when known: no registration then. */
  accountUrl: string | null;
  /** PEM CA trusted for the ACME server's HTTPS, or null for the system's. */
  caPem: string | null;
  /** Token → key authorization, served by the challenge listener. */
  challenges: ChallengeBook;
}

/** What an order gives: the chain, its new key, and the account used. */
export interface OrderResult {
  cert: string;
  key: string;
  accountKey: string;
  accountUrl: string;
}

/** Makes a PEM ECDSA P-256 private key. */
export async function newPrivateKey(): Promise<string> {
  return (await acme.crypto.createPrivateEcdsaKey()).toString();
}

/**
 * Registers (or finds) the account and orders a certificate for
 * `domains`; the CA validates HTTP-01 against the challenge listener.
 */
export async function orderCertificate(
  options: OrderOptions,
): Promise<OrderResult> {
  // The package's own HTTP client; the main thread is its only user.
  acme.axios.defaults.timeout = REQUEST_TIMEOUT_MS;
  // Its own retries wait 5 s, 10 s, … up to 75 s per request; one is kept
  // (it honours a rate limit's Retry-After), the backoff here does the rest.
  const defaults = acme.axios.defaults as unknown as {
    acmeSettings: { retryMaxAttempts: number };
  };
  defaults.acmeSettings.retryMaxAttempts = 1;
  acme.axios.defaults.httpsAgent = options.caPem === null
    ? undefined
    : new Agent({ ca: options.caPem });
  const accountKey = options.accountKey ?? await newPrivateKey();
  const client = new acme.Client({
    directoryUrl: options.directoryUrl,
    accountKey,
    // Known, it skips registering again: a CA may refuse that (pebble does).
    accountUrl: options.accountUrl ?? undefined,
  });
  const key = await newPrivateKey();
  const [, csr] = await acme.crypto.createCsr(
    { commonName: options.domains[0], altNames: [...options.domains] },
    key,
  );
  const cert = await client.auto({
    csr,
    email: options.email ?? undefined,
    termsOfServiceAgreed: true,
    challengePriority: ["http-01"],
    // The CA checks; a check from here fails behind NAT or a port mapping.
    skipChallengeVerification: true,
    challengeCreateFn: (_authz, challenge, keyAuthorization) =>
      options.challenges.set(challenge.token, keyAuthorization),
    challengeRemoveFn: (_authz, challenge) =>
      options.challenges.delete(challenge.token),
  });
  return { cert, key, accountKey, accountUrl: client.getAccountUrl() };
}
