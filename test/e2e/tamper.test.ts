/**
 * The relay (or the network) as an attacker: proxies in front of the relay's visitor port record,
 * flip a bit, or cut the stream cleanly. The apps must never see plaintext on the wire, a corrupt
 * byte, or a clean EOF for a stream that was cut.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Lab } from '../helpers/lab.js';
import { Proxy, collect, dial, send, until, type Direction } from '../helpers/net.js';
import { startClient, startRelay, startVisitor, type TunProcess } from '../helpers/proc.js';

// Short stream keepalive for every process this file starts (PING after 500 ms quiet, abort after 1.5 s).
process.env.TUN_SESSION_KEEPALIVE_MS = '500';

describe('a hostile relay path (real CLI processes behind proxies)', () => {
  const lab = new Lab();
  const { keys, procs } = lab;
  const [relayKey, clientKey, visitorKey] = keys.keys('relay', 'client', 'visitor');
  const echo = lab.newEcho();
  const proxies: Proxy[] = [];
  let relayVisitorPort = 0;

  /** A visitor whose connections to the relay pass through a proxy with `tamper`. */
  const visitorBehind = async (tamper?: (dir: Direction, chunk: Buffer, offset: number) => Buffer | 'cut'): Promise<{ port: number; proxy: Proxy; proc: TunProcess }> => {
    const proxy = await new Proxy(relayVisitorPort, tamper).start();
    proxies.push(proxy);
    // The tampering proxy sits on the relay path: the visitor stays on it (--no-p2p).
    const v = await startVisitor(['--server', `127.0.0.1:${proxy.port}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo', '--no-p2p']);
    procs.push(v.proc);
    return { port: v.port, proxy, proc: v.proc };
  };

  before(async () => {
    await echo.start();
    const relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', [clientKey.line])]);
    procs.push(relay.proc);
    relayVisitorPort = relay.visitor;
    procs.push(await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--allow', keys.list('visitors.list', [visitorKey.line])]));
  });

  after(() => lab.cleanup(() => Promise.all(proxies.map((p) => p.stop()))));

  it('no plaintext marker crosses the relay, in either direction', async () => {
    const marker = Buffer.from('TUN-PLAINTEXT-MARKER-7f3a9c');
    const payload = Buffer.concat(Array.from({ length: 50 }, (_, i) => Buffer.concat([marker, Buffer.from(` #${i} `), randomBytes(500)])));
    // The detector works: the same proxy in front of the echo service itself sees the marker.
    const control = await new Proxy(echo.port).start();
    proxies.push(control);
    const c = await dial(control.port);
    const cOut = collect(c);
    await send(c, payload);
    await cOut;
    assert.ok(control.all('up').includes(marker) && control.all('down').includes(marker), 'the recording proxy can see plaintext when there is some');

    const { port, proxy } = await visitorBehind();
    const s = await dial(port);
    const out = collect(s);
    await send(s, payload);
    const o = await out;
    assert.equal(o.how, 'end');
    assert.ok(o.data.equals(payload), 'the app got its echo');
    const up = proxy.all('up');
    const down = proxy.all('down');
    assert.ok(up.length > payload.length && down.length > payload.length, 'the proxy recorded the whole stream');
    assert.equal(up.includes(marker), false, 'no marker visitor -> relay');
    assert.equal(down.includes(marker), false, 'no marker relay -> visitor');
    assert.equal(up.includes(marker.subarray(0, 12)), false);
  });

  /**
   * Sends 400 kB through a visitor behind `tamper` without ending, and checks what a broken stream
   * must look like: both applications see a reset, and every byte either one got is genuine.
   */
  const expectBrokenStream = async (tamper: (dir: Direction, chunk: Buffer, offset: number) => Buffer | 'cut'): Promise<TunProcess> => {
    const { port, proc } = await visitorBehind(tamper);
    const before = echo.connections.length;
    const data = randomBytes(400_000);
    const s = await dial(port);
    const out = collect(s);
    await send(s, data, false);
    const o = await out;
    assert.equal(o.how, 'reset', `the visitor-side app sees a reset (got ${o.how})`);
    assert.ok(o.data.length < data.length, 'the stream was cut short');
    assert.ok(o.data.equals(data.subarray(0, o.data.length)), 'every byte the visitor-side app got is genuine');
    await until(() => echo.connections[before]?.how !== undefined);
    const service = echo.connections[before]!;
    assert.equal(service.how, 'reset', 'the service-side app sees a reset');
    const got = Buffer.concat(service.chunks);
    assert.ok(got.equals(data.subarray(0, got.length)), 'every byte the service got is genuine');
    s.destroy();
    return proc;
  };

  for (const dir of ['up', 'down'] as const) {
    it(`one flipped bit (${dir === 'up' ? 'visitor -> relay' : 'relay -> visitor'}) resets both apps and delivers no corrupt byte`, async () => {
      const flipAt = 40_000;
      await expectBrokenStream((d, chunk, offset) => {
        if (d !== dir || flipAt < offset || flipAt >= offset + chunk.length) return chunk;
        const copy = Buffer.from(chunk);
        copy[flipAt - offset]! ^= 0x10;
        return copy;
      });
    });
  }

  it('a stream cut cleanly (FIN) by the relay reaches the apps as a reset, not EOF', async () => {
    const proc = await expectBrokenStream((d, chunk, offset) => (d === 'down' && offset + chunk.length > 100_000 ? 'cut' : chunk));
    await proc.waitFor(/without an authenticated end of stream/);
  });

  it('a relay that silently stops forwarding (no FIN, no RST) makes both apps see a reset', async () => {
    const proc = await expectBrokenStream((_d, chunk, offset) => (offset + chunk.length > 100_000 ? Buffer.alloc(0) : chunk));
    // Whichever end times out first aborts; the other then sees the tunnel end without a FIN.
    const silence = /nothing arrived in the session for 1\.5 s|no answer to a keepalive probe within 0\.5 s/;
    await proc.waitFor(new RegExp(`${silence.source}|without an authenticated end of stream`));
    await until(() => silence.test(proc.stderr + procs[1]!.stderr));
  });

  it('an idle stream stays open across many keepalive periods', async () => {
    const { port } = await visitorBehind();
    const s = await dial(port);
    const out = collect(s);
    s.write('before the pause;');
    await new Promise((r) => setTimeout(r, 2500));
    s.end(' after the pause');
    const o = await out;
    assert.equal(o.how, 'end');
    assert.equal(o.data.toString(), 'before the pause; after the pause');
  });

  it('a replayed visitor handshake (message 1) never reaches the local service', async () => {
    // Record a genuine stream's first bytes: the Visit frame, then Noise message 1.
    const { port, proxy } = await visitorBehind();
    const before = echo.connections.length;
    const s = await dial(port);
    const out = collect(s);
    await send(s, Buffer.from('genuine'));
    assert.equal((await out).data.toString(), 'genuine');
    assert.equal(echo.connections.length, before + 1);
    const up = proxy.all('up');
    const first = 2 + up.readUInt16BE(0);
    const second = first + 2 + up.readUInt16BE(first);
    const recorded = up.subarray(0, second);

    // Replay them as the relay (or anyone on the path) could: the client answers message 1, but
    // without the visitor's ephemeral key nobody can send the OPEN record, so it never dials.
    const replay = await dial(relayVisitorPort);
    const replayed = collect(replay, 3000);
    replay.write(recorded);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(echo.connections.length, before + 1, 'no new connection to the local service');
    const r = await replayed;
    assert.ok(r.data.length > 0, 'the relay paired the replay and the client answered message 1');
    replay.destroy();
  });

  it('a clean stream through the same relay still ends cleanly', async () => {
    const { port } = await visitorBehind();
    const data = randomBytes(300_000);
    const s = await dial(port);
    const out = collect(s);
    await send(s, data);
    const o = await out;
    assert.equal(o.how, 'end');
    assert.ok(o.data.equals(data));
  });
});
