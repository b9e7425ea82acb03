/** The client outlives its relay: after a relay restart it reconnects (with backoff) and serves again. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { Lab } from '../helpers/lab.js';
import { collect, dial, freePort, roundTrip, until, type EchoConnection, type Outcome } from '../helpers/net.js';
import { TunProcess, startClient, startRelay, startVisitor } from '../helpers/proc.js';

const lab = new Lab();
const { keys, procs } = lab;
const echo = lab.newEcho();

before(async () => {
  await echo.start();
});

after(() => lab.cleanup());

async function echoes(port: number): Promise<void> {
  const data = randomBytes(50_000);
  const o = await roundTrip(port, data);
  assert.equal(o.how, 'end');
  assert.ok(o.data.equals(data));
}

it('a client reconnects after the relay restarts, and streams work again', async () => {
  const relayKey = keys.key('relay');
  const clientKey = keys.key('client');
  const visitorKey = keys.key('visitor');
  const list = keys.list('clients.list', [clientKey.line]);
  const ports = [await freePort(), await freePort(), await freePort()];
  const relayArgs = ['server', '--key', relayKey.key, '--authorized', list, '--bind', '127.0.0.1', '--control-port', String(ports[0]), '--visitor-port', String(ports[1]), '--tunnel-port', String(ports[2])];
  const relay1 = new TunProcess(relayArgs);
  procs.push(relay1);
  await relay1.waitFor(/tun server ready/);
  const client = await startClient(['--server', `127.0.0.1:${ports[0]}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--allow', keys.list('visitors.list', [visitorKey.line])]);
  procs.push(client);
  // This test is about the relay path: the visitor stays on it (--no-p2p).
  const v = await startVisitor(['--server', `127.0.0.1:${ports[1]}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo', '--no-p2p']);
  procs.push(v.proc);
  await echoes(v.port);
  // A stream open while the relay goes away is cut: the application sees a reset, not EOF.
  const held = await dial(v.port);
  const heldOut = collect(held);
  const echoed = new Promise((resolve) => held.once('data', resolve));
  held.write('still here?');
  await echoed;

  // New connections keep arriving while the session is lost and reopened: each one either echoes
  // in full and ends cleanly, or is reset — none is cut short with a clean EOF, none hangs.
  const traffic = trafficUntil(v.port);
  const t0 = Date.now();
  assert.equal(await relay1.stop(), 0, 'the relay exits 0 on SIGTERM');
  assert.ok(Date.now() - t0 < 2500, 'open streams do not hold the relay up');
  const cut = await heldOut;
  assert.equal(cut.how, 'reset');
  assert.equal(cut.data.toString(), 'still here?');
  await client.waitFor(/control connection lost[\s\S]*reconnecting to 127\.0\.0\.1:\d+ in [\d.]+ s/);
  const relay2 = new TunProcess(relayArgs);
  procs.push(relay2);
  await relay2.waitFor(/tun server ready/);
  await relay2.waitFor(/client \w+ \(client\) online/, 20_000);
  await echoes(v.port);
  const outcomes = await traffic.stop();
  const bad = outcomes.filter((o) => !(o.how === 'reset' || (o.how === 'end' && o.ok)));
  assert.deepEqual(bad.map((o) => `${o.how}${o.ok ? '' : ' (short or wrong data)'}`), [], 'every connection ended in full or with a reset');
  assert.ok(outcomes.some((o) => o.how === 'reset'), 'some connections met the lost session');
  assert.ok(outcomes.some((o) => o.how === 'end'), 'some connections went through');
  console.log(`connections during the relay restart: ${outcomes.length}, ${outcomes.filter((o) => o.how === 'end').length} echoed in full, ${outcomes.filter((o) => o.how === 'reset').length} reset`);
});

/** Opens a connection every 25 ms (each echoing 20 kB) until stop(); at most 2000, each bounded by collect's timeout. */
function trafficUntil(port: number): { stop: () => Promise<(Outcome & { ok: boolean })[]> } {
  const runs: Promise<Outcome & { ok: boolean }>[] = [];
  let stopped = false;
  const one = async (): Promise<Outcome & { ok: boolean }> => {
    const data = randomBytes(20_000);
    let s;
    try {
      s = await dial(port);
    } catch {
      return { how: 'reset', data: Buffer.alloc(0), ok: false };
    }
    const out = collect(s, 15_000);
    s.on('error', () => {});
    s.end(data);
    const o = await out;
    return { ...o, ok: o.data.equals(data) };
  };
  const timer = setInterval(() => {
    if (!stopped && runs.length < 2000) runs.push(one());
  }, 25);
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      return Promise.all(runs);
    },
  };
}

it('stopping the client or the visitor mid-stream resets the applications, never a clean end', async () => {
  const relayKey = keys.key('relay2');
  const clientKey = keys.key('client2');
  const visitorKey = keys.key('visitor2');
  const relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients2.list', [clientKey.line])]);
  procs.push(relay.proc);
  const clientArgs = ['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--allow', keys.list('visitors2.list', [visitorKey.line])];
  const client = await startClient(clientArgs);
  procs.push(client);
  const v = await startVisitor(['--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo']);
  procs.push(v.proc);

  const openStream = async (): Promise<{ out: Promise<Outcome>; service: EchoConnection }> => {
    const before = echo.connections.length;
    const s = await dial(v.port);
    const out = collect(s);
    const echoed = new Promise((resolve) => s.once('data', resolve));
    s.write('ping');
    await echoed;
    return { out, service: echo.connections[before]! };
  };

  const first = await openStream();
  assert.equal(await client.stop(), 0);
  assert.equal((await first.out).how, 'reset', 'the visitor-side app sees a reset when the client stops');
  await until(() => first.service.how !== undefined);
  assert.equal(first.service.how, 'reset', 'the local service sees a reset when the client stops');

  const client2 = await startClient(clientArgs);
  procs.push(client2);
  const second = await openStream();
  assert.equal(await v.proc.stop(), 0);
  assert.equal((await second.out).how, 'reset', 'the app sees a reset when the visitor stops');
  await until(() => second.service.how !== undefined);
  assert.equal(second.service.how, 'reset', 'the local service sees a reset when the visitor stops');
});

