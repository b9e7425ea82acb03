import { TunError } from '../errors.js';
import { oneLine, parseFormat, type LogFormat } from '../log.js';

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

/** The log format asked for on the command line (`--log-format json`, `--log-format=json`) or in $TUN_LOG_FORMAT. */
export function fatalFormat(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): LogFormat {
  const i = argv.lastIndexOf('--log-format');
  const eq = [...argv].reverse().find((a) => a.startsWith('--log-format='));
  return parseFormat(i >= 0 ? argv[i + 1] : eq ? eq.slice('--log-format='.length) : env.TUN_LOG_FORMAT);
}

/**
 * The one place where an error becomes text for a person and an exit code: one line on stderr,
 * `tun: message (hint: ...)` with control characters escaped, or with format json one object
 * `{"time","role":"tun","level":"error","msg","code","hint"}`. No stack traces, unless TUN_LOG=debug
 * asks for one for an unexpected error (still on one line).
 */
export function reportFatal(err: unknown, stream: NodeJS.WritableStream = process.stderr, format: LogFormat = 'text'): number {
  const known = err instanceof TunError;
  const e = err as NodeJS.ErrnoException | undefined;
  const what = e instanceof Error ? `${e.code ? e.code + ': ' : ''}${e.message}` : String(err);
  const stack = process.env.TUN_LOG === 'debug' && e instanceof Error && e.stack ? ` [stack: ${e.stack}]` : '';
  const msg = known ? oneLine(err.message) : `unexpected error: ${oneLine(what + stack)}`;
  const hint = known ? (err.hint === undefined ? undefined : oneLine(err.hint)) : 'this is a bug in tun; please report it with the command you ran';
  if (format === 'json') {
    stream.write(JSON.stringify({ time: new Date().toISOString(), role: 'tun', level: 'error', msg, code: known ? err.code : 'UNEXPECTED', ...(hint ? { hint } : {}) }) + '\n');
  } else {
    stream.write(`tun: ${msg}${hint ? ` (hint: ${hint})` : ''}\n`);
  }
  return known ? EXIT.FAILED : EXIT.UNEXPECTED;
}
