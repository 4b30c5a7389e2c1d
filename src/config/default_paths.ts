/**
 * Where `serve` and the other commands look for their files when none is
 * named: systemd's `$CREDENTIALS_DIRECTORY` and `$STATE_DIRECTORY`, else the
 * working directory.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";

/** Default secrets file: `$CREDENTIALS_DIRECTORY/secrets.json` when it exists, else `secrets.json`. */
export function defaultSecretsFile(
  env: Record<string, string | undefined>,
): string {
  const credDir = env.CREDENTIALS_DIRECTORY;
  if (credDir && exists(join(credDir, "secrets.json"))) {
    return join(credDir, "secrets.json");
  }
  return "secrets.json";
}

/**
 * Default models file: `models.json` in the secrets file's directory when it
 * exists there (so `LoadCredential=` can carry both), else null: the built-in
 * catalogue. Existence is checked relative to `cwd`; the path is returned as
 * it is derived from `secretsFile`.
 */
export function defaultModelsFile(
  secretsFile: string,
  cwd: string,
): string | null {
  const candidate = join(dirname(secretsFile), "models.json");
  return exists(resolve(cwd, candidate)) ? candidate : null;
}

/** Default database: `$STATE_DIRECTORY/flow-proxy.db` (systemd), else `flow-proxy.db` in `cwd`. */
export function defaultDbPath(
  env: Record<string, string | undefined>,
  cwd: string,
): string {
  const stateDir = env.STATE_DIRECTORY?.split(":")[0];
  return stateDir
    ? join(resolve(cwd, stateDir), "flow-proxy.db")
    : join(cwd, "flow-proxy.db");
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
