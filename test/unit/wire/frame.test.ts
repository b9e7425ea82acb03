import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { isTunError } from '../../../src/errors.js';
import { FrameDecoder, encodeFrame } from '../../../src/wire/index.js';

describe('FrameDecoder', () => {
  const payloads = [Buffer.from('a'), randomBytes(300), randomBytes(65535), Buffer.from('end')];
  const stream = Buffer.concat(payloads.map(encodeFrame));

  test('literal fixture: 00 03 "abc" 00 01 "z"', () => {
    const d = new FrameDecoder();
    assert.deepEqual(d.push(Buffer.from('0003616263' + '00017a', 'hex')).map(String), ['abc', 'z']);
  });

  test('1-byte writes give the same frames', () => {
    const d = new FrameDecoder();
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) got.push(...d.push(stream.subarray(i, i + 1)));
    assert.deepEqual(got, payloads);
    assert.equal(d.buffered, 0);
  });

  test('random chunkings give the same frames', () => {
    for (let round = 0; round < 50; round++) {
      const d = new FrameDecoder();
      const got: Buffer[] = [];
      let off = 0;
      while (off < stream.length) {
        const n = 1 + Math.floor(Math.random() * 70000);
        got.push(...d.push(stream.subarray(off, off + n)));
        off += n;
      }
      assert.deepEqual(got, payloads);
    }
  });

  test('an oversized length is rejected from its header alone, before the body arrives', () => {
    const d = new FrameDecoder(1024);
    assert.throws(() => d.push(Buffer.from([0x04])) && d.push(Buffer.from([0x01])), (e) => isTunError(e, 'FRAME_TOO_LARGE'));
    const d2 = new FrameDecoder(1024);
    assert.throws(() => d2.push(Buffer.from([0xff, 0xff])), (e) => isTunError(e, 'FRAME_TOO_LARGE'));
    assert.equal(d2.buffered, 0, 'nothing was allocated for the body');
  });

  test('a zero-length frame is malformed; a frame larger than 65535 cannot be encoded', () => {
    assert.throws(() => new FrameDecoder().push(Buffer.from([0, 0])), (e) => isTunError(e, 'FRAME_MALFORMED'));
    assert.throws(() => encodeFrame(Buffer.alloc(65536)), (e) => isTunError(e, 'FRAME_TOO_LARGE'));
  });

  test('holds at most one partial frame', () => {
    const d = new FrameDecoder();
    d.push(encodeFrame(randomBytes(65535)).subarray(0, 60000));
    assert.equal(d.buffered, 60000 - 2 + 0);
  });
});
