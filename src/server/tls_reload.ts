/**
 * The supervisor's TLS chores: re-reading the pair on SIGHUP or a file
 * change (a bad one is logged at ERROR and the pair in use kept), and
 * opening the `--http-redirect-port` listener.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Settings } from "../config/settings.ts";
import { describe } from "../base/describe.ts";
import type { LimitedServer } from "./connection_limits.ts";
import { loadTlsPair, type TlsFiles, type TlsPair } from "./tls.ts";
import { startRedirect } from "./tls_redirect.ts";

/** Options of {@linkcode reloadPair}. */
export interface ReloadPairOptions {
  allowExpired: boolean;
  /** Why: "SIGHUP" or "file change", for the log line. */
  reason: string;
  logger: Logger;
}

/**
 * The pair in `current.files` when it is good and differs from the one in
 * use; null when it is the same, or bad (then logged at ERROR).
 */
export async function reloadPair(
  current: { pair: TlsPair; files: TlsFiles },
  options: ReloadPairOptions,
): Promise<TlsPair | null> {
  let pair: TlsPair;
  try {
    pair = await loadTlsPair(current.files, {
      allowExpired: options.allowExpired,
    });
  } catch (err) {
    options.logger.error(
      `Reload of the TLS certificate (${options.reason}) rejected, keeping the one in use (serial ${current.pair.summary.serial}): ${
        describe(err)
      }`,
    );
    return null;
  }
  const same = pair.cert === current.pair.cert && pair.key === current.pair.key;
  return same ? null : pair;
}

/** The INFO line of a pair put in force. */
export function describeReload(pair: TlsPair, reason: string): string {
  const { names, notAfter, serial } = pair.summary;
  return `Reloaded the TLS certificate (${reason}): ${
    names.join(", ")
  }, serial ${serial}, expires ${
    new Date(notAfter * 1000).toISOString()
  }; new connections get it`;
}

/**
 * Opens the `--http-redirect-port` listener, or returns null when the
 * option is not set; throws, naming the option, when the port cannot open.
 */
export function openRedirect(
  settings: Settings,
  logger: Logger,
): LimitedServer | null {
  const port = settings.httpRedirectPort;
  if (port === null) return null;
  let server: LimitedServer;
  try {
    server = startRedirect({
      hostname: settings.host,
      port,
      httpsPort: settings.port,
      headerTimeout: settings.clientHeaderTimeout,
      keepAliveTimeout: settings.keepAliveTimeout,
      maxConnections: settings.maxConnections,
    });
  } catch (err) {
    throw new Error(
      `Cannot listen on ${settings.host}:${port} (--http-redirect-port): ${
        describe(err)
      }`,
    );
  }
  logger.info(
    `Redirecting plain HTTP on port ${port} to HTTPS on port ${settings.port}`,
  );
  return server;
}
