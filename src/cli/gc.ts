/**
 * V8 tuning for a process that moves bytes (relay, client and visitor agents).
 *
 * Every socket read and every sealed record is a new ArrayBuffer outside the JS heap, so a busy
 * agent always has tens of MB of such buffers waiting for the next scavenge, against a JS heap of
 * about 8 MB. V8's default heuristics read that as a heap near its limit and start incremental
 * marking over and over: in one single-stream transfer the visitor agent ran about 90 full
 * mark-compacts, although its heap did not grow (7.2 MB live throughout; node --trace-gc). Those
 * cycles were a third of the agents' CPU. Without incremental marking a full collection happens
 * only when the old generation really reaches its limit (once in the same transfer): in
 * alternating runs of `npm run bench:ab` all tun processes together went from 7.4-8.7 to 6.1-6.3
 * CPU-s per GB and single-stream throughput from 99-114 to 129-134 MB/s. The cost: a full
 * collection, when one comes, is one pause instead of many small steps (9-13 ms for the 10-12 MB
 * heaps of a bench run with 2,000 streams open).
 * TUN_INCREMENTAL_MARKING=1 keeps V8's default.
 */
import { setFlagsFromString } from 'node:v8';

export function tuneGcForStreaming(): void {
  if (process.env.TUN_INCREMENTAL_MARKING === '1') return;
  // Checked by V8 each time it would start marking, so it takes effect at run time.
  setFlagsFromString('--no-incremental-marking');
}
