/**
 * A levelled logger, injected into every role. One event is one line on stderr, as text
 * `<iso time> <role> <level>: <message>` or, with format json, one object
 * `{"time","role","level","msg"[,"code","hint"]}`. Messages are made safe for one line: a trailing
 * "\n  hint: ..." becomes " (hint: ...)", other line breaks and control characters are escaped, and
 * a message is cut at MAX_MESSAGE characters. Never pass it a secret: keys are logged as
 * fingerprints, tokens not at all. `rateLimited` folds repeats of one cause into at most one line
 * per interval.
 */
import { TunError, printable } from './errors.js';

export type Level = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
/** Longest message a line carries; the rest is cut and marked with "…". */
export const MAX_MESSAGE = 2000;

/** What a log call takes: text, or a TunError (its message and hint; in json also its code). */
export type LogMessage = string | TunError;

export interface Logger {
  error(msg: LogMessage): void;
  warn(msg: LogMessage): void;
  info(msg: LogMessage): void;
  debug(msg: LogMessage): void;
  /** Logs at most once per `intervalMs` per key; the next line says how many were folded. */
  rateLimited(level: Level, key: string, msg: LogMessage, intervalMs?: number): void;
  child(role: string): Logger;
}

export function parseLevel(s: string | undefined, fallback: Level = 'info'): Level {
  return s && s in ORDER ? (s as Level) : fallback;
}

export function parseFormat(s: string | undefined, fallback: LogFormat = 'text'): LogFormat {
  return s && (LOG_FORMATS as readonly string[]).includes(s) ? (s as LogFormat) : fallback;
}

/** One line's worth of text: a multi-line hint folded into the line, then controls escaped and the length capped. */
export function oneLine(text: string, max = MAX_MESSAGE): string {
  const folded = text.replace(/\r?\n\s*hint:\s*([^\n]*)$/, ' (hint: $1)');
  return printable(folded, max, false);
}

interface Event {
  level: Level;
  msg: string;
  code?: string;
  hint?: string;
}

function event(level: Level, m: LogMessage, extra = ''): Event {
  if (m instanceof TunError) return { level, msg: oneLine(m.message + extra), code: m.code, ...(m.hint ? { hint: oneLine(m.hint) } : {}) };
  return { level, msg: oneLine(m + extra) };
}

function render(format: LogFormat, role: string, e: Event): string {
  const time = new Date().toISOString();
  if (format === 'json') return JSON.stringify({ time, role, level: e.level, msg: e.msg, ...(e.code ? { code: e.code } : {}), ...(e.hint ? { hint: e.hint } : {}) });
  return `${time} ${role} ${e.level}: ${e.msg}${e.hint ? ` (hint: ${e.hint})` : ''}`;
}

export function createLogger(
  role: string,
  level: Level = parseLevel(process.env.TUN_LOG),
  out: (line: string) => void = (l) => process.stderr.write(l),
  format: LogFormat = parseFormat(process.env.TUN_LOG_FORMAT),
): Logger {
  const folded = new Map<string, { until: number; count: number }>();
  const write = (lvl: Level, msg: LogMessage, extra = ''): void => {
    if (ORDER[lvl] > ORDER[level]) return;
    out(render(format, role, event(lvl, msg, extra)) + '\n');
  };
  return {
    error: (m) => write('error', m),
    warn: (m) => write('warn', m),
    info: (m) => write('info', m),
    debug: (m) => write('debug', m),
    rateLimited(lvl, key, msg, intervalMs = 1000) {
      const now = Date.now();
      const f = folded.get(key);
      if (f && now < f.until) {
        f.count++;
        return;
      }
      const extra = f && f.count > 0 ? ` (${f.count} more like this folded)` : '';
      folded.set(key, { until: now + intervalMs, count: 0 });
      if (folded.size > 1000) folded.clear();
      write(lvl, msg, extra);
    },
    child: (r) => createLogger(`${role}/${r}`, level, out, format),
  };
}

export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  rateLimited() {},
  child: () => silentLogger,
};
