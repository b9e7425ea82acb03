/**
 * PROXY protocol towards the local service (`--proxy-protocol v1|v2` after a client's --service):
 * a local server that parses the header sees the address the relay saw. Public mode: the plain
 * TCP user's own address and port (here a connection from 127.0.0.2). Session mode: the visitor
 * agent's address as the relay saw it, on every stream. A service without the flag gets no header.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Lab } from '../helpers/lab.js';
import { close, collect, freePort, listenOn, roundTrip, send, until } from '../helpers/net.js';
import { TunProcess, startClient, startRelay, startVisitor } from '../helpers/proc.js';

const pp = createRequire(import.meta.url)('proxy-protocol-js') as typeof import('proxy-protocol-js');

/** A local service that records everything each connection sends, and answers "ok" at its end. */
class Recorder {
  readonly server: Server;
  readonly received: Buffer[] = [];
  port = 0;
  constructor() {
    this.server = createServer({ allowHalfOpen: true }, (s: Socket) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => {
        this.received.push(Buffer.concat(chunks));
        s.end('ok');
      });
      s.on('error', () => {});
    });
  }
  async start(): Promise<this> {
    this.port = await listenOn(this.server);
    return this;
  }
}

interface Seen {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  rest: string;
}

/** Parses a v1 header with the independent parser; returns the addresses and what followed. */
function parseV1(buf: Buffer): Seen {
  const end = buf.indexOf('\r\n');
  assert.ok(end > 0, `a v1 header line: ${JSON.stringify(buf.subarray(0, 60).toString('latin1'))}`);
  const p = pp.V1ProxyProtocol.parse(buf.subarray(0, end + 2).toString('latin1'));
  return { src: p.source.ipAddress, srcPort: p.source.port, dst: p.destination.ipAddress, dstPort: p.destination.port, rest: buf.subarray(end + 2).toString() };
}

/** Parses a v2 header (signature, 4 bytes, then its length) with the independent parser. */
function parseV2(buf: Buffer): Seen {
  const len = 16 + buf.readUInt16BE(14);
  const p = pp.V2ProxyProtocol.parse(buf.subarray(0, len));
  assert.equal(p.command, pp.Command.PROXY);
  const a = p.proxyAddress as InstanceType<typeof pp.IPv4ProxyAddress>;
  return { src: a.sourceAddress.address.join('.'), srcPort: a.sourcePort, dst: a.destinationAddress.address.join('.'), dstPort: a.destinationPort, rest: buf.subarray(len).toString() };
}

/** Connects from `from` to the relay's public port, sends `text`, ends, and waits for "ok". */
async function publicUser(port: number, from: string, text: string): Promise<number> {
  const s = await new Promise<Socket>((resolve, reject) => {
    const c = connect({ port, host: '127.0.0.1', localAddress: from, allowHalfOpen: true }, () => resolve(c));
    c.once('error', reject);
  });
  const localPort = s.localPort!;
  const answer = collect(s);
  await send(s, Buffer.from(text));
  assert.equal((await answer).data.toString(), 'ok');
  return localPort;
}

describe('PROXY protocol towards the local service (real CLI processes)', () => {
  const lab = new Lab();
  const { keys, procs } = lab;
  const [relayKey, clientKey, visitorKey] = keys.keys('relay', 'client', 'visitor');
  const v1 = new Recorder();
  const v2 = new Recorder();
  const plain = new Recorder();
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let port1 = 0;
  let port2 = 0;

  before(async () => {
    await Promise.all([v1.start(), v2.start(), plain.start()]);
    port1 = await freePort();
    port2 = await freePort();
    relay = await startRelay(['--key', relayKey.key, '--public', '--authorized', keys.list('clients.list', [`permitlisten=${port1},permitlisten=${port2} ${clientKey.line}`])]);
    procs.push(relay.proc);
    const c = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key,
      '--service', 'web1', '--local', `127.0.0.1:${v1.port}`, '--public-port', String(port1), '--proxy-protocol', 'v1',
      '--service', 'web2', '--local', `127.0.0.1:${v2.port}`, '--proxy-protocol', 'v2', '--public-port', String(port2),
      '--service', 'plain', '--local', `127.0.0.1:${plain.port}`,
      '--allow', keys.list('visitors.list', [visitorKey.line])]);
    procs.push(c);
    await c.waitFor(new RegExp(`service web2 registered; also public on relay port ${port2}`));
  });

  after(() => lab.cleanup(() => Promise.all([close(v1.server), close(v2.server), close(plain.server)])));

  it('public mode, v1: the service sees the user\'s own address and port, then its bytes', async () => {
    const from = await publicUser(port1, '127.0.0.2', 'GET / HTTP/1.0\r\n\r\n');
    await until(() => v1.received.length === 1, 10_000);
    const seen = parseV1(v1.received[0]!);
    assert.deepEqual(seen, { src: '127.0.0.2', srcPort: from, dst: '127.0.0.1', dstPort: port1, rest: 'GET / HTTP/1.0\r\n\r\n' });
  });

  it('public mode, v2: the binary header carries the same', async () => {
    const from = await publicUser(port2, '127.0.0.3', 'binary please');
    await until(() => v2.received.length === 1, 10_000);
    assert.deepEqual(parseV2(v2.received[0]!), { src: '127.0.0.3', srcPort: from, dst: '127.0.0.1', dstPort: port2, rest: 'binary please' });
  });

  it('session mode: every stream of a visitor session carries the visitor agent\'s address as the relay saw it', async () => {
    // The address as the relay saw it: the visitor stays on the relay path (--no-p2p).
    const v = await startVisitor(['--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'web1', '--no-p2p']);
    procs.push(v.proc);
    for (const text of ['first stream', 'second stream']) assert.equal((await roundTrip(v.port, Buffer.from(text))).data.toString(), 'ok');
    await until(() => v1.received.length === 3, 10_000);
    const seen = v1.received.slice(1).map(parseV1);
    assert.deepEqual(seen.map((s) => s.rest), ['first stream', 'second stream']);
    for (const s of seen) {
      assert.equal(s.src, '127.0.0.1');
      assert.equal(s.dst, '127.0.0.1');
      assert.equal(s.dstPort, relay.visitor, 'the destination is the relay port the visitor agent reached');
      assert.ok(s.srcPort > 0);
    }
    assert.equal(seen[0]!.srcPort, seen[1]!.srcPort, 'one session, one visitor agent connection');
  });

  it('a service without --proxy-protocol gets the bytes alone', async () => {
    const v = await startVisitor(['--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'plain']);
    procs.push(v.proc);
    assert.equal((await roundTrip(v.port, Buffer.from('just this'))).data.toString(), 'ok');
    await until(() => plain.received.length === 1, 10_000);
    assert.equal(plain.received[0]!.toString(), 'just this');
  });

  it('a bad --proxy-protocol value is refused with what to use', async () => {
    const p = new TunProcess(['client', '--server', '127.0.0.1:1', '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'x', '--local', '1', '--proxy-protocol', 'v3']);
    assert.equal(await p.exited, 1);
    assert.match(p.stderr, /--proxy-protocol "v3" is not a PROXY protocol version \(hint: use v1 \(text\) or v2 \(binary\)/);
  });
});
