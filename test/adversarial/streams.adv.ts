/**
 * 10,000 completed streams through visitor -> relay -> client -> echo, 32 at a time: every one
 * echoes its bytes and ends cleanly, and afterwards the relay's and the client's fds are back where
 * they started. Memory: V8 keeps the heap it grew to, so RSS is compared between the halves of
 * the run: a leak of 1 KiB per stream would add 5 MiB over the second half; a plateau adds little.
 */
import { KNOWN_RSS_NOT_HEAP } from './lib/known.js';
import { after, it } from 'node:test';
import { judge } from './lib/checks.js';
import { PeakSampler, settle, snapshot } from './lib/measure.js';
import { figure, usage } from './lib/report.js';
import { Topology } from './lib/topo.js';

const C = 'streams';
const TOTAL = 10_000;
const AT_ONCE = 32;
/** A bound on the loop: on a busy shared machine the case does fewer streams rather than run long (and says so). */
const MAX_MS = 120_000;
const tp = new Topology();
after(() => tp.stop());

it('10,000 streams leave no fds or memory behind in the relay and the client', async (t) => {
  await tp.start();
  for (let i = 0; i < 200; i++) if (!(await tp.stream(1024)).ok) throw new Error('warm-up stream failed');
  const pids = { relay: tp.relay.pid, client: tp.clientPid, visitor: tp.visitor.child.pid! };
  const before = { relay: snapshot(pids.relay), client: snapshot(pids.client), visitor: snapshot(pids.visitor) };
  const peaks = { relay: new PeakSampler(pids.relay), client: new PeakSampler(pids.client), visitor: new PeakSampler(pids.visitor) };
  const t0 = Date.now();
  let ok = 0;
  let done = 0;
  const failures: string[] = [];
  const rssAt: Record<string, number>[] = [];
  for (; done < TOTAL; done += AT_ONCE) {
    if (done % 2500 < AT_ONCE) rssAt.push({ done, relay: snapshot(pids.relay).rssKb, client: snapshot(pids.client).rssKb });
    const batch = await Promise.all(Array.from({ length: Math.min(AT_ONCE, TOTAL - done) }, () => tp.stream(1024)));
    for (const r of batch) {
      if (r.ok) ok++;
      else if (failures.length < 5) failures.push(`${r.how} ${r.error ?? ''} (${r.data.length} bytes back)`);
    }
    if (Date.now() - t0 > MAX_MS) {
      done += AT_ONCE;
      figure(C, `stopped at the ${MAX_MS / 1000} s bound after ${done} streams (busy machine)`);
      break;
    }
  }
  done = Math.min(done, TOTAL);
  rssAt.push({ done, relay: snapshot(pids.relay).rssKb, client: snapshot(pids.client).rssKb });
  figure(C, `rss by streams done: ${rssAt.map((r) => `${r.done}: relay ${(r.relay! / 1024).toFixed(1)} / client ${(r.client! / 1024).toFixed(1)} MiB`).join('; ')}`);
  const half = rssAt.find((r) => r.done! >= done / 2) ?? rssAt[0]!;
  const last = rssAt[rssAt.length - 1]!;
  const perStream = (who: 'relay' | 'client'): number => (last[who]! - half[who]!) / Math.max(1, last.done! - half.done!);
  const secs = (Date.now() - t0) / 1000;
  figure(C, `${ok}/${done} streams echoed and ended cleanly in ${secs.toFixed(1)} s (${(ok / secs).toFixed(0)} streams/s, ${AT_ONCE} at a time)`);
  const afterS = {
    relay: await settle(pids.relay, before.relay.fds + 2, 10_000),
    client: await settle(pids.client, before.client.fds + 2, 10_000),
    visitor: await settle(pids.visitor, before.visitor.fds + 2, 10_000),
  };
  const peak = { relay: peaks.relay.stop(), client: peaks.client.stop(), visitor: peaks.visitor.stop() };
  usage(C, 'relay', before.relay, peak.relay, afterS.relay);
  usage(C, 'client', before.client, peak.client, afterS.client);
  usage(C, 'visitor', before.visitor, peak.visitor, afterS.visitor);
  await judge(t, C, [
    { name: 'every stream echoes its bytes and ends cleanly', ok: ok === done && done > 0, detail: `${ok}/${done}${failures.length ? `; first failures: ${failures.join('; ')}` : ''}` },
    { name: 'relay fds back to baseline', ok: afterS.relay.fds <= before.relay.fds + 2, detail: `${before.relay.fds} -> ${afterS.relay.fds}` },
    { name: 'client fds back to baseline', ok: afterS.client.fds <= before.client.fds + 2, detail: `${before.client.fds} -> ${afterS.client.fds}` },
    { name: 'visitor fds back to baseline', ok: afterS.visitor.fds <= before.visitor.fds + 2, detail: `${before.visitor.fds} -> ${afterS.visitor.fds}` },
    { name: 'relay memory flat over the second half (< 1 KiB per stream)', ok: perStream('relay') < 1, detail: `${perStream('relay').toFixed(2)} KiB per stream from ${half.done} to ${last.done} streams; +${afterS.relay.rssKb - before.relay.rssKb} KiB over the whole run` },
    { name: 'client memory flat over the second half (< 1 KiB per stream)', ok: perStream('client') < 1, detail: `${perStream('client').toFixed(2)} KiB per stream from ${half.done} to ${last.done} streams; +${afterS.client.rssKb - before.client.rssKb} KiB over the whole run`, known: KNOWN_RSS_NOT_HEAP },
  ]);
});
