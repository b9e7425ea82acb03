/**
 * The join on the tunnel port, against a real relay process: a hand-driven client (the library's
 * own handshake and framing, so it can misbehave on purpose) shows that a join needs the token of
 * a live pairing, proven against a fresh challenge, once; a reused, wrong or expired token gets
 * the socket closed and nothing joined.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { initCrypto, X25519KeyPair } from '../../src/crypto/index.js';
import { readPrivateKeyFile } from '../../src/identity/keys.js';
import { KeyList } from '../../src/identity/key-list.js';
import { silentLogger } from '../../src/log.js';
import { FrameReader } from '../../src/net/frame-reader.js';
import { HandshakeState } from '../../src/noise/index.js';
import type { RelayLimits } from '../../src/relay/limits.js';
import { Relay } from '../../src/relay/relay.js';
import { ControlChannel, writeFrame } from '../../src/stream/control-channel.js';
import { NOISE_PROTOCOL, PROTOCOL_VERSION, controlPrologue, decodeMessage, encodeMessage, expectMessage, joinProof, type MessageOf } from '../../src/wire/index.js';
import { KeyDir } from '../helpers/keys.js';
import { startRelay, type TunProcess } from '../helpers/proc.js';

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with whatever arrives after the socket is opened, once the relay closes it. */
function closedWith(s: Socket, ms = 8000, chunks: Buffer[] = []): Promise<{ closed: boolean; data: Buffer }> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve({ closed: false, data: Buffer.concat(chunks) }), ms);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve({ closed: true, data: Buffer.concat(chunks) });
    });
  });
}

/** Waits until `chunks` hold at least `n` bytes; returns them joined. */
async function bytes(chunks: Buffer[], n: number, ms = 5000): Promise<Buffer> {
  const deadline = Date.now() + ms;
  while (Buffer.concat(chunks).length < n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} bytes, got ${Buffer.concat(chunks).length}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Buffer.concat(chunks);
}

/** A client driven by hand: an authenticated control session that collects Open requests. */
class HandClient {
  readonly opens: MessageOf<'Open'>[] = [];
  #waiters: (() => void)[] = [];
  channel!: ControlChannel;
  tunnelPort = 0;
  constructor(readonly key: X25519KeyPair, readonly relayKey: Buffer) {}

  async connect(port: number, services: string[]): Promise<void> {
    const dbg = (m: string) => process.env.JDBG && process.stderr.write(`[hand] ${m}\n`);
    const socket = await open(port);
    const reader = new FrameReader(socket, 1024);
    const hs = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: true, prologue: controlPrologue(), staticKey: this.key, remoteStatic: this.relayKey });
    writeFrame(socket, hs.writeMessage(encodeMessage('ControlInit', { v: PROTOCOL_VERSION })));
    dbg('msg1 sent');
    assert.equal(expectMessage(hs.readMessage(await reader.next()), 'ControlAccept').ok, true);
    dbg('msg2 read');
    this.channel = new ControlChannel(socket, reader, hs.result!.send, hs.result!.receive);
    this.channel.send('Hello', { v: PROTOCOL_VERSION, services: services.map((name) => ({ name })) });
    const welcome = await this.channel.receiveOne();
    dbg('welcome');
    assert.equal(welcome.type, 'Welcome');
    this.tunnelPort = (welcome as MessageOf<'Welcome'>).tunnelPort;
    this.channel.start(
      (m) => {
        if (m.type === 'Open') this.opens.push(m);
        for (const w of this.#waiters.splice(0)) w();
      },
      () => {},
    );
  }

  #taken = 0;

  /** The next Open not yet returned (it may have arrived before the call). */
  async nextOpen(): Promise<MessageOf<'Open'>> {
    while (this.opens.length <= this.#taken) await new Promise<void>((r) => this.#waiters.push(r));
    return this.opens[this.#taken++]!;
  }

  /** Opens a tunnel connection and answers the challenge for (id, token); returns the socket. */
  async join(id: Buffer, token: Buffer): Promise<{ socket: Socket; received: Buffer[]; after: Promise<{ closed: boolean; data: Buffer }> }> {
    const socket = await open(this.tunnelPort);
    const reader = new FrameReader(socket, 256);
    const challenge = expectMessage(await reader.next(), 'JoinChallenge');
    const rest = reader.detach();
    assert.equal(rest.length, 0);
    const received: Buffer[] = [];
    const after = closedWith(socket, 8000, received);
    writeFrame(socket, encodeMessage('Join', { id, proof: joinProof(token, challenge.nonce, id) }));
    return { socket, received, after };
  }
}

/** A visitor driven by hand: asks for a service and sends a stand-in for Noise message 1. */
async function visitRaw(port: number, client: Buffer, service: string): Promise<{ socket: Socket; message1: Buffer; status: Promise<MessageOf<'VisitStatus'>> }> {
  const socket = await open(port);
  const reader = new FrameReader(socket, 1024);
  const message1 = randomBytes(96);
  writeFrame(socket, encodeMessage('Visit', { v: PROTOCOL_VERSION, client }));
  void service;
  writeFrame(socket, message1);
  const status = reader.next().then((f) => {
    const m = decodeMessage(f, 'visitor');
    assert.equal(m.type, 'VisitStatus');
    return m as MessageOf<'VisitStatus'>;
  });
  return { socket, message1, status };
}

describe('the join on the tunnel port', () => {
  const keys = new KeyDir();
  const relayKey = keys.key('relay');
  const clientKey = keys.key('client');
  let relay: Awaited<ReturnType<typeof startRelay>>;
  const procs: TunProcess[] = [];
  let client: HandClient;
  let clientPub: Buffer;

  before(async () => {
    await initCrypto();
    relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', [clientKey.line])]);
    procs.push(relay.proc);
    const m = readPrivateKeyFile(clientKey.key);
    clientPub = m.publicKey;
    client = new HandClient(new X25519KeyPair(m.privateKey, m.publicKey), readPrivateKeyFile(relayKey.key).publicKey);
    await client.connect(relay.control, ['svc']);
  });

  after(async () => {
    client?.channel.close(new (await import('../../src/errors.js')).TunError('TIMEOUT', 'test done'));
    await Promise.all(procs.map((p) => p.stop()));
    keys.remove();
  });

  it('joins once with the right proof, then refuses the same token again', async () => {
    const v = await visitRaw(relay.visitor, clientPub, 'svc');
    const open1 = await client.nextOpen();
    assert.equal(open1.service, undefined, 'a session Open names no service: the relay routes sessions, not services');
    assert.equal(open1.mode, 'session');
    const first = await client.join(open1.id, open1.token);
    // Joined: the visitor is told, and its message 1 arrives framed on the tunnel connection.
    assert.equal((await v.status).ok, true);
    const got = await bytes(first.received, 2 + v.message1.length);
    assert.ok(got.subarray(2).equals(v.message1));
    // Bytes now flow both ways, and nothing else: the relay only copies.
    v.socket.write('from visitor');
    assert.equal((await bytes(first.received, got.length + 12)).subarray(got.length).toString(), 'from visitor');

    const again = await client.join(open1.id, open1.token);
    const r = await again.after;
    assert.equal(r.closed, true, 'a reused token gets the socket closed');
    assert.equal(r.data.length, 0, 'and nothing is forwarded to it');
    await relay.proc.waitFor(/join refused/);
    // The stream joined with that token is unaffected.
    const before = Buffer.concat(first.received).length;
    v.socket.write('still joined');
    assert.equal((await bytes(first.received, before + 12)).subarray(before).toString(), 'still joined');
    first.socket.destroy();
    v.socket.destroy();
  });

  it('refuses a wrong proof and an unknown pairing id', async () => {
    const v = await visitRaw(relay.visitor, clientPub, 'svc');
    const o = await client.nextOpen();
    const wrong = await client.join(o.id, randomBytes(32));
    assert.deepEqual(await wrong.after, { closed: true, data: Buffer.alloc(0) });
    const unknown = await client.join(randomBytes(16), o.token);
    assert.deepEqual(await unknown.after, { closed: true, data: Buffer.alloc(0) });
    // The genuine join still works: failed attempts do not consume the pairing.
    const ok = await client.join(o.id, o.token);
    assert.equal((await v.status).ok, true);
    ok.socket.destroy();
    v.socket.destroy();
  });

  it('a malformed join gets the socket closed', async () => {
    const s = await open(client.tunnelPort);
    const r = closedWith(s);
    s.write(Buffer.from([0x00, 0x10, ...randomBytes(16)]));
    const out = await r;
    assert.equal(out.closed, true);
  });
});

/** A relay in this process (so its limits can be set) that lists one fresh client key, and a hand client for it. */
async function inProcess(limits: Partial<RelayLimits>): Promise<{ relay: Relay; client: HandClient; clientKey: X25519KeyPair; keys: KeyDir }> {
  await initCrypto();
  const relayKey = X25519KeyPair.generate();
  const clientKey = X25519KeyPair.generate();
  const keys = new KeyDir();
  const relay = new Relay({
    key: relayKey,
    authorized: KeyList.load(keys.list('clients.list', [`tun-x25519 ${clientKey.publicKey.toString('base64')} c`])),
    bind: '127.0.0.1', controlPort: 0, visitorPort: 0, tunnelPort: 0, allowPublic: false, log: silentLogger,
    limits,
  });
  await relay.start();
  return { relay, client: new HandClient(clientKey, relayKey.publicKey), clientKey, keys };
}

describe('pairing expiry (in-process relay with a short pairing time)', () => {
  it('an expired token is refused and the visitor is told the client did not answer in time', async () => {
    const { relay, client, clientKey, keys } = await inProcess({ pairingMs: 300 });
    try {
      await client.connect(relay.ports.control, ['svc']);
      const v = await visitRaw(relay.ports.visitor, clientKey.publicKey, 'svc');
      const o = await client.nextOpen();
      const status = await v.status;
      assert.equal(status.ok, false);
      assert.equal(status.code, 'timeout');
      const late = await client.join(o.id, o.token);
      assert.deepEqual(await late.after, { closed: true, data: Buffer.alloc(0) });
      assert.equal(relay.stats().pairings, 0);
      v.socket.destroy();
    } finally {
      client.channel?.close(new (await import('../../src/errors.js')).TunError('TIMEOUT', 'test done'));
      await relay.stop();
      keys.remove();
    }
  });
});

describe('a client that sends but never reads its control connection', () => {
  it('is disconnected once its unread answers pass the bound, not buffered without limit', async () => {
    const { relay, client, keys } = await inProcess({});
    try {
      await client.connect(relay.ports.control, ['svc']);
      assert.equal(relay.stats().sessions, 1);
      const socket = client.channel.socket;
      socket.pause(); // never read the Pongs
      let sent = 0;
      while (!socket.destroyed && relay.stats().sessions === 1 && sent < 2_000_000) {
        for (let i = 0; i < 2000; i++) client.channel.send('Ping', { seq: sent++ });
        await new Promise((r) => setImmediate(r));
      }
      const deadline = Date.now() + 5000;
      while (relay.stats().sessions === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(relay.stats().sessions, 0, `the relay dropped the session (after ${sent} Pings)`);
    } finally {
      client.channel?.close(new (await import('../../src/errors.js')).TunError('TIMEOUT', 'test done'));
      await relay.stop();
      keys.remove();
    }
  });
});
