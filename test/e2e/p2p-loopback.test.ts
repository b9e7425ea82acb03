/**
 * P2P on loopback with real CLI processes: the visitor's session moves to a direct TCP path to
 * the client (its streams no longer cross the relay), a 16 MiB transfer on it arrives intact, and
 * with --no-p2p on either end, or with visit --stdio, the visitor stays on the relay. Candidates
 * are kept to 127.0.0.1 (TUN_P2P_ADDRESSES) so nothing leaves loopback.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Lab } from '../helpers/lab.js';
import { roundTrip } from '../helpers/net.js';
import { CLI } from '../helpers/paths.js';
import { TunProcess, startRelay } from '../helpers/proc.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const LOOPBACK = { TUN_P2P_ADDRESSES: '127.0.0.1' };

describe('P2P on loopback (real CLI processes)', () => {
  const lab = new Lab();
  const { keys, procs } = lab;
  const [relayKey, clientKey, visitorKey] = keys.keys('relay', 'client', 'visitor');
  const echo = lab.newEcho();
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let clients: TunProcess;

  const start = async (args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<{ proc: TunProcess; m: RegExpMatchArray }> => {
    const proc = new TunProcess(args, { ...LOOPBACK, ...env });
    procs.push(proc);
    return { proc, m: await proc.waitFor(ready, 15_000) };
  };
  const client = async (extra: string[]): Promise<TunProcess> =>
    (await start(['client', '--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--allow', keys.list('visitors.list', [visitorKey.line]), ...extra], /tun client ready/)).proc;
  const visit = async (extra: string[] = []): Promise<{ proc: TunProcess; port: number }> => {
    const { proc, m } = await start(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo', '--listen', '127.0.0.1:0', ...extra], /tun visit ready: listening on port (\d+)/);
    return { proc, port: Number(m[1]) };
  };

  before(async () => {
    await echo.start();
    relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', [clientKey.line]), '--log-level', 'debug']);
    procs.push(relay.proc);
    clients = await client(['--p2p-port', '0']);
  });

  after(() => lab.cleanup());

  it('moves to a direct TCP path, and 16 MiB on it arrive intact without crossing the relay', async () => {
    const listening = await clients.waitFor(/P2P: direct connections on TCP port (\d+)/);
    const v = await visit();
    // The first stream does not wait for P2P: it runs on the relay session at once.
    const first = await roundTrip(v.port, Buffer.from('first'));
    assert.equal(first.data.toString(), 'first');
    const moved = await v.proc.waitFor(/path: direct-tcp (\S+)/, 15_000);
    assert.equal(moved[1], `127.0.0.1:${listening[1]}`, 'the direct path is the client listener');
    const relayLogBefore = relay.proc.output.length;
    const data = randomBytes(16 * 1024 * 1024);
    const out = await roundTrip(v.port, data);
    assert.equal(out.how, 'end');
    assert.equal(out.data.length, data.length);
    assert.equal(sha(out.data), sha(data), 'the echo of 16 MiB over the direct path is intact');
    assert.equal(await v.proc.stop(), 0);
    const counts = [...v.proc.output.matchAll(/streams by path: relay (\d+), direct-tcp (\d+), direct-udp (\d+)/g)].at(-1);
    assert.ok(counts, v.proc.output);
    assert.deepEqual([Number(counts[1]), Number(counts[2])], [1, 1], 'the first stream on the relay, the 16 MiB one direct');
    // The relay logs the bytes of each join it carried when it closes: the session it carried
    // (the relay path) saw the first stream and keepalives, never the 16 MiB.
    await relay.proc.waitFor(/closed after \d+ ms: \d+ bytes up, \d+ bytes down/, 5000);
    for (const m of relay.proc.output.slice(relayLogBefore).matchAll(/closed after \d+ ms: (\d+) bytes up, (\d+) bytes down/g)) {
      assert.ok(Number(m[1]) + Number(m[2]) < 1024 * 1024, `the relay carried ${m[1]}+${m[2]} bytes`);
    }
  });

  it('moves to a direct UDP path (hole punching, UDX) when only UDP is tried, and 16 MiB on it arrive intact', async () => {
    const { proc, m } = await start(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo', '--listen', '127.0.0.1:0'], /tun visit ready: listening on port (\d+)/, { TUN_P2P_PATHS: 'udp' });
    await proc.waitFor(/path: direct-udp 127\.0\.0\.1:\d+/, 15_000);
    const data = randomBytes(16 * 1024 * 1024);
    const out = await roundTrip(Number(m[1]), data);
    assert.equal(out.how, 'end');
    assert.equal(sha(out.data), sha(data), 'the echo of 16 MiB over UDX is intact');
    assert.equal(await proc.stop(), 0);
    assert.match([...proc.output.matchAll(/streams by path: .*/g)].at(-1)![0], /streams by path: relay 0, direct-tcp 0, direct-udp 1/);
  });

  it('visitor --no-p2p stays on the relay', async () => {
    const v = await visit(['--no-p2p']);
    const out = await roundTrip(v.port, randomBytes(100_000));
    assert.equal(out.data.length, 100_000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.doesNotMatch(v.proc.output, /path: direct/);
    assert.match(v.proc.output, /path: relay \(/);
    assert.equal(await v.proc.stop(), 0);
    assert.match([...v.proc.output.matchAll(/streams by path: .*/g)].at(-1)![0], /streams by path: relay 1, direct-tcp 0, direct-udp 0/);
  });

  it('visit --stdio never probes: its one stream stays on the relay (debug logs show no direct path)', async () => {
    const child = spawn(process.execPath, [CLI(), 'visit', '--stdio', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...LOOPBACK, TUN_LOG: 'debug' } });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    child.stdin.write('hello');
    for (let i = 0; i < 200 && out !== 'hello'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(out, 'hello', err);
    // A probe would start 250 ms after the session opened and find the client's listener on loopback at once.
    await new Promise((r) => setTimeout(r, 3000));
    child.stdin.end();
    assert.equal(await exited, 0, err);
    assert.match(err, /streams by path: relay 1, direct-tcp 0, direct-udp 0/, 'the logs were captured');
    // With probing, debug logs name the client's candidates and info logs the move to the direct path.
    assert.doesNotMatch(err, /path: direct|P2P candidates|P2P (tcp|udp|direct)/i);
  });

  it('client --no-p2p: no listener, the visitor stays on the relay', async () => {
    await clients.stop();
    const c = await client(['--no-p2p']);
    assert.doesNotMatch(c.output, /P2P: direct connections/);
    const v = await visit(['--log-level', 'debug']);
    const out = await roundTrip(v.port, Buffer.from('hi'));
    assert.equal(out.data.toString(), 'hi', v.proc.output + c.output);
    await v.proc.waitFor(/no P2P candidates from the client \(peer_to_peer_off/, 10_000);
    assert.doesNotMatch(v.proc.output, /path: direct/);
    await v.proc.stop();
    await c.stop();
  });
});
