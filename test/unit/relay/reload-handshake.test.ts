/**
 * A reload that revokes a client key while that client is mid-handshake: the relay must judge the
 * key by the list as it is when it reads message 1, and again when Hello arrives — not by the list
 * it had when the connection was accepted. The client's writes are held to place the reload exactly.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { initCrypto, X25519KeyPair } from '../../../src/crypto/index.js';
import { KeyList } from '../../../src/identity/key-list.js';
import { silentLogger } from '../../../src/log.js';
import { joinRelay } from '../../../src/client/control-handshake.js';
import { Relay } from '../../../src/relay/relay.js';
import { until } from '../../helpers/net.js';

const listOf = (key: X25519KeyPair): KeyList => KeyList.parse(`tun-x25519 ${key.publicKey.toString('base64')} c\n`, 'clients.list');

/** A socket whose write number `n` (1-based) waits until release() is called. */
function holdWrite(socket: Socket, n: number): { held: Promise<void>; release: () => void } {
  const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
  let count = 0;
  let release = (): void => {};
  let onHeld = (): void => {};
  const held = new Promise<void>((r) => (onHeld = r));
  socket.write = ((...args: unknown[]) => {
    if (++count !== n) return write(...args);
    release = () => void write(...args);
    onHeld();
    return true;
  }) as typeof socket.write;
  return { held, release: () => release() };
}

async function scenario(heldWrite: number): Promise<{ error: unknown; sessions: number }> {
  await initCrypto();
  const relayKey = X25519KeyPair.generate();
  const clientKey = X25519KeyPair.generate();
  const relay = new Relay({ key: relayKey, authorized: listOf(clientKey), bind: '127.0.0.1', controlPort: 0, visitorPort: 0, tunnelPort: 0, allowPublic: false, log: silentLogger, p2p: false });
  await relay.start();
  const socket = connect({ host: '127.0.0.1', port: relay.ports.control });
  socket.on('error', () => {});
  try {
    await new Promise((r) => socket.once('connect', r));
    const hold = holdWrite(socket, heldWrite);
    const joining = joinRelay(socket, { server: { host: '127.0.0.1', port: relay.ports.control }, relayKey: relayKey.publicKey, key: clientKey }, [{ name: 'svc' }], 5000);
    const outcome = joining.then(() => undefined, (err: unknown) => err);
    await hold.held;
    await until(() => relay.stats().preAuth === 1, 5000);
    relay.reload(new KeyList([], 'clients.list'));
    hold.release();
    const error = await outcome;
    return { error, sessions: relay.stats().sessions };
  } finally {
    socket.destroy();
    await relay.stop();
  }
}

describe('relay reload during a client handshake', () => {
  it('a key revoked before message 1 is read is refused (not admitted by the list at accept)', async () => {
    const { error, sessions } = await scenario(1);
    assert.ok(error, 'the client must not be welcomed');
    assert.match(String((error as Error).message), /client key \w+ not authorized by relay/);
    assert.equal(sessions, 0);
  });

  it('a key revoked between the handshake and Hello is refused and no session is registered', async () => {
    const { error, sessions } = await scenario(2);
    assert.ok(error, 'the client must not be welcomed');
    assert.match(String((error as Error).message), /client_not_authorized: client key \w+ was removed from the relay's authorized list \(revoked\)/);
    assert.equal(sessions, 0);
  });
});
