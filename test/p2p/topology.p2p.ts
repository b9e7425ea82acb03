/**
 * Self-test of the P2P topology with plain tools (no tun): proves the harness is what the
 * scenarios claim before any tun behaviour is judged on it. MASQUERADE rewrites sources to the
 * router's WAN address; a dropping router lets no unsolicited packet in; a UDP punch between
 * two dropping routers works; between two accepting routers the first punch packet makes the
 * other router remap and the punch fails; `--random-fully` gives a new outside port per
 * destination and defeats punching; and every namespace is gone after down(), after a crash,
 * and after a kill (swept by the next run).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Agent } from './lib/agent-client.js';
import { run } from './lib/sh.js';
import { RELAY_IP, Topology, ownNamespaces, type NatSpec } from './lib/topology.js';

const agents: Agent[] = [];
const topologies: Topology[] = [];
after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  for (const t of topologies) t.down();
});

async function agentIn(ns: string, label: string): Promise<Agent> {
  const a = await Agent.start(ns, label);
  agents.push(a);
  return a;
}

function twoLans(home: NatSpec, laptop: NatSpec): Topology {
  const t = Topology.create({ lans: [{ name: 'home', nat: home, hosts: ['a'] }, { name: 'laptop', nat: laptop, hosts: ['b'] }] });
  topologies.push(t);
  return t;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
type Got = { got: { from: string; text: string }[] };

/** Binds a UDP socket on `a`, learns its outside mapping from the observer, returns both. */
async function mapping(a: Agent, observerPort: number): Promise<{ sid: number; local: number; outside: string }> {
  const b = await a.call<{ id: number; sid: number; port: number }>('udp-bind', {});
  for (let i = 0; i < 20; i++) {
    await a.call('udp-send', { sid: b.sid, host: RELAY_IP, port: observerPort, text: 'who' });
    await sleep(50);
    const g = await a.call<Got & { id: number }>('udp-recv', { sid: b.sid });
    const seen = g.got.find((m) => m.from === `${RELAY_IP}:${observerPort}`);
    if (seen) return { sid: b.sid, local: b.port, outside: seen.text };
  }
  throw new Error('no answer from the UDP observer');
}

/** A punch between a and b: a sends first, then both send 10 packets; returns what each received from the other. */
async function punch(a: Agent, b: Agent, observer: number): Promise<{ aGot: number; bGot: number; ma: string; mb: string }> {
  const ma = await mapping(a, observer);
  const mb = await mapping(b, observer);
  const [hb, pb] = mb.outside.split(':');
  const [ha, pa] = ma.outside.split(':');
  await a.call('udp-send', { sid: ma.sid, host: hb, port: Number(pb), text: 'punch-a' });
  await sleep(100);
  await Promise.all([
    a.call('udp-send', { sid: ma.sid, host: hb, port: Number(pb), text: 'punch-a', count: 10, everyMs: 50 }),
    b.call('udp-send', { sid: mb.sid, host: ha, port: Number(pa), text: 'punch-b', count: 10, everyMs: 50 }),
  ]);
  await sleep(200);
  const ga = await a.call<Got & { id: number }>('udp-recv', { sid: ma.sid });
  const gb = await b.call<Got & { id: number }>('udp-recv', { sid: mb.sid });
  return { aGot: ga.got.filter((m) => m.text === 'punch-b').length, bGot: gb.got.filter((m) => m.text === 'punch-a').length, ma: ma.outside, mb: mb.outside };
}

describe('P2P topology self-test (plain tools)', () => {
  it('MASQUERADE shows the router WAN address; a dropping router lets no unsolicited packet in', async () => {
    const t = twoLans({ inbound: 'drop' }, { inbound: 'drop' });
    const pub = await agentIn(t.publicNs, 'pub');
    const a = await agentIn(t.host('a').ns, 'a');
    const obs = await pub.call<{ id: number; port: number }>('tcp-observe', { host: RELAY_IP });
    const seen = await a.call<{ id: number; ok: boolean; text: string }>('tcp-ask', { host: RELAY_IP, port: obs.port });
    assert.ok(seen.ok, 'TCP from the home LAN to the relay address works');
    assert.equal(seen.text.split(':')[0], t.router('home').wanIp, 'the public side sees the router WAN address');
    const udpObs = await pub.call<{ id: number; port: number }>('udp-bind', { host: RELAY_IP, observe: true });
    const m = await mapping(a, udpObs.port);
    assert.equal(m.outside.split(':')[0], t.router('home').wanIp);
    assert.equal(m.outside.split(':')[1], String(m.local), 'plain MASQUERADE keeps a free source port');
    // From the same public host but another port: not part of the mapping, so dropped.
    const other = await pub.call<{ id: number; sid: number }>('udp-bind', { host: RELAY_IP });
    await pub.call('udp-send', { sid: other.sid, host: t.router('home').wanIp, port: Number(m.outside.split(':')[1]), text: 'unsolicited', count: 3, everyMs: 30 });
    await sleep(200);
    const got = await a.call<Got & { id: number }>('udp-recv', { sid: m.sid });
    assert.equal(got.got.filter((x) => x.text === 'unsolicited').length, 0, 'an unsolicited datagram must not reach the host');
    // TCP to the router WAN from outside: dropped (a timeout, not a refusal).
    const tcp = await pub.call<{ id: number; ok: boolean; error?: string }>('tcp-ask', { host: t.router('home').wanIp, port: 22, timeoutMs: 1000 });
    assert.equal(tcp.ok, false);
    assert.match(String(tcp.error), /timed out/, 'a dropping router answers nothing (no RST)');
    // The public side knows no route to a private LAN.
    const priv = await pub.call<{ id: number; ok: boolean; error?: string }>('tcp-ask', { host: t.host('a').ip, port: 22, timeoutMs: 1000 });
    assert.equal(priv.ok, false);
    console.log(`[topology] home host ${t.host('a').ip} appears as ${m.outside}; unsolicited UDP and TCP dropped; private LAN unroutable from outside (${priv.error})`);
  });

  it('a UDP punch between two hosts behind dropping MASQUERADE routers succeeds both ways', async () => {
    const t = twoLans({ inbound: 'drop' }, { inbound: 'drop' });
    const pub = await agentIn(t.publicNs, 'pub');
    const obs = await pub.call<{ id: number; port: number }>('udp-bind', { host: RELAY_IP, observe: true });
    const r = await punch(await agentIn(t.host('a').ns, 'a'), await agentIn(t.host('b').ns, 'b'), obs.port);
    console.log(`[topology] drop/drop punch ${r.ma} <-> ${r.mb}: a got ${r.aGot}, b got ${r.bGot}`);
    assert.ok(r.aGot >= 5 && r.bGot >= 5, `punch should pass both routers (a got ${r.aGot}, b got ${r.bGot})`);
  });

  it('between two routers that accept unsolicited inbound, the first punch packet makes the other router remap and the punch fails', async () => {
    const t = twoLans({ inbound: 'accept' }, { inbound: 'accept' });
    const pub = await agentIn(t.publicNs, 'pub');
    const obs = await pub.call<{ id: number; port: number }>('udp-bind', { host: RELAY_IP, observe: true });
    const r = await punch(await agentIn(t.host('a').ns, 'a'), await agentIn(t.host('b').ns, 'b'), obs.port);
    console.log(`[topology] accept/accept punch ${r.ma} <-> ${r.mb}: a got ${r.aGot}, b got ${r.bGot}`);
    assert.ok(r.aGot === 0 || r.bGot === 0, 'a punch through accepting routers should fail at least one way (as measured on these machines)');
  });

  it('MASQUERADE --random-fully gives a new outside port per destination and a punch through it fails', async () => {
    const t = twoLans({ inbound: 'drop', randomFully: true }, { inbound: 'drop' });
    const pub = await agentIn(t.publicNs, 'pub');
    const o1 = await pub.call<{ id: number; port: number }>('udp-bind', { host: RELAY_IP, observe: true });
    const o2 = await pub.call<{ id: number; port: number }>('udp-bind', { host: RELAY_IP, observe: true });
    const a = await agentIn(t.host('a').ns, 'a');
    const m1 = await mapping(a, o1.port);
    await a.call('udp-send', { sid: m1.sid, host: RELAY_IP, port: o2.port, text: 'who' });
    await sleep(200);
    const g = await a.call<Got & { id: number }>('udp-recv', { sid: m1.sid });
    const second = g.got.find((x) => x.from === `${RELAY_IP}:${o2.port}`);
    assert.ok(second, 'the second observer answers');
    console.log(`[topology] random-fully: local port ${m1.local} appears as ${m1.outside} to one observer and ${second.text} to another`);
    assert.notEqual(second.text, m1.outside, 'a random-fully NAT maps each destination to its own port');
    const r = await punch(a, await agentIn(t.host('b').ns, 'b'), o1.port);
    console.log(`[topology] random-fully/drop punch: a got ${r.aGot}, b got ${r.bGot}`);
    assert.ok(r.aGot === 0 || r.bGot === 0, 'a punch through a random-fully NAT must not work both ways');
  });

  it('every namespace is deleted by down(), after a crash, and (by the next run) after a kill', () => {
    const t = Topology.create({ lans: [{ name: 'home', nat: { inbound: 'drop' }, hosts: ['a', 'b'] }], publicHosts: ['p'] });
    const names = [...t.namespaces];
    assert.equal(names.length, 5, 'pub, router, two home hosts, one public host');
    assert.equal(new Set(names).size, names.length);
    t.down();
    assert.deepEqual(ownNamespaces().filter((n) => names.includes(n)), [], 'down() leaves no namespace');
    const lib = join(dirname(fileURLToPath(import.meta.url)), 'lib', 'topology.js');
    const script = (end: string): string => `import { Topology } from ${JSON.stringify(lib)}; const t = Topology.create({ lans: [{ name: 'home', nat: { inbound: 'drop' }, hosts: ['a'] }] }); console.log(t.id); ${end}`;
    const list = (): string => run('ip', ['netns', 'list']);
    const crash = spawnSync(process.execPath, ['--input-type=module', '-e', script("throw new Error('crash');")], { encoding: 'utf8' });
    assert.notEqual(crash.status, 0);
    const crashId = crash.stdout.trim();
    assert.ok(crashId, crash.stderr);
    assert.ok(!list().includes(`tp2p-${crashId}-`), 'a crashed run leaves no namespace');
    const killed = spawnSync(process.execPath, ['--input-type=module', '-e', script("process.kill(process.pid, 'SIGKILL');")], { encoding: 'utf8' });
    const killedId = killed.stdout.trim();
    assert.ok(killedId, killed.stderr);
    assert.ok(list().includes(`tp2p-${killedId}-`), 'a killed run cannot clean up itself');
    Topology.create({ lans: [] }).down();
    assert.ok(!list().includes(`tp2p-${killedId}-`), 'the next run sweeps what a killed run left');
  });

  it('a namespace that cannot be created fails loudly', () => {
    const before = ownNamespaces();
    assert.throws(() => Topology.create({ lans: [{ name: 'home', nat: { inbound: 'drop' }, hosts: ['x', 'x'] }] }), /cannot build the P2P test topology: .*netns add/);
    assert.deepEqual(ownNamespaces(), before, 'a failed build deletes what it made');
  });
});
