/**
 * The ACME options checked together, and where the state files live. Light
 * on purpose: `serve` imports it on every start, the ACME client only when
 * `--acme-domain` is given.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import type { Settings } from "../../config/settings.ts";
import { ArgumentError } from "../../config/arguments.ts";
import { defaultDbPath } from "../../config/default_paths.ts";

/** The settings ACME reads. */
export type AcmeSettings = Pick<
  Settings,
  | "acmeDomains"
  | "acmeEmail"
  | "acmeDirectory"
  | "acmeCaFile"
  | "acmeHttpPort"
  | "acmeStateDir"
  | "tlsCert"
  | "tlsKey"
  | "httpRedirectPort"
  | "port"
  | "dbPath"
>;

/** True when `--acme-domain` asks for a certificate over ACME. */
export function acmeEnabled(settings: Pick<Settings, "acmeDomains">): boolean {
  return settings.acmeDomains.length > 0;
}

/**
 * Throws `ArgumentError` (exit 2) when ACME options contradict each other
 * or the certificate files: ACME and `--tls-cert` are two sources of one
 * certificate.
 */
export function checkAcmeOptions(settings: AcmeSettings): void {
  if (!acmeEnabled(settings)) {
    for (
      const [flag, set] of [
        ["--acme-email", settings.acmeEmail !== null],
        ["--acme-ca-file", settings.acmeCaFile !== null],
        ["--acme-state-dir", settings.acmeStateDir !== null],
      ] as const
    ) {
      if (set) {
        throw new ArgumentError(
          `${flag} needs --acme-domain: it only applies to certificates obtained over ACME`,
        );
      }
    }
    return;
  }
  if (settings.tlsCert !== null || settings.tlsKey !== null) {
    const flag = settings.tlsCert !== null ? "--tls-cert" : "--tls-key";
    throw new ArgumentError(
      `--acme-domain cannot be combined with ${flag}: the certificate comes either from files or from ACME`,
    );
  }
  if (settings.httpRedirectPort !== null) {
    throw new ArgumentError(
      "--http-redirect-port cannot be combined with --acme-domain: the --acme-http-port listener redirects to HTTPS already",
    );
  }
  if (settings.acmeHttpPort === settings.port) {
    throw new ArgumentError(
      `--acme-http-port must differ from --port (${settings.port}), the HTTPS port`,
    );
  }
}

/**
 * The state directory: `--acme-state-dir`, else `acme/` next to the
 * database (`$STATE_DIRECTORY` under systemd), resolved against `cwd`.
 */
export function acmeStateDirOf(
  settings: Pick<Settings, "acmeStateDir" | "dbPath">,
  context: { env: Record<string, string | undefined>; cwd: string },
): string {
  if (settings.acmeStateDir !== null) {
    return resolve(context.cwd, settings.acmeStateDir);
  }
  const db = settings.dbPath ?? defaultDbPath(context.env, context.cwd);
  return join(dirname(resolve(context.cwd, db)), "acme");
}
