/**
 * Public ports cap the connections one source has open at once (--public-max-per-source): the
 * next one from that address is reset, another address still gets in, and a closed connection
 * frees its slot.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Lab } from '../helpers/lab.js';
import { collect, freePort } from '../helpers/net.js';
import { TunProcess, startClient, startRelay } from '../helpers/proc.js';

/** Connects from `from` (a loopback address) to 127.0.0.1:`port`. */
function dialFrom(port: number, from: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: from, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** True when `s` echoes a probe back (its stream reached the service). */
async function echoes(s: Socket, text: string): Promise<boolean> {
  return new Promise((resolve) => {
    let got = '';
    const t = setTimeout(() => done(false), 10_000);
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got === text) done(true);
    };
    const done = (ok: boolean): void => {
      clearTimeout(t);
      s.off('data', onData);
      resolve(ok);
    };
    s.on('data', onData);
    s.once('close', () => done(false));
    s.write(text);
  });
}

describe('public ports: connections per source (real CLI processes)', () => {
  const lab = new Lab();
  const { keys, procs } = lab;
  const [relayKey, clientKey] = keys.keys('relay', 'client');
  const echo = lab.newEcho();
  const open: Socket[] = [];
  let port = 0;
  let relay: Awaited<ReturnType<typeof startRelay>>;

  before(async () => {
    await echo.start();
    port = await freePort();
    relay = await startRelay(['--key', relayKey.key, '--public', '--public-max-per-source', '3', '--authorized', keys.list('clients.list', [`permitlisten=${port} ${clientKey.line}`])]);
    procs.push(relay.proc);
    const c = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--public-port', String(port)]);
    procs.push(c);
    await c.waitFor(new RegExp(`service echo registered; also public on relay port ${port}`));
  });

  after(async () => {
    for (const s of open) s.destroy();
    await lab.cleanup();
  });

  it('the fourth connection from one address is reset; another address and a freed slot get in', async () => {
    for (let i = 0; i < 3; i++) {
      const s = await dialFrom(port, '127.0.0.1');
      open.push(s);
      assert.ok(await echoes(s, `held ${i}`), `connection ${i} reaches the service`);
    }
    // The relay resets at accept: the reset may even beat the connect callback (ECONNRESET there).
    const outcome = await dialFrom(port, '127.0.0.1').then((fourth) => collect(fourth, 10_000), (err: NodeJS.ErrnoException) => ({ how: err.code === 'ECONNRESET' ? 'reset' : `connect failed: ${err.code}`, data: Buffer.alloc(0) }));
    assert.equal(outcome.how, 'reset', 'over the limit: reset');
    assert.equal(outcome.data.length, 0);
    await relay.proc.waitFor(new RegExp(`public port ${port}: 127\\.0\\.0\\.1 already has 3 connections open; refusing more`));

    const other = await dialFrom(port, '127.0.0.2');
    open.push(other);
    assert.ok(await echoes(other, 'from another address'), 'another source is not affected');

    open.shift()!.destroy();
    // The relay frees the slot when it sees the close; retry briefly until it has.
    let again: Socket | undefined;
    for (let i = 0; i < 50 && !again; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      const s = await dialFrom(port, '127.0.0.1').catch(() => undefined);
      if (s && (await echoes(s, 'freed'))) again = s;
      else s?.destroy();
    }
    assert.ok(again, 'a closed connection frees its slot');
    open.push(again);
  });

  it('rejects a bad --public-max-per-source with a clear error', async () => {
    const p = new TunProcess(['server', '--key', relayKey.key, '--authorized', keys.list('c2.list', [clientKey.line]), '--public-max-per-source', '0']);
    assert.equal(await p.exited, 1);
    assert.match(p.stderr, /--public-max-per-source "0" is not a number of connections/);
  });
});
