/** Assertions about the typed errors a user sees. */
import assert from 'node:assert/strict';
import { TunError } from '../../src/errors.js';

/** Asserts that `fn` throws a TunError whose message matches `re`. */
export function throwsTunError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof TunError && re.test(err.message), `expected ${re}`);
}
