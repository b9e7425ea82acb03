/**
 * Config files through the real CLI: the examples in examples/ run as they are (with keys made
 * for them and test ports), and tun visit --stdio takes its settings from one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigLab } from '../helpers/config.js';
import { freePort, roundTrip } from '../helpers/net.js';
import { CLI, repoRoot } from '../helpers/paths.js';
import { TunProcess, startClient, startRelay } from '../helpers/proc.js';

const lab = new ConfigLab();
const { keys, procs } = lab;
after(() => lab.cleanup());

const file = (name: string, text: string): string => lab.file(name, text);

/** An example copied next to the test's keys, with its placeholders replaced. */
function example(name: string, replace: [string, string][]): string {
  let text = readFileSync(join(repoRoot(), 'examples', name), 'utf8');
  for (const [from, to] of replace) {
    assert.ok(text.includes(from), `examples/${name} mentions ${from}`);
    text = text.replaceAll(from, to);
  }
  return file(name, text);
}

describe('examples/ run as they are', () => {
  test('relay.toml, client.toml (ssh + web, per-service visitor lists) and visit.toml carry streams', async () => {
    mkdirSync(join(keys.dir, 'keys'));
    const k = { relay: keys.key('keys/relay'), home: keys.key('keys/home'), laptop: keys.key('keys/laptop'), other: keys.key('other') };
    keys.list('visitors.list', [k.laptop.line, k.other.line]);
    keys.list('ssh-visitors.list', [k.laptop.line]);
    copyFileSync(join(repoRoot(), 'examples', 'relay.toml'), join(keys.dir, 'relay.toml'));
    const relay = await startRelay(['--config', join(keys.dir, 'relay.toml')]);
    procs.push(relay.proc);
    await relay.proc.waitFor(/1 authorized client key/);
    const ssh = await lab.echo();
    const web = await lab.echo();
    const client = example('client.toml', [['relay.example.com:8009', `127.0.0.1:${relay.control}`], ['127.0.0.1:22"', `127.0.0.1:${ssh.port}"`], ['127.0.0.1:8080"', `127.0.0.1:${web.port}"`]]);
    const c = await startClient(['--config', client]);
    procs.push(c);
    await c.waitFor(/service ssh registered/);
    await c.waitFor(/service web registered/);
    const [p1, p2] = [await freePort(), await freePort()];
    const visit = example('visit.toml', [['relay.example.com:8007', `127.0.0.1:${relay.visitor}`], ['127.0.0.1:2222', `127.0.0.1:${p1}`], ['127.0.0.1:8081', `127.0.0.1:${p2}`]]);
    const v = new TunProcess(['visit', '--config', visit]);
    procs.push(v);
    await v.waitFor(new RegExp(`tun visit ready: listening on port ${p1}, ${p2}`));
    for (const port of [p1, p2]) {
      const out = await roundTrip(port, Buffer.from(`hello ${port}`));
      assert.equal(out.data.toString(), `hello ${port}`);
      assert.equal(out.how, 'end');
    }
  });
});

describe('tun visit --stdio with a config file', () => {
  test('server, pubkey and key from the file, the one service from --service (as ssh ProxyCommand gives %h)', async () => {
    const k = { relay: keys.key('st-relay'), client: keys.key('st-client'), v: keys.key('st-v') };
    const relay = await startRelay(['--key', k.relay.key, '--authorized', keys.list('st-clients.list', [k.client.line])]);
    procs.push(relay.proc);
    const echo = await lab.echo();
    const c = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', k.relay.pub, '--key', k.client.key, '--service', 'data', '--local', String(echo.port), '--allow', keys.list('st-v.list', [k.v.line])]);
    procs.push(c);
    const cfg = file('st-visit.toml', `server = "127.0.0.1:${relay.visitor}"\npubkey = "st-client.pub"\nkey = "st-v.key"\n\n[[service]]\nname = "other"\nlisten = 1\n`);
    // Asynchronous: the echo service runs in this process.
    const child = spawn(process.execPath, [CLI(), 'visit', '--stdio', '--config', cfg, '--service', 'data'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TUN_LOG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin!.end('through stdio');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    assert.equal(status, 0, `exit code (stderr: ${stderr})`);
    assert.equal(stdout, 'through stdio');
  });
});
