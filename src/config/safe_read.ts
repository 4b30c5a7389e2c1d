/**
 * The one reader of the small files flow-proxy is pointed at: the secrets
 * file, `.env`, and `--admin-token-file`. Only a regular file is read (a
 * FIFO would block the open, `/dev/zero` would never end), and never more
 * than a limit, whatever `stat` says: `/proc` files report size 0, and a file
 * that is being appended to may grow while it is read.
 *
 * Both the synchronous reader (settings are resolved synchronously) and the
 * asynchronous one (secrets are reloaded while serving) follow the same
 * steps: stat the path, open, stat what was opened, read whole chunks.
 *
 * @module
 */

/** Bytes asked of the file per read: whole chunks, since some files (/proc) refuse odd sizes. */
const READ_CHUNK_BYTES = 64 * 1024;

/** What was read: the bytes and the metadata of the open file. */
export interface SafeReadResult {
  bytes: Uint8Array;
  /** `stat` of the file that was read (not of the path, which may have changed since). */
  info: Deno.FileInfo;
}

/**
 * Why a file was refused: it is not a regular file, or it is larger than
 * the limit. The message is lower-case and names no file, e.g.
 * `is a named pipe (FIFO), not a regular file`, for callers to prefix.
 */
export class RefusedFileError extends TypeError {
  override name = "RefusedFileError";
  /** The size `stat` reported when that is what was over the limit; null when the read found out. */
  readonly statSize: number | null;
  /** The limit that was passed, or null when the file is not a regular one. */
  readonly limit: number | null;

  constructor(
    message: string,
    options: { statSize?: number | null; limit?: number | null } = {},
  ) {
    super(message);
    this.statSize = options.statSize ?? null;
    this.limit = options.limit ?? null;
  }
}

/**
 * Throws a {@linkcode RefusedFileError} saying what `info` is when it is not
 * a regular file, e.g. `is a named pipe (FIFO), not a regular file`.
 */
export function refuseNonRegularFile(info: Deno.FileInfo): void {
  if (info.isFile) return;
  if (info.isDirectory) throw new RefusedFileError("is a directory");
  const what = info.isFifo
    ? "a named pipe (FIFO)"
    : info.isCharDevice
    ? "a character device"
    : info.isBlockDevice
    ? "a block device"
    : info.isSocket
    ? "a socket"
    : "something else";
  throw new RefusedFileError(`is ${what}, not a regular file`);
}

/**
 * Reads a regular file of at most `maxBytes`. Throws
 * {@linkcode RefusedFileError} for anything else, and the file system's own
 * errors (`Deno.errors.NotFound`, …) as they come.
 */
export async function readRegularFile(
  path: string,
  maxBytes: number,
): Promise<SafeReadResult> {
  // Checked before opening: opening a FIFO blocks until a writer appears.
  refuseNonRegularFile(await Deno.stat(path));
  using file = await Deno.open(path, { read: true });
  // And again on what was opened, in case the path was swapped meanwhile.
  const info = await file.stat();
  checkOpened(info, maxBytes);
  const collector = new ChunkCollector(maxBytes);
  while (collector.add(await file.read(collector.chunk)));
  return { bytes: collector.bytes(), info };
}

/** {@linkcode readRegularFile}, synchronously. */
export function readRegularFileSync(
  path: string,
  maxBytes: number,
): SafeReadResult {
  refuseNonRegularFile(Deno.statSync(path));
  using file = Deno.openSync(path, { read: true });
  const info = file.statSync();
  checkOpened(info, maxBytes);
  const collector = new ChunkCollector(maxBytes);
  while (collector.add(file.readSync(collector.chunk)));
  return { bytes: collector.bytes(), info };
}

function checkOpened(info: Deno.FileInfo, maxBytes: number): void {
  refuseNonRegularFile(info);
  if (info.size > maxBytes) {
    throw new RefusedFileError(
      `too large (${info.size} bytes; at most ${maxBytes})`,
      { statSize: info.size, limit: maxBytes },
    );
  }
}

/** Gathers whole chunks until the end, failing once more than the limit has come. */
class ChunkCollector {
  #limit: number;
  #chunks: Uint8Array[] = [];
  #total = 0;
  /** The buffer of the next read. */
  chunk = new Uint8Array(READ_CHUNK_BYTES);

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Takes the result of a read into {@linkcode chunk}; false at the end. */
  add(n: number | null): boolean {
    if (n === null) return false;
    this.#total += n;
    if (this.#total > this.#limit) {
      // Memory stays below the limit plus one chunk.
      throw new RefusedFileError(
        `too large (more than ${this.#limit} bytes, the most that is read)`,
        { limit: this.#limit },
      );
    }
    this.#chunks.push(this.chunk.subarray(0, n));
    this.chunk = new Uint8Array(READ_CHUNK_BYTES);
    return true;
  }

  /** Everything read, in one array. */
  bytes(): Uint8Array {
    const bytes = new Uint8Array(this.#total);
    let offset = 0;
    for (const chunk of this.#chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
  }
}

/** Largest `.env` or admin token file read; a real one is a few hundred bytes. */
export const MAX_SMALL_FILE_BYTES = 1024 * 1024;

/**
 * The text of a small settings file (`.env`, `--admin-token-file`), read by
 * {@linkcode readRegularFileSync} with {@linkcode MAX_SMALL_FILE_BYTES}.
 * Throws {@linkcode RefusedFileError} (`too large (more than … bytes)`
 * however the size was found) or the file system's error.
 */
export function readSmallTextFileSync(path: string): string {
  try {
    return new TextDecoder().decode(
      readRegularFileSync(path, MAX_SMALL_FILE_BYTES).bytes,
    );
  } catch (err) {
    if (err instanceof RefusedFileError && err.limit !== null) {
      throw new RefusedFileError(`too large (more than ${err.limit} bytes)`, {
        statSize: err.statSize,
        limit: err.limit,
      });
    }
    throw err;
  }
}
