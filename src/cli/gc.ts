/**
 * V8 tuning for a process that moves bytes (relay, client and visitor agents).
 *
 * Every socket read and every sealed record is a new ArrayBuffer outside the JS heap, so a busy
 * agent always has tens of MB of such buffers waiting for the next scavenge, beside a JS heap of
 * about 8 MB. V8's default heuristics then start incremental marking over and over: in one 300 MB
 * single-stream transfer each agent ran about 90 full mark-compacts while its heap stayed at 7.2 MB
 * (node --trace-gc, Node 20). Those cycles were a third of the agents' CPU. With incremental
 * marking off, the same transfer ran one full collection: in alternating `npm run bench:ab` runs all
 * tun processes together went from 7.4-8.7 to 6.1-6.3 CPU-s per GB, single stream from 94-114 to
 * 129-134 MB/s.
 *
 * Marking off has a price that grows with the heap: V8 then answers external-memory pressure with
 * a stop-the-world collection, about 2 ms per MB of live heap (9-13 ms at the 10-12 MB of a bench run
 * with 2,000 streams open, ~100 ms at 50 MB). So it is off only while the heap is small, and V8's
 * default comes back above HEAP_MARKING_ON (checked every few seconds, with hysteresis).
 *
 * TUN_INCREMENTAL_MARKING=1, or an --incremental-marking / --no-incremental-marking of the
 * operator's own (node flags or NODE_OPTIONS), leaves V8 as it is.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';

/** Above this much live JS heap V8's incremental marking comes back (its pauses stay short)... */
export const HEAP_MARKING_ON = 48 * 1024 * 1024;
/** ...and below this it goes off again. */
export const HEAP_MARKING_OFF = 24 * 1024 * 1024;

/** Whether marking should be off now, given the live heap and whether it is off already. */
export function markingOff(heapUsed: number, offNow: boolean): boolean {
  return offNow ? heapUsed < HEAP_MARKING_ON : heapUsed < HEAP_MARKING_OFF;
}

/** True when the operator chose: TUN_INCREMENTAL_MARKING=1, or the flag among node's own flags. */
export function operatorChose(env: NodeJS.ProcessEnv, execArgv: string[]): boolean {
  const mentions = (s: string): boolean => /(^|\s)--(no-)?incremental[-_]marking(\s|=|$)/.test(s);
  return env.TUN_INCREMENTAL_MARKING === '1' || execArgv.some(mentions) || mentions(env.NODE_OPTIONS ?? '');
}

export function tuneGcForStreaming(env: NodeJS.ProcessEnv = process.env, execArgv: string[] = process.execArgv, checkEveryMs = 5000): void {
  if (operatorChose(env, execArgv)) return;
  let off = false;
  const check = (): void => {
    const want = markingOff(getHeapStatistics().used_heap_size, off);
    if (want === off) return;
    // V8 reads this flag each time it would start marking (V8 11, Node 20), so it acts at run time.
    setFlagsFromString(want ? '--no-incremental-marking' : '--incremental-marking');
    off = want;
  };
  check();
  setInterval(check, checkEveryMs).unref();
}
