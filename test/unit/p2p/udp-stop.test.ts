/**
 * The client's UDP side stopping while a punch lands: a client with a live UDX stream closes its
 * socket lazily (the socket stays open, "closing", until the stream ends), so a valid punch for
 * another exchange can still arrive. It must not connect a stream on the closing socket (udx
 * throws "Socket is closed", which was an unhandled rejection and killed the process).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../../src/log.js';
import { punch } from '../../../src/p2p/datagrams.js';
import { ClientUdpImpl, loadUdx } from '../../../src/p2p/udp.js';

it('a punch landing while the client UDP side stops connects nothing and throws nothing', async () => {
  const u = loadUdx(silentLogger);
  assert.ok(u, 'udx-native loads');
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown): void => void unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  const client = new ClientUdpImpl(u, silentLogger);
  await client.start(0);
  const peer = u.createSocket();
  peer.bind(0, '127.0.0.1');
  const theirs = (id: number) => ({ tcp: [], udp: [{ host: '127.0.0.1', port: peer.address().port }], punch: { id, token: randomBytes(16) } });
  const served: Duplex[] = [];
  try {
    // Exchange 1 punches through: the client now has a UDX stream on its socket.
    const a1 = client.answer(theirs(11), (path) => served.push(path));
    assert.ok(a1);
    for (let i = 0; i < 100 && served.length === 0; i++) {
      peer.trySend(punch(a1.punch.token, false), client.port, '127.0.0.1');
      await sleep(20);
    }
    assert.equal(served.length, 1, 'the first exchange connected');
    // Exchange 2 is still punching when the client stops; its punch lands during the stop.
    const a2 = client.answer(theirs(12), (path) => served.push(path));
    assert.ok(a2);
    const stopped = client.stop();
    for (let i = 0; i < 5; i++) {
      peer.trySend(punch(a2.punch.token, false), client.port, '127.0.0.1');
      await sleep(20);
    }
    await sleep(200);
    assert.equal(served.length, 1, 'no stream connected after stop()');
    assert.deepEqual(unhandled, []);
    served[0]!.destroy();
    await stopped;
  } finally {
    process.off('unhandledRejection', onUnhandled);
    for (const s of served) s.destroy();
    await peer.close();
  }
});
