/**
 * P2P scenario 5: the direct path is blackholed mid-session (iptables DROP both ways in the public
 * namespace between the two sides' public addresses; their traffic to the relay still flows).
 * Within 3 s the visitor logs `path: relay (...)` and new streams flow via the relay (the relay's
 * counters carry them); a stream that was open on the direct path ends with a reset, not a hang.
 * When the blackhole is lifted, the re-probe (TUN_P2P_REPROBE_MS=1000 here) moves new streams
 * back to a direct path, and the relay carries none of their bytes. Run on a punched UDP path (two
 * dropping NATs) and on a direct TCP path (client on a public address, UDP between the two sides
 * blocked throughout so that TCP is the direct path).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RelayCounters, kib } from './lib/counters.js';
import { figure, finalCounts, reachDirect, onTeardown, tunNetOn } from './lib/scenario.js';
import { Topology, type Host } from './lib/topology.js';
import { MiB, sleep } from './lib/tun.js';

const S = 's5 blackhole';
const REPROBE_MS = 1000;
const RELAY_WITHIN_MS = 3000;
// "A reset, not a hang": the direct path is closed (and its open streams reset) after 6 s of
// silence (docs/protocol.md §12, moving between paths); 9 s of margin for a loaded machine.
const RESET_WITHIN_MS = 15_000;
const BACK_WITHIN_MS = REPROBE_MS + 15_000;
const env = { TUN_P2P_REPROBE_MS: String(REPROBE_MS) };

async function scenario(label: string, topo: Topology, kind: RegExp, a: Host, b: Host): Promise<void> {
  const net = tunNetOn(topo);
  // For the TCP case, UDP between the two sides is blocked from the start, so direct TCP is the
  // only direct path (tun would otherwise be free to pick a punched UDP path to the public client).
  if (label === 'tcp') topo.blackhole(a, b, true, 'udp');
  await net.startRelay();
  await net.startClient('client', { env });
  const v = await net.startVisitor('visitor', { env });
  const direct = await reachDirect(v, kind, `${S} ${label}`);
  let opened = 1;
  // Phase A: on the direct path.
  for (let i = 0; i < 3; i++, opened++) assert.ok((await v.echo(64 * 1024)).ok, 'direct stream before the blackhole');
  const held = await v.hold(100);
  opened++;
  await sleep(500);
  assert.ok((await held()).pings >= 2, 'the held stream pings over the direct path');

  // Phase B: blackhole the direct path.
  const mark = v.mark;
  const tB = Date.now();
  topo.blackhole(a, b, true);
  onTeardown(() => topo.blackhole(a, b, false));
  const toRelay = await v.waitPath(/^relay$/, RELAY_WITHIN_MS + 5000, mark);
  const movedMs = toRelay.at - tB;
  await sleep(Math.max(0, tB + RELAY_WITHIN_MS - Date.now()));
  const before = net.counters.read();
  const during: number[] = [];
  for (let i = 0; i < 3; i++, opened++) {
    const r = await v.echo(MiB, 5000);
    assert.ok(r.ok, `a new stream ${((Date.now() - tB) / 1000).toFixed(1)} s after the blackhole failed: ${r.how} ${r.error ?? ''}`);
    during.push(r.ms);
  }
  const afterB = net.counters.read();
  const viaRelay = RelayCounters.streamBytes(before, afterB);
  let h = await held();
  while (h.open && Date.now() - tB < RESET_WITHIN_MS) {
    await sleep(100);
    h = await held();
  }
  figure(`${S} ${label}`, `blackholed ${direct.kind}: "path: relay ${toRelay.detail}" ${movedMs} ms after; 3 new 1 MiB streams ok (${during.map((x) => x.toFixed(0)).join(', ')} ms), relay carried ${kib(viaRelay)}; held stream: ${h.open ? 'still open' : `${h.how} (${h.error ?? ''}) ${h.endedAt! - tB} ms after`}`);
  assert.ok(movedMs <= RELAY_WITHIN_MS, `new streams must move to the relay within ${RELAY_WITHIN_MS} ms of the blackhole; the path line came after ${movedMs} ms`);
  assert.ok(viaRelay >= 3 * MiB, `the 3 new streams must have gone through the relay (it carried ${kib(viaRelay)})`);
  assert.equal(h.open, false, `a stream open on the blackholed direct path still hangs ${RESET_WITHIN_MS} ms later (it must end with a reset)`);
  assert.equal(h.how, 'reset', `a stream open on the blackholed direct path must end with a reset, not ${h.how}`);

  // Phase C: restore; the re-probe brings new streams back to a direct path.
  const mark2 = v.mark;
  const tR = Date.now();
  topo.blackhole(a, b, false);
  const back = await v.waitPath(kind, BACK_WITHIN_MS, mark2);
  const before2 = net.counters.read();
  for (let i = 0; i < 3; i++, opened++) assert.ok((await v.echo(MiB, 5000)).ok, 'a new stream after the direct path came back');
  const afterC = net.counters.read();
  const relayedC = RelayCounters.streamBytes(before2, afterC);
  figure(`${S} ${label}`, `restored: "path: ${back.kind} ${back.detail}" ${back.at - tR} ms after; 3 new 1 MiB streams moved ${kib(relayedC)} through the relay`);
  assert.ok(relayedC < MiB, `after the direct path returned, new streams must not use the relay (it carried ${kib(relayedC)} of 3 MiB echoed)`);
  const c = await finalCounts(v);
  figure(`${S} ${label}`, `streams by path at exit: relay ${c.relay}, direct-tcp ${c['direct-tcp']}, direct-udp ${c['direct-udp']} (opened ${opened})`);
  assert.equal(c.relay, 1 + 3, 'relay: the first stream and the 3 during the blackhole');
  assert.equal(c['direct-tcp'] + c['direct-udp'], 3 + 1 + 3, 'direct: 3 before, the held one, 3 after');
}

it('punched UDP path blackholed: relay within 3 s, open streams reset, back to direct-udp when restored', async () => {
  const topo = Topology.create({ lans: [{ name: 'home', nat: { inbound: 'drop' }, hosts: ['client'] }, { name: 'laptop', nat: { inbound: 'drop' }, hosts: ['visitor'] }] });
  await scenario('udp', topo, /^direct-udp$/, topo.host('client'), topo.host('visitor'));
});

it('direct TCP path to a public client blackholed: relay within 3 s, open streams reset, back to direct when restored', async () => {
  const topo = Topology.create({ lans: [{ name: 'home', nat: { inbound: 'drop' }, hosts: ['visitor'] }], publicHosts: ['client'] });
  await scenario('tcp', topo, /^direct-tcp$/, topo.host('client'), topo.host('visitor'));
});
