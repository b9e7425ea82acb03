/**
 * `tun status` against real `tun server`, `tun client` and `tun visit` processes started with
 * --admin: the sockets are mode 0600, the JSON and the text match what the test did (who is
 * connected, streams per service and path, bytes), no private key appears in any answer, and the
 * socket stays bounded (one small request, a size limit, a timeout) and refuses to clobber files.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestKey } from '../helpers/keys.js';
import { Lab } from '../helpers/lab.js';
import { dial } from '../helpers/net.js';
import { TunProcess, startClient, startRelay, startVisitor } from '../helpers/proc.js';
import { eventually as poll } from '../helpers/poll.js';

interface Status {
  role: string;
  version: string;
  identity?: string;
  uptimeSeconds: number;
  sessionCount: number;
  sessions: { peer: string; path: string; fingerprint?: string; name?: string; client?: string; streams: number; since: string }[];
  services: { name: string; address?: string; client?: string }[];
  streams: { service: string; path: string; open: number; total: number; toService: number; toVisitor: number }[];
  bytes: { toService: number; toVisitor: number };
  handshakeFailures: Record<string, number>;
}

async function tunStatus(path: string, json: boolean): Promise<{ code: number | null; out: string; err: string }> {
  const p = new TunProcess(['status', '--admin', path, ...(json ? ['--json'] : [])]);
  const code = await p.exited;
  return { code, out: p.stdout, err: p.stderr };
}

async function statusJson(path: string): Promise<Status> {
  const r = await tunStatus(path, true);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as Status;
}

/** Polls the JSON status until `check` passes; the last failure is rethrown after `ms`. */
const eventually = (path: string, check: (s: Status) => void, ms?: number): Promise<Status> => poll(() => statusJson(path), check, ms);

/** Sends one raw request on the admin socket and collects what comes back until it closes. */
function raw(path: string, request: Buffer | undefined, ms = 10_000): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const s: Socket = connect({ path });
    const chunks: Buffer[] = [];
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`admin socket still open after ${ms} ms`));
    }, ms);
    s.on('connect', () => request && s.write(request));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve({ text: Buffer.concat(chunks).toString('utf8'), closedAfterMs: Date.now() - started });
    });
  });
}

/**
 * Streams of one service summed over paths, and sessions on the relay path: once P2P finds a
 * direct path some streams may take it (every path named must be a documented one).
 */
function streamsOf(s: Status, service: string): { open: number; total: number; toService: number; toVisitor: number } {
  const sum = { open: 0, total: 0, toService: 0, toVisitor: 0 };
  for (const r of s.streams.filter((x) => x.service === service)) {
    assert.match(r.path, /^(relay|direct-tcp|direct-udp)$/);
    sum.open += r.open;
    sum.total += r.total;
    sum.toService += r.toService;
    sum.toVisitor += r.toVisitor;
  }
  return sum;
}

const viaRelay = (s: Status): Status['sessions'] => s.sessions.filter((x) => x.path === 'relay');
const streamsInSessions = (s: Status): number => s.sessions.reduce((n, x) => n + x.streams, 0);

function privateSpellings(k: TestKey): string[] {
  const text = readFileSync(k.key, 'utf8').trim();
  const rawKey = Buffer.from(text.split(' ')[1]!, 'base64');
  return [text.split(' ')[1]!, rawKey.toString('hex'), rawKey.toString('base64url')];
}

describe('tun status (real CLI processes)', () => {
  const lab = new Lab();
  const { keys, procs } = lab;
  const [relayKey, clientKey, visitorKey, secondKey] = keys.keys('relay', 'client', 'visitor', 'second-client');
  const echo = lab.newEcho();
  const dir = mkdtempSync(join(tmpdir(), 'tun-admin-'));
  const sock = { relay: join(dir, 'relay.sock'), client: join(dir, 'run', 'client.sock'), visit: join(dir, 'visit.sock') };
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let visitorPort = 0;
  const held: Socket[] = [];

  before(async () => {
    await echo.start();
    relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', [clientKey.line]), '--admin', sock.relay]);
    procs.push(relay.proc);
    procs.push(
      await startClient([
        '--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key,
        '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--service', 'spare', '--local', '127.0.0.1:1',
        '--allow', keys.list('visitors.list', [visitorKey.line]), '--admin', sock.client,
      ]),
    );
    // One session per visitor, on the relay path (--no-p2p: P2P would add a direct session).
    const v = await startVisitor(['--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo', '--admin', sock.visit, '--no-p2p']);
    procs.push(v.proc);
    visitorPort = v.port;
  });

  after(async () => {
    for (const s of held) s.destroy();
    await lab.cleanup(() => rmSync(dir, { recursive: true, force: true }));
  });

  it('creates each admin socket with mode 0600, owned by the daemon user (its missing folder 0700)', () => {
    for (const path of Object.values(sock)) {
      const st = lstatSync(path);
      assert.ok(st.isSocket(), `${path} is a socket`);
      assert.equal((st.mode & 0o777).toString(8), '600', `${path} mode`);
      assert.equal(st.uid, process.getuid!());
    }
    assert.equal((lstatSync(join(dir, 'run')).mode & 0o777).toString(8), '700', 'the folder --admin created');
  });

  it('reports sessions, services and streams as the test made them, at the relay, the client and the visitor', async () => {
    const data = [randomBytes(5000), randomBytes(7000)];
    for (const d of data) {
      const s = await dial(visitorPort);
      held.push(s);
      const back: Buffer[] = [];
      s.on('data', (b: Buffer) => back.push(b));
      s.write(d);
      const deadline = Date.now() + 10_000;
      while (Buffer.concat(back).length < d.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(Buffer.concat(back), d);
    }
    const sent = data[0]!.length + data[1]!.length;

    const v = await eventually(sock.visit, (s) => assert.equal(streamsOf(s, 'echo').open, 2));
    assert.equal(v.role, 'visit');
    assert.equal(v.identity, visitorKey.fingerprint);
    assert.deepEqual(viaRelay(v).map((s) => [s.peer, s.fingerprint]), [['client', clientKey.fingerprint]]);
    assert.equal(streamsInSessions(v), 2);
    assert.deepEqual(streamsOf(v, 'echo'), { open: 2, total: 2, toService: sent, toVisitor: sent });
    assert.deepEqual(v.bytes, { toService: sent, toVisitor: sent });
    assert.equal(v.services[0]!.address, `127.0.0.1:${visitorPort}`);

    const c = await eventually(sock.client, (s) => assert.equal(streamsOf(s, 'echo').open, 2));
    assert.equal(c.role, 'client');
    assert.deepEqual(viaRelay(c).map((s) => [s.peer, s.fingerprint, s.name]), [['visitor', visitorKey.fingerprint, 'visitor']]);
    assert.equal(streamsInSessions(c), 2);
    assert.deepEqual(c.services.map((s) => [s.name, s.address]), [['echo', `127.0.0.1:${echo.port}`], ['spare', '127.0.0.1:1']]);
    assert.deepEqual(streamsOf(c, 'echo'), { open: 2, total: 2, toService: sent, toVisitor: sent });

    const r = await statusJson(sock.relay);
    assert.equal(r.role, 'relay');
    assert.equal(r.identity, relay.fingerprint);
    const bySort = [...r.sessions].sort((a, b) => a.peer.localeCompare(b.peer));
    assert.deepEqual(bySort.map((s) => [s.peer, s.fingerprint ?? null, s.client ?? null]), [['client', clientKey.fingerprint, null], ['visitor', null, clientKey.fingerprint]]);
    assert.equal(bySort[0]!.name, 'client', 'the name from the authorized list');
    assert.deepEqual(r.services.map((s) => [s.name, s.client]), [['echo', clientKey.fingerprint], ['spare', clientKey.fingerprint]]);
    const joined = r.streams.find((s) => s.service === '(session)')!;
    assert.equal(joined.open, 1, 'one visitor session spliced');
    assert.ok(joined.toService >= sent && joined.toVisitor >= sent, 'the relay carried the encrypted bytes');

    for (const s of [v, c, r]) {
      const text = JSON.stringify(s);
      for (const k of [relayKey, clientKey, visitorKey]) for (const secret of privateSpellings(k)) assert.ok(!text.includes(secret), `no private key in the ${s.role} status`);
    }
  });

  it('prints the same state as text', async () => {
    const r = await tunStatus(sock.relay, false);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^relay \(tun 0\.1\.0, pid \d+\), up \d+s since /);
    assert.match(r.out, /^sessions: 2$/m);
    assert.match(r.out, new RegExp(`^  client +${clientKey.fingerprint} +client +relay +1 `, 'm'));
    assert.match(r.out, /^streams: 1 open$/m);
    const c = await tunStatus(sock.client, false);
    assert.match(c.out, /^sessions: \d+$/m);
    assert.match(c.out, new RegExp(`^  visitor +${visitorKey.fingerprint} +visitor +relay +\\d+ +20\\d\\d-`, 'm'));
    assert.match(c.out, /^  echo +relay +\d+ +\d+ +[\d.]+ K?i?B +[\d.]+ K?i?B$/m);
    assert.match(c.out, /^streams: 2 open$/m);
    assert.match(c.out, /^services: 2$/m);
    const v = await tunStatus(sock.visit, false);
    assert.match(v.out, /^visit \(tun /);
    assert.match(v.out, /^streams: 2 open$/m);
  });

  it('follows streams closing', async () => {
    for (const s of held.splice(0)) s.end();
    await eventually(sock.visit, (s) => assert.deepEqual([streamsOf(s, 'echo').open, streamsOf(s, 'echo').total], [0, 2]));
    await eventually(sock.client, (s) => assert.equal(streamsInSessions(s), 0));
  });

  it('answers one bounded request per connection: unknown, oversized and silent requests are closed', async () => {
    const unknown = await raw(sock.client, Buffer.from('shutdown\n'));
    assert.match(JSON.parse(unknown.text).error, /unknown request "shutdown"/);
    const big = await raw(sock.client, Buffer.alloc(4096, 'a'));
    assert.match(JSON.parse(big.text).error, /longer than 256 bytes/);
    const silent = await raw(sock.client, undefined);
    assert.equal(silent.text, '');
    assert.ok(silent.closedAfterMs >= 1000, `closed a silent connection after ${silent.closedAfterMs} ms (the limit is 2 s)`);
    const trickle = connect({ path: sock.client });
    trickle.on('error', () => {});
    const started = Date.now();
    const drip = setInterval(() => trickle.write('s'), 200);
    await new Promise((resolve) => trickle.once('close', resolve));
    clearInterval(drip);
    const lasted = Date.now() - started;
    assert.ok(lasted < 6000, `a request trickled a byte at a time is cut at its deadline (2 s), not kept alive (closed after ${lasted} ms)`);
    const ok = await raw(sock.client, Buffer.from('status\n'));
    assert.equal(JSON.parse(ok.text).role, 'client');
  });

  it('refuses a path that is not a socket, or a socket another daemon answers on, and says so', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'keep me\n');
    for (const [path, why] of [[file, /exists and is not a socket/], [sock.relay, /another running process answers on this socket/]] as const) {
      const p = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo', '--listen', '127.0.0.1:0', '--admin', path]);
      procs.push(p);
      assert.equal(await p.exited, 1);
      assert.match(p.stderr, why);
    }
    assert.equal(readFileSync(file, 'utf8'), 'keep me\n', 'the file is untouched');
    assert.equal((await statusJson(sock.relay)).role, 'relay', 'the relay still answers on its socket');
  });

  it('shows the services a reload gave the client', async () => {
    const config = join(dir, 'client.toml');
    const write = (services: string[]): void =>
      writeFileSync(config, [`server = "127.0.0.1:${relay.control}"`, `pubkey = "${relayKey.pub}"`, `key = "${secondKey.key}"`, ...services.flatMap((n) => ['[[service]]', `name = "${n}"`, `local = "127.0.0.1:${echo.port}"`])].join('\n') + '\n');
    // Its own key, added to the relay's list (the relay reloads it), so the first client keeps its session.
    keys.list('clients.list', [clientKey.line, secondKey.line]);
    await relay.proc.waitFor(/reload \(file changed\): \+1 key/);
    write(['one']);
    const path = join(dir, 'reloaded.sock');
    const c = await startClient(['--config', config, '--admin', path]);
    procs.push(c);
    assert.deepEqual((await statusJson(path)).services.map((x) => x.name), ['one']);
    write(['one', 'two']);
    c.child.kill('SIGHUP');
    await eventually(path, (s) => assert.deepEqual(s.services.map((x) => x.name), ['one', 'two']));
    await c.stop();
  });

  it('reuses a stale socket left by a daemon that was killed, and removes its socket on a clean stop', async () => {
    const path = join(dir, 'stale.sock');
    const first = await startVisitor(['--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo', '--admin', path]);
    procs.push(first.proc);
    first.proc.child.kill('SIGKILL');
    await first.proc.exited;
    assert.ok(lstatSync(path).isSocket(), 'a killed daemon leaves its socket behind');
    const second = await startVisitor(['--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo', '--admin', path]);
    procs.push(second.proc);
    assert.equal((await statusJson(path)).role, 'visit');
    assert.equal(await second.proc.stop(), 0);
    assert.throws(() => lstatSync(path), /ENOENT/, 'removed on a clean stop');
    const gone = await tunStatus(path, false);
    assert.equal(gone.code, 1);
    assert.match(gone.err, /^tun: no tun daemon answers on .*stale\.sock \(ENOENT\) \(hint: start the daemon with --admin PATH/);
  });
});
