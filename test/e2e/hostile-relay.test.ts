/**
 * A relay that floods the client with Open requests (it holds the client's trust for routing only):
 * the real `tun client` process sets up at most 256 streams at once and refuses the rest as busy.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { after, it } from 'node:test';
import { X25519KeyPair, initCrypto } from '../../src/crypto/index.js';
import { TunError } from '../../src/errors.js';
import { readPrivateKeyFile } from '../../src/identity/keys.js';
import { FrameReader } from '../../src/net/frame-reader.js';
import { HandshakeState } from '../../src/noise/index.js';
import { ControlChannel, writeFrame } from '../../src/stream/control-channel.js';
import { NOISE_PROTOCOL, PROTOCOL_VERSION, controlPrologue, paddedAnswer, type Message } from '../../src/wire/index.js';
import { KeyDir } from '../helpers/keys.js';
import { close, listenOn } from '../helpers/net.js';
import { TunProcess } from '../helpers/proc.js';

const keys = new KeyDir();
const held: Socket[] = [];
const servers = [createServer((s) => held.push(s.on('error', () => {}))), createServer()];
let channel: ControlChannel | undefined;
let client: TunProcess | undefined;

after(async () => {
  channel?.close(new TunError('TIMEOUT', 'test done'));
  await client?.stop();
  for (const s of held) s.destroy();
  await Promise.all(servers.map((s) => close(s)));
  keys.remove();
});

it('a flood of Open requests from the relay is capped at 256 streams being set up', async () => {
  await initCrypto();
  const relayKey = keys.key('relay');
  const clientKey = keys.key('client');
  const rk = readPrivateKeyFile(relayKey.key);
  const relayPair = new X25519KeyPair(rk.privateKey, rk.publicKey);
  // The "tunnel port": accepts and never sends a challenge, so every stream stays in set-up.
  const tunnelPort = await listenOn(servers[0]!);
  const received: Message[] = [];
  const session = new Promise<void>((resolve, reject) => {
    servers[1]!.on('connection', (socket: Socket) => {
      socket.on('error', () => {});
      void (async () => {
        const reader = new FrameReader(socket, 1024);
        const hs = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: false, prologue: controlPrologue(), staticKey: relayPair });
        hs.readMessage(await reader.next());
        writeFrame(socket, hs.writeMessage(paddedAnswer('ControlAccept', { v: PROTOCOL_VERSION, ok: true })));
        channel = new ControlChannel(socket, reader, hs.result!.send, hs.result!.receive);
        const hello = await channel.receiveOne();
        assert.equal(hello.type, 'Hello');
        channel.send('Welcome', { tunnelPort, heartbeatMs: 10_000, services: [{ name: 'echo', ok: true }] });
        channel.start((m) => received.push(m), () => {});
        for (let i = 0; i < 300; i++) channel.send('Open', { id: randomBytes(16), token: randomBytes(32), service: 'echo', mode: 'session' });
        resolve();
      })().catch(reject);
    });
  });
  const controlPort = await listenOn(servers[1]!);
  client = new TunProcess(['client', '--server', `127.0.0.1:${controlPort}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'echo', '--local', '127.0.0.1:9']);
  await session;
  const deadline = Date.now() + 10_000;
  while (received.filter((m) => m.type === 'OpenFailed').length < 44 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const busy = received.filter((m) => m.type === 'OpenFailed' && m.code === 'busy');
  assert.equal(busy.length, 44, 'the 44 Opens beyond the cap are refused as busy');
  await client.waitFor(/256 sessions are already being set up; refusing more/);
  assert.ok(held.length <= 256, `at most 256 tunnel connections were opened (${held.length})`);
});
