/**
 * P2P scenario 1: client and visitor on the same home LAN behind a NAT router (that drops
 * unsolicited inbound). The visitor's first stream starts on the relay at once; new streams then
 * move to direct TCP on the LAN, and a 64 MiB transfer leaves the relay's visitor and tunnel
 * ports (iptables counters in its namespace) far below 1 MiB.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assertRelayIdle, bigUpload, figure, finalCounts, reachDirect, tunNetOn } from './lib/scenario.js';
import { Topology } from './lib/topology.js';

const S = 's1 same LAN';

it('same LAN: new streams go direct over TCP and the relay carries no stream bytes', async () => {
  const topo = Topology.create({ lans: [{ name: 'home', nat: { inbound: 'drop' }, hosts: ['client', 'visitor'] }] });
  const net = tunNetOn(topo);
  await net.startRelay();
  await net.startClient('client');
  const v = await net.startVisitor('visitor');
  const p = await reachDirect(v, /^direct-tcp$/, S);
  assert.match(p.detail, new RegExp(`^${topo.host('client').ip.replaceAll('.', '\\.')}:\\d+`), 'same LAN: the direct path is the client\'s LAN address');
  const relayed = await bigUpload(net, v, S, 'direct-tcp on the LAN');
  assertRelayIdle(relayed, 'same-LAN direct');
  const c = await finalCounts(v);
  figure(S, `streams by path at exit: relay ${c.relay}, direct-tcp ${c['direct-tcp']}, direct-udp ${c['direct-udp']}`);
  assert.equal(c['direct-tcp'], 1, 'the 64 MiB stream was counted on direct-tcp');
  assert.equal(c.relay, 1, 'only the first stream used the relay');
});
