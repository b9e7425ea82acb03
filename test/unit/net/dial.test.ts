/** dial(): errors that say what happened, and a socket that a reset can never turn into a crash. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { isTunError } from '../../../src/errors.js';
import { connectError, dial } from '../../../src/net/socket.js';
import { freePort } from '../../helpers/net.js';
import { repoRoot } from '../../helpers/paths.js';

const socketModule = pathToFileURL(join(repoRoot(), 'dist', 'src', 'net', 'socket.js')).href;

describe('dial errors', () => {
  it('a refused connect is CONNECT_REFUSED, says "connection refused" and what to check', async () => {
    const port = await freePort();
    await assert.rejects(dial({ host: '127.0.0.1', port }, 5000, 'local service web'), (e) => {
      assert.ok(isTunError(e, 'CONNECT_REFUSED'), String(e));
      assert.equal(e.message, `cannot connect to local service web 127.0.0.1:${port}: connection refused (nothing listens there)`);
      assert.match(e.hint ?? '', /check that it is running/);
      return true;
    });
  });

  it('other errnos are CONNECT_FAILED naming the errno; a kernel timeout stays TIMEOUT', () => {
    const target = { host: '10.0.0.1', port: 22 };
    const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`connect ${code} 10.0.0.1:22`), { code });
    for (const code of ['EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'ECONNRESET', 'EWEIRD']) {
      const e = connectError(errno(code), target, 'relay control port');
      assert.equal(e.code, 'CONNECT_FAILED');
      assert.ok(e.message.startsWith(`cannot connect to relay control port 10.0.0.1:22: ${code} (`), e.message);
      assert.ok(e.hint, code);
    }
    assert.equal(connectError(errno('ETIMEDOUT'), target, 'x').code, 'TIMEOUT');
    assert.equal(connectError(errno('ECONNREFUSED'), target, 'x').code, 'CONNECT_REFUSED');
  });
});

// Each run dials a listener that resets every connection it accepts (at once, or 20 ms later: after
// dial() resolved) and never adds an 'error' listener of its own: the reset arrives while nobody
// has adopted the socket.
const script = (useDial: boolean): string => `
import net from 'node:net';
import { dial } from '${socketModule}';
let n = 0;
const server = net.createServer((s) => (n++ % 2 ? s.resetAndDestroy() : setTimeout(() => s.resetAndDestroy(), 20)));
server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  let connected = 0, refused = 0;
  for (let i = 0; i < 30; i++) {
    if (${useDial}) {
      try { await dial({ host: '127.0.0.1', port }, 5000, 'test'); connected++; } catch { refused++; }
    } else {
      await new Promise((r) => net.connect({ host: '127.0.0.1', port }).once('connect', r));
      connected++;
    }
  }
  setTimeout(() => { server.close(); process.stdout.write('done ' + connected + ' ' + refused); }, 300);
});
`;

describe('a reset before the caller adopts the socket', () => {
  it('does not crash a process that dialled with dial() (the socket keeps an error listener)', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(true)], { timeout: 20_000, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const m = /^done (\d+) (\d+)$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) > 0, 'some resets came after dial() had resolved');
    assert.equal(r.stderr, '');
  });

  it('control: the same with a bare net.connect() does crash (so the check above can fail)', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(false)], { timeout: 20_000, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ECONNRESET/);
  });
});
