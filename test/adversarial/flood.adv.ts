/**
 * ADVERSARIAL 23: 10,000 unauthenticated connections (hold, 32 random bytes, close at once) on all
 * three relay ports from a separate attacker process, three rounds. Meanwhile an established
 * stream keeps echoing, a new stream and a new client still get through, and afterwards the
 * relay's and the client's fds and memory are back near where they started.
 */
import { after, it } from 'node:test';
import { TunProcess } from '../helpers/proc.js';
import { judge } from './lib/checks.js';
import { oneLine } from './lib/known.js';
import { isRoot, nofile, raiseNofile } from './lib/env.js';
import { lineRate } from './lib/logs.js';
import { PeakSampler, settle, snapshot } from './lib/measure.js';
import { figure, usage } from './lib/report.js';
import { Pinger, Topology, describeWave, startAttacker } from './lib/topo.js';
import type { Mode } from './lib/attacker.js';

const C = 'flood';
const ROUNDS = 3;
const tp = new Topology({ extraClients: ['client2'] });
after(() => tp.stop());

it('the relay survives 3 x 10,000 unauthenticated connections; sessions keep working; fds and memory return', async (t) => {
  const client2 = tp.extra[0]!;
  await tp.start();
  if (isRoot) figure(C, `relay open-files limit raised to ${raiseNofile(tp.relay.pid)}`);
  // The attacker needs one fd per connection it holds (as root its limit is raised like the relay's).
  const room = (isRoot ? nofile().hard : nofile().soft) - 200;
  const total = Math.min(10_000, room);
  if (total < 10_000) figure(C, `attacker sized down to ${total} connections per round (open-files limit ${room + 200}${isRoot ? '' : '; not root, so it cannot be raised'})`);
  for (let i = 0; i < 50; i++) if (!(await tp.stream(1024)).ok) throw new Error('warm-up stream failed');
  const before = { relay: snapshot(tp.relay.pid), client: snapshot(tp.clientPid) };
  const peaks = { relay: new PeakSampler(tp.relay.pid), client: new PeakSampler(tp.clientPid) };
  const pinger = await Pinger.open(tp.visitorPort);
  const floodStart = Date.now();
  const modes: Mode[] = ['hold', 'random32', 'close'];
  const ports = [tp.relay.control, tp.relay.visitor, tp.relay.tunnel];
  const per = Math.floor(total / 9);
  const newStreams: string[] = [];
  let newClient = 'not tried';
  let relayUp = true;
  let survived = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const t0 = Date.now();
    const atk = startAttacker({ waves: ports.flatMap((port) => modes.map((mode) => ({ port, mode, count: per }))), sources: 40, concurrency: 400, maxMs: 40_000 });
    // While the flood is on: a new stream through the visitor, and (first round) a new client.
    await new Promise((r) => setTimeout(r, 1500));
    const s0 = Date.now();
    const s = await tp.stream(1024, 15_000);
    newStreams.push(`${s.ok ? 'ok' : `FAILED (${s.how} ${s.error ?? ''})`} in ${Date.now() - s0} ms`);
    if (round === 1) {
      const c0 = Date.now();
      const c2 = tp.track(new TunProcess(['client', '--server', `127.0.0.1:${tp.relay.control}`, '--pubkey', tp.relayKey.pub, '--key', client2.key, '--service', 'other', '--local', `127.0.0.1:${tp.echo.port}`]));
      newClient = await c2.waitFor(/tun client ready/, 30_000).then(
        () => `online in ${Date.now() - c0} ms`,
        () => `FAILED: ${c2.child.exitCode !== null ? `exited ${c2.child.exitCode}: ${oneLine(c2.stderr)}` : 'not online within 30 s'}`,
      );
    }
    const res = await atk.result;
    figure(C, `round ${round}: ${res.waves.length} waves, ${(Date.now() - t0) / 1000} s`);
    for (const w of res.waves) figure(C, `  ${describeWave(w)}`);
    relayUp &&= tp.relay.proc.child.exitCode === null;
    for (const w of res.waves) survived += w.survived;
  }
  const floodEnd = Date.now();
  const rtt = pinger.stop();
  figure(C, `established stream during the flood: ${rtt.n} echoes, rtt p50 ${rtt.p50.toFixed(1)} ms, p99 ${rtt.p99.toFixed(1)} ms, max ${rtt.max.toFixed(1)} ms, ${rtt.failures} failures (plan: p99 < 200 ms)`);
  figure(C, `new streams during the flood: ${newStreams.join('; ')}; a new client: ${newClient}`);
  const logs = lineRate(tp.relay.proc.stderr, floodStart, floodEnd);
  figure(C, `relay log during the flood: ${logs.lines} lines, at most ${logs.busiestSecond} in one second`);
  const afterS = { relay: await settle(tp.relay.pid, before.relay.fds + 4, 20_000), client: await settle(tp.clientPid, before.client.fds + 4, 10_000) };
  const peak = { relay: peaks.relay.stop(), client: peaks.client.stop() };
  usage(C, 'relay', before.relay, peak.relay, afterS.relay);
  usage(C, 'client', before.client, peak.client, afterS.client);
  // Plan: RSS delta < 5 MiB per 1000 attempts (here 3 rounds of `total`).
  const rssTolKb = Math.max(20 * 1024, (5 * 1024 * ROUNDS * total) / 1000);
  const after1 = await tp.stream(1024);
  await judge(t, C, [
    { name: 'the relay stays up and closes every unauthenticated connection', ok: relayUp && survived === 0, detail: `relay running: ${relayUp}; connections left open: ${survived}` },
    { name: 'the established stream never fails', ok: rtt.failures === 0, detail: `${rtt.failures} failed echoes of ${rtt.n + rtt.failures}` },
    { name: 'echo rtt p99 is bounded (< 1000 ms here; plan 200 ms)', ok: rtt.p99 < 1000, detail: `p99 ${rtt.p99.toFixed(1)} ms` },
    { name: 'new streams work during the flood', ok: newStreams.every((x) => x.startsWith('ok')), detail: newStreams.join('; ') },
    { name: 'a new client comes online during the flood', ok: newClient.startsWith('online'), detail: newClient },
    { name: 'no heartbeat timeouts', ok: !/no heartbeat|no answer from the relay/.test(tp.relay.proc.stderr + tp.client.stderr), detail: 'relay and client logs' },
    { name: 'relay logs are aggregated', ok: logs.busiestSecond <= 12, detail: `${logs.busiestSecond} lines in the busiest second` },
    { name: 'relay fds back to baseline', ok: afterS.relay.fds <= before.relay.fds + 4, detail: `${before.relay.fds} -> ${afterS.relay.fds}` },
    { name: 'client fds back to baseline', ok: afterS.client.fds <= before.client.fds + 4, detail: `${before.client.fds} -> ${afterS.client.fds}` },
    { name: 'relay memory bounded', ok: afterS.relay.rssKb - before.relay.rssKb < rssTolKb, detail: `+${afterS.relay.rssKb - before.relay.rssKb} KiB (tolerance ${rssTolKb} KiB)` },
    { name: 'client memory unchanged within 20 MiB', ok: afterS.client.rssKb - before.client.rssKb < 20 * 1024, detail: `+${afterS.client.rssKb - before.client.rssKb} KiB` },
    { name: 'streams work after the flood', ok: after1.ok, detail: `${after1.how} ${after1.error ?? ''}` },
  ]);
});
