import { TunError } from '../errors.js';
import { oneLine } from '../log.js';

/** Exit codes of the tun command, in one place. */
export const EXIT = {
  /** Stopped cleanly (first SIGINT/SIGTERM), or a one-shot command succeeded. */
  OK: 0,
  /** A known failure: bad flags or files, a refused or lost connection, a role that ended on its own. */
  FAILED: 1,
  /** A bug: an error tun did not expect. */
  UNEXPECTED: 70,
  /** A second SIGINT/SIGTERM while stopping: exit at once, without waiting (128 + SIGINT). */
  INTERRUPTED: 130,
} as const;

/**
 * The one place where an error becomes text for a person and an exit code: one line on stderr,
 * `tun: message (hint: ...)`, with control characters escaped. No stack traces, unless TUN_LOG=debug
 * asks for one for an unexpected error (still on one line).
 */
export function reportFatal(err: unknown, stream: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof TunError) {
    stream.write(`tun: ${oneLine(err.describe())}\n`);
    return EXIT.FAILED;
  }
  const e = err as NodeJS.ErrnoException | undefined;
  const what = e instanceof Error ? `${e.code ? e.code + ': ' : ''}${e.message}` : String(err);
  const stack = process.env.TUN_LOG === 'debug' && e instanceof Error && e.stack ? ` [stack: ${e.stack}]` : '';
  stream.write(`tun: unexpected error: ${oneLine(what + stack)} (hint: this is a bug in tun; please report it with the command you ran)\n`);
  return EXIT.UNEXPECTED;
}
