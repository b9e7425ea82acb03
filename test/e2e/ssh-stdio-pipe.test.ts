/**
 * `tun visit --stdio` with real processes: bytes through stdin/stdout (16 MiB checked by sha256),
 * the service closing first, and the failures (reset, unknown service, no client) each ending the
 * process with exit 1 and a one-line reason on stderr.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Lab } from '../helpers/lab.js';
import { close, listenOn } from '../helpers/net.js';
import { CLI } from '../helpers/paths.js';
import { startClient, startRelay } from '../helpers/proc.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface StdioRun {
  stdout: Buffer;
  stderr: string;
  code: number | null;
}

/** Runs `tun visit --stdio`, feeds it `input` (then EOF unless `keepOpen`), and collects what it prints. */
function runStdio(args: string[], input: Buffer, keepOpen = false, ms = 60_000): Promise<StdioRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI(), 'visit', '--stdio', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TUN_LOG: '' } });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tun visit --stdio did not exit within ${ms} ms; stderr:\n${err}`));
    }, ms);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdin.on('error', () => {});
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(out), stderr: err, code });
    });
    child.stdin.write(input);
    if (!keepOpen) child.stdin.end();
  });
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

describe('tun visit --stdio (real CLI processes)', () => {
  const lab = new Lab();
  const { keys, procs } = lab;
  const [relayKey, clientKey, visitorKey, offlineKey] = keys.keys('relay', 'client', 'visitor', 'offline');
  const echo = lab.newEcho();
  const greeting = randomBytes(300_000);
  /** Sends its greeting, then closes (FIN) without reading: the service ends the stream first. */
  const talker = createServer({ allowHalfOpen: true }, (s) => s.end(greeting));
  /** Reads a little, then resets the connection. */
  const resetter = createServer((s: Socket) => s.once('data', () => s.resetAndDestroy()));
  let relayVisitor = 0;
  const visit = (pub = clientKey.pub): string[] => ['--server', `127.0.0.1:${relayVisitor}`, '--pubkey', pub, '--key', visitorKey.key];

  before(async () => {
    await echo.start();
    const talkerPort = await listenOn(talker);
    const resetterPort = await listenOn(resetter);
    const relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', [clientKey.line])]);
    procs.push(relay.proc);
    relayVisitor = relay.visitor;
    procs.push(await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key,
      '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--service', 'talker', '--local', `127.0.0.1:${talkerPort}`,
      '--service', 'resetter', '--local', `127.0.0.1:${resetterPort}`, '--allow', keys.list('visitors.list', [visitorKey.line])]));
  });

  after(() =>
    lab.cleanup(async () => {
      await close(talker);
      await close(resetter);
    }),
  );

  it('pipes 16 MiB through stdin and back out of stdout intact, and exits 0 after EOF', async () => {
    const data = randomBytes(16 * 1024 * 1024);
    const r = await runStdio([...visit(), '--service', 'echo'], data);
    assert.equal(r.code, 0, `exit code; stderr:\n${r.stderr}`);
    assert.equal(r.stdout.length, data.length, 'stdout carries only the stream bytes (no ready line)');
    assert.equal(sha(r.stdout), sha(data));
    assert.equal(sha(echo.received.at(-1)!), sha(data), 'the service received every byte');
    assert.deepEqual(lines(r.stderr), [], 'nothing on stderr when all goes well');
  });

  it('a service that closes first ends the process with exit 0, stdin still open', async () => {
    const r = await runStdio([...visit(), '--service', 'talker'], Buffer.alloc(0), true);
    assert.equal(r.code, 0, `exit code; stderr:\n${r.stderr}`);
    assert.equal(sha(r.stdout), sha(greeting));
  });

  it('a reset by the service ends the process with exit 1 and one line saying so', async () => {
    const r = await runStdio([...visit(), '--service', 'resetter'], Buffer.from('hello'), true);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.length, 0);
    const last = lines(r.stderr).at(-1) ?? '';
    assert.match(last, /visit error: stream to resetter reset by the client: peer_reset/);
    assert.equal(lines(r.stderr).length, 1, `one line:\n${r.stderr}`);
  });

  it('an unknown service ends the process with exit 1, the reason and its hint on one line', async () => {
    const r = await runStdio([...visit(), '--service', 'nosuch'], Buffer.from('x'), true);
    assert.equal(r.code, 1);
    const out = lines(r.stderr);
    assert.equal(out.length, 1, `one line:\n${r.stderr}`);
    assert.match(out[0]!, /stream to nosuch reset by the client: unknown_service: .*\(hint: /);
  });

  it('a client that is not online ends the process with exit 1 and the reason', async () => {
    const r = await runStdio([...visit(offlineKey.pub), '--service', 'echo'], Buffer.from('x'), true);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /client_offline|not connected/);
    assert.match(lines(r.stderr).at(-1)!, /no stream to echo: the session to the client could not be opened/);
  });

  it('--stdio refuses --listen and more than one --service', async () => {
    const both = await runStdio([...visit(), '--service', 'echo', '--listen', '9'], Buffer.alloc(0));
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--stdio and --listen do not go together/);
    const two = await runStdio([...visit(), '--service', 'echo', '--service', 'talker'], Buffer.alloc(0));
    assert.equal(two.code, 1);
    assert.match(two.stderr, /give exactly one --service \(got 2\)/);
    const metrics = await runStdio([...visit(), '--service', 'echo', '--metrics', '127.0.0.1:0'], Buffer.alloc(0));
    assert.equal(metrics.code, 1);
    assert.match(metrics.stderr, /--metrics does not go with --stdio/);
  });
});
