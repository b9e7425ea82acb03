import assert from 'node:assert/strict';
import { it } from 'node:test';
import { preferred } from '../../../src/p2p/visitor-probe.js';

const after = <T>(ms: number, v: T): Promise<T> => new Promise((r) => setTimeout(() => r(v), ms));
const failAfter = (ms: number): Promise<never> => new Promise((_, j) => setTimeout(() => j(new Error(`failed at ${ms}`)), ms));

it('a worse-ranked result waits for a better-ranked attempt still pending, and the better one wins', async () => {
  const discarded: string[] = [];
  const v = await preferred([after(120, 'tcp'), after(10, 'udp')], [0, 1], 1000, (x) => discarded.push(x));
  assert.equal(v, 'tcp');
  assert.deepEqual(discarded, ['udp']);
});

it('after the grace the worse-ranked result is taken, and a late better one is discarded', async () => {
  const discarded: string[] = [];
  const t0 = Date.now();
  const v = await preferred([after(400, 'tcp'), after(10, 'udp')], [0, 1], 100, (x) => discarded.push(x));
  assert.equal(v, 'udp');
  assert.ok(Date.now() - t0 < 350, 'taken at the end of the grace, not when tcp resolved');
  await after(450, null);
  assert.deepEqual(discarded, ['tcp']);
});

it('no wait when the better attempts already failed; among equals the first wins at once', async () => {
  const t0 = Date.now();
  assert.equal(await preferred([failAfter(5), after(20, 'udp')], [0, 1], 5000, () => {}), 'udp');
  const discarded: string[] = [];
  assert.equal(await preferred([after(200, 'tcp-a'), after(10, 'tcp-b')], [0, 0], 5000, (x) => discarded.push(x)), 'tcp-b');
  assert.ok(Date.now() - t0 < 1000);
  await after(250, null);
  assert.deepEqual(discarded, ['tcp-a']);
});

it('rejects once every attempt failed', async () => {
  await assert.rejects(preferred([failAfter(5), failAfter(10)], [0, 1], 100, () => {}), /failed at 5/);
});
