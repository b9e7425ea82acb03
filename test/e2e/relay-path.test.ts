/**
 * The relay path with real processes: `tun server`, `tun client` and `tun visit` spawned from the
 * CLI on loopback, an echo service, and test sockets as the applications.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connectionsThatFit } from '../helpers/fds.js';
import { Lab } from '../helpers/lab.js';
import { close, collect, dial, listenOn, roundTrip } from '../helpers/net.js';
import { startClient, startRelay, startVisitor, type TunProcess } from '../helpers/proc.js';
import { createServer, type Socket } from 'node:net';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('relay path (real CLI processes)', () => {
  const lab = new Lab();
  const { keys, procs } = lab;
  const [relayKey, clientKey, visitorKey, strangerKey, offlineKey] = keys.keys('relay', 'client', 'visitor', 'stranger', 'offline-client');
  const echo = lab.newEcho();
  /** A service that accepts and never reads: the slowest possible reader. */
  const stalled: Socket[] = [];
  const stall = createServer((c) => {
    c.pause();
    stalled.push(c);
  });
  let visitorPort = 0;
  let relayVisitorPort = 0;
  /** A stream held open across the failure tests: each failure must leave it working. */
  let held: Socket;
  const heldReceived: Buffer[] = [];

  const visit = async (key: string, pub: string, service: string): Promise<{ proc: TunProcess; port: number }> => {
    // These tests are about the relay path: the visitor stays on it (--no-p2p).
    const v = await startVisitor(['--server', `127.0.0.1:${relayVisitorPort}`, '--pubkey', pub, '--key', key, '--service', service, '--no-p2p']);
    procs.push(v.proc);
    return v;
  };

  const heldStillWorks = async (): Promise<void> => {
    const marker = randomBytes(1000);
    const before = Buffer.concat(heldReceived).length;
    held.write(marker);
    const deadline = Date.now() + 5000;
    while (Buffer.concat(heldReceived).length < before + marker.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(Buffer.concat(heldReceived).subarray(before), marker, 'the held stream still echoes after the failure');
  };

  before(async () => {
    await echo.start();
    // Port 1 (tcpmux) has no listener here, and no test can take it: tests only bind port 0,
    // which picks from the ephemeral range. A port that was merely free a moment ago could be.
    const downPort = 1;
    const stallPort = await listenOn(stall);
    const relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', ['# authorized clients', clientKey.line])]);
    procs.push(relay.proc);
    relayVisitorPort = relay.visitor;
    procs.push(
      await startClient([
        '--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key,
        '--service', 'echo', '--local', `127.0.0.1:${echo.port}`,
        '--service', 'down', '--local', `127.0.0.1:${downPort}`,
        '--service', 'stall', '--local', `127.0.0.1:${stallPort}`,
        '--allow', keys.list('visitors.list', [visitorKey.line]),
      ]),
    );
    visitorPort = (await visit(visitorKey.key, clientKey.pub, 'echo')).port;
    held = await dial(visitorPort);
    held.on('data', (d: Buffer) => heldReceived.push(d));
    await heldStillWorks();
  });

  after(async () => {
    held?.destroy();
    await lab.cleanup(async () => {
      for (const c of stalled) c.destroy();
      await close(stall);
    });
  });

  it('carries 64 MiB each way intact (sha256) through visit -> relay -> client -> echo', async () => {
    const data = randomBytes(64 * 1024 * 1024);
    const t0 = performance.now();
    const out = await roundTrip(visitorPort, data);
    const s = (performance.now() - t0) / 1000;
    assert.equal(out.how, 'end', `stream ended cleanly (${out.error ?? ''})`);
    assert.equal(out.data.length, data.length);
    assert.equal(sha(out.data), sha(data));
    // Informational only; speed is measured by npm run bench.
    console.log(`# 64 MiB each way in ${s.toFixed(2)} s (${(64 / s).toFixed(0)} MiB/s each way)`);
  });

  it('carries 100 concurrent streams, each intact', async () => {
    const inputs = Array.from({ length: 100 }, (_, i) => randomBytes(64 * 1024 + i * 997));
    const outs = await Promise.all(inputs.map((d) => roundTrip(visitorPort, d)));
    outs.forEach((o, i) => {
      assert.equal(o.how, 'end', `stream ${i} ended cleanly (${o.error ?? ''})`);
      assert.equal(sha(o.data), sha(inputs[i]!), `stream ${i} intact`);
    });
  });

  it('2000 application connections at once are all served (the visitor paces stream set-up)', async () => {
    // Each connection holds up to 2 fds in the busiest process (this one: the app end and the echo
    // service's end; the visitor measured ~1); 128 stay for the rest. Under `ulimit -n 1024` fewer run.
    const { count, why } = connectionsThatFit(2000, 2, 128);
    console.log(`# ${count} connections at once: ${why}`);
    const inputs = Array.from({ length: count }, (_, i) => Buffer.from(`connection ${i} `.repeat(50)));
    const outs = await Promise.all(inputs.map((d) => roundTrip(visitorPort, d)));
    const bad = outs.map((o, i) => (o.how === 'end' && o.data.equals(inputs[i]!) ? -1 : i)).filter((i) => i >= 0);
    assert.deepEqual(bad, [], `${bad.length} connections failed`);
    await heldStillWorks();
  });

  it('a service that stops reading stalls the sender: nothing buffers without bound on the way', async () => {
    const v = await visit(visitorKey.key, clientKey.pub, 'stall');
    const s = await dial(v.port);
    s.on('error', () => {});
    const chunk = Buffer.alloc(1024 * 1024, 7);
    let accepted = 0;
    // Write until the chain pushes back and stays stalled for a second (or 256 MiB got through).
    while (accepted < 256 * 1024 * 1024) {
      const more = s.write(chunk);
      accepted += chunk.length;
      if (!more) {
        const drained = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), 1000);
          s.once('drain', () => {
            clearTimeout(t);
            resolve(true);
          });
        });
        if (!drained) break;
      }
    }
    // Kernel socket buffers and a few stream high-water marks on four hops: a few MiB, not 256.
    console.log(`# a stalled reader let ${(accepted / 1024 / 1024).toFixed(0)} MiB in before backpressure held`);
    assert.ok(accepted < 48 * 1024 * 1024, `the sender was stopped after ${accepted} bytes`);
    s.destroy();
    await heldStillWorks();
  });

  it('propagates half-close: request sent, write side shut, the response still arrives', async () => {
    const s = await dial(visitorPort);
    const done = collect(s);
    s.write('request line 1\n');
    s.end('request line 2\n');
    // Our write side is shut; the echo service answers only after it sees our FIN, then ends.
    const out = await done;
    assert.equal(out.how, 'end');
    assert.equal(out.data.toString(), 'request line 1\nrequest line 2\n');
    await heldStillWorks();
  });

  it('refuses an unknown service with a clear message; other streams unaffected', async () => {
    const v = await visit(visitorKey.key, clientKey.pub, 'nosuch');
    const out = await roundTrip(v.port, Buffer.from('hello'));
    assert.equal(out.how, 'reset');
    assert.equal(out.data.length, 0);
    await v.proc.waitFor(/stream to nosuch of client \w+ refused [^\n]*unknown_service: no service named nosuch here \(hint: check --service/);
    await heldStillWorks();
  });

  it('refuses a visitor not in --allow; the client says which key and how to admit it', async () => {
    const v = await visit(strangerKey.key, clientKey.pub, 'echo');
    const out = await roundTrip(v.port, Buffer.from('let me in'));
    assert.equal(out.how, 'reset');
    assert.equal(out.data.length, 0);
    await v.proc.waitFor(/refused this visitor: visitor_not_allowed[\s\S]*hint: add this visitor's \.pub line/);
    const client = procs[1]!;
    await client.waitFor(new RegExp(`visitor ${strangerKey.fingerprint} not allowed \\(hint: to admit it, add its \\.pub line to`));
    assert.equal(echo.received.filter((r) => r.toString() === 'let me in').length, 0, 'the local service never saw the refused visitor');
    await heldStillWorks();
  });

  it('reports a local service that is down as a reset with the reason', async () => {
    const v = await visit(visitorKey.key, clientKey.pub, 'down');
    const out = await roundTrip(v.port, Buffer.from('anyone home?'));
    assert.equal(out.how, 'reset');
    await v.proc.waitFor(/local_service_unavailable[\s\S]*hint: the service behind the client is down/);
    await heldStillWorks();
  });

  it('reports an offline client', async () => {
    const v = await visit(visitorKey.key, offlineKey.pub, 'echo');
    const out = await roundTrip(v.port, Buffer.from('x'));
    assert.equal(out.how, 'reset');
    await v.proc.waitFor(new RegExp(`client_offline: client ${offlineKey.fingerprint} is not connected[\\s\\S]*hint: start \`tun client\``));
    await heldStillWorks();
  });

  it('refuses a visitor that pins the wrong client key', async () => {
    // The relay routes by the key the visitor names; the stranger key is not a connected client, and
    // naming the real client while pinning it is the only way in. Here the visitor names the real
    // client but holds a .pub of another key: route and pin are the same field, so this is offline.
    const v = await visit(visitorKey.key, strangerKey.pub, 'echo');
    const out = await roundTrip(v.port, Buffer.from('x'));
    assert.equal(out.how, 'reset');
    await v.proc.waitFor(/client_offline/);
    await heldStillWorks();
  });
});
