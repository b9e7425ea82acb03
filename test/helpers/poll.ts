/** Polling for state that follows events asynchronously (metrics, status answers). */

/**
 * Reads with `read` until `check` passes on what it returned, every 100 ms; once `ms` have passed,
 * the last failure of `check` is rethrown. Resolves with the reading that passed.
 */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => void, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    try {
      check(value);
      return value;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
