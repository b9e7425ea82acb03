import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimiter } from '../../../src/p2p/rate.js';

describe('P2P rate limiter', () => {
  it('allows a burst, then the rate, per key', () => {
    let now = 0;
    const r = new RateLimiter({ perSecond: 2, burst: 3, maxKeys: 10, now: () => now });
    assert.deepEqual([1, 2, 3, 4].map(() => r.take('a')), [true, true, true, false]);
    assert.equal(r.take('b'), true, 'another key has its own bucket');
    now += 499;
    assert.equal(r.take('a'), false);
    now += 1;
    assert.equal(r.take('a'), true, 'one token every 500 ms');
    now += 60_000;
    assert.deepEqual([1, 2, 3, 4].map(() => r.take('a')), [true, true, true, false], 'savings are capped at the burst');
  });

  it('remembers a bounded number of keys', () => {
    const r = new RateLimiter({ perSecond: 1, burst: 1, maxKeys: 100, now: () => 0 });
    for (let i = 0; i < 10_000; i++) r.take(`10.0.${i >> 8}.${i & 255}`);
    assert.equal(r.size, 100);
  });
});
