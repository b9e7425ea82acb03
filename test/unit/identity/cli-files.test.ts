/** Bad key and list files through the real `tun` binary: one clean line on stderr, exit code 1, no stack trace. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { KeyDir } from '../../helpers/keys.js';
import { CLI } from '../../helpers/paths.js';

const keys = new KeyDir();
after(() => keys.remove());
const relay = keys.key('relay');
const client = keys.key('client');
const dir = join(keys.dir, 'a-folder');
mkdirSync(dir);

function tun(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI(), ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, TUN_LOG: 'info' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 1, exactly one line on stderr starting "tun: ", matching `re`, and no stack trace. */
function oneLineFailure(args: string[], re: RegExp): string {
  const r = tun(args);
  assert.equal(r.status, 1, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line: ${JSON.stringify(r.stderr)}`);
  assert.match(lines[0]!, /^tun: /);
  assert.match(lines[0]!, re);
  assert.ok(!/\bat .*:\d+:\d+/.test(r.stderr), 'no stack trace');
  return lines[0]!;
}

describe('bad files through the tun CLI', () => {
  test('tun key show DIR: one line, exit 1 (was an EISDIR stack trace, exit 70)', () => {
    oneLineFailure(['key', 'show', dir], new RegExp(`key file ${dir} is a directory, not a file.*hint: `));
  });

  test('tun key show on a .pub without the .pub name, and on a .key: both print the same public key', () => {
    const copy = join(keys.dir, 'relay-copy.txt');
    writeFileSync(copy, readFileSync(relay.pub));
    const a = tun(['key', 'show', copy]);
    const b = tun(['key', 'show', relay.key]);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    assert.ok(a.stdout.includes(relay.fingerprint));
  });

  const visit = (pubkey: string, key = client.key): string[] => ['visit', '--server', '127.0.0.1:1', '--pubkey', pubkey, '--key', key, '--service', 'x', '--listen', '127.0.0.1:0'];

  test('tun visit --pubkey DIR: one line, exit 1', () => {
    oneLineFailure(visit(dir), new RegExp(`public key file ${dir} is a directory`));
  });

  test('tun visit --pubkey with the private key file: refused without quoting it', () => {
    const line = oneLineFailure(visit(relay.key), /is a private key file, not a \.pub file/);
    const secret = readFileSync(relay.key, 'utf8').split(' ')[1]!.trim();
    assert.ok(!line.includes(secret.slice(0, 8)));
  });

  test('tun server --authorized missing, binary, or with a bad line names the file (and line)', () => {
    const server = (list: string): string[] => ['server', '--key', relay.key, '--authorized', list, '--bind', '127.0.0.1', '--control-port', '0', '--visitor-port', '0', '--tunnel-port', '0'];
    oneLineFailure(server(join(keys.dir, 'nope.list')), /key list .*nope\.list does not exist/);
    const bin = join(keys.dir, 'bin.list');
    writeFileSync(bin, Buffer.from([0x00, 0x01, 0x02, 0xff]));
    oneLineFailure(server(bin), /bin\.list is not a text file \(binary data on line 1\)/);
    const bad = keys.list('bad.list', [client.line, '# next is wrong', 'tun-x25519 AAAA laptop']);
    oneLineFailure(server(bad), new RegExp(`${bad}:3: the key is not 32 bytes.*hint: fix or remove line 3`));
  });

  test('tun keygen --out naming a folder, a path through a file, or a place mkdir cannot create: one line, exit 1', () => {
    oneLineFailure(['keygen', '--out', dir + '/'], /--out .* names a folder \(hint: give DIR\/NAME/);
    oneLineFailure(['keygen', '--out', dir], /names a folder/);
    const aFile = join(keys.dir, 'plain-file');
    writeFileSync(aFile, 'x');
    oneLineFailure(['keygen', '--out', join(aFile, 'sub', 'k')], /cannot create the folder .*plain-file.* for the key files \((EEXIST|ENOTDIR)\)/);
    // Node 20's recursive mkdir spins forever here (ENOENT under an existing parent); tun's own walk does not.
    if (process.platform === 'linux') oneLineFailure(['keygen', '--out', '/proc/1/no-such-dir/k'], /cannot create the folder \/proc\/1\/no-such-dir for the key files \(ENOENT\)/);
  });

  test('tun client --allow naming a folder: one line, exit 1', () => {
    const r = ['client', '--server', '127.0.0.1:1', '--pubkey', relay.pub, '--key', client.key, '--service', 'x', '--local', '127.0.0.1:1', '--allow', dir];
    oneLineFailure(r, new RegExp(`key list ${dir} is a directory`));
  });
});
