/**
 * The listener certificate's expiry on `/metrics` and what `/healthz` shows
 * of it: names, validity and fingerprint, never key material.
 *
 * @module
 */
import { escapeHelp, escapeLabelValue } from "./prometheus_text.ts";

/** What may be shown of a certificate. Times are Unix seconds. */
export interface CertificateSummary {
  /** Subject alternative names (DNS, IP), else the subject's CN. */
  names: string[];
  notBefore: number;
  notAfter: number;
  /** Serial number, lower-case hex. */
  serial: string;
  /** SHA-256 fingerprint of the DER certificate, lower-case hex. */
  sha256: string;
}

const EXPIRY = "flow_proxy_tls_certificate_expiry_seconds";

/** The expiry gauge, `names` comma-joined; empty text without a certificate. */
export function renderTlsMetrics(summary: CertificateSummary | null): string {
  if (summary === null) return "";
  return [
    `# HELP ${EXPIRY} ${
      escapeHelp("Unix time of the listener certificate's notAfter")
    }`,
    `# TYPE ${EXPIRY} gauge`,
    `${EXPIRY}{names="${
      escapeLabelValue(summary.names.join(","))
    }"} ${summary.notAfter}`,
    "",
  ].join("\n");
}

/** The `/healthz` block of a certificate. */
export function tlsHealth(
  summary: CertificateSummary,
  now: number = Date.now(),
): Record<string, unknown> {
  return {
    names: summary.names,
    notBefore: new Date(summary.notBefore * 1000).toISOString(),
    notAfter: new Date(summary.notAfter * 1000).toISOString(),
    expiresInSeconds: Math.round(summary.notAfter - now / 1000),
    serial: summary.serial,
    sha256: summary.sha256,
  };
}
