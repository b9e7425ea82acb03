/**
 * Revocation that does not rely on the revoked party's cooperation (real CLI processes). A client
 * that ignores its revocation (its process stopped with SIGSTOP, as a stolen key's holder would
 * simply not stop) must lose its visitors' joined relay streams and its public-port streams the
 * moment the relay drops its key; new ones are refused.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Lab } from '../helpers/lab.js';
import { collect, dial, freePort, roundTrip, until } from '../helpers/net.js';
import { TunProcess, startClient, startRelay } from '../helpers/proc.js';

const lab = new Lab();
const { keys, procs } = lab;
after(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGCONT');
  await lab.cleanup();
});

describe('relay revocation of a client that ignores it', () => {
  test("a stopped client's visitor session and public stream are cut within 2 s; new ones are refused", async (t) => {
    const k = { relay: keys.key('relay'), client: keys.key('client'), v: keys.key('v') };
    const pub = await freePort();
    const list = keys.list('clients.list', [`permitlisten=${pub} ${k.client.line}`]);
    const relay = await startRelay(['--key', k.relay.key, '--authorized', list, '--public', '--no-p2p']);
    procs.push(relay.proc);
    const echo = await lab.echo();
    const allow = keys.list('visitors.list', [k.v.line]);
    const client = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', k.relay.pub, '--key', k.client.key, '--no-p2p', '--allow', allow,
      '--service', 'data', '--local', String(echo.port), '--service', 'web', '--local', String(echo.port), '--public-port', String(pub)]);
    procs.push(client);
    await client.waitFor(new RegExp(`also public on relay port ${pub}`));
    const v = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', k.client.pub, '--key', k.v.key, '--service', 'data', '--listen', '127.0.0.1:0', '--no-p2p']);
    procs.push(v);
    const port = Number((await v.waitFor(/tun visit ready: listening on port (\d+)/))[1]);
    await v.waitFor(/session to client \w+ open/);

    // Both streams flow, then the client's process stops answering anything.
    const s = await dial(port);
    const sOut = collect(s, 20_000);
    s.write('through the session');
    const p = await dial(pub);
    const pOut = collect(p, 20_000);
    p.write('through the public port');
    await until(() => echo.received.some((b) => b.toString() === 'through the session') && echo.received.some((b) => b.toString() === 'through the public port'), 10_000);
    client.child.kill('SIGSTOP');

    writeFileSync(list, '# nobody\n');
    const t0 = Date.now();
    relay.proc.child.kill('SIGHUP');
    const [so, po] = await Promise.all([sOut, pOut]);
    const sMs = Date.now() - t0;
    await relay.proc.waitFor(/reload \(SIGHUP\): -1 key .*1 client session closed \(key revoked\); 2 joined streams reset/);
    t.diagnostic(`visitor-session stream: ${so.how}, public stream: ${po.how}, both within ${sMs} ms of SIGHUP`);
    assert.equal(so.how, 'reset', 'the visitor session stream is aborted');
    assert.equal(po.how, 'reset', 'the public-port stream is aborted');
    assert.ok(sMs < 2000, `revoked streams closed ${sMs} ms after SIGHUP`);

    // New ones are refused while the client is still stopped.
    const again = await roundTrip(port, Buffer.from('again?'));
    assert.notEqual(again.data.toString(), 'again?');
    await v.waitFor(/client_offline/, 10_000);
    await assert.rejects(dial(pub), 'the public port is closed');

    // Woken up, the client reads the relay's proved refusal and stops.
    client.child.kill('SIGCONT');
    const code = await Promise.race([client.exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))]);
    assert.equal(code, 1);
    assert.match(client.output, /client_not_authorized/);
  });
});

describe('live reload of the files a config names', () => {
  test("editing a service's own allow file (no SIGHUP) cuts that visitor's streams on that service at once", async (t) => {
    const k = { relay: keys.key('m2-relay'), client: keys.key('m2-client'), v: keys.key('m2-v'), other: keys.key('m2-other') };
    const relay = await startRelay(['--key', k.relay.key, '--authorized', keys.list('m2-clients.list', [k.client.line]), '--no-p2p']);
    procs.push(relay.proc);
    const echo = await lab.echo();
    const sshList = keys.list('m2-ssh.list', [k.v.line]);
    const cfg = join(keys.dir, 'm2-client.toml');
    writeFileSync(cfg, `server = "127.0.0.1:${relay.control}"\npubkey = "m2-relay.pub"\nkey = "m2-client.key"\n\n[[service]]\nname = "ssh"\nlocal = ${echo.port}\nallow = "m2-ssh.list"\n\n[[service]]\nname = "web"\nlocal = ${echo.port}\nallow_keys = ["${k.v.line}"]\n`);
    const client = await startClient(['--config', cfg, '--no-p2p']);
    procs.push(client);
    const v = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', k.client.pub, '--key', k.v.key, '--service', 'ssh', '--listen', '127.0.0.1:0', '--service', 'web', '--listen', '127.0.0.1:0', '--no-p2p']);
    procs.push(v);
    const ready = await v.waitFor(/tun visit ready: listening on port (\d+), (\d+)/);
    const [sshPort, webPort] = [Number(ready[1]), Number(ready[2])];
    await v.waitFor(/session to client \w+ open/);
    const s = await dial(sshPort);
    const held = collect(s, 20_000);
    s.write('ssh stream');
    await until(() => echo.received.some((b) => b.toString() === 'ssh stream'), 10_000);
    writeFileSync(sshList, `${k.other.line}\n`);
    const t0 = Date.now();
    const out = await held;
    const ms = Date.now() - t0;
    t.diagnostic(`the ssh stream closed ${ms} ms after its allow file was written (watch debounce 300 ms)`);
    assert.equal(out.how, 'reset');
    assert.ok(ms < 3000, `closed after ${ms} ms`);
    await client.waitFor(/reload \(file changed\): .*visitor lists changed for ssh; 1 stream closed/);
    assert.equal((await roundTrip(webPort, Buffer.from('web still'))).data.toString(), 'web still', 'its other service still serves it');
  });

  test("replacing a [[client]] key_file's key (no SIGHUP) revokes the old key on the relay", async () => {
    const k = { relay: keys.key('kf-relay'), client: keys.key('kf-client'), next: keys.key('kf-next') };
    const cfg = join(keys.dir, 'kf-relay.toml');
    writeFileSync(join(keys.dir, 'kf-granted.pub'), `${k.client.line}\n`);
    writeFileSync(cfg, `key = "kf-relay.key"\n\n[[client]]\nname = "c"\nkey_file = "kf-granted.pub"\n`);
    const relay = await startRelay(['--config', cfg, '--no-p2p']);
    procs.push(relay.proc);
    const echo = await lab.echo();
    const client = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', k.relay.pub, '--key', k.client.key, '--no-p2p', '--service', 'x', '--local', String(echo.port), '--allow', keys.list('kf-visitors.list', [k.next.line])]);
    procs.push(client);
    writeFileSync(join(keys.dir, 'kf-granted.pub'), `${k.next.line}\n`);
    await relay.proc.waitFor(new RegExp(`reload \\(file changed\\): \\+1 key, -1 key \\(${k.client.fingerprint}.*1 client session closed \\(key revoked\\)`));
    const code = await Promise.race([client.exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    assert.equal(code, 1);
  });
});

describe('per-service revoke of a stream still connecting', () => {
  test('a stream whose local dial is under way when its service is revoked is refused, never attached', async (t) => {
    const k = { relay: keys.key('m4-relay'), client: keys.key('m4-client'), v: keys.key('m4-v'), other: keys.key('m4-other') };
    const relay = await startRelay(['--key', k.relay.key, '--authorized', keys.list('m4-clients.list', [k.client.line]), '--no-p2p']);
    procs.push(relay.proc);
    // A local echo service in its own process with an accept queue of one: stopped (SIGSTOP) and
    // its queue filled, a new connection to it waits in SYN retransmission until it is continued.
    const svc = spawn(process.execPath, ['-e', "require('net').createServer((s) => s.pipe(s)).listen({ host: '127.0.0.1', port: 0, backlog: 1 }, function () { console.log('port ' + this.address().port) })"], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => {
      svc.kill('SIGCONT');
      svc.kill('SIGKILL');
    });
    const svcPort = await new Promise<number>((resolve) => svc.stdout!.setEncoding('utf8').on('data', (d: string) => { const m = /port (\d+)/.exec(d); if (m) resolve(Number(m[1])); }));
    const echo = await lab.echo();
    const slowList = keys.list('m4-slow.list', [k.v.line]);
    const cfg = join(keys.dir, 'm4-client.toml');
    writeFileSync(cfg, `server = "127.0.0.1:${relay.control}"\npubkey = "m4-relay.pub"\nkey = "m4-client.key"\n\n[[service]]\nname = "slow"\nlocal = ${svcPort}\nallow = "m4-slow.list"\n\n[[service]]\nname = "web"\nlocal = ${echo.port}\nallow_keys = ["${k.v.line}"]\n`);
    const client = await startClient(['--config', cfg, '--no-p2p']);
    procs.push(client);
    const v = new TunProcess(['visit', '--server', `127.0.0.1:${relay.visitor}`, '--pubkey', k.client.pub, '--key', k.v.key, '--service', 'slow', '--listen', '127.0.0.1:0', '--no-p2p']);
    procs.push(v);
    const port = Number((await v.waitFor(/tun visit ready: listening on port (\d+)/))[1]);
    await v.waitFor(/session to client \w+ open/);

    svc.kill('SIGSTOP');
    const fillers = await Promise.all([0, 1, 2].map(() => new Promise<Socket>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: svcPort });
      s.on('error', () => {});
      setTimeout(() => resolve(s), 300);
    })));
    const s = await dial(port);
    const out = collect(s, 20_000);
    s.write('should never be echoed');
    await new Promise((r) => setTimeout(r, 1000)); // the client is now dialling the stopped service
    writeFileSync(slowList, `${k.other.line}\n`);
    client.child.kill('SIGHUP');
    await client.waitFor(/reload \(SIGHUP\): .*visitor lists changed for slow/);
    svc.kill('SIGCONT');
    const o = await out;
    t.diagnostic(`stream outcome: ${o.how}, ${o.data.length} bytes back`);
    assert.equal(o.data.toString(), '', 'the revoked stream never reached the service');
    assert.equal(o.how, 'reset');
    await v.waitFor(/visitor_not_allowed/, 10_000);
    for (const f of fillers) f.destroy();
  });
});
