/**
 * P2P scenario 6: 64 MiB intact (sha256) both ways over each path, in one topology: the client on
 * the home LAN; a visitor on the same LAN (direct-tcp), one behind the laptop NAT (direct-udp,
 * punched through two dropping routers) and one there with `--no-p2p` (relay). The relay's
 * counters confirm which path carried the bytes.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assertRelayIdle, BIG, bigDownload, bigUpload, figure, finalCounts, reachDirect, tunNetOn } from './lib/scenario.js';
import { Topology } from './lib/topology.js';

const S = 's6 intact';

it('64 MiB intact (sha256) up and down over the relay, direct-tcp and direct-udp', async () => {
  const topo = Topology.create({ lans: [{ name: 'home', nat: { inbound: 'drop' }, hosts: ['client', 'lan'] }, { name: 'laptop', nat: { inbound: 'drop' }, hosts: ['visitor'] }] });
  const net = tunNetOn(topo);
  await net.startRelay();
  await net.startClient('client');

  const relay = await net.startVisitor('visitor', { args: ['--no-p2p'], keyNo: 1 });
  const r1 = await bigUpload(net, relay, S, 'relay (--no-p2p)');
  const r2 = await bigDownload(net, relay, S, 'relay (--no-p2p)');
  assert.ok(r1.ip >= BIG && r2.ip >= BIG, 'with --no-p2p the relay carries the whole stream (its ports)');
  if (r1.own !== undefined && r2.own !== undefined) assert.ok(r1.own >= BIG && r2.own >= BIG, 'with --no-p2p the relay counts the whole stream itself (tun_bytes_total)');
  assert.deepEqual(relay.paths().filter((p) => p.kind !== 'relay'), [], 'a --no-p2p visitor never leaves the relay');
  const c1 = await finalCounts(relay);
  assert.equal(c1.relay, 2);

  for (const [host, kind, keyNo] of [['lan', 'direct-tcp', 2], ['visitor', 'direct-udp', 0]] as const) {
    const v = await net.startVisitor(host, { keyNo });
    await reachDirect(v, new RegExp(`^${kind}$`), S);
    assertRelayIdle(await bigUpload(net, v, S, kind), kind);
    assertRelayIdle(await bigDownload(net, v, S, kind), kind);
    const c = await finalCounts(v);
    figure(S, `${kind} visitor, streams by path at exit: relay ${c.relay}, direct-tcp ${c['direct-tcp']}, direct-udp ${c['direct-udp']}`);
    assert.equal(c[kind], 2, `both 64 MiB streams counted on ${kind}`);
  }
});
