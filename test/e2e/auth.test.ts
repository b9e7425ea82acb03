/**
 * Control-channel authentication with real processes: a client that pinned another relay key and a
 * client the relay does not list are both refused with a message that says which key and what to
 * do, and an authorized client's streams carry on meanwhile.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Lab } from '../helpers/lab.js';
import { Proxy, collect, dial, roundTrip, until } from '../helpers/net.js';
import { TunProcess, startClient, startRelay, startVisitor } from '../helpers/proc.js';

describe('control channel authentication (real CLI processes)', () => {
  const lab = new Lab();
  const { keys, procs } = lab;
  const [relayKey, impostorKey, clientKey, unknownKey, visitorKey] = keys.keys('relay', 'impostor-relay', 'client', 'unknown-client', 'visitor');
  const echo = lab.newEcho();
  const proxies: Proxy[] = [];
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let visitorPort = 0;

  const streamWorks = async (): Promise<void> => {
    const data = randomBytes(100_000);
    const out = await roundTrip(visitorPort, data);
    assert.equal(out.how, 'end');
    assert.ok(out.data.equals(data), 'the authorized client still serves streams');
  };

  before(async () => {
    await echo.start();
    relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', [clientKey.line])]);
    procs.push(relay.proc);
    procs.push(await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--allow', keys.list('visitors.list', [visitorKey.line])]));
    const v = await startVisitor(['--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo']);
    procs.push(v.proc);
    visitorPort = v.port;
    await streamWorks();
  });

  after(() => lab.cleanup(() => Promise.all(proxies.map((p) => p.stop()))));

  it('a client that pinned another relay key says "relay key mismatch: expected ... got ..." and retries with backoff (the answer is unauthenticated)', async () => {
    const p = new TunProcess(['client', '--server', `127.0.0.1:${relay.control}`, '--pubkey', impostorKey.pub, '--key', clientKey.key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`]);
    procs.push(p);
    const mismatch = new RegExp(`relay key mismatch: expected ${impostorKey.fingerprint} got ${relayKey.fingerprint}[^\n]*hint: check --pubkey`, 'g');
    await p.waitFor(mismatch);
    await p.waitFor(/reconnecting to [^\n]* in \d/);
    // A second attempt after the backoff, with the same one-line report; the process lives on.
    await until(() => (p.stderr.match(mismatch) ?? []).length >= 2, 10_000);
    assert.equal(p.child.exitCode, null, 'one forged or mistaken answer does not stop the client');
    assert.doesNotMatch(p.stderr, /at .*\.js:\d+/, 'no stack trace');
    await p.stop();
    await streamWorks();
  });

  it('a client key the relay does not list is refused; both sides name the key', async () => {
    const p = new TunProcess(['client', '--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', unknownKey.key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`]);
    procs.push(p);
    assert.equal(await p.exited, 1);
    assert.match(p.stderr, new RegExp(`client key ${unknownKey.fingerprint} not authorized by relay ${relayKey.fingerprint}`));
    assert.match(p.stderr, /hint: append this client's \.pub line to the relay's --authorized file/);
    await relay.proc.waitFor(new RegExp(`client key ${unknownKey.fingerprint} not authorized .*add its \\.pub line to .*clients\\.list`));
    await streamWorks();
  });

  it('an unauthorized client cannot claim the authorized client\'s service', async () => {
    // Routes are (client key, service): a visitor pinned to the unknown key is told it is offline,
    // never connected to the real client's service.
    const v = new TunProcess(['visit', '--listen', '127.0.0.1:0', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', unknownKey.pub, '--key', visitorKey.key, '--service', 'echo']);
    procs.push(v);
    const port = Number((await v.waitFor(/listening on port (\d+)/))[1]);
    const s = await dial(port);
    const out = collect(s);
    s.end('x');
    assert.equal((await out).how, 'reset');
    await v.waitFor(/client_offline/);
  });

  it('a second client with the same key takes over; the first is told why and backs off', async () => {
    const first = procs[1]!;
    const second = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--allow', keys.list('visitors2.list', [visitorKey.line])]);
    procs.push(second);
    await first.waitFor(new RegExp(`another tun client with key ${clientKey.fingerprint} connected to the relay and took over[\\s\\S]*retrying in 30 s`));
    await relay.proc.waitFor(/connected again; closing its previous control connection/);
    await streamWorks();
    assert.equal((second.stderr.match(/took over/g) ?? []).length, 0, 'the newer client keeps the session');
  });

  it('a replayed control handshake (message 1) registers nothing and evicts nobody', async () => {
    // A client whose control connection passes a recording proxy takes the session over...
    const proxy = await new Proxy(relay.control).start();
    proxies.push(proxy);
    const c = await startClient(['--server', `127.0.0.1:${proxy.port}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--allow', keys.list('visitors3.list', [visitorKey.line])]);
    procs.push(c);
    await streamWorks();
    const up = proxy.all('up');
    const message1 = up.subarray(0, 2 + up.readUInt16BE(0));
    const takeovers = (relay.proc.stderr.match(/connected again/g) ?? []).length;
    // ...then its message 1 is replayed: the relay answers it, but nothing happens without the
    // first transport message, which the replayer cannot produce.
    const replay = await dial(relay.control);
    const replayed = collect(replay, 8000);
    replay.write(message1);
    const r = await replayed;
    assert.ok(r.data.length > 0, 'the relay answered message 1');
    assert.notEqual(r.how, 'timeout', 'and closed the connection at its handshake deadline');
    assert.equal((relay.proc.stderr.match(/connected again/g) ?? []).length, takeovers, 'the live session was not replaced');
    assert.doesNotMatch(c.stderr, /took over/);
    await streamWorks();
    // c stays the live client (through the proxy) for the tests below.
  });

  it('garbage on all three relay ports closes those connections and hurts nothing else', async () => {
    const ports = [relay.control, relay.visitor, relay.tunnel];
    const payloads = [
      () => randomBytes(1 + Math.floor(Math.random() * 3000)),
      () => Buffer.from([0xff, 0xff, ...randomBytes(100)]), // a length far above every pre-auth limit
      () => Buffer.from([0x00, 0x00]), // a zero-length frame
      () => Buffer.concat([Buffer.from([0x00, 0x20]), Buffer.from([0x92, 0x10, 0xdf, 0xff, 0xff, 0xff, 0xff]), randomBytes(25)]), // msgpack map claiming 4G entries
    ];
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const s = await dial(ports[i % 3]!);
        const out = collect(s, 10_000);
        s.write(payloads[i % payloads.length]!());
        const o = await out;
        assert.notEqual(o.how, 'timeout', `port ${ports[i % 3]} closed the connection`);
      }),
    );
    assert.equal(relay.proc.child.exitCode, null, 'the relay is still running');
    await streamWorks();
  });

  it('the relay refuses garbage on the control port without hurting sessions', async () => {
    const s = await dial(relay.control);
    const out = collect(s, 10_000);
    s.write(Buffer.concat([Buffer.from([0x00, 0x60]), randomBytes(96)]));
    const o = await out;
    assert.notEqual(o.how, 'timeout', 'the relay closed the connection');
    await streamWorks();
  });
});
