/**
 * P2P scenario 4: the client's home router is `MASQUERADE --random-fully` (a new outside port per
 * destination, so hole punching cannot work), the visitor's laptop router drops unsolicited
 * inbound. tun must stay on the relay, and trying P2P must cost the first stream nothing: the
 * first byte of the first stream after start is no later than with `--no-p2p` plus 100 ms (medians
 * over fresh visitors, alternated), and so are 20 sequential streams afterwards.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RelayCounters } from './lib/counters.js';
import { figure, finalCounts, tunNetOn } from './lib/scenario.js';
import { Topology } from './lib/topology.js';
import { MiB, TunNet, median, sleep, type Visitor } from './lib/tun.js';

const S = 's4 random-fully';
const ROUNDS = 7;
const MARGIN_MS = 100;

/** A fresh visitor: the first byte of its first stream, opened the moment it is ready. */
async function firstStream(n: TunNet, p2p: boolean): Promise<{ ms: number; v: Visitor }> {
  const v = await n.startVisitor('visitor', { args: p2p ? [] : ['--no-p2p'], keyNo: p2p ? 0 : 1 });
  const r = await v.firstByte(1);
  assert.equal(r.failures.length, 0, `first stream ${p2p ? 'with' : 'without'} P2P failed: ${r.failures.join('; ')}`);
  return { ms: r.samples[0]!, v };
}

it('one side behind MASQUERADE --random-fully: stays on the relay; first byte no later than --no-p2p + 100 ms', async () => {
  const topo = Topology.create({ lans: [{ name: 'home', nat: { inbound: 'drop', randomFully: true }, hosts: ['client'] }, { name: 'laptop', nat: { inbound: 'drop' }, hosts: ['visitor'] }] });
  const net = tunNetOn(topo);
  await net.startRelay();
  await net.startClient('client');
  const withP2p: number[] = [];
  const without: number[] = [];
  let keep: Visitor | undefined;
  for (let i = 0; i < ROUNDS; i++) {
    const a = await firstStream(net, true);
    withP2p.push(a.ms);
    if (i === ROUNDS - 1) keep = a.v;
    else await a.v.stop();
    const b = await firstStream(net, false);
    without.push(b.ms);
    await b.v.stop();
  }
  figure(S, `first byte of the first stream, ${ROUNDS} fresh visitors each: with P2P median ${median(withP2p).toFixed(1)} ms [${withP2p.map((x) => x.toFixed(1)).join(', ')}], --no-p2p median ${median(without).toFixed(1)} ms [${without.map((x) => x.toFixed(1)).join(', ')}]`);
  assert.ok(median(withP2p) <= median(without) + MARGIN_MS, `trying P2P delayed the first byte: median ${median(withP2p).toFixed(1)} ms vs ${median(without).toFixed(1)} ms with --no-p2p (allowed +${MARGIN_MS} ms)`);

  // The kept P2P visitor: 20 streams while it tries its candidates, then 8 s more to let it give up.
  const v = keep!;
  const steady = await v.firstByte(20, 100);
  assert.equal(steady.failures.length, 0, `streams failed while P2P was tried: ${steady.failures.join('; ')}`);
  const ref = await net.startVisitor('visitor', { args: ['--no-p2p'], keyNo: 1 });
  const refSteady = await ref.firstByte(20, 100);
  figure(S, `20 sequential streams: with P2P p50 ${median(steady.samples).toFixed(1)} ms, --no-p2p p50 ${median(refSteady.samples).toFixed(1)} ms`);
  assert.ok(median(steady.samples) <= median(refSteady.samples) + MARGIN_MS, 'streams while P2P is tried stay as fast as without it (+100 ms)');
  await sleep(8000);
  const direct = v.paths().filter((p) => p.kind !== 'relay');
  assert.deepEqual(direct.map((p) => `${p.kind} ${p.detail}`), [], 'behind a port-randomising NAT no direct path can work; tun must stay on the relay');
  const before = net.counters.read();
  const up = await v.upload(4 * MiB);
  const after2 = net.counters.read();
  assert.equal(up.got, up.sent, '4 MiB intact over the relay');
  assert.ok(RelayCounters.streamBytes(before, after2) >= 4 * MiB, 'the relay carried the stream');
  figure(S, `after 8 s more: path lines ${v.paths().map((p) => `${p.kind} ${p.detail}`).join(' | ') || 'none'}; 4 MiB: ${RelayCounters.describe(before, after2)}`);
  const c = await finalCounts(v);
  assert.equal(c['direct-tcp'] + c['direct-udp'], 0, 'no stream used a direct path');
  assert.equal(c.relay, 1 + 20 + 1, 'every stream was counted on the relay');
  await ref.stop();
});
