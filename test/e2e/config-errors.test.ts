/**
 * Config files through the real CLI: errors name file, line and key on one line (exit 1), and flags
 * given on the command line win over the file's keys.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigLab } from '../helpers/config.js';
import { freePort, roundTrip } from '../helpers/net.js';
import { CLI } from '../helpers/paths.js';
import { TunProcess, startClient, startRelay } from '../helpers/proc.js';

const lab = new ConfigLab();
const { keys, procs } = lab;
after(() => lab.cleanup());

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

const file = (name: string, text: string): string => lab.file(name, text);

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
    const echo = await lab.echo();
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
