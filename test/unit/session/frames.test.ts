import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTunError } from '../../../src/errors.js';
import { DATA_MAX, FrameKind, decodeFrame, encode } from '../../../src/session/frames.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');
const bad = (b: Buffer): void => assert.throws(() => decodeFrame(b), (e) => isTunError(e));

describe('session frames', () => {
  it('have a fixed binary layout (kind, u32 stream id, body)', () => {
    assert.deepEqual(encode.data(1, Buffer.from('hi')), hex('00 00000001 6869'));
    assert.deepEqual(encode.window(7, 65536), hex('02 00000007 00010000'));
    assert.deepEqual(encode.fin(0x01020304), hex('03 01020304'));
    assert.deepEqual(encode.rekey(), hex('13 00000000'));
    assert.deepEqual(encode.ping(Buffer.alloc(8, 0xaa)), hex('10 00000000 aaaaaaaaaaaaaaaa'));
  });

  it('round-trip every kind', () => {
    assert.deepEqual(decodeFrame(encode.data(3, Buffer.from('x'))), { kind: FrameKind.DATA, id: 3, data: Buffer.from('x') });
    assert.deepEqual(decodeFrame(encode.open(5, 'web')), { kind: FrameKind.OPEN, id: 5, service: 'web' });
    assert.deepEqual(decodeFrame(encode.window(5, 10)), { kind: FrameKind.WINDOW, id: 5, increment: 10 });
    assert.deepEqual(decodeFrame(encode.fin(5)), { kind: FrameKind.FIN, id: 5 });
    const r = decodeFrame(encode.reset(5, 'peer_reset', 'gone'));
    assert.equal(r.kind, FrameKind.RESET);
    assert.equal(r.kind === FrameKind.RESET && r.error.code, 'peer_reset');
    const c = decodeFrame(encode.close('shutdown'));
    assert.equal(c.kind === FrameKind.CLOSE && c.error.code, 'shutdown');
    assert.deepEqual(decodeFrame(encode.pong(Buffer.alloc(8, 1))), { kind: FrameKind.PONG, id: 0, data: Buffer.alloc(8, 1) });
  });

  it('reject every malformed frame with a typed error', () => {
    bad(hex('00 000000'));                       // shorter than the head
    bad(hex('00 00000001'));                     // empty DATA
    bad(Buffer.concat([hex('00 00000001'), Buffer.alloc(DATA_MAX + 1)]));
    bad(hex('00 00000000 61'));                  // stream frame on stream 0
    bad(hex('10 00000001 0000000000000000'));    // session frame on a stream
    bad(hex('02 00000001 00000000'));            // zero WINDOW
    bad(hex('02 00000001 80000001'));            // WINDOW above 2^31
    bad(hex('02 00000001 0001'));                // short WINDOW
    bad(hex('03 00000001 00'));                  // FIN with a body
    bad(hex('10 00000000 00'));                  // short PING
    bad(hex('7f 00000001'));                     // unknown kind
    bad(hex('01 00000001 c1'));                  // OPEN with bad msgpack
    bad(Buffer.concat([hex('01 00000001'), encode.reset(1, 'x').subarray(5)])); // OPEN holding a StreamError
    bad(Buffer.concat([hex('01 00000001'), encode.open(1, 'bad name!').subarray(5)]));
  });
});
