/**
 * The ACME state directory: the account key, the certificate and its key,
 * each written mode 600 through a temporary file and a rename (a reader
 * never sees half a file), and the lock that keeps instances sharing the
 * directory from ordering at once.
 *
 * @module
 */
import { join } from "node:path";
import type { TlsFiles } from "../tls.ts";

/** Files of the state directory. */
export interface AcmeStateFiles extends TlsFiles {
  dir: string;
  accountKeyFile: string;
  /** JSON `{ directory, url }`: the account's URL at that directory. */
  accountFile: string;
  lockFile: string;
}

/** The state files under `dir`. */
export function acmeStateFiles(dir: string): AcmeStateFiles {
  return {
    dir,
    certFile: join(dir, "cert.pem"),
    keyFile: join(dir, "key.pem"),
    accountKeyFile: join(dir, "account.key"),
    accountFile: join(dir, "account.json"),
    lockFile: join(dir, "order.lock"),
  };
}

/** Creates the directory (mode 700) when missing. */
export async function ensureStateDir(files: AcmeStateFiles): Promise<void> {
  await Deno.mkdir(files.dir, { recursive: true, mode: 0o700 });
}

/** Writes `text` to `path` with mode 600, replacing it atomically. */
export async function writePrivate(path: string, text: string): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temporary, text, { mode: 0o600 });
    await Deno.chmod(temporary, 0o600);
    await Deno.rename(temporary, path);
  } catch (err) {
    await Deno.remove(temporary).catch(() => {});
    throw err;
  }
}

/** The file's text, or null when it does not exist. */
export async function readIfPresent(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * Runs `task` holding the directory's exclusive lock. Another instance
 * holding it makes this one wait (the lock is taken off the event loop) —
 * it then finds the certificate the other one stored.
 */
export async function withStateLock<T>(
  files: AcmeStateFiles,
  task: () => Promise<T>,
): Promise<T> {
  const file = await Deno.open(files.lockFile, {
    create: true,
    write: true,
    mode: 0o600,
  });
  try {
    await file.lock(true);
    return await task();
  } finally {
    file.close();
  }
}

/** The stored account URL when it was registered at `directory`, else null. */
export async function readAccountUrl(
  files: AcmeStateFiles,
  directory: string,
): Promise<string | null> {
  const text = await readIfPresent(files.accountFile);
  if (text === null) return null;
  try {
    const stored = JSON.parse(text);
    return stored?.directory === directory && typeof stored.url === "string"
      ? stored.url
      : null;
  } catch {
    return null;
  }
}

/** Stores the account URL registered at `directory`. */
export async function writeAccountUrl(
  files: AcmeStateFiles,
  directory: string,
  url: string,
): Promise<void> {
  await writePrivate(files.accountFile, JSON.stringify({ directory, url }));
}
