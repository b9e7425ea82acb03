import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTunError } from '../../../src/errors.js';
import { MAX_CANDIDATES, MAX_MESSAGES_PER_STREAM, decodeOffer, encodeOffer } from '../../../src/p2p/candidates.js';
import { ControlStream } from '../../../src/p2p/control-stream.js';
import { encodeFrame, encodeMessage } from '../../../src/wire/index.js';

const raw = (body: Record<string, unknown>): Buffer => encodeMessage('Candidates', { v: 1, tcp: [], udp: [], ...body } as never);

describe('P2P Candidates message', () => {
  it('round-trips an offer', () => {
    const offer = { tcp: [{ host: '127.0.0.1', port: 7000 }, { host: '2001:db8::5', port: 7000 }], udp: [{ host: '203.0.113.7', port: 40000 }], punch: { id: 77, token: Buffer.alloc(16, 3) }, relayUdp: 8009 };
    assert.deepEqual(decodeOffer(encodeOffer(offer)), offer);
    assert.deepEqual(decodeOffer(encodeOffer({ tcp: [], udp: [] })), { tcp: [], udp: [], punch: undefined, relayUdp: undefined });
  });

  it('is bounded: candidates per kind, address form, ports, punch fields together', () => {
    const many = Array.from({ length: MAX_CANDIDATES + 1 }, (_, i) => ({ ip: Buffer.from([10, 0, 0, i + 1]), port: 1000 }));
    const bad: [string, Buffer][] = [
      ['too many', raw({ tcp: many })],
      ['5-byte address', raw({ udp: [{ ip: Buffer.alloc(5, 1), port: 1 }] })],
      ['multicast', raw({ tcp: [{ ip: Buffer.from([224, 0, 0, 1]), port: 1 }] })],
      ['unspecified', raw({ tcp: [{ ip: Buffer.alloc(4), port: 1 }] })],
      ['port 0', raw({ tcp: [{ ip: Buffer.from([10, 0, 0, 1]), port: 0 }] })],
      ['id without token', raw({ udpId: 5 })],
      ['token without id', raw({ token: Buffer.alloc(16) })],
      ['id 0', raw({ udpId: 0, token: Buffer.alloc(16) })],
      ['short token', raw({ udpId: 1, token: Buffer.alloc(8) })],
      ['unknown field', raw({ extra: 1 })],
      ['another channel', encodeMessage('StreamOpen', { service: 'x' })],
    ];
    for (const [why, buf] of bad) assert.throws(() => decodeOffer(buf), (e) => isTunError(e), why);
    assert.throws(() => decodeOffer(raw({ v: 2 })), (e) => isTunError(e, 'VERSION_MISMATCH'));
    assert.throws(() => encodeOffer({ tcp: many.map(() => ({ host: '10.0.0.1', port: 1 })), udp: [] }), (e) => isTunError(e, 'MESSAGE_INVALID'));
  });

  it('the control stream passes offers both ways and refuses more than its bound', async () => {
    const cs = new ControlStream();
    const got: unknown[] = [];
    cs.onOffer((o) => got.push(o));
    const sent: Buffer[] = [];
    cs.app.on('data', (d: Buffer) => sent.push(d));
    cs.send({ tcp: [{ host: '10.0.0.1', port: 5 }], udp: [] });
    const frame = encodeFrame(encodeOffer({ tcp: [], udp: [{ host: '10.0.0.2', port: 6 }] }));
    // Split across writes, as a stream may deliver it.
    cs.app.write(frame.subarray(0, 3));
    cs.app.write(frame.subarray(3));
    await new Promise((r) => setImmediate(r));
    assert.equal(got.length, 1);
    assert.deepEqual(decodeOffer(sent[0]!.subarray(2)).tcp, [{ host: '10.0.0.1', port: 5 }]);
    for (let i = 1; i < MAX_MESSAGES_PER_STREAM; i++) cs.app.write(frame);
    cs.app.write(frame);
    const end = await cs.done;
    assert.equal(got.length, MAX_MESSAGES_PER_STREAM);
    assert.ok(end && isTunError(end, 'PROTOCOL_VIOLATION'), String(end));
  });

  it('the control stream refuses an oversized frame from its header', async () => {
    const cs = new ControlStream();
    cs.app.write(Buffer.from([0xff, 0xff]));
    const end = await cs.done;
    assert.ok(end, 'failed');
  });
});
