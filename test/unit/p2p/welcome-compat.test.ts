/**
 * Upgrading the relay first must not lock out older clients: a client from before P2P decodes
 * Welcome strictly (unknown fields refused). A relay with P2P on (the default) is driven here by
 * hand with the Hello such a client sends, and the Welcome it answers is decoded against a frozen
 * copy of the pre-P2P Welcome schema; a Hello with `p2p: true` gets the P2P fields.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Packr, Unpackr } from 'msgpackr';
import { initCrypto, X25519KeyPair } from '../../../src/crypto/index.js';
import { KeyList } from '../../../src/identity/key-list.js';
import { silentLogger } from '../../../src/log.js';
import { FrameReader } from '../../../src/net/frame-reader.js';
import { HandshakeState } from '../../../src/noise/index.js';
import { Relay } from '../../../src/relay/relay.js';
import { writeFrame } from '../../../src/stream/control-channel.js';
import { validate, type Schema } from '../../../src/wire/schema.js';
import { NOISE_PROTOCOL, PROTOCOL_VERSION, controlPrologue, decodeMessage, encodeFrame, expectMessage, encodeMessage } from '../../../src/wire/index.js';
import { KeyDir } from '../../helpers/keys.js';

/** Welcome as protocol 2 defined it before P2P (commit 05f4f8c), frozen: never edit to match a newer relay. */
const PRE_P2P_WELCOME: Schema = {
  tunnelPort: { kind: 'uint', max: 65535 },
  heartbeatMs: { kind: 'uint', max: 3_600_000 },
  services: {
    kind: 'array',
    max: 32,
    of: {
      kind: 'object',
      fields: {
        name: { kind: 'str', max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/ },
        ok: { kind: 'bool' },
        code: { kind: 'str', max: 48, optional: true },
        message: { kind: 'str', max: 300, optional: true },
        publicPort: { kind: 'uint', max: 65535, optional: true },
      },
    },
  },
};
const PRE_P2P_WELCOME_ID = 2;

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Handshakes as `key`, sends `hello` (a raw body) and returns the plaintext of the relay's answer. */
async function welcomeFor(port: number, key: X25519KeyPair, relayKey: Buffer, hello: Record<string, unknown>): Promise<Buffer> {
  const socket = await open(port);
  try {
    const reader = new FrameReader(socket, 1024);
    const hs = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: true, prologue: controlPrologue(), staticKey: key, remoteStatic: relayKey });
    writeFrame(socket, hs.writeMessage(encodeMessage('ControlInit', { v: PROTOCOL_VERSION })));
    assert.equal(expectMessage(hs.readMessage(await reader.next()), 'ControlAccept').ok, true);
    const { send, receive } = hs.result!;
    const empty = Buffer.alloc(0);
    // The Hello an older client sends, encoded by hand so no field of today's catalogue slips in.
    const body = new Map(Object.entries(hello));
    socket.write(encodeFrame(send.encryptWithAd(empty, new Packr({ useRecords: false, variableMapSize: true }).pack([1, body]))));
    return receive.decryptWithAd(empty, await reader.next());
  } finally {
    socket.destroy();
  }
}

describe('Welcome and older clients (relay with P2P on)', () => {
  const keys = new KeyDir();
  let relay: Relay;
  let relayKey: X25519KeyPair;
  let clientKey: X25519KeyPair;

  before(async () => {
    await initCrypto();
    relayKey = X25519KeyPair.generate();
    clientKey = X25519KeyPair.generate();
    relay = new Relay({
      key: relayKey,
      authorized: KeyList.load(keys.list('clients.list', [`tun-x25519 ${clientKey.publicKey.toString('base64')} old`])),
      bind: '127.0.0.1', controlPort: 0, visitorPort: 0, tunnelPort: 0, allowPublic: false, log: silentLogger,
    });
    await relay.start();
    assert.ok(relay.ports.udp > 0, 'the relay runs with its P2P observation port (the default)');
  });

  after(async () => {
    await relay.stop();
    keys.remove();
  });

  it('a pre-P2P Hello gets a Welcome the pre-P2P schema accepts', async () => {
    const plain = await welcomeFor(relay.ports.control, clientKey, relayKey.publicKey, { v: PROTOCOL_VERSION, services: [new Map([['name', 'svc']])] });
    const raw = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'number', moreTypes: false }).unpack(plain) as [number, unknown];
    assert.equal(raw[0], PRE_P2P_WELCOME_ID);
    const body = validate(raw[1], PRE_P2P_WELCOME, 'Welcome') as { tunnelPort: number; services: { name: string; ok: boolean }[] };
    assert.equal(body.tunnelPort, relay.ports.tunnel);
    assert.deepEqual(body.services.map((s) => [s.name, s.ok]), [['svc', true]]);
  });

  it('a Hello with p2p: true gets the observed address and the UDP observation port', async () => {
    const plain = await welcomeFor(relay.ports.control, clientKey, relayKey.publicKey, { v: PROTOCOL_VERSION, services: [new Map([['name', 'svc']])], p2p: true });
    const w = decodeMessage(plain, 'control');
    assert.equal(w.type, 'Welcome');
    assert.equal(w.type === 'Welcome' && w.udpPort, relay.ports.udp);
    assert.deepEqual(w.type === 'Welcome' && [...(w.observed?.ip ?? [])], [127, 0, 0, 1]);
    assert.throws(() => validate(new Unpackr({ useRecords: false, mapsAsObjects: false }).unpack(plain)[1], PRE_P2P_WELCOME, 'Welcome'), /unexpected field/);
  });
});
