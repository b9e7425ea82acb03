/**
 * Live reload through the real CLI: a client's visitor list changes while streams flow (the added
 * key gets in, the revoked visitor's session is closed at once and it is told why, the other
 * stream's 16 MiB arrive intact); a relay's config drops a client key (that client is told, with
 * the relay's key, and stops) and grants service names; an invalid config is rejected and the old
 * one keeps running.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { KeyDir, type TestKey } from '../helpers/keys.js';
import { EchoService, collect, dial, roundTrip, until } from '../helpers/net.js';
import { TunProcess, startClient, startRelay } from '../helpers/proc.js';

const keys = new KeyDir();
const procs: TunProcess[] = [];
const echoes: EchoService[] = [];
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await Promise.all(echoes.map((e) => e.stop()));
  keys.remove();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function file(name: string, text: string): string {
  const p = join(keys.dir, name);
  writeFileSync(p, text);
  return p;
}

/** As an editor saves: a new file renamed over the old one. */
function replace(name: string, text: string): void {
  writeFileSync(join(keys.dir, `${name}.new`), text);
  renameSync(join(keys.dir, `${name}.new`), join(keys.dir, name));
}

async function visitor(relayVisitorPort: number, client: TestKey, key: TestKey, service: string): Promise<{ proc: TunProcess; port: number }> {
  // One session per visitor (--no-p2p: a direct path would add a second one to count).
  const proc = new TunProcess(['visit', '--server', `127.0.0.1:${relayVisitorPort}`, '--pubkey', client.pub, '--key', key.key, '--service', service, '--listen', '127.0.0.1:0', '--no-p2p']);
  procs.push(proc);
  const port = Number((await proc.waitFor(/tun visit ready: listening on port (\d+)/))[1]);
  await proc.waitFor(/session to client \w+ open/);
  return { proc, port };
}

/** Sends `data` in 256 KiB pieces `gapMs` apart (a stream that flows for a while), then ends. */
async function paced(s: Socket, data: Buffer, gapMs: number): Promise<void> {
  for (let off = 0; off < data.length && !s.destroyed; off += 256 * 1024) {
    if (!s.write(data.subarray(off, off + 256 * 1024))) await new Promise((r) => s.once('drain', r));
    await new Promise((r) => setTimeout(r, gapMs));
  }
  if (!s.destroyed) s.end();
}

describe('client reload: visitor keys', () => {
  test('adding a key and revoking another while streams flow', async (t) => {
    const k = { relay: keys.key('relay'), client: keys.key('client'), a: keys.key('va'), b: keys.key('vb'), c: keys.key('vc') };
    const relay = await startRelay(['--key', k.relay.key, '--authorized', keys.list('clients.list', [k.client.line])]);
    procs.push(relay.proc);
    const echo = await new EchoService().start();
    echoes.push(echo);
    file('visitors.list', [k.a.line, k.b.line].join('\n') + '\n');
    const cfg = file('client.toml', `server = "127.0.0.1:${relay.control}"\npubkey = "relay.pub"\nkey = "client.key"\nallow = "visitors.list"\n\n[[service]]\nname = "data"\nlocal = ${echo.port}\n`);
    const client = await startClient(['--config', cfg]);
    procs.push(client);

    const va = await visitor(relay.visitor, k.client, k.a, 'data');
    const vb = await visitor(relay.visitor, k.client, k.b, 'data');

    // A: 16 MiB echoed, paced so it flows across the reload. B: a stream held open.
    const data = randomBytes(16 * 1024 * 1024);
    const sa = await dial(va.port);
    const got: Buffer[] = [];
    sa.on('data', (d: Buffer) => got.push(d));
    const aDone = collect(sa, 120_000);
    const sending = paced(sa, data, 40);
    const sb = await dial(vb.port);
    const bOut = collect(sb, 30_000);
    sb.write('b is here');
    await until(() => Buffer.concat(got).length >= 2 * 1024 * 1024, 30_000);

    writeFileSync(join(keys.dir, 'visitors.list'), [k.a.line, k.c.line].join('\n') + '\n');
    const t0 = Date.now();
    client.child.kill('SIGHUP');
    const b = await bOut;
    const closedAfter = Date.now() - t0;
    assert.ok(closedAfter < 1000, `the revoked visitor's stream closed ${closedAfter} ms after SIGHUP`);
    t.diagnostic(`the revoked visitor's stream closed ${closedAfter} ms after SIGHUP`);
    assert.equal(b.how, 'reset', 'a revoked stream is aborted, not ended');
    await client.waitFor(new RegExp(`reload \\(SIGHUP\\): \\+1 key, -1 key \\(${k.b.fingerprint} \\(vb\\)\\); visitor lists changed for data; 1 visitor session closed \\(key revoked\\)`));
    await vb.proc.waitFor(/visitor_revoked/);

    await sending;
    const a = await aDone;
    assert.equal(a.how, 'end');
    assert.equal(a.data.length, data.length);
    assert.equal(sha(a.data), sha(data), "the unaffected stream's bytes arrive intact");

    // The added key gets in without a restart; the revoked one stays out.
    const vc = await visitor(relay.visitor, k.client, k.c, 'data');
    const out = await roundTrip(vc.port, Buffer.from('c is in'));
    assert.equal(out.data.toString(), 'c is in');
    await vb.proc.waitFor(/visitor_not_allowed/, 15_000);
    assert.equal(client.child.exitCode, null, 'the client runs on');

    // An invalid config is rejected with one line naming file, line and key; the old one keeps running.
    replace('client.toml', `server = "127.0.0.1:${relay.control}"\npubkey = "relay.pub"\nkey = "client.key"\nallow = "visitors.list"\n\n[[service]]\nname = "data"\nlocal = ${echo.port}\nlocla = 1\n`);
    await client.waitFor(/error: reload \(file changed\) rejected, still running the previous settings: .*client\.toml:9: service\[1\]\.locla: unknown key "locla"/);
    const again = await roundTrip(va.port, Buffer.from('still here'));
    assert.equal(again.data.toString(), 'still here');
  });

  test('per-service lists: a key moved off one service loses only that service', async () => {
    const k = { relay: keys.key('ps-relay'), client: keys.key('ps-client'), v: keys.key('ps-v') };
    const relay = await startRelay(['--key', k.relay.key, '--authorized', keys.list('ps-clients.list', [k.client.line])]);
    procs.push(relay.proc);
    const echo = await new EchoService().start();
    echoes.push(echo);
    const conf = (sshKeys: string[]): string =>
      `server = "127.0.0.1:${relay.control}"\npubkey = "ps-relay.pub"\nkey = "ps-client.key"\n\n[[service]]\nname = "ssh"\nlocal = ${echo.port}\nallow_keys = [${sshKeys.map((l) => `"${l}"`).join(', ')}]\n\n[[service]]\nname = "web"\nlocal = ${echo.port}\nallow_keys = ["${k.v.line}"]\n`;
    const cfg = file('ps.toml', conf([k.v.line]));
    const client = await startClient(['--config', cfg]);
    procs.push(client);
    const ssh = await visitor(relay.visitor, k.client, k.v, 'ssh');
    const s = await dial(ssh.port);
    const held = collect(s, 20_000);
    s.write('x');
    await until(() => echo.connections.length >= 1, 10_000);
    replace('ps.toml', conf([]));
    const out = await held;
    assert.equal(out.how, 'reset');
    await client.waitFor(/reload \(file changed\): visitor lists changed for ssh; 1 stream closed \(service removed or no longer allowed\)/);
    await ssh.proc.waitFor(/visitor_not_allowed/);
    const web = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', k.client.pub, '--key', k.v.key, '--service', 'web', '--listen', '127.0.0.1:0']);
    procs.push(web);
    const port = Number((await web.waitFor(/listening on port (\d+)/))[1]);
    assert.equal((await roundTrip(port, Buffer.from('web ok'))).data.toString(), 'web ok');
  });
});

describe('client reload: services', () => {
  test('a service added and another removed while a stream flows to a third', async () => {
    const k = { relay: keys.key('sa-relay'), client: keys.key('sa-client'), v: keys.key('sa-v') };
    const relay = await startRelay(['--key', k.relay.key, '--authorized', keys.list('sa-clients.list', [k.client.line])]);
    procs.push(relay.proc);
    const echo = await new EchoService().start();
    echoes.push(echo);
    keys.list('sa-v.list', [k.v.line]);
    const svc = (name: string): string => `\n[[service]]\nname = "${name}"\nlocal = ${echo.port}\n`;
    const head = `server = "127.0.0.1:${relay.control}"\npubkey = "sa-relay.pub"\nkey = "sa-client.key"\nallow = "sa-v.list"\n`;
    const cfg = file('sa.toml', head + svc('keep') + svc('old'));
    const client = await startClient(['--config', cfg]);
    procs.push(client);
    const v = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', k.client.pub, '--key', k.v.key, '--no-p2p',
      '--service', 'keep', '--listen', '127.0.0.1:0', '--service', 'old', '--listen', '127.0.0.1:0', '--service', 'new', '--listen', '127.0.0.1:0']);
    procs.push(v);
    const [keep, old, added] = (await v.waitFor(/listening on port (\d+), (\d+), (\d+)/)).slice(1).map(Number) as [number, number, number];
    assert.equal((await roundTrip(added, Buffer.from('x'))).how, 'reset', 'no service "new" yet');

    const data = randomBytes(16 * 1024 * 1024);
    const sk = await dial(keep);
    const keepOut = collect(sk, 120_000);
    const sending = paced(sk, data, 40);
    const so = await dial(old);
    const oldOut = collect(so, 30_000);
    so.write('old');
    await until(() => echo.received.some((b) => b.toString() === 'old'), 10_000);
    replace('sa.toml', head + svc('keep') + svc('new'));
    assert.equal((await oldOut).how, 'reset', 'a stream to a removed service is reset');
    await client.waitFor(/reload \(file changed\): services added: new, services removed: old; 1 stream closed \(service removed or no longer allowed\); registering the services with the relay again/);
    await client.waitFor(/service new registered/);
    await v.waitFor(/service_removed/);
    const n = await roundTrip(added, Buffer.from('new is here'));
    assert.equal(n.data.toString(), 'new is here');
    await sending;
    const kept = await keepOut;
    assert.equal(kept.how, 'end');
    assert.equal(sha(kept.data), sha(data), 'the stream to the unchanged service is untouched by the re-registration');
  });
});

describe('client reload: a visitor on a direct path', () => {
  test('revoking its key closes its streams on the direct path as well', async () => {
    const k = { relay: keys.key('dp-relay'), client: keys.key('dp-client'), v: keys.key('dp-v') };
    const relay = await startRelay(['--key', k.relay.key, '--authorized', keys.list('dp-clients.list', [k.client.line])]);
    procs.push(relay.proc);
    const echo = await new EchoService().start();
    echoes.push(echo);
    file('dp-visitors.list', k.v.line + '\n');
    const client = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', k.relay.pub, '--key', k.client.key, '--service', 'data', '--local', String(echo.port), '--allow', join(keys.dir, 'dp-visitors.list')]);
    procs.push(client);
    const v = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', k.client.pub, '--key', k.v.key, '--service', 'data', '--listen', '127.0.0.1:0']);
    procs.push(v);
    const port = Number((await v.waitFor(/tun visit ready: listening on port (\d+)/))[1]);
    await v.waitFor(/path: direct-(tcp|udp) /, 20_000);
    const s = await dial(port);
    const held = collect(s, 20_000);
    s.write('direct');
    await until(() => echo.received.some((b) => b.toString() === 'direct'), 10_000);
    writeFileSync(join(keys.dir, 'dp-visitors.list'), '# nobody\n');
    const t0 = Date.now();
    client.child.kill('SIGHUP');
    const out = await held;
    const closedAfter = Date.now() - t0;
    assert.equal(out.how, 'reset');
    assert.ok(closedAfter < 1000, `the revoked stream closed ${closedAfter} ms after SIGHUP`);
    await client.waitFor(/reload \(SIGHUP\): -1 key .*visitor sessions? closed \(key revoked\)/);
    await v.waitFor(/visitor_revoked/);
  });
});

describe('relay reload: client keys and grants', () => {
  test('a revoked client key is closed at once and told why; grants limit service names', async () => {
    const k = { relay: keys.key('rr-relay'), one: keys.key('rr-one'), two: keys.key('rr-two'), v: keys.key('rr-v') };
    const clients = (withTwo: boolean): string =>
      `key = "rr-relay.key"\n\n[[client]]\nname = "one"\nkey_file = "rr-one.pub"\n` + (withTwo ? `\n[[client]]\nname = "two"\nkey_file = "rr-two.pub"\nservices = ["web"]\n` : '');
    const cfg = file('rr.toml', clients(true));
    const relay = await startRelay(['--config', cfg]);
    procs.push(relay.proc);
    const echo = await new EchoService().start();
    echoes.push(echo);
    const allow = keys.list('rr-visitors.list', [k.v.line]);
    const one = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', k.relay.pub, '--key', k.one.key, '--service', 'web', '--local', String(echo.port), '--allow', allow]);
    const two = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', k.relay.pub, '--key', k.two.key, '--service', 'web', '--local', String(echo.port), '--service', 'db', '--local', String(echo.port), '--allow', allow]);
    procs.push(one, two);
    await two.waitFor(/service db refused by the relay: service_not_granted: service name db is not granted to this key/);
    const vdb = await visitor(relay.visitor, k.two, k.v, 'db');
    const refused = await roundTrip(vdb.port, Buffer.from('db?'));
    assert.equal(refused.how, 'reset');
    await vdb.proc.waitFor(/service_not_granted/);

    const v1 = await visitor(relay.visitor, k.one, k.v, 'web');
    const s = await dial(v1.port);
    const flowing = collect(s, 30_000);
    s.write('before ');
    replace('rr.toml', clients(false));
    await relay.proc.waitFor(new RegExp(`reload \\(file changed\\): -1 key \\(${k.two.fingerprint} \\(two\\)\\); 1 client session closed \\(key revoked\\)`));
    const code = await Promise.race([two.exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    assert.equal(code, 1, 'the revoked client stops: retrying cannot help');
    assert.match(two.output, /client_not_authorized: client key \w+ was removed from the relay's authorized list \(revoked\)/);
    s.end('after');
    const out = await flowing;
    assert.equal(out.data.toString(), 'before after', "the other client's stream is untouched");
    assert.equal(one.child.exitCode, null);
  });
});
