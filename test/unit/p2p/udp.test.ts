/**
 * UDP hole punching and the UDX path on loopback (real udx-native sockets): the client's idea of
 * the visitor's address is wrong (as after a router remapped the visitor's port), so its own
 * punches are lost; the visitor's punch reaches it, it answers at the address that punch came
 * from, and both ends connect their UDX streams: 1 MiB crosses intact each way.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import type { Candidate } from '../../../src/p2p/addr.js';
import { ClientUdpImpl, VisitorUdp, loadUdx } from '../../../src/p2p/udp.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function collectN(d: Duplex, n: number, ms = 15_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const t = setTimeout(() => reject(new Error(`only ${got} of ${n} bytes arrived`)), ms);
    d.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        clearTimeout(t);
        resolve(Buffer.concat(chunks));
      }
    });
  });
}

describe('UDP hole punching over UDX (loopback)', () => {
  const udx = loadUdx(silentLogger);
  const client = udx && new ClientUdpImpl(udx, silentLogger);
  const visitor = udx && new VisitorUdp(udx, silentLogger, '127.0.0.1', () => ['127.0.0.1']);
  after(async () => {
    await client?.stop();
    await visitor?.stop();
  });

  it('udx-native loads here', () => {
    assert.ok(udx, 'udx-native must load (it ships a prebuilt linux-x64 binary)');
  });

  it('punches through when the client has a stale mapping for the visitor, and carries bytes both ways', async () => {
    await client!.start(0);
    const attempt = await visitor!.prepare();
    const mine = attempt.offer.udp;
    assert.deepEqual(mine.map((c) => c.host), ['127.0.0.1']);
    // The client is told a port the visitor does not use: its punches there are lost.
    const stale: Candidate[] = mine.map((c) => ({ host: c.host, port: c.port === 65535 ? 65534 : c.port + 1 }));
    let served!: (p: { path: Duplex; remote: Candidate }) => void;
    const clientPath = new Promise<{ path: Duplex; remote: Candidate }>((resolve) => (served = resolve));
    const answer = client!.answer({ tcp: [], udp: stale, punch: attempt.offer.punch }, (path, remote) => served({ path, remote }));
    assert.ok(answer);
    const theirs = { tcp: [], udp: client!.candidates(['127.0.0.1']), punch: answer.punch };
    const ac = new AbortController();
    const got = await attempt.connect(theirs, () => [], ac.signal);
    assert.ok(got, 'the visitor found a UDP path');
    assert.deepEqual(got.remote, { host: '127.0.0.1', port: client!.port });
    const c = await clientPath;
    assert.deepEqual(c.remote, mine[0], 'the client learnt the visitor\'s real address from its punch');

    const up = randomBytes(1024 * 1024);
    const down = randomBytes(1024 * 1024);
    const atClient = collectN(c.path, up.length);
    const atVisitor = collectN(got.path, down.length);
    got.path.write(up);
    c.path.write(down);
    assert.equal(sha(await atClient), sha(up));
    assert.equal(sha(await atVisitor), sha(down));
    assert.ok(Date.now() - got.lastReceived() < 5000);
    got.path.destroy();
    c.path.destroy();
    answer.close();
  });

  it('gives up after the punching window when nothing answers', async () => {
    const attempt = await visitor!.prepare();
    const ac = new AbortController();
    const t0 = Date.now();
    // A port nothing listens on: no valid punch ever arrives.
    const got = await attempt.connect({ tcp: [], udp: [{ host: '127.0.0.1', port: 9 }], punch: { id: 5, token: randomBytes(16) } }, () => [], ac.signal);
    assert.equal(got, undefined);
    assert.ok(Date.now() - t0 >= 4000 && Date.now() - t0 < 9000, `gave up after ${Date.now() - t0} ms`);
  });
});
