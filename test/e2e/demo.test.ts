/** `tun demo --exit`: the README's "run it" command, checked end to end. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TunProcess } from '../helpers/proc.js';

it('tun demo fetches its page through relay, client and visitor, then stops cleanly', async () => {
  const p = new TunProcess(['demo', '--exit']);
  const code = await p.exited;
  assert.equal(code, 0, p.output);
  assert.match(p.stdout, /checked: fetched the page through the tunnel \(\d+ bytes, [\d.]+ ms, end-to-end encrypted\)/);
  assert.match(p.stdout, /open http:\/\/127\.0\.0\.1:\d+\/ in a browser/);
  assert.match(p.stdout, /tun demo: stopped/);
});
