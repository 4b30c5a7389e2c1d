/**
 * The headers every answer of the web dashboard carries: a strict Content
 * Security Policy (no inline script, no eval, nothing from another origin),
 * no sniffing, no referrer, no framing.
 *
 * @module
 */

/** The dashboard's Content-Security-Policy. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

/** Security headers set on every dashboard response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/** `Cache-Control` of an asset whose URL names its content hash. */
export const IMMUTABLE = "public, max-age=31536000, immutable";
/** `Cache-Control` of the page that names the current assets: always revalidated. */
export const REVALIDATE = "no-cache";
