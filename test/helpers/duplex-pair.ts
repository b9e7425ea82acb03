/**
 * Two in-memory Duplex streams wired to each other: what one writes, the other reads — delivered
 * asynchronously and in order, as a socket would (never inside the writer's own call).
 */
import { Duplex } from 'node:stream';

export interface Tap {
  /** Sees (and may replace) every chunk written by side a (`up`) or side b (`down`); return null to drop it. */
  (dir: 'up' | 'down', chunk: Buffer): Buffer | null;
}

export function duplexPair(tap?: Tap): [Duplex, Duplex] {
  let a!: Duplex;
  let b!: Duplex;
  const make = (dir: 'up' | 'down', other: () => Duplex): Duplex =>
    new Duplex({
      write(chunk: Buffer, _enc, cb) {
        const out = tap ? tap(dir, chunk) : chunk;
        setImmediate(() => {
          if (out && out.length && !other().destroyed) other().push(out);
          cb();
        });
      },
      final(cb) {
        setImmediate(() => {
          other().push(null);
          cb();
        });
      },
      read() {},
      destroy(err, cb) {
        const o = other();
        if (!o.destroyed) o.destroy();
        cb(err);
      },
    });
  a = make('up', () => b);
  b = make('down', () => a);
  return [a, b];
}
