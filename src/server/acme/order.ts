/**
 * One certificate order over ACME with the HTTP-01 challenge, through the
 * `acme-client` package. The only module that imports it; loaded by
 * `manager.ts`, which `serve` imports only when `--acme-domain` is given.
 *
 * @module
 */
import acme from "acme-client";
import { Agent } from "node:https";

/** Options of {@linkcode orderCertificate}. */
export interface OrderOptions {
  directoryUrl: string;
  domains: readonly string[];
  email: string | null;
  /** PEM account key; null: a new one is made and returned. */
  accountKey: string | null;
  /** PEM CA trusted for the ACME server's HTTPS, or null for the system's. */
  caPem: string | null;
  /** Token → key authorization, served by the challenge listener. */
  challenges: Map<string, string>;
}

/** What an order gives: the chain, its new key, and the account key used. */
export interface OrderResult {
  cert: string;
  key: string;
  accountKey: string;
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
  acme.axios.defaults.httpsAgent = options.caPem === null
    ? undefined
    : new Agent({ ca: options.caPem });
  const accountKey = options.accountKey ?? await newPrivateKey();
  const client = new acme.Client({
    directoryUrl: options.directoryUrl,
    accountKey,
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
    challengeCreateFn: (_authz, challenge, keyAuthorization) => {
      options.challenges.set(challenge.token, keyAuthorization);
      return Promise.resolve();
    },
    challengeRemoveFn: (_authz, challenge) => {
      options.challenges.delete(challenge.token);
      return Promise.resolve();
    },
  });
  return { cert, key, accountKey };
}
