/**
 * A certificate and key checked with the runtime's `node:crypto`:
 * `X509Certificate` gives names, validity, serial and fingerprint, and the
 * key matches when its public half is the certificate's
 * (`checkPrivateKey`). Imported dynamically by tls.ts, so only a TLS server
 * loads `node:crypto`, and only on the main thread.
 *
 * @module
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import type { CertificateSummary } from "../observe/tls_metrics.ts";
import { TlsError } from "./tls_error.ts";

/**
 * Parses both and checks that the key is the certificate's; throws
 * {@linkcode TlsError} naming the file.
 */
export function checkPair(
  cert: string,
  key: string,
  files: { certFile: string; keyFile: string },
): CertificateSummary {
  const x509 = parseCertificate(cert, files.certFile);
  const privateKey = parseKey(key, files.keyFile);
  if (!x509.checkPrivateKey(privateKey)) {
    throw new TlsError(
      `TLS key file "${files.keyFile}" does not match the certificate in "${files.certFile}": they are not a pair`,
    );
  }
  return summarize(x509);
}

/** What may be shown of a certificate: names, validity, serial, fingerprint. */
function summarize(x509: X509Certificate): CertificateSummary {
  return {
    names: namesOf(x509),
    notBefore: Math.floor(x509.validFromDate.getTime() / 1000),
    notAfter: Math.floor(x509.validToDate.getTime() / 1000),
    serial: serialHex(x509.serialNumber),
    sha256: x509.fingerprint256.replaceAll(":", "").toLowerCase(),
  };
}

/**
 * A serial number as whole bytes of lower-case hex, as `openssl x509
 * -serial` prints it: Deno's `serialNumber` drops a leading zero nibble
 * (`89a3…` for `089a3…`), which would name a different-looking serial in
 * logs than every other tool.
 */
export function serialHex(serial: string): string {
  const hex = serial.toLowerCase();
  return hex.length % 2 === 1 ? "0" + hex : hex;
}

/** The subject alternative names (DNS and IP), else the subject's CN. */
function namesOf(x509: X509Certificate): string[] {
  const names: string[] = [];
  for (const entry of (x509.subjectAltName ?? "").split(", ")) {
    const name = /^(?:DNS|IP Address):(.+)$/.exec(entry.trim())?.[1];
    if (name !== undefined) names.push(name);
  }
  if (names.length > 0) return names;
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1];
  return cn ? [cn] : [];
}

function parseCertificate(pem: string, file: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new TlsError(
      `TLS certificate file "${file}" cannot be parsed as an X.509 certificate`,
    );
  }
}

function parseKey(pem: string, file: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    // The library's message is not quoted: it might echo key bytes.
    throw new TlsError(
      `TLS key file "${file}" cannot be parsed as a private key (PKCS#8, PKCS#1 or SEC1 PEM)`,
    );
  }
}
