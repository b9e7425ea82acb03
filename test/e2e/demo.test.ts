/** `tun demo`: the README's "run it" command, checked end to end. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { it } from 'node:test';
import { TunProcess } from '../helpers/proc.js';

function fetchPage(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
    req.on('error', reject);
  });
}

it('tun demo --exit fetches its page through relay, client and visitor, then stops', async () => {
  const p = new TunProcess(['demo', '--exit']);
  const code = await p.exited;
  assert.equal(code, 0, p.output);
  assert.match(p.stdout, /checked: fetched the page through the tunnel \(\d+ bytes, [\d.]+ ms, end-to-end encrypted\)/);
  assert.match(p.stdout, /tun demo: stopped/);
});

it('tun demo serves the printed URL until Ctrl-C, then stops cleanly and removes its keys', async () => {
  const p = new TunProcess(['demo']);
  const url = (await p.waitFor(/open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/))[1]!;
  const dir = (await p.waitFor(/fresh keys in (\S+)/))[1]!;
  await p.waitFor(/press Ctrl-C to stop/);
  assert.ok(existsSync(dir));
  for (let i = 0; i < 3; i++) assert.match(await fetchPage(url), /Hello through tun/);
  p.child.kill('SIGINT');
  const exited = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('still running 5 s after SIGINT'), 5000))]);
  assert.equal(exited, 0, p.output);
  assert.match(p.stdout, /tun demo: stopped/);
  assert.equal(p.stderr, '', 'no warnings or errors on a clean stop');
  assert.equal(existsSync(dir), false, 'the temporary key folder is removed');
});
