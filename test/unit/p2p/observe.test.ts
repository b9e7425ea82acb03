/** The relay's UDP observation port on loopback: it names the sender's address and port, and stops answering a source above its rate. */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import { OBSERVE_LIMITS, ObservationPort, observe, type DatagramSocket } from '../../../src/p2p/observe.js';
import { observeRequest } from '../../../src/p2p/datagrams.js';

describe('UDP observation port', () => {
  let port: ObservationPort;
  const sock = createSocket('udp4');
  const asDatagram: DatagramSocket = {
    send: (m, p, h) => sock.send(m, p, h),
    onMessage: (h) => {
      const f = (m: Buffer, r: { address: string; port: number }): void => h(m, { host: r.address, port: r.port });
      sock.on('message', f);
      return () => sock.off('message', f);
    },
  };

  before(async () => {
    port = await ObservationPort.listen('127.0.0.1', 0, silentLogger);
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  });
  after(async () => {
    sock.close();
    await port.close();
  });

  it('answers with the address and port the request came from', async () => {
    const seen = await observe(asDatagram, { host: '127.0.0.1', port: port.port });
    assert.deepEqual(seen, { host: '127.0.0.1', port: sock.address().port });
  });

  it('drops requests from one source above the rate (not a reflector)', async () => {
    let answers = 0;
    const off = asDatagram.onMessage(() => answers++);
    const before = port.stats.answered;
    for (let i = 0; i < 50; i++) sock.send(observeRequest(randomBytes(16)), port.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    off();
    assert.ok(port.stats.answered - before <= OBSERVE_LIMITS.perSourceBurst + 2, `answered ${port.stats.answered - before}`);
    assert.ok(port.stats.dropped >= 50 - OBSERVE_LIMITS.perSourceBurst - 2);
    assert.equal(answers, port.stats.answered - before);
  });

  it('ignores datagrams that are not requests', async () => {
    const before = port.stats.answered + port.stats.dropped;
    sock.send(Buffer.alloc(48), port.port, '127.0.0.1');
    sock.send(Buffer.from('hello'), port.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(port.stats.answered + port.stats.dropped, before);
  });
});
