/** Role settings from a config file (no flags): relay grants, client services and per-service visitor lists, visit services. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { clientSettings } from '../../../src/config/client-config.js';
import { serverSettings } from '../../../src/config/relay-config.js';
import { visitSettings } from '../../../src/config/visit-config.js';
import { grantedPorts, grantedServices, serviceDenied, serviceRefusal } from '../../../src/identity/key-list.js';
import { throwsTunError as fails } from '../../helpers/errors.js';
import { KeyDir } from '../../helpers/keys.js';

const keys = new KeyDir();
after(() => keys.remove());
const relay = keys.key('relay');
const home = keys.key('home');
const office = keys.key('office');
const alice = keys.key('alice');
const bob = keys.key('bob');

const file = (name: string, text: string): string => keys.file(name, text);

describe('relay config', () => {
  test('[[client]] tables with grants, plus the list file; paths relative to the config', () => {
    const list = keys.list('clients.list', [office.line]);
    const cfg = file('relay.toml', `key = "relay.key"\nauthorized = "clients.list"\ncontrol_port = 9009\n\n[[client]]\nname = "home"\nkey_file = "home.pub"\nservices = ["ssh", "web"]\npublic_ports = [8080]\n`);
    const s = serverSettings<{ config: string; key?: string; authorized?: string }>({ config: cfg }, undefined);
    assert.equal(s.opts.key, relay.key);
    assert.equal(s.opts.authorized, list);
    assert.equal((s.opts as Record<string, unknown>).controlPort, '9009');
    assert.equal(s.authorized.entries.length, 2);
    const h = s.authorized.entries.find((e) => e.name === 'home')!;
    assert.deepEqual(grantedServices(h), ['ssh', 'web']);
    assert.deepEqual(grantedPorts(h), [8080]);
    assert.equal(serviceDenied(h, 'web', 'x'), undefined);
    assert.match(serviceDenied(h, 'db', 'x') ?? '', /service name db is not granted/);
    const o = s.authorized.entries.find((e) => e.fingerprint === office.fingerprint)!;
    assert.equal(grantedServices(o), undefined, 'a plain list line may register any name');
    assert.deepEqual(s.files.sort(), [cfg, list, home.pub].sort(), 'the [[client]] key_file is watched too');
  });
  test('a name granted to a key belongs to it: other keys may not register it', () => {
    const cfg = file('own.toml', `key = "relay.key"\n[[client]]\nname = "home"\nkey_file = "home.pub"\nservices = ["web"]\n[[client]]\nname = "office"\nkey_file = "office.pub"\n`);
    const s = serverSettings({ config: cfg }, undefined);
    const [h, o] = [s.authorized.entries[0]!, s.authorized.entries[1]!];
    assert.equal(serviceRefusal(s.authorized, h, 'web'), undefined);
    assert.equal(serviceRefusal(s.authorized, h, 'db')?.code, 'service_not_granted');
    assert.equal(serviceRefusal(s.authorized, o, 'db'), undefined, 'a key without grants may register a name nobody owns');
    assert.deepEqual(serviceRefusal(s.authorized, o, 'web'), { code: 'service_owned', message: `service name web belongs to another client key (${home.fingerprint} home) in ${cfg}` });
  });
  test('an inline key, and a key listed twice names both places', () => {
    const cfg = file('r2.toml', `key = "relay.key"\n[[client]]\nkey = "${home.line}"\n[[client]]\nname = "again"\nkey = "${home.line}"\n`);
    fails(() => serverSettings({ config: cfg }, undefined), /r2\.toml:6: key .* is already listed at .*r2\.toml:3/);
  });
  test('a client table needs exactly one of key and key_file', () => {
    const cfg = file('r3.toml', `key = "relay.key"\n[[client]]\nname = "x"\n`);
    fails(() => serverSettings({ config: cfg }, undefined), /r3\.toml:2: client\[1\]: needs exactly one of key/);
  });
  test('a bad inline key and a bad service name name their line', () => {
    fails(() => serverSettings({ config: file('r4.toml', `key = "relay.key"\n[[client]]\nkey = "tun-x25519 nope"\n`) }, undefined), /r4\.toml:3: client\[1\]\.key: not a public key line/);
    fails(() => serverSettings({ config: file('r5.toml', `key = "relay.key"\n[[client]]\nkey = "${home.line}"\nservices = ["ok", "not ok"]\n`) }, undefined), /r5\.toml:4: client\[1\]\.services: "not ok" is not a service name/);
  });
  test('no authorized clients at all is an error with a way out', () => {
    fails(() => serverSettings({ config: file('r6.toml', 'key = "relay.key"\n') }, undefined), /no authorized clients given/);
  });
});

describe('client config', () => {
  const visitors = keys.list('visitors.list', [alice.line]);
  test('services with their own visitor lists; the default list for the others', () => {
    const cfg = file('client.toml', [
      'server = "127.0.0.1:8009"', 'pubkey = "relay.pub"', 'key = "home.key"', 'allow = "visitors.list"', '',
      '[[service]]', 'name = "ssh"', 'local = 22', `allow_keys = ["${bob.line}"]`, '',
      '[[service]]', 'name = "web"', 'local = "127.0.0.1:8080"', 'public_port = 8080', '',
    ].join('\n'));
    const s = clientSettings({ config: cfg }, undefined, []);
    assert.deepEqual(s.services, [{ name: 'ssh', local: { host: '127.0.0.1', port: 22 } }, { name: 'web', local: { host: '127.0.0.1', port: 8080 }, publicPort: 8080 }]);
    const pub = (k: { line: string }): Buffer => Buffer.from(k.line.split(' ')[1]!, 'base64');
    assert.ok(s.access.allows(pub(bob), 'ssh'));
    assert.ok(!s.access.allows(pub(alice), 'ssh'), 'a service with its own list ignores the default one');
    assert.ok(s.access.allows(pub(alice), 'web'));
    assert.ok(!s.access.allows(pub(bob), 'web'));
    assert.ok(s.access.admits(pub(alice)) && s.access.admits(pub(bob)));
    assert.deepEqual(s.files.sort(), [cfg, visitors].sort());
  });
  test('--service flags replace the file list as a whole (and use the default list)', () => {
    const cfg = file('c2.toml', 'server = "h:1"\npubkey = "relay.pub"\nkey = "home.key"\nallow = "visitors.list"\n[[service]]\nname = "ssh"\nlocal = 22\n');
    const s = clientSettings({ config: cfg }, undefined, [{ name: 'web', local: { host: '127.0.0.1', port: 80 } }]);
    assert.deepEqual(s.services.map((x) => x.name), ['web']);
    assert.deepEqual(s.overridden, ['service']);
  });
  test('a service without a name or local, twice, or with a bad address names its line', () => {
    const base = 'server = "h:1"\npubkey = "relay.pub"\nkey = "home.key"\n';
    fails(() => clientSettings({ config: file('c3.toml', `${base}[[service]]\nlocal = 22\n`) }, undefined, []), /c3\.toml:4: service\[1\]\.name: is missing/);
    fails(() => clientSettings({ config: file('c4.toml', `${base}[[service]]\nname = "a"\n`) }, undefined, []), /c4\.toml:4: service\[1\]\.local: is missing/);
    fails(() => clientSettings({ config: file('c5.toml', `${base}[[service]]\nname = "a"\nlocal = 1\n[[service]]\nname = "a"\nlocal = 2\n`) }, undefined, []), /c5\.toml:8: service\[2\]\.name: service a is listed twice/);
    fails(() => clientSettings({ config: file('c6.toml', `${base}[[service]]\nname = "a"\nlocal = "nohost:port:x"\n`) }, undefined, []), /c6\.toml:6: service\[1\]\.local: /);
    fails(() => clientSettings({ config: file('c7.toml', `${base}[[service]]\nname = "a"\nlocal = 1\nallow = "missing.list"\n`) }, undefined, []), /c7\.toml:7: service\[1\]\.allow: key list .*missing\.list does not exist/);
  });
  test('required settings missing from both flags and file', () => {
    fails(() => clientSettings({ config: file('c8.toml', 'key = "home.key"\n') }, undefined, []), /no server given/);
  });
});

describe('visit config', () => {
  test('services from the file unless the command line gives some', () => {
    const cfg = file('visit.toml', 'server = "127.0.0.1:8007"\npubkey = "home.pub"\nkey = "alice.key"\n[[service]]\nname = "ssh"\nlisten = 2222\n');
    const s = visitSettings<{ config: string; pubkey?: string }>({ config: cfg }, undefined, 0);
    assert.deepEqual(s.services, [{ name: 'ssh', listen: { host: '127.0.0.1', port: 2222 } }]);
    assert.equal(s.opts.pubkey, home.pub);
    const f = visitSettings({ config: cfg }, undefined, 1);
    assert.equal(f.services, undefined);
    assert.deepEqual(f.overridden, ['service']);
  });
});
