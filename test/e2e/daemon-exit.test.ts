/**
 * How a daemon process ends (src/cli/common.ts runDaemon): the first SIGINT/SIGTERM stops it cleanly
 * (exit 0); a role that ends on its own logs why on one line and exits 1; a second signal while
 * stopping exits at once (130).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { Lab } from '../helpers/lab.js';
import { freePort } from '../helpers/net.js';
import { TunProcess, startClient, startRelay } from '../helpers/proc.js';
import { repoRoot } from '../helpers/paths.js';

const lab = new Lab();
const { keys, procs } = lab;
const echo = lab.newEcho();
after(() => lab.cleanup());

/** Every stderr line is one log event (`<iso> <role> <level>: ...`) or the one fatal line `tun: ...`. */
function assertOneLineEvents(stderr: string): void {
  for (const line of stderr.split('\n').filter((l) => l !== '')) assert.match(line, /^(\d{4}-\d\d-\d\dT\S+Z \S+ (error|warn|info|debug): |tun: )/, `not an event line: ${line}`);
}

const signal = (p: TunProcess, sig: NodeJS.Signals): void => void p.child.kill(sig);

describe('tun client: how it ends', () => {
  const relayKey = keys.key('relay');
  const clientKey = keys.key('client');
  const strangerKey = keys.key('stranger');
  const clientArgs = (control: number, key = clientKey.key): string[] => ['client', '--server', `127.0.0.1:${control}`, '--pubkey', relayKey.pub, '--key', key, '--service', 'echo', '--local', `127.0.0.1:${echo.port}`];

  it('a client the relay refuses exits 1 with the reason and its hint on one line', async () => {
    await echo.start();
    const relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', [clientKey.line])]);
    procs.push(relay.proc);
    const stranger = new TunProcess(clientArgs(relay.control, strangerKey.key));
    procs.push(stranger);
    assert.equal(await stranger.exited, 1);
    assert.match(stranger.stderr, /^tun: client key \w+ not authorized by relay \w+ \(hint: append this client's \.pub line to the relay's --authorized file\)$/m);
    assertOneLineEvents(stranger.stderr);
    assert.doesNotMatch(stranger.stdout, /ready/);
  });

  it('SIGINT stops an online client cleanly: exit 0', async () => {
    const relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients2.list', [clientKey.line])]);
    procs.push(relay.proc);
    const client = await startClient(clientArgs(relay.control).slice(1));
    procs.push(client);
    signal(client, 'SIGINT');
    assert.equal(await client.exited, 0);
    assertOneLineEvents(client.stderr);
  });

  it('SIGTERM while the client is still starting (its relay unreachable, retrying): exit 0 at once', async () => {
    const down = await freePort();
    const client = new TunProcess(clientArgs(down));
    procs.push(client);
    await client.waitFor(/reconnecting to 127\.0\.0\.1:\d+ in/);
    signal(client, 'SIGTERM');
    assert.equal(await client.exited, 0);
    assertOneLineEvents(client.stderr);
  });

  it('a client whose relay comes back refusing it (after it was online) ends by itself: exit 1, one line why', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const relayArgs = (list: string): string[] => ['server', '--key', relayKey.key, '--authorized', list, '--bind', '127.0.0.1', '--control-port', String(ports[0]), '--visitor-port', String(ports[1]), '--tunnel-port', String(ports[2])];
    const relay1 = new TunProcess(relayArgs(keys.list('clients3.list', [clientKey.line])));
    procs.push(relay1);
    await relay1.waitFor(/tun server ready/);
    const client = await startClient(clientArgs(ports[0]!).slice(1));
    procs.push(client);
    assert.equal(await relay1.stop(), 0);
    await client.waitFor(/reconnecting to/);
    // The same relay key and ports, but this client's key is no longer on the list.
    const relay2 = new TunProcess(relayArgs(keys.list('clients4.list', [strangerKey.line])));
    procs.push(relay2);
    await relay2.waitFor(/tun server ready/);
    assert.equal(await client.exited, 1, 'the client ends by itself, non-zero');
    assert.match(client.stderr, / client error: client key \w+ not authorized by relay \w+ \(hint: append this client's \.pub line/);
    assertOneLineEvents(client.stderr);
  });
});

/** The stand-in role, run by node in a child process: its output, its exit code, and waiting on what it prints. */
class SlowRole {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  constructor(script: string, mode: string) {
    this.child = spawn(process.execPath, [script, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }
  async waitFor(re: RegExp): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!re.test(this.stdout)) {
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${re} in: ${this.stdout} ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('runDaemon with a role that is slow to stop (a real child process)', () => {
  // A stand-in role whose stop() never finishes: the second signal ends the process at once (130);
  // without it, runDaemon gives up on the stop after STOP_GRACE_MS (3 s) and exits with the first outcome's code.
  const script = join(keys.dir, 'slow-role.mjs');
  const common = pathToFileURL(join(repoRoot(), 'dist', 'src', 'cli', 'common.js')).href;
  writeFileSync(
    script,
    `import { runDaemon } from '${common}';
     const mode = process.argv[2];
     setInterval(() => {}, 1000); // what a listening server would do: keep the process alive
     await runDaemon(async () => ({
       ready: 'slow role ready',
       stop: () => { process.stdout.write('stopping\\n'); return new Promise(() => { setInterval(() => {}, 1000); }); },
       ended: mode === 'ends' ? new Promise((_, reject) => setTimeout(() => reject(new Error('the listener went away')), 200)) : undefined,
     }));`,
  );
  it('a second SIGINT while stopping exits at once with 130', async () => {
    const p = new SlowRole(script, 'waits');
    await p.waitFor(/slow role ready/);
    p.child.kill('SIGINT');
    await p.waitFor(/stopping/);
    p.child.kill('SIGINT');
    assert.equal(await p.exited, 130);
  });

  it('a role whose ended promise rejects: one line with the reason, exit 1 (even though its stop hangs)', async () => {
    const p = new SlowRole(script, 'ends');
    assert.equal(await p.exited, 1);
    assert.match(p.stderr, /^tun: stopped: the listener went away \(hint: /);
    assert.equal(p.stderr.split('\n').filter((l) => l).length, 1);
    assert.match(p.stdout, /slow role ready\nstopping\n/);
  });
});
