/**
 * Waiting for an event with a bound: a test awaits what it waits for, and
 * fails with a message (instead of hanging) when it never happens.
 */

/** Resolves as `promise` does, or rejects after `ms` naming `what` never happened. */
export async function within<T>(
  promise: Promise<T>,
  options: { ms: number; what: string },
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Not within ${options.ms} ms: ${options.what}`)),
      options.ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
