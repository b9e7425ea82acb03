/**
 * P2P scenario 2: the client has a public address (no NAT), the visitor sits behind a home NAT
 * router that drops unsolicited inbound. New streams move to a direct path (the visitor can dial
 * the client), and a 64 MiB transfer leaves the relay's stream ports far below 1 MiB.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assertRelayIdle, bigUpload, figure, finalCounts, reachDirect, tunNetOn } from './lib/scenario.js';
import { Topology } from './lib/topology.js';

const S = 's2 public client';

it('client on a public address, visitor behind NAT: direct, and the relay carries no stream bytes', async () => {
  const topo = Topology.create({ lans: [{ name: 'home', nat: { inbound: 'drop' }, hosts: ['visitor'] }], publicHosts: ['client'] });
  const net = tunNetOn(topo);
  await net.startRelay();
  await net.startClient('client');
  const v = await net.startVisitor('visitor');
  const p = await reachDirect(v, /^direct-(tcp|udp)$/, S);
  assert.match(p.detail, new RegExp(`^${topo.host('client').ip.replaceAll('.', '\\.')}:\\d+`), 'the direct path goes to the client\'s public address');
  const relayed = await bigUpload(net, v, S, `${p.kind} to the public client`);
  assertRelayIdle(relayed, `${p.kind}`);
  const c = await finalCounts(v);
  figure(S, `streams by path at exit: relay ${c.relay}, direct-tcp ${c['direct-tcp']}, direct-udp ${c['direct-udp']}`);
  assert.equal(c[p.kind], 1, `the 64 MiB stream was counted on ${p.kind}`);
  assert.equal(c.relay, 1, 'only the first stream used the relay');
});
