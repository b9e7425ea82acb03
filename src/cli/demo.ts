/**
 * `tun demo`: a relay, a client exposing a small built-in web page, and a visitor, all on loopback
 * with fresh keys in a temporary folder. Checks one request end to end, prints what to try, and
 * shuts everything down on Ctrl-C (or at once with --exit).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request, createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Client } from '../client/client.js';
import { TunError } from '../errors.js';
import { KeyList } from '../identity/key-list.js';
import { fingerprint, formatPublicKey, generateKeyMaterial, writeKeyPair } from '../identity/keys.js';
import { createLogger, parseLevel } from '../log.js';
import { boundPort, parseHostPort } from '../net/socket.js';
import { Relay } from '../relay/relay.js';
import { Visitor } from '../visitor/visitor.js';
import { LOG_LEVEL_HELP, loadKeyPair, runDaemon } from './common.js';

const LOOPBACK = '127.0.0.1';

function page(): string {
  return `<!doctype html><meta charset="utf-8"><title>tun demo</title>
<h1>Hello through tun</h1>
<p>This page is served by a local web server behind <code>tun client</code>. Your browser talked to
<code>tun visit</code>, which carried the request through the relay inside a Noise
(IK, ChaCha20-Poly1305, BLAKE2b) stream that only the visitor and the client can read.</p>
<p>Served at ${new Date().toISOString()}.</p>\n`;
}

function startPage(): Promise<Server> {
  const server = createServer((_req, res) => {
    const body = page();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve(server));
  });
}

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new TunError('TIMEOUT', 'the demo request took longer than 10 s')));
    req.on('error', reject);
    req.end();
  });
}

function timeoutAfter(ms: number, what: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new TunError('TIMEOUT', `${what} within ${ms / 1000} s`, 'run it again with --log-level debug to see why')), ms).unref());
}

function makeKeys(dir: string): Record<'relay' | 'client' | 'visitor', string> {
  const out = {} as Record<'relay' | 'client' | 'visitor', string>;
  for (const name of ['relay', 'client', 'visitor'] as const) {
    const k = generateKeyMaterial();
    writeKeyPair(join(dir, name), k, `demo-${name}`, false);
    k.privateKey.fill(0);
    out[name] = join(dir, name);
  }
  return out;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a relay, a client with a small web page and a visitor on loopback, with fresh keys; prints the URL to open')
    .option('--listen <host:port>', 'where the visitor listens for your browser', `${LOOPBACK}:0`)
    .option('--exit', 'check one request end to end, then stop (for scripts)', false)
    .option('--log-level <level>', LOG_LEVEL_HELP, 'warn')
    .action((o: { listen: string; exit: boolean; logLevel: string }) =>
      runDaemon(async () => {
        // Streams still in flight when the demo stops are cut on purpose: nothing to warn about then.
        let stopping = false;
        const log = createLogger('demo', parseLevel(o.logLevel, 'warn'), (line) => {
          if (!stopping) process.stderr.write(line);
        });
        const dir = mkdtempSync(join(tmpdir(), 'tun-demo-'));
        const stops: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
        const stop = async (): Promise<void> => {
          stopping = true;
          for (const s of stops.reverse()) await s();
        };
        try {
          const keys = makeKeys(dir);
          const relayKey = loadKeyPair(`${keys.relay}.key`);
          const clientKey = loadKeyPair(`${keys.client}.key`);
          const visitorKey = loadKeyPair(`${keys.visitor}.key`);
          writeFileSync(join(dir, 'clients.list'), formatPublicKey(clientKey.publicKey, 'demo-client') + '\n');
          writeFileSync(join(dir, 'visitors.list'), formatPublicKey(visitorKey.publicKey, 'demo-visitor') + '\n');

          const web = await startPage();
          stops.push(() => new Promise<void>((r) => web.close(() => r())));
          const relay = new Relay({ key: relayKey, authorized: KeyList.load(join(dir, 'clients.list')), bind: LOOPBACK, controlPort: 0, visitorPort: 0, tunnelPort: 0, allowPublic: false, log: log.child('relay') });
          await relay.start();
          stops.push(() => relay.stop());
          const client = new Client({
            server: { host: LOOPBACK, port: relay.ports.control },
            relayKey: relay.publicKey,
            key: clientKey,
            services: [{ name: 'web', local: { host: LOOPBACK, port: boundPort(web) } }],
            allow: KeyList.load(join(dir, 'visitors.list')),
            log: log.child('client'),
          });
          const running = client.run();
          stops.push(async () => {
            client.stop();
            await running;
          });
          await Promise.race([client.online, running, timeoutAfter(10_000, 'the demo client did not come online')]);
          const visitor = new Visitor({ server: { host: LOOPBACK, port: relay.ports.visitor }, clientKey: clientKey.publicKey, key: visitorKey, services: [{ name: 'web', listen: parseHostPort(o.listen, undefined, '--listen') }], log: log.child('visit') });
          await visitor.start();
          stops.push(() => visitor.stop());

          const url = `http://${LOOPBACK}:${visitor.port}/`;
          const t0 = performance.now();
          const res = await fetchText(url);
          const ms = performance.now() - t0;
          if (res.status !== 200 || !res.body.includes('Hello through tun')) throw new TunError('PROTOCOL_VIOLATION', `the demo page came back wrong (HTTP ${res.status})`);
          const p = relay.ports;
          process.stdout.write(
            [
              'tun demo: all three parts run on loopback with fresh keys in ' + dir,
              `  relay   ${fingerprint(relay.publicKey)}  control :${p.control}  visitors :${p.visitor}  tunnel :${p.tunnel}`,
              `  client  ${fingerprint(clientKey.publicKey)}  offers "web" -> built-in page on :${boundPort(web)}`,
              `  visitor ${fingerprint(visitorKey.publicKey)}  listens on :${visitor.port}`,
              `checked: fetched the page through the tunnel (${res.body.length} bytes, ${ms.toFixed(1)} ms, end-to-end encrypted)`,
              '',
              `open ${url} in a browser, or: curl ${url}`,
              o.exit ? '' : 'press Ctrl-C to stop\n',
            ].join('\n'),
          );
        } catch (err) {
          await stop();
          throw err;
        }
        if (o.exit) {
          await stop();
          return { ready: 'tun demo: stopped', stop: async () => {}, done: true };
        }
        return { ready: '', stop: async () => {
          await stop();
          process.stdout.write('tun demo: stopped\n');
        } };
      }),
    );
}
