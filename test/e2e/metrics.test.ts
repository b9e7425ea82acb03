/**
 * Prometheus metrics from real `tun server`, `tun client` and `tun visit` processes: scraped over
 * HTTP on loopback, parsed with a small parser of the text format (every sample line must parse),
 * and checked against what the test did — sessions, streams opened and closed, the exact bytes a
 * service received and sent back (it answers twice what it gets, so the two directions differ),
 * handshake failures by reason — plus the loopback rule.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Lab } from '../helpers/lab.js';
import { close, dial, freePort, listenOn } from '../helpers/net.js';
import { TunProcess, startClient, startRelay, startVisitor } from '../helpers/proc.js';
import { eventually as poll } from '../helpers/poll.js';

interface Scrape {
  types: Map<string, string>;
  samples: Map<string, number>;
  list: { name: string; labels: Record<string, string>; value: number }[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;

/** `name{a="1",b="2"}` with labels in name order: the key a sample is stored and looked up under. */
function seriesKey(name: string, labels: Record<string, string>): string {
  const parts = Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`);
  return parts.length ? `${name}{${parts.join(',')}}` : name;
}

/** A sample value as Prometheus reads it (Go's ParseFloat: NaN and Inf in any case; prom-client writes "Nan"). */
function parseValue(text: string): number | undefined {
  if (/^nan$/i.test(text)) return NaN;
  const inf = /^([+-]?)inf$/i.exec(text);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : undefined;
}

/** The Prometheus text format (version 0.0.4), strictly: a line that is neither a comment nor a sample fails the test. */
function parseProm(text: string): Scrape {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  const list: Scrape['list'] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const t = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (t) types.set(t[1]!, t[2]!);
      else assert.match(line, /^# HELP \S+ /, `comment line: ${line}`);
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `sample line does not parse: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    let l: RegExpExecArray | null;
    let read = 0;
    while ((l = LABEL.exec(body))) {
      labels[l[1]!] = l[2]!;
      read = LABEL.lastIndex;
    }
    assert.equal(read, body.length, `labels do not parse: ${line}`);
    const value = parseValue(m[3]!);
    assert.ok(value !== undefined, `value does not parse: ${line}`);
    samples.set(seriesKey(m[1]!, labels), value!);
    list.push({ name: m[1]!, labels, value: value! });
  }
  return { types, samples, list };
}

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('scrape timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function scrape(port: number): Promise<Scrape> {
  const r = await get(port, '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  return parseProm(r.body);
}

/** The sample's value; 0 when the series is absent (a counter not yet incremented). */
const val = (s: Scrape, name: string, labels: Record<string, string> = {}): number => s.samples.get(seriesKey(name, labels)) ?? 0;

/**
 * The sum over every series of `name` whose labels include `labels`, whatever its path (a direct
 * path may carry some streams once P2P finds one); every path seen must be a documented one.
 */
function sum(s: Scrape, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const x of s.list) {
    if (x.name !== name || !Object.entries(labels).every(([k, v]) => x.labels[k] === v)) continue;
    if (x.labels.path !== undefined) assert.match(x.labels.path, /^(relay|direct-tcp|direct-udp)$/);
    total += x.value;
  }
  return total;
}

/** Scrapes until `check` passes (metrics follow events asynchronously); the last failure is rethrown after `ms`. */
const eventually = (port: number, check: (s: Scrape) => void, ms?: number): Promise<Scrape> => poll(() => scrape(port), check, ms);

async function metricsPort(proc: TunProcess): Promise<number> {
  return Number((await proc.waitFor(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/))[1]);
}

/** A service that writes back every chunk twice, and ends when its peer ends. */
function doubler(): ReturnType<typeof createServer> {
  return createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.on('data', (d: Buffer) => s.write(Buffer.concat([d, d])));
    s.on('end', () => s.end());
  });
}

/** Sends `data` on `s` (write side left open) and resolves once twice as many bytes came back. */
function answered(s: Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const onData = (d: Buffer): void => {
      n += d.length;
      if (n < 2 * data.length) return;
      s.off('data', onData);
      if (n === 2 * data.length) resolve();
      else reject(new Error(`${n} bytes came back for ${data.length}`));
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error(`closed after ${n} of ${2 * data.length} bytes`)));
    s.write(data);
  });
}

function closeClean(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    s.once('close', () => resolve());
    s.end();
    s.resume();
  });
}

describe('metrics (real CLI processes)', () => {
  const lab = new Lab();
  const { keys, procs } = lab;
  const [relayKey, clientKey, visitorKey, strangerKey] = keys.keys('relay', 'client', 'visitor', 'stranger');
  const echo = lab.newEcho();
  const twice = doubler();
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let relayM = 0;
  let clientM = 0;
  let visitorM = 0;
  let visitorPort = 0;
  const M = '--metrics';

  before(async () => {
    await echo.start();
    const twicePort = await listenOn(twice);
    relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', [clientKey.line]), M, '127.0.0.1:0']);
    procs.push(relay.proc);
    relayM = await metricsPort(relay.proc);
    const client = await startClient([
      '--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key,
      '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--service', 'twice', '--local', `127.0.0.1:${twicePort}`,
      '--allow', keys.list('visitors.list', [visitorKey.line]), M, '127.0.0.1:0',
    ]);
    procs.push(client);
    clientM = await metricsPort(client);
  });

  after(() => lab.cleanup(() => close(twice)));

  it('serves valid Prometheus text with the documented metrics, and nothing but GET /metrics', async () => {
    const r = await scrape(relayM);
    assert.equal(val(r, 'tun_info', { role: 'relay', version: '0.1.0' }), 1);
    assert.equal(val(r, 'tun_sessions', { peer: 'client', path: 'relay' }), 1, 'the client is online');
    assert.equal(val(r, 'tun_sessions', { peer: 'visitor', path: 'relay' }), 0);
    for (const [name, type] of Object.entries({
      tun_sessions: 'gauge', tun_streams_open: 'gauge', tun_streams_total: 'counter', tun_bytes_total: 'counter', tun_handshake_failures_total: 'counter',
      tun_pending_joins: 'gauge', tun_reconnects_total: 'counter', tun_reloads_total: 'counter', tun_preauth_connections: 'gauge', tun_preauth_dropped_total: 'counter',
      process_cpu_seconds_total: 'counter',
    })) assert.equal(r.types.get(name), type, `${name} is a ${type}`);
    assert.equal(val(r, 'tun_reloads_total', { result: 'ok' }), 0);
    assert.ok(r.samples.has(seriesKey('tun_preauth_connections', {})));

    const c = await scrape(clientM);
    assert.equal(val(c, 'tun_info', { role: 'client', version: '0.1.0' }), 1);
    assert.equal(val(c, 'tun_sessions', { peer: 'visitor', path: 'relay' }), 0, 'no visitor yet');
    assert.equal(c.types.get('tun_preauth_connections'), undefined, 'pre-auth is a relay metric');

    assert.equal((await get(relayM, '/')).status, 404);
    assert.equal((await get(relayM, '/metrics/../secret')).status, 404);
  });

  it('follows a visitor opening streams and moving bytes (exact byte counts at both ends)', async () => {
    // The relay's byte counts are checked: the visitor stays on the relay path (--no-p2p).
    const v = await startVisitor(['--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'twice', M, '127.0.0.1:0', '--no-p2p']);
    procs.push(v.proc);
    visitorPort = v.port;
    visitorM = await metricsPort(v.proc);
    await eventually(clientM, (s) => assert.equal(val(s, 'tun_sessions', { peer: 'visitor', path: 'relay' }), 1));
    await eventually(relayM, (s) => assert.equal(val(s, 'tun_sessions', { peer: 'visitor', path: 'relay' }), 1));

    const N = 100_000;
    const sockets = await Promise.all([0, 1, 2].map(() => dial(visitorPort)));
    for (const s of sockets) await answered(s, randomBytes(N));
    await closeClean(sockets[0]!);
    const twiceStreams = { service: 'twice' };
    const bytes = (direction: string): Record<string, string> => ({ ...twiceStreams, direction });
    for (const port of [clientM, visitorM]) {
      await eventually(port, (s) => {
        assert.equal(sum(s, 'tun_streams_open', twiceStreams), 2);
        assert.equal(sum(s, 'tun_streams_total', twiceStreams), 3);
        assert.equal(sum(s, 'tun_bytes_total', bytes('to_service')), 3 * N, 'every byte sent reached the service, counted once');
        assert.equal(sum(s, 'tun_bytes_total', bytes('to_visitor')), 6 * N);
      });
    }
    const session = { service: '(session)', path: 'relay' };
    const r = await eventually(relayM, (s) => assert.equal(val(s, 'tun_streams_open', session), 1, 'one end-to-end session spliced'));
    assert.ok(val(r, 'tun_bytes_total', { ...session, direction: 'to_service' }) >= 3 * N, 'the relay carried at least the application bytes (and their encryption)');
    assert.ok(val(r, 'tun_bytes_total', { ...session, direction: 'to_visitor' }) >= 6 * N);
    assert.equal(val(r, 'tun_pending_joins'), 0);

    await Promise.all(sockets.slice(1).map(closeClean));
    for (const port of [clientM, visitorM]) {
      await eventually(port, (s) => {
        assert.equal(sum(s, 'tun_streams_open', twiceStreams), 0);
        assert.equal(sum(s, 'tun_streams_total', twiceStreams), 3);
        assert.equal(sum(s, 'tun_bytes_total', bytes('to_service')), 3 * N, 'the bytes of ended streams are kept');
      });
    }
  });

  it('counts handshake failures by reason at the relay, the client and the visitor', async () => {
    const stranger = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', strangerKey.key, '--service', 'echo', '--listen', '127.0.0.1:0', M, '127.0.0.1:0']);
    procs.push(stranger);
    const strangerM = await metricsPort(stranger);
    await eventually(clientM, (s) => assert.ok(val(s, 'tun_handshake_failures_total', { reason: 'VISITOR_NOT_ALLOWED' }) >= 1));
    await eventually(strangerM, (s) => assert.ok(val(s, 'tun_handshake_failures_total', { reason: 'VISITOR_NOT_ALLOWED' }) >= 1, 'the visitor counts its refusal too'));
    await stranger.stop();

    const unlisted = new TunProcess(['client', '--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', strangerKey.key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`]);
    procs.push(unlisted);
    assert.equal(await unlisted.exited, 1, 'a client the relay does not list stops');
    await eventually(relayM, (s) => assert.equal(val(s, 'tun_handshake_failures_total', { reason: 'CLIENT_NOT_AUTHORIZED' }), 1));
    const c = await scrape(clientM);
    assert.equal(val(c, 'tun_sessions', { peer: 'visitor', path: 'relay' }), 1, 'the allowed visitor is unaffected');
  });

  it('labels sessions and streams on a direct path (P2P on loopback), and the relay does not count their bytes', async () => {
    const v = await startVisitor(['--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'twice', M, '127.0.0.1:0']);
    procs.push(v.proc);
    const vm = await metricsPort(v.proc);
    await v.proc.waitFor(/path: direct-tcp /, 20_000);
    const direct = { service: 'twice', path: 'direct-tcp' };
    const relayBefore = val(await scrape(relayM), 'tun_bytes_total', { service: '(session)', path: 'relay', direction: 'to_service' });
    const N = 200_000;
    const s = await dial(v.port);
    await answered(s, randomBytes(N));
    await closeClean(s);
    for (const port of [vm, clientM]) {
      await eventually(port, (m) => {
        assert.equal(val(m, 'tun_streams_total', direct), 1, 'the one stream went direct');
        assert.ok(val(m, 'tun_bytes_total', { ...direct, direction: 'to_service' }) >= N);
        assert.equal(val(m, 'tun_streams_open', direct), 0);
      });
    }
    const vs = await scrape(vm);
    assert.equal(val(vs, 'tun_sessions', { peer: 'client', path: 'direct-tcp' }), 1);
    assert.equal(val(vs, 'tun_bytes_total', { ...direct, direction: 'to_service' }), N, 'exactly what the application sent');
    assert.equal(val(vs, 'tun_bytes_total', { ...direct, direction: 'to_visitor' }), 2 * N);
    assert.equal(val(vs, 'tun_streams_total', { service: 'twice', path: 'relay' }), 0, 'nothing went through the relay');
    assert.equal(val(await scrape(clientM), 'tun_sessions', { peer: 'visitor', path: 'direct-tcp' }), 1);
    const relayAfter = val(await scrape(relayM), 'tun_bytes_total', { service: '(session)', path: 'relay', direction: 'to_service' });
    assert.ok(relayAfter - relayBefore < N / 4, `the relay carried ${relayAfter - relayBefore} bytes of a ${N}-byte direct stream (control traffic only)`);
    await v.proc.stop();
  });

  it('counts configuration reloads, applied and rejected (SIGHUP)', async () => {
    const before = await scrape(relayM);
    const ok0 = val(before, 'tun_reloads_total', { result: 'ok' });
    const failed0 = val(before, 'tun_reloads_total', { result: 'failed' });
    relay.proc.child.kill('SIGHUP');
    await eventually(relayM, (s) => assert.equal(val(s, 'tun_reloads_total', { result: 'ok' }), ok0 + 1));
    const list = keys.list('clients.list', [clientKey.line]);
    writeFileSync(list, 'this is not a key line\n');
    relay.proc.child.kill('SIGHUP');
    await eventually(relayM, (s) => assert.ok(val(s, 'tun_reloads_total', { result: 'failed' }) >= failed0 + 1, 'a rejected reload counts as failed'));
    writeFileSync(list, clientKey.line + '\n');
    const after = await eventually(relayM, (s) => assert.ok(val(s, 'tun_reloads_total', { result: 'ok' }) >= ok0 + 2, 'the fixed list is taken again'));
    assert.equal(val(after, 'tun_sessions', { peer: 'client', path: 'relay' }), 1, 'the client stayed online through the reloads');
  });

  it('refuses --metrics on a host that is not loopback, naming --metrics-public', async () => {
    for (const host of ['0.0.0.0:0', '192.0.2.1:0', '[::]:0']) {
      const p = new TunProcess(['server', '--key', relayKey.key, '--authorized', keys.list('c2.list', [clientKey.line]), '--bind', '127.0.0.1', '--control-port', '0', '--visitor-port', '0', '--tunnel-port', '0', M, host]);
      procs.push(p);
      assert.equal(await p.exited, 1, `--metrics ${host} refused`);
      assert.match(p.stderr, /not a loopback address.*--metrics-public/);
      assert.doesNotMatch(p.stdout, /ready/);
    }
    const bad = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo', '--listen', '127.0.0.1:0', M, 'no-port-here']);
    procs.push(bad);
    assert.equal(await bad.exited, 1);
    assert.match(bad.stderr, /--metrics "no-port-here" is not HOST:PORT/);
  });
});

describe('metrics across a relay restart (real CLI processes)', () => {
  const lab = new Lab();
  const { keys, procs } = lab;
  const [relayKey, clientKey, visitorKey] = keys.keys('relay', 'client', 'visitor');
  const echo = lab.newEcho();

  before(() => echo.start());
  after(() => lab.cleanup());

  it('counts the client reconnecting and the visitor reopening its session', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const relayArgs = ['server', '--key', relayKey.key, '--authorized', keys.list('clients.list', [clientKey.line]), '--bind', '127.0.0.1',
      '--control-port', String(ports[0]), '--visitor-port', String(ports[1]), '--tunnel-port', String(ports[2])];
    const first = new TunProcess(relayArgs);
    procs.push(first);
    await first.waitFor(/tun server ready/);
    const client = await startClient([
      '--server', `127.0.0.1:${ports[0]}`, '--pubkey', relayKey.pub, '--key', clientKey.key,
      '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--allow', keys.list('visitors.list', [visitorKey.line]), '--metrics', '127.0.0.1:0',
    ]);
    procs.push(client);
    const clientM = await metricsPort(client);
    const v = await startVisitor(['--server', `127.0.0.1:${ports[1]}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo', '--metrics', '127.0.0.1:0']);
    procs.push(v.proc);
    const visitorM = await metricsPort(v.proc);
    await eventually(visitorM, (s) => assert.equal(val(s, 'tun_sessions', { peer: 'client', path: 'relay' }), 1));
    assert.equal(val(await scrape(clientM), 'tun_reconnects_total'), 0);

    assert.equal(await first.stop(), 0);
    await eventually(clientM, (s) => assert.equal(val(s, 'tun_sessions', { peer: 'visitor', path: 'relay' }), 0, 'the session through the stopped relay is gone'));
    const second = new TunProcess(relayArgs);
    procs.push(second);
    await second.waitFor(/tun server ready/);
    // The client's first retry after losing its relay is spread over 8 s (a restart must not bring every client back at once).
    await eventually(clientM, (s) => assert.equal(val(s, 'tun_reconnects_total'), 1), 30_000);
    const after = await eventually(visitorM, (s) => assert.equal(val(s, 'tun_sessions', { peer: 'client', path: 'relay' }), 1), 30_000);
    assert.ok(val(after, 'tun_reconnects_total') >= 1, 'the visitor reopened its session');
  });
});
