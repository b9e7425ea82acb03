/**
 * Live reload of a client's services through the real CLI (added and removed while a 16 MiB stream
 * flows to a third), and revocation of a visitor whose streams run on a direct (P2P) path.
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

/** Keys PREFIX-relay, PREFIX-client and PREFIX-v, a relay that admits that client, and an echo service. */
async function relayAndEcho(prefix: string) {
  const k = { relay: lab.keys.key(`${prefix}-relay`), client: lab.keys.key(`${prefix}-client`), v: lab.keys.key(`${prefix}-v`) };
  const relay = await startRelay(['--key', k.relay.key, '--authorized', lab.keys.list(`${prefix}-clients.list`, [k.client.line])]);
  lab.procs.push(relay.proc);
  return { k, relay, echo: await lab.echo() };
}

describe('client reload: services', () => {
  test('a service added and another removed while a stream flows to a third', async () => {
    const { k, relay, echo } = await relayAndEcho('sa');
    lab.keys.list('sa-v.list', [k.v.line]);
    const svc = (name: string): string => `\n[[service]]\nname = "${name}"\nlocal = ${echo.port}\n`;
    const head = `server = "127.0.0.1:${relay.control}"\npubkey = "sa-relay.pub"\nkey = "sa-client.key"\nallow = "sa-v.list"\n`;
    const cfg = lab.file('sa.toml', head + svc('keep') + svc('old'));
    const client = await startClient(['--config', cfg]);
    lab.procs.push(client);
    const v = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', k.client.pub, '--key', k.v.key, '--no-p2p',
      '--service', 'keep', '--listen', '127.0.0.1:0', '--service', 'old', '--listen', '127.0.0.1:0', '--service', 'new', '--listen', '127.0.0.1:0']);
    lab.procs.push(v);
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
    lab.replace('sa.toml', head + svc('keep') + svc('new'));
    assert.equal((await oldOut).how, 'reset', 'a stream to a removed service is reset');
    await client.waitFor(/reload \(file changed\): services added: new, services removed: old; 1 stream closed \(service removed or no longer allowed\); registering the services with the relay again/);
    await client.waitFor(/service new registered/);
    await v.waitFor(/service_removed/);
    const n = await roundTrip(added, Buffer.from('new is here'));
    assert.equal(n.data.toString(), 'new is here');
    await sending;
    const kept = await keepOut;
    assert.equal(kept.how, 'end');
    assert.equal(sha256(kept.data), sha256(data), 'the stream to the unchanged service is untouched by the re-registration');
  });
});

describe('client reload: a visitor on a direct path', () => {
  test('revoking its key closes its streams on the direct path as well', async () => {
    const { k, relay, echo } = await relayAndEcho('dp');
    lab.file('dp-visitors.list', k.v.line + '\n');
    const client = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', k.relay.pub, '--key', k.client.key, '--service', 'data', '--local', String(echo.port), '--allow', join(lab.keys.dir, 'dp-visitors.list')]);
    lab.procs.push(client);
    const v = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', k.client.pub, '--key', k.v.key, '--service', 'data', '--listen', '127.0.0.1:0']);
    lab.procs.push(v);
    const port = Number((await v.waitFor(/tun visit ready: listening on port (\d+)/))[1]);
    await v.waitFor(/path: direct-(tcp|udp) /, 20_000);
    const s = await dial(port);
    const held = collect(s, 20_000);
    s.write('direct');
    await until(() => echo.received.some((b) => b.toString() === 'direct'), 10_000);
    writeFileSync(join(lab.keys.dir, 'dp-visitors.list'), '# nobody\n');
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
