/**
 * The bench's WAN figures rest on its delay proxy: each byte must arrive one delay later, in
 * order, with the end of stream after the data, both ways.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, it } from 'node:test';
import { DelayProxy } from '../../bench/delay-proxy.js';
import { EchoService, collect, dial } from '../helpers/net.js';

const echo = await new EchoService().start();
const proxy = new DelayProxy(60);
const port = await proxy.add({ listenHost: '127.0.0.1', listenPort: 0, targetHost: '127.0.0.1', targetPort: echo.port });
after(async () => {
  await proxy.close();
  await echo.stop();
});

it('delays each direction by its delay and keeps bytes and the end in order', async () => {
  const s = await dial(port);
  const t0 = performance.now();
  const first = new Promise<number>((resolve) => s.once('data', () => resolve(performance.now() - t0)));
  const outcome = collect(s, 10_000);
  const bulk = randomBytes(300_000);
  s.write('a');
  await new Promise((r) => setTimeout(r, 10));
  s.write('b');
  s.write(bulk);
  s.end('c');
  const firstMs = await first;
  const got = await outcome;
  assert.ok(firstMs >= 115, `first echoed byte after ${firstMs.toFixed(1)} ms, expected two 60 ms delays`);
  assert.ok(firstMs < 3000, `first echoed byte after ${firstMs.toFixed(1)} ms`);
  assert.equal(got.how, 'end');
  assert.ok(got.data.equals(Buffer.concat([Buffer.from('ab'), bulk, Buffer.from('c')])), 'same bytes, same order');
});
