/**
 * reset() must never leave the process unable to exit. Node 20 drops a socket's handle without
 * closing it when resetAndDestroy() runs while a shutdown (end()) is in flight, and the process
 * then spins forever in its exit clean-up. This runs that sequence in a child process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../../helpers/paths.js';

const socketModule = pathToFileURL(join(repoRoot(), 'dist', 'src', 'net', 'socket.js')).href;

const script = `
import net from 'node:net';
import { reset } from '${socketModule}';
const server = net.createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => {}); s.resume(); });
server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  for (let i = 0; i < 20; i++) {
    const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    c.on('error', () => {});
    await new Promise((r) => c.once('connect', r));
    c.write('x');
    c.end(); // the shutdown is now in flight...
    await new Promise((r) => (i % 2 ? setImmediate(r) : process.nextTick(r)));
    reset(c); // ...when the stream is aborted
  }
  server.close();
  setTimeout(() => process.stdout.write('done'), 100);
});
`;

it('reset() after end() lets the process exit', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 15_000, encoding: 'utf8' });
  assert.equal(r.signal, null, 'the process exited by itself (not killed by the timeout)');
  assert.equal(r.stdout, 'done');
});
