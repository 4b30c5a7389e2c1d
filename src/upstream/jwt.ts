/**
 * The Flow token: an HS256 JWT over exactly `{clientId, clientSecret, tenant}`,
 * signed with the entry's clientSecret. Made once per credential and reused.
 */
import { SignJWT } from "jose";
import type { Credential } from "../config/secrets.ts";

const encoder = new TextEncoder();

/** Signs the Flow token of one credential (no exp, no iat, no other claim). */
export async function signFlowToken(credential: Credential): Promise<string> {
  const payload = {
    clientId: credential.clientId,
    clientSecret: credential.clientSecret,
    tenant: credential.tenant,
  };
  return await new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(encoder.encode(credential.clientSecret));
}

/**
 * Signs every credential's token; a credential whose token cannot be made
 * gets `null` and its error, so the caller can mark it failed.
 */
export async function signAll(
  credentials: readonly Credential[],
): Promise<{ tokens: (string | null)[]; errors: (Error | null)[] }> {
  const results = await Promise.allSettled(credentials.map(signFlowToken));
  return {
    tokens: results.map((r) => r.status === "fulfilled" ? r.value : null),
    errors: results.map((r) =>
      r.status === "rejected"
        ? (r.reason instanceof Error ? r.reason : new Error(String(r.reason)))
        : null
    ),
  };
}

/**
 * What a serving thread needs of the credentials: names and ready-made
 * tokens. Workers get this, never a clientSecret.
 */
export interface SignedCredentials {
  names: string[];
  /** `null` where the token could not be made. */
  tokens: (string | null)[];
  /** Why a token could not be made, by index; null where it was. */
  errors: (string | null)[];
}

/** Signs every credential once, for every thread to share. */
export async function signCredentials(
  credentials: readonly Credential[],
): Promise<SignedCredentials> {
  const { tokens, errors } = await signAll(credentials);
  return {
    names: credentials.map((c) => c.name),
    tokens,
    errors: errors.map((e) => e?.message ?? null),
  };
}
