/**
 * P2P scenario 3: client behind the home NAT, visitor behind the laptop NAT, both MASQUERADE
 * routers that drop unsolicited inbound (as OpenWrt). UDP hole punching must succeed: new streams
 * move to direct-udp and a 64 MiB transfer leaves the relay's stream ports far below 1 MiB.
 * Variant: both routers accept unsolicited inbound, where (measured on these machines) the first
 * punch packet makes the other router remap and punching fails in every order: tun must stay
 * correct there, either on the relay or on a direct path it did manage, with streams working
 * throughout and data intact.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RelayCounters } from './lib/counters.js';
import { assertRelayIdle, bigUpload, figure, finalCounts, reachDirect, tunNetOn } from './lib/scenario.js';
import { Topology } from './lib/topology.js';
import { MiB, TunNet, sleep } from './lib/tun.js';

const S = 's3 two NATs';

function twoNats(inbound: 'drop' | 'accept'): { topo: Topology; net: TunNet } {
  const topo = Topology.create({ lans: [{ name: 'home', nat: { inbound }, hosts: ['client'] }, { name: 'laptop', nat: { inbound }, hosts: ['visitor'] }] });
  return { topo, net: tunNetOn(topo) };
}

it('both behind dropping MASQUERADE NATs: UDP hole punching succeeds, direct-udp, relay carries no stream bytes', async () => {
  const { topo, net } = twoNats('drop');
  await net.startRelay();
  await net.startClient('client');
  const v = await net.startVisitor('visitor');
  const p = await reachDirect(v, /^direct-udp$/, S);
  assert.match(p.detail, new RegExp(`^${topo.router('home').wanIp.replaceAll('.', '\\.')}:\\d+`), 'the punched path goes to the home router\'s public mapping');
  const relayed = await bigUpload(net, v, S, 'direct-udp through two NATs');
  assertRelayIdle(relayed, 'direct-udp');
  const c = await finalCounts(v);
  figure(S, `streams by path at exit: relay ${c.relay}, direct-tcp ${c['direct-tcp']}, direct-udp ${c['direct-udp']}`);
  assert.equal(c['direct-udp'], 1, 'the 64 MiB stream was counted on direct-udp');
  assert.equal(c.relay, 1, 'only the first stream used the relay');
});

it('both behind NATs that accept unsolicited inbound: tun stays correct (relay or a working direct path), streams never fail', async () => {
  const { net } = twoNats('accept');
  await net.startRelay();
  await net.startClient('client');
  const v = await net.startVisitor('visitor');
  // Streams every 500 ms for 12 s while tun tries (and retries) its candidates: every one must work.
  const results: boolean[] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < 12_000) {
    const r = await v.echo(16 * 1024, 8000);
    results.push(r.ok);
    assert.ok(r.ok, `stream ${results.length} failed (${r.how} ${r.error ?? ''}) while tun tried direct paths through accepting NATs`);
    await sleep(500);
  }
  const paths = v.paths();
  const now = paths.at(-1)?.kind ?? 'relay';
  const before = net.counters.read();
  const up = await v.upload(4 * MiB);
  const after2 = net.counters.read();
  assert.equal(up.got, up.sent, '4 MiB intact on the path tun settled on');
  figure(S, `accepting NATs: ${results.length} streams all ok; path changes: ${paths.map((p) => `${p.kind} ${p.detail}`).join(' | ') || 'none (stayed on the relay)'}; 4 MiB on ${now}: ${RelayCounters.describe(before, after2)}`);
  const relayed = RelayCounters.streamBytes(before, after2);
  if (now === 'relay') assert.ok(relayed >= 4 * MiB, 'on the relay path the relay carries the stream');
  else assert.ok(relayed < MiB, 'on a direct path the relay carries no stream bytes');
  const c = await finalCounts(v);
  assert.equal(c.relay + c['direct-tcp'] + c['direct-udp'], results.length + 1, 'every stream is counted on exactly one path');
});
