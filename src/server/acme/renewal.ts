/**
 * When to renew and how long to wait after a failure: pure arithmetic, so
 * the schedule is tested without a clock.
 *
 * @module
 */
import type { CertificateSummary } from "../tls.ts";

/** First wait after a failed order; it doubles with each failure. */
export const RETRY_BASE_MS = 1_000;
/** Longest wait between two attempts. */
export const RETRY_MAX_MS = 3_600_000;
/** Longest sleep between two checks of the renewal time. */
export const CHECK_MS = 3_600_000;

/** Unix milliseconds at which a certificate is due: two thirds of its lifetime. */
export function renewalTime(summary: CertificateSummary): number {
  const lifetime = summary.notAfter - summary.notBefore;
  return (summary.notBefore + (lifetime * 2) / 3) * 1000;
}

/** The wait before attempt `failures + 1`, after `failures` failed ones (≥ 1). */
export function retryDelay(failures: number): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(RETRY_BASE_MS * 2 ** exponent, RETRY_MAX_MS);
}

/** The wait before the next check: until the renewal time, at most {@linkcode CHECK_MS}. */
export function checkDelay(summary: CertificateSummary, now: number): number {
  return Math.min(Math.max(renewalTime(summary) - now, 0), CHECK_MS);
}

/** True when the certificate names every domain (DNS names compare case-insensitively). */
export function coversDomains(
  summary: CertificateSummary,
  domains: readonly string[],
): boolean {
  const names = new Set(summary.names.map((n) => n.toLowerCase()));
  return domains.every((d) => names.has(d.toLowerCase()));
}
