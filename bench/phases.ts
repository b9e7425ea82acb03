/** Warm-up of a started path, and the WAN phase (each path restarted behind delay proxies). */
import { firstBytes, transfer } from './measure.js';
import { percentile, type Collector } from './report.js';
import { echoOnce, waitEcho } from './sockets.js';
import type { Path, PathId, StartOptions, Started } from './paths/types.js';

/**
 * Every endpoint echoes, then a few streams and a short transfer so JIT and buffers are warm.
 * Returns the bytes a transfer on this path should carry to last about `seconds` (within limits).
 */
export async function warmUp(p: Path, seconds: number, min: number, max: number): Promise<number> {
  for (const ep of new Set([p.bulk, p.latency])) {
    await waitEcho(ep.host, ep.port);
    for (let i = 0; i < 50; i++) (await echoOnce(ep.host, ep.port)).socket.destroy();
  }
  await transfer(p.bulk, 16e6, 1);
  const { mbPerS } = await transfer(p.bulk, 32e6, 1);
  return Math.round(Math.min(max, Math.max(min, mbPerS * 1e6 * seconds)) / 1e6) * 1e6;
}

/** First byte over emulated WAN legs: `delayMs` each way on each of the two long legs. */
export async function wanFigures(
  ids: PathId[],
  starters: Record<PathId, (o: StartOptions) => Promise<Started>>,
  start: StartOptions,
  delayMs: number,
  streams: number,
  out: Collector,
  log: (s: string) => void,
): Promise<void> {
  const rtt = 4 * delayMs; // app side to service side and back: two legs, each crossed twice
  for (const id of ids) {
    let path: Path | undefined;
    try {
      log(`WAN: ${id}, ${streams} new streams one after another`);
      const p = await starters[id]({ ...start, wanDelayMs: delayMs });
      if ('skipped' in p) continue;
      path = p;
      await waitEcho(p.latency.host, p.latency.port, 30_000);
      for (let i = 0; i < 3; i++) (await echoOnce(p.latency.host, p.latency.port)).socket.destroy();
      const fb = await firstBytes(p.latency, streams);
      const p50 = percentile(fb.samples, 50);
      out.add('wan50', `first byte p50, ${streams} new streams`, 'ms', id, p50);
      out.add('wan99', 'first byte p99', 'ms', id, percentile(fb.samples, 99));
      out.add('rtts', `round trips per new stream (p50 / ${rtt} ms RTT)`, 'RTT', id, p50 / rtt);
    } catch (e) {
      log(`WAN on ${id} failed: ${(e as Error).message}`);
    } finally {
      await path?.stop();
    }
  }
}
