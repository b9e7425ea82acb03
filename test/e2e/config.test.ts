/**
 * Config files through the real CLI: the examples in examples/ run as they are (with keys made
 * for them and test ports), errors name file, line and key on one line, and flags win over the
 * file's keys.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { KeyDir } from '../helpers/keys.js';
import { EchoService, freePort, roundTrip } from '../helpers/net.js';
import { CLI, repoRoot } from '../helpers/paths.js';
import { TunProcess, startClient, startRelay } from '../helpers/proc.js';

const keys = new KeyDir();
const procs: TunProcess[] = [];
const echoes: EchoService[] = [];
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await Promise.all(echoes.map((e) => e.stop()));
  keys.remove();
});

function tun(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI(), ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, TUN_LOG: 'info' } });
  return { status: r.status, stderr: r.stderr };
}

/** Exit 1 with one line on stderr matching `re`, no stack trace. */
function oneLineFailure(args: string[], re: RegExp): void {
  const r = tun(args);
  assert.equal(r.status, 1, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line: ${JSON.stringify(r.stderr)}`);
  assert.match(lines[0]!, re);
  assert.ok(!/\bat .*:\d+:\d+/.test(r.stderr), 'no stack trace');
}

function file(name: string, text: string): string {
  const p = join(keys.dir, name);
  writeFileSync(p, text);
  return p;
}

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
    const ssh = await new EchoService().start();
    const web = await new EchoService().start();
    echoes.push(ssh, web);
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
    const echo = await new EchoService().start();
    echoes.push(echo);
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

describe('config errors name file, line and key', () => {
  const relay = keys.key('r');
  test('an unknown key', () => {
    const cfg = file('unknown.toml', `key = "r.key"\nauthorized = "none.list"\ncontrol_prot = 9000\n`);
    oneLineFailure(['server', '--config', cfg], /^tun: .*unknown\.toml:3: control_prot: unknown key "control_prot" \(hint: the keys known here are: key, authorized, bind, control_port/);
  });
  test('an unknown key in a [[service]] table', () => {
    const cfg = file('svc.toml', `server = "127.0.0.1:1"\npubkey = "r.pub"\nkey = "r.key"\n\n[[service]]\nname = "ssh"\nlocal = 22\nallow_key = []\n`);
    oneLineFailure(['client', '--config', cfg], /^tun: .*svc\.toml:8: service\[1\]\.allow_key: unknown key "allow_key"/);
  });
  test('a bad type', () => {
    const cfg = file('type.toml', `key = "r.key"\n[[client]]\nkey_file = "r.pub"\n\n# the port as text\nvisitor_port = "8007"\n`);
    oneLineFailure(['server', '--config', cfg], /^tun: .*type\.toml:6: client\[1\]\.visitor_port: unknown key/);
    const cfg2 = file('type2.toml', `key = "r.key"\nvisitor_port = "8007"\n[[client]]\nkey_file = "r.pub"\n`);
    oneLineFailure(['server', '--config', cfg2], /^tun: .*type2\.toml:2: visitor_port: must be a port number \(0-65535\), not a string/);
    const cfg3 = file('type3.toml', `key = "r.key"\npublic = "yes"\n[[client]]\nkey_file = "r.pub"\n`);
    oneLineFailure(['server', '--config', cfg3], /^tun: .*type3\.toml:2: public: must be true or false, not a string/);
  });
  test('a TOML syntax error names line and column', () => {
    const cfg = file('syntax.toml', `key = "r.key"\nbind = "127.0.0.1\n`);
    oneLineFailure(['server', '--config', cfg], /^tun: .*syntax\.toml:2:\d+: not valid TOML/);
  });
  test('a missing config file, and settings in neither file nor flags', () => {
    oneLineFailure(['server', '--config', join(keys.dir, 'nope.toml')], /^tun: config file .*nope\.toml does not exist/);
    oneLineFailure(['visit', '--config', file('v.toml', 'server = "127.0.0.1:1"\nkey = "r.key"\n'), '--service', 'a', '--listen', '0'], /^tun: no pubkey given \(hint: give --pubkey FILE, or pubkey = "..." in the --config file\)/);
    assert.ok(relay.key);
  });
});

describe('flags win over the file', () => {
  test('a port in the file and on the command line: the flag is used, and the log says so', async () => {
    const k = keys.key('fw-relay');
    const client = keys.key('fw-client');
    const taken = await freePort();
    const cfg = file('fw.toml', `key = "fw-relay.key"\ncontrol_port = ${taken}\n[[client]]\nkey = "${client.line}"\n`);
    const relay = await startRelay(['--config', cfg]);
    procs.push(relay.proc);
    assert.notEqual(relay.control, taken);
    await relay.proc.waitFor(/command-line flags override .*fw\.toml keys: control_port/);
    assert.ok(k.key);
  });
  test('--service flags replace the [[service]] list; --allow replaces allow', async () => {
    const k = { relay: keys.key('sv-relay'), client: keys.key('sv-client'), v: keys.key('sv-v'), w: keys.key('sv-w') };
    const relay = await startRelay(['--key', k.relay.key, '--authorized', keys.list('sv-clients.list', [k.client.line])]);
    procs.push(relay.proc);
    const echo = await new EchoService().start();
    echoes.push(echo);
    const cfg = file('sv.toml', `server = "127.0.0.1:${relay.control}"\npubkey = "sv-relay.pub"\nkey = "sv-client.key"\nallow = "sv-v.list"\n[[service]]\nname = "fromfile"\nlocal = ${echo.port}\n`);
    keys.list('sv-v.list', [k.v.line]);
    const c = await startClient(['--config', cfg, '--service', 'fromflag', '--local', String(echo.port), '--allow', keys.list('sv-w.list', [k.w.line])]);
    procs.push(c);
    await c.waitFor(/command-line flags override .*sv\.toml keys: allow, service/);
    await c.waitFor(/service fromflag registered/);
    assert.doesNotMatch(c.output, /fromfile/);
    const v = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', k.client.pub, '--key', k.w.key, '--service', 'fromflag', '--listen', '127.0.0.1:0']);
    procs.push(v);
    const port = Number((await v.waitFor(/listening on port (\d+)/))[1]);
    const out = await roundTrip(port, Buffer.from('via flags'));
    assert.equal(out.data.toString(), 'via flags');
  });
});
