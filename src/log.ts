/**
 * A levelled logger, injected into every role. Lines go to stderr as
 * `<iso time> <role> <level>: <message>`. Never pass it a secret: keys are logged as fingerprints,
 * tokens not at all. `rateLimited` folds repeats of one cause into at most one line per interval.
 */
export type Level = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  /** Logs at most once per `intervalMs` per key; the next line says how many were folded. */
  rateLimited(level: Level, key: string, msg: string, intervalMs?: number): void;
  child(role: string): Logger;
}

export function parseLevel(s: string | undefined, fallback: Level = 'info'): Level {
  return s && s in ORDER ? (s as Level) : fallback;
}

export function createLogger(role: string, level: Level = parseLevel(process.env.TUN_LOG), out: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const folded = new Map<string, { until: number; count: number }>();
  const write = (lvl: Level, msg: string): void => {
    if (ORDER[lvl] > ORDER[level]) return;
    out(`${new Date().toISOString()} ${role} ${lvl}: ${msg}\n`);
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
      write(lvl, msg + extra);
    },
    child: (r) => createLogger(`${role}/${r}`, level, out),
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
