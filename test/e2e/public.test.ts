/**
 * Public mode (the original design, opt-in): a plain HTTP client reaches a local web server through
 * a relay port, only when the relay runs with --public and its list grants that port to the key.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, get } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { KeyDir } from '../helpers/keys.js';
import { Lab } from '../helpers/lab.js';
import { close, freePort, listenOn } from '../helpers/net.js';
import { TunProcess, startClient, startRelay } from '../helpers/proc.js';

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('public mode (real CLI processes)', () => {
  const lab = new Lab();
  const { keys, procs } = lab;
  const [relayKey, clientKey] = keys.keys('relay', 'client');
  const web = createHttpServer((req, res) => res.end(`hello from the private web server: ${req.url}`));
  let webPort = 0;
  let granted = 0;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let firstClient: TunProcess | undefined;

  before(async () => {
    webPort = await listenOn(web);
    granted = await freePort();
    relay = await startRelay(['--key', relayKey.key, '--public', '--authorized', keys.list('clients.list', [`permitlisten=${granted} ${clientKey.line}`])]);
    procs.push(relay.proc);
  });

  after(() =>
    lab.cleanup(async () => {
      web.closeAllConnections();
      await close(web);
    }),
  );

  it('an HTTP client reaches the local web server through the granted relay port', async () => {
    const c = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'web', '--local', `127.0.0.1:${webPort}`, '--public-port', String(granted)]);
    procs.push(c);
    firstClient = c;
    await c.waitFor(new RegExp(`service web registered; also public on relay port ${granted} \\(the relay sees its plaintext\\)`));
    await relay.proc.waitFor(new RegExp(`public port ${granted} serves web .* this relay sees what the application sends`));
    for (let i = 0; i < 5; i++) {
      const r = await httpGet(granted, `/page/${i}`);
      assert.equal(r.status, 200);
      assert.equal(r.body, `hello from the private web server: /page/${i}`);
    }
  });

  it('a restarted client gets its public port back', async () => {
    const args = ['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'web', '--local', `127.0.0.1:${webPort}`, '--public-port', String(granted)];
    assert.equal(await firstClient!.stop(), 0);
    const again = await startClient(args);
    procs.push(again);
    await again.waitFor(new RegExp(`service web registered; also public on relay port ${granted}`));
    assert.equal((await httpGet(granted, '/again')).body, 'hello from the private web server: /again');
  });

  it('a port the list does not grant is refused, with the line to add', async () => {
    const other = await freePort();
    const c = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'web2', '--local', `127.0.0.1:${webPort}`, '--public-port', String(other)]);
    procs.push(c);
    await c.waitFor(new RegExp(`service web2 refused by the relay: public_port_denied: port ${other} is not granted to this key \\(add permitlisten=${other}`));
  });
});

describe('public mode is off unless the relay opts in', () => {
  it('a relay without --public refuses to publish even a granted port', async () => {
    const keys = new KeyDir();
    const [relayKey, clientKey] = keys.keys('relay', 'client');
    const port = await freePort();
    const relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', [`permitlisten=${port} ${clientKey.line}`])]);
    try {
      const c = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'web', '--local', '127.0.0.1:1', '--public-port', String(port)]);
      await c.waitFor(/service web refused by the relay: public_port_denied: this relay was started without --public/);
      await c.stop();
    } finally {
      await relay.proc.stop();
      keys.remove();
    }
  });
});
