import { TunError } from '../errors.js';

/** The one place where an error becomes text for a person and an exit code. No stack traces for known errors. */
export function reportFatal(err: unknown, stream: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof TunError) {
    stream.write(`tun: ${err.describe()}\n`);
    return 1;
  }
  const e = err as NodeJS.ErrnoException;
  stream.write(`tun: unexpected error: ${e?.stack ?? String(err)}\n`);
  return 70;
}
