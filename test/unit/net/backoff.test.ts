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

it('with firstSpreadMs, the first wait after a reset is spread over [initial/2, firstSpreadMs], then doubles', () => {
  const firsts: number[] = [];
  for (let i = 0; i < 200; i++) {
    const b = new Backoff(500, 30_000, 2, 0.5, 5000);
    const w = b.next();
    assert.ok(w >= 250 && w <= 5000, `first wait ${w}`);
    firsts.push(w);
    assert.ok(b.next() >= 500 && b.next() >= 1000);
  }
  const perSecond = [0, 1, 2, 3, 4].map((s) => firsts.filter((w) => w >= s * 1000 && w < (s + 1) * 1000).length);
  assert.ok(Math.max(...perSecond) < 200 * 0.35, `spread over the seconds: ${perSecond.join(' ')}`);
});
