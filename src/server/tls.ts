/**
 * The listener's certificate: which files (`--tls-cert`, `--tls-key`), and
 * reading them into a checked pair. A pair is refused when a file is missing
 * or unreadable, is not PEM, when the key is not the certificate's, and when
 * the certificate has expired (unless `--tls-allow-expired`).
 *
 * The certificate is parsed by `tls_x509.ts`, imported only when TLS is
 * on: it needs `node:crypto`, which costs every isolate that loads it a few
 * MiB. Error messages name files and never quote their content.
 *
 * @module
 */
import { isAbsolute, join, resolve } from "node:path";
import type { Settings } from "../config/settings.ts";
import { ArgumentError } from "../config/arguments.ts";
import { readRegularFile } from "../config/safe_read.ts";
import { describeIoError } from "../base/describe.ts";
import type { CertificateSummary } from "../observe/tls_metrics.ts";
import { TlsError } from "./tls_error.ts";

export type { CertificateSummary };

/** The two files of a certificate, as absolute paths. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** A certificate and its key, checked, with what may be shown of it. */
export interface TlsPair {
  /** PEM certificate chain, leaf first. */
  cert: string;
  /** PEM private key. Never logged. */
  key: string;
  summary: CertificateSummary;
}

/** Options of {@linkcode loadTlsPair}. */
export interface LoadTlsOptions {
  /** Accept a certificate past its notAfter. */
  allowExpired: boolean;
  /** Milliseconds since the epoch; `Date.now()` by default. */
  now?: number;
}

export { TlsError };

/** Largest certificate or key file read: a long chain is a few KiB. */
const MAX_PEM_BYTES = 256 * 1024;

/**
 * The TLS files of `settings` resolved against `$CREDENTIALS_DIRECTORY`
 * (when set) or `cwd`, or null when TLS is off. Throws `ArgumentError` when
 * only one of the two options is given.
 */
export function tlsFilesOf(
  settings: Pick<Settings, "tlsCert" | "tlsKey">,
  context: { env: Record<string, string | undefined>; cwd: string },
): TlsFiles | null {
  const { tlsCert, tlsKey } = settings;
  if (tlsCert === null && tlsKey === null) return null;
  if (tlsCert === null || tlsKey === null) {
    const [given, missing] = tlsCert === null
      ? ["--tls-key", "--tls-cert"]
      : ["--tls-cert", "--tls-key"];
    throw new ArgumentError(
      `${given} needs ${missing} too: HTTPS takes a certificate and its private key`,
    );
  }
  const credentials = context.env.CREDENTIALS_DIRECTORY;
  const base = credentials ? resolve(context.cwd, credentials) : context.cwd;
  const place = (name: string) => isAbsolute(name) ? name : join(base, name);
  return { certFile: place(tlsCert), keyFile: place(tlsKey) };
}

/**
 * Throws `ArgumentError` when an option that only means something with TLS
 * is set without it, or the redirect port is the HTTPS port.
 */
export function checkTlsOptions(
  settings:
    & Pick<Settings, "tlsCert" | "httpRedirectPort" | "hsts" | "port">
    & Partial<Pick<Settings, "acmeDomains">>,
): void {
  // ACME (checked in acme/options.ts) is the other source of a certificate.
  if ((settings.acmeDomains?.length ?? 0) > 0) return;
  const tls = settings.tlsCert !== null;
  for (
    const [flag, set] of [
      ["--http-redirect-port", settings.httpRedirectPort !== null],
      ["--hsts", settings.hsts],
    ] as const
  ) {
    if (set && !tls) {
      throw new ArgumentError(
        `${flag} needs --tls-cert and --tls-key: it only applies to an HTTPS listener`,
      );
    }
  }
  if (settings.httpRedirectPort === settings.port) {
    throw new ArgumentError(
      `--http-redirect-port must differ from --port (${settings.port}), the HTTPS port`,
    );
  }
}

/** Reads and checks the pair in `files`; throws {@linkcode TlsError}. */
export async function loadTlsPair(
  files: TlsFiles,
  options: LoadTlsOptions,
): Promise<TlsPair> {
  const cert = await readPem(files.certFile, "certificate");
  const key = await readPem(files.keyFile, "key");
  if (!/-----BEGIN CERTIFICATE-----/.test(cert)) {
    throw new TlsError(
      `TLS certificate file "${files.certFile}" is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)`,
    );
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    throw new TlsError(
      `TLS key file "${files.keyFile}" is not a PEM private key (no "-----BEGIN … PRIVATE KEY-----" line)`,
    );
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(key)) {
    throw new TlsError(
      `TLS key file "${files.keyFile}" is encrypted: flow-proxy needs the key without a passphrase`,
    );
  }
  const { checkPair } = await import("./tls_x509.ts");
  const summary = checkPair(cert, key, files);
  const now = options.now ?? Date.now();
  if (summary.notAfter * 1000 <= now && !options.allowExpired) {
    throw new TlsError(
      `TLS certificate in "${files.certFile}" expired on ${
        new Date(summary.notAfter * 1000).toISOString()
      } (--tls-allow-expired serves it anyway, for tests)`,
    );
  }
  return { cert, key, summary };
}

async function readPem(path: string, what: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = (await readRegularFile(path, MAX_PEM_BYTES)).bytes;
  } catch (err) {
    throw new TlsError(
      `Cannot read TLS ${what} file "${path}": ${describeIoError(err)}`,
    );
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new TlsError(
      `TLS ${what} file "${path}" is not PEM text (it is not UTF-8; DER must be converted to PEM)`,
    );
  }
}
