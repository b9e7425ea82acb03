/** What a reload watches: every file a config names (per-service allow files, [[client]] key_file files); and ports a config may not give. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Command } from 'commander';
import { clientSettings } from '../../../src/config/client-config.js';
import { serverSettings } from '../../../src/config/relay-config.js';
import { throwsTunError as fails } from '../../helpers/errors.js';
import { KeyDir } from '../../helpers/keys.js';

const keys = new KeyDir();
after(() => keys.remove());
keys.key('relay');
keys.key('client');
const home = keys.key('home');
const alice = keys.key('alice');

const file = (name: string, text: string): string => keys.file(name, text);

describe('files a reload watches', () => {
  test("the relay watches each [[client]]'s key_file", () => {
    const cfg = file('wf-relay.toml', `key = "relay.key"\n\n[[client]]\nname = "home"\nkey_file = "home.pub"\n`);
    const s = serverSettings<{ config: string }>({ config: cfg }, undefined);
    assert.deepEqual(s.files, [cfg, join(keys.dir, 'home.pub')]);
  });

  test("the client watches each service's own allow file (a path, not the list's label)", () => {
    const list = keys.list('wf-ssh.list', [alice.line]);
    const cfg = file('wf-client.toml', `server = "127.0.0.1:9009"\npubkey = "relay.pub"\nkey = "client.key"\n\n[[service]]\nname = "ssh"\nlocal = 22\nallow = "wf-ssh.list"\n\n[[service]]\nname = "web"\nlocal = 80\nallow_keys = ["${home.line}"]\n`);
    const s = clientSettings<{ config: string }>({ config: cfg }, undefined, []);
    assert.deepEqual(s.files, [cfg, list]);
  });
});

describe('ports a config may not give', () => {
  test('public_ports = [0] and public_port = 0 are refused, naming file, line and key', () => {
    const relayCfg = file('wf-zero.toml', `key = "relay.key"\n\n[[client]]\nkey_file = "home.pub"\npublic_ports = [8080, 0]\n`);
    fails(() => serverSettings<{ config: string }>({ config: relayCfg }, undefined), /wf-zero\.toml:5: client\[1\]\.public_ports: 0 is not a port/);
    const clientCfg = file('wf-zero-client.toml', `server = "127.0.0.1:9009"\npubkey = "relay.pub"\nkey = "client.key"\n\n[[service]]\nname = "web"\nlocal = 80\npublic_port = 0\n`);
    fails(() => clientSettings<{ config: string }>({ config: clientCfg }, undefined, []), /wf-zero-client\.toml:8: service\[1\]\.public_port: 0 is not a port/);
  });
});

describe('the admin socket path', () => {
  test('`admin` in a config file is relative to its folder, as the other paths', () => {
    const cfg = file('wf-admin.toml', `key = "relay.key"\nadmin = "run/tun.sock"\n\n[[client]]\nkey_file = "home.pub"\n`);
    const cmd = new Command('server').option('--config <file>').option('--key <file>').option('--authorized <file>').option('--admin <path>');
    cmd.parse(['--config', cfg], { from: 'user' });
    const s = serverSettings<{ config: string; admin?: string }>(cmd.opts() as { config: string }, cmd);
    assert.equal(s.opts.admin, join(keys.dir, 'run/tun.sock'));
  });
});
