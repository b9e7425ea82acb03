/**
 * Live reload of a client's visitor lists through the real CLI: while streams flow, an added key
 * gets in, the revoked visitor's session is closed at once (within 1 s) and it is told why, the
 * other stream's 16 MiB arrive intact; per-service lists; an invalid config is rejected and the old
 * one keeps running.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigLab, paced, sha256 } from '../helpers/config.js';
import { collect, dial, roundTrip, until } from '../helpers/net.js';
import { TunProcess, startClient, startRelay } from '../helpers/proc.js';

const lab = new ConfigLab();
after(() => lab.cleanup());

describe('client reload: visitor keys', () => {
  test('adding a key and revoking another while streams flow', async (t) => {
    const k = { relay: lab.keys.key('relay'), client: lab.keys.key('client'), a: lab.keys.key('va'), b: lab.keys.key('vb'), c: lab.keys.key('vc') };
    const relay = await startRelay(['--key', k.relay.key, '--authorized', lab.keys.list('clients.list', [k.client.line])]);
    lab.procs.push(relay.proc);
    const echo = await lab.echo();
    lab.file('visitors.list', [k.a.line, k.b.line].join('\n') + '\n');
    const cfg = lab.file('client.toml', `server = "127.0.0.1:${relay.control}"\npubkey = "relay.pub"\nkey = "client.key"\nallow = "visitors.list"\n\n[[service]]\nname = "data"\nlocal = ${echo.port}\n`);
    const client = await startClient(['--config', cfg]);
    lab.procs.push(client);

    const va = await lab.visitor(relay.visitor, k.client, k.a, 'data');
    const vb = await lab.visitor(relay.visitor, k.client, k.b, 'data');

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

    writeFileSync(join(lab.keys.dir, 'visitors.list'), [k.a.line, k.c.line].join('\n') + '\n');
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
    assert.equal(sha256(a.data), sha256(data), "the unaffected stream's bytes arrive intact");

    // The added key gets in without a restart; the revoked one stays out.
    const vc = await lab.visitor(relay.visitor, k.client, k.c, 'data');
    const out = await roundTrip(vc.port, Buffer.from('c is in'));
    assert.equal(out.data.toString(), 'c is in');
    await vb.proc.waitFor(/visitor_not_allowed/, 15_000);
    assert.equal(client.child.exitCode, null, 'the client runs on');

    // An invalid config is rejected with one line naming file, line and key; the old one keeps running.
    lab.replace('client.toml', `server = "127.0.0.1:${relay.control}"\npubkey = "relay.pub"\nkey = "client.key"\nallow = "visitors.list"\n\n[[service]]\nname = "data"\nlocal = ${echo.port}\nlocla = 1\n`);
    await client.waitFor(/error: reload \(file changed\) rejected, still running the previous settings: .*client\.toml:9: service\[1\]\.locla: unknown key "locla"/);
    const again = await roundTrip(va.port, Buffer.from('still here'));
    assert.equal(again.data.toString(), 'still here');
  });

  test('per-service lists: a key moved off one service loses only that service', async () => {
    const k = { relay: lab.keys.key('ps-relay'), client: lab.keys.key('ps-client'), v: lab.keys.key('ps-v') };
    const relay = await startRelay(['--key', k.relay.key, '--authorized', lab.keys.list('ps-clients.list', [k.client.line])]);
    lab.procs.push(relay.proc);
    const echo = await lab.echo();
    const conf = (sshKeys: string[]): string =>
      `server = "127.0.0.1:${relay.control}"\npubkey = "ps-relay.pub"\nkey = "ps-client.key"\n\n[[service]]\nname = "ssh"\nlocal = ${echo.port}\nallow_keys = [${sshKeys.map((l) => `"${l}"`).join(', ')}]\n\n[[service]]\nname = "web"\nlocal = ${echo.port}\nallow_keys = ["${k.v.line}"]\n`;
    const cfg = lab.file('ps.toml', conf([k.v.line]));
    const client = await startClient(['--config', cfg]);
    lab.procs.push(client);
    const ssh = await lab.visitor(relay.visitor, k.client, k.v, 'ssh');
    const s = await dial(ssh.port);
    const held = collect(s, 20_000);
    s.write('x');
    await until(() => echo.connections.length >= 1, 10_000);
    lab.replace('ps.toml', conf([]));
    const out = await held;
    assert.equal(out.how, 'reset');
    await client.waitFor(/reload \(file changed\): visitor lists changed for ssh; 1 stream closed \(service removed or no longer allowed\)/);
    await ssh.proc.waitFor(/visitor_not_allowed/);
    const web = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', k.client.pub, '--key', k.v.key, '--service', 'web', '--listen', '127.0.0.1:0']);
    lab.procs.push(web);
    const port = Number((await web.waitFor(/listening on port (\d+)/))[1]);
    assert.equal((await roundTrip(port, Buffer.from('web ok'))).data.toString(), 'web ok');
  });
});
