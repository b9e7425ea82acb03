import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TunError } from '../../src/errors.js';
import { CATALOGUE, FrameDecoder, decodeMessage, encodeFrame, encodeMessage, type Channel } from '../../src/wire/index.js';

const channels: Channel[] = ['control', 'visitor', 'tunnel', 'e2e'];
const valid = [
  encodeMessage('Hello', { v: 1, services: [{ name: 'web', publicPort: 80 }] }),
  encodeMessage('Visit', { v: 1, client: Buffer.alloc(32, 1), service: 'ssh' }),
  encodeMessage('Open', { id: Buffer.alloc(16), token: Buffer.alloc(32), service: 'web', mode: 'session' }),
  encodeMessage('Welcome', { tunnelPort: 8008, heartbeatMs: 1000, services: [{ name: 'a', ok: true }] }),
];

/** Runs the decoder on untrusted bytes: anything but a TunError (or taking too long) fails the property. */
function decodeOnly(bytes: Uint8Array, channel: Channel): void {
  const t0 = performance.now();
  try {
    decodeMessage(bytes, channel);
  } catch (err) {
    if (!(err instanceof TunError)) throw new Error(`non-protocol error ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
  assert.ok(performance.now() - t0 < 500, 'decode took too long (a pathological input, not a slow machine: the bound is generous)');
}

test('random bytes: the message decoder throws only typed protocol errors', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), fc.constantFrom(...channels), (b, c) => decodeOnly(b, c)), { numRuns: 5000 });
});

test('mutated valid messages: only typed protocol errors', () => {
  const mutation = fc.record({
    base: fc.constantFrom(...valid),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
    cut: fc.option(fc.nat()),
    append: fc.uint8Array({ maxLength: 16 }),
  });
  fc.assert(
    fc.property(mutation, fc.constantFrom(...channels), ({ base, edits, cut, append }, channel) => {
      let b = Buffer.from(base);
      for (const [pos, val] of edits) b[pos % b.length] = val;
      if (cut !== null) b = b.subarray(0, cut % (b.length + 1));
      decodeOnly(Buffer.concat([b, append]), channel);
    }),
    { numRuns: 20000 },
  );
});

test('random structured msgpack values (deep, wide, any type): only typed protocol errors', async () => {
  const { Packr } = await import('msgpackr');
  const packr = new Packr({ useRecords: false });
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 40 }), fc.array(tie('v'), { maxLength: 5 }), fc.dictionary(fc.string(), tie('v'), { maxKeys: 5 })),
  })).v;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 60 }), value, fc.constantFrom(...channels), (id, body, channel) => {
      decodeOnly(packr.pack([id, body]), channel);
    }),
    { numRuns: 5000 },
  );
});

test('frame decoder: random streams only give frames within the limit or typed errors, and never buffer past one frame', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 30 }), fc.integer({ min: 1, max: 512 }), (chunks, max) => {
      const d = new FrameDecoder(max);
      try {
        for (const c of chunks) {
          for (const f of d.push(Buffer.from(c))) assert.ok(f.length >= 1 && f.length <= max);
          assert.ok(d.buffered <= max + 2);
        }
      } catch (err) {
        if (!(err instanceof TunError)) throw err;
      }
    }),
    { numRuns: 3000 },
  );
});

test('frames round-trip through any chunking', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { maxLength: 10 }), fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }), (payloads, cuts) => {
      const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
      const d = new FrameDecoder();
      const got: Buffer[] = [];
      let off = 0;
      let i = 0;
      while (off < stream.length) {
        const n = cuts[i++ % cuts.length]!;
        got.push(...d.push(stream.subarray(off, off + n)).map((f) => Buffer.from(f)));
        off += n;
      }
      assert.deepEqual(got, payloads.map((p) => Buffer.from(p)));
    }),
    { numRuns: 500 },
  );
});

void CATALOGUE;
