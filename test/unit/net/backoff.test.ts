import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Backoff } from '../../../src/net/backoff.js';

it('backoff doubles from 0.5 s with ±50 % jitter, never above the 30 s cap, and resets', () => {
  const b = new Backoff();
  const waits = Array.from({ length: 12 }, () => b.next());
  waits.slice(0, 6).forEach((w, i) => {
    const base = 500 * 2 ** i;
    assert.ok(w >= base * 0.5 && w <= Math.min(30_000, base * 1.5), `attempt ${i}: ${w}`);
  });
  for (const w of waits) assert.ok(w <= 30_000);
  assert.ok(waits.slice(8).every((w) => w >= 15_000));
  b.reset();
  assert.ok(b.next() <= 750);
});
