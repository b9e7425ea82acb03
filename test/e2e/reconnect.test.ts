/** The client outlives its relay: after a relay restart it reconnects (with backoff) and serves again. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, it } from 'node:test';
import { KeyDir } from '../helpers/keys.js';
import { EchoService, collect, dial, freePort, send } from '../helpers/net.js';
import { TunProcess, startClient, startVisitor } from '../helpers/proc.js';

const keys = new KeyDir();
const echo = new EchoService();
const procs: TunProcess[] = [];

after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await echo.stop();
  keys.remove();
});

async function roundTrip(port: number): Promise<void> {
  const data = randomBytes(50_000);
  const s = await dial(port);
  const out = collect(s);
  await send(s, data);
  const o = await out;
  assert.equal(o.how, 'end');
  assert.ok(o.data.equals(data));
}

it('a client reconnects after the relay restarts, and streams work again', async () => {
  await echo.start();
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
  const v = await startVisitor(['--server', `127.0.0.1:${ports[1]}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo']);
  procs.push(v.proc);
  await roundTrip(v.port);
  // A stream open while the relay goes away is cut: the application sees a reset, not EOF.
  const held = await dial(v.port);
  const heldOut = collect(held);
  const echoed = new Promise((resolve) => held.once('data', resolve));
  held.write('still here?');
  await echoed;

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
  await roundTrip(v.port);
});
