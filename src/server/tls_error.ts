/** Why a certificate pair was refused (see tls.ts). */

/** Why a pair was refused; the message names the file and the problem. */
export class TlsError extends Error {
  override name = "TlsError";
}
