/**
 * ADVERSARIAL 20-22, scaled: on each relay port in turn, 300 connections that send nothing, 300
 * that send the same frame one byte every 500 ms (faster than the deadline, so an idle timer would
 * never fire),
 * and 300 that send a valid-looking first frame and then nothing (control: a recorded message 1
 * of the live client, replayed; visitor: a recorded first frame of the visitor; tunnel: a partial
 * frame). The relay runs with a 2 s handshake deadline (TUN_RELAY_LIMITS): every one must be
 * closed by that absolute deadline, while a new client completes its handshake, a new stream
 * works, and the live client's session is not disturbed by its replayed message 1.
 */
import { after, it } from 'node:test';
import { Proxy } from '../helpers/net.js';
import { TunProcess } from '../helpers/proc.js';
import type { Mode } from './lib/attacker.js';
import { judge, type Check } from './lib/checks.js';
import { oneLine } from './lib/known.js';
import { figure } from './lib/report.js';
import { Pinger, Topology, describeWave, startAttacker } from './lib/topo.js';

const C = 'slowloris';
const DEADLINE_MS = 2000;
const PER_MODE = 300;
/**
 * How late past the deadline a close may come on this shared machine: under a load of ~20 on two
 * cores, 300 message-1 handshakes delayed the relay's timers by ~2 s. Generous on purpose: what
 * this tells apart is an absolute deadline from an idle timer, which the drip (a byte every
 * 500 ms, a frame complete only after ~50 s) would keep alive until the attacker gives up at 20 s.
 */
const SLACK_MS = 5000;
const proxies: Proxy[] = [];
const tp = new Topology({
  relayLimits: `handshakeMs=${DEADLINE_MS}`,
  extraClients: ['client2'],
  via: async (relay) => {
    const control = await new Proxy(relay.control).start();
    const visitor = await new Proxy(relay.visitor).start();
    proxies.push(control, visitor);
    return { control: control.port, visitor: visitor.port };
  },
});
after(async () => {
  await tp.stop();
  await Promise.all(proxies.map((p) => p.stop()));
});

function firstFrame(bytes: Buffer): Buffer {
  if (bytes.length < 2) throw new Error('nothing recorded');
  return bytes.subarray(0, Math.min(bytes.length, 2 + bytes.readUInt16BE(0)));
}

it('slow handshakes on every port are closed by the absolute deadline while real ones complete', async (t) => {
  await tp.start();
  if (!(await tp.stream(1024)).ok) throw new Error('first stream failed');
  const recorded = { control: firstFrame(proxies[0]!.all('up')), visitor: firstFrame(proxies[1]!.all('up')) };
  const partial = Buffer.concat([Buffer.from([0x00, 0x60]), Buffer.alloc(10, 7)]);
  const pinger = await Pinger.open(tp.visitorPort);
  const ports: [string, number, Buffer][] = [
    ['control', tp.relay.control, recorded.control],
    ['visitor', tp.relay.visitor, recorded.visitor],
    ['tunnel', tp.relay.tunnel, partial],
  ];
  const checks: Check[] = [];
  const t0 = Date.now();
  for (const [name, port, frame] of ports) {
    const modes: Mode[] = ['hold', 'drip', 'frame'];
    const atk = startAttacker({ waves: modes.map((mode) => ({ port, mode, count: PER_MODE, frame: frame.toString('base64') })), sources: 20, concurrency: 300, dripMs: 500, maxMs: 20_000 });
    await new Promise((r) => setTimeout(r, 500));
    // Meanwhile: a legitimate handshake on this port.
    const l0 = Date.now();
    let legit: string;
    if (name === 'control') {
      const c2 = tp.track(new TunProcess(['client', '--server', `127.0.0.1:${tp.relay.control}`, '--pubkey', tp.relayKey.pub, '--key', tp.extra[0]!.key, '--service', 'other', '--local', `127.0.0.1:${tp.echo.port}`]));
      legit = await c2.waitFor(/tun client ready/, 15_000).then(() => `a new client online in ${Date.now() - l0} ms (plan: < 1 s)${Date.now() - l0 > 1000 ? `; its log: ${oneLine(c2.stderr, 6)}` : ''}`, (e: Error) => `a new client FAILED: ${e.message.split('\n')[0]}`);
    } else {
      const s = await tp.stream(1024, 15_000);
      legit = s.ok ? `a new stream (visitor and tunnel ports) in ${Date.now() - l0} ms` : `a new stream FAILED: ${s.how} ${s.error ?? ''}`;
    }
    const res = await atk.result;
    figure(C, `${name} port: ${legit}`);
    for (const w of res.waves) figure(C, `  ${name}: ${describeWave(w)}`);
    const worst = Math.max(...res.waves.map((w) => w.lifeMs.max));
    const open = res.waves.reduce((n, w) => n + w.survived + (w.connected - w.closedByPeer - w.survived), 0);
    checks.push({ name: `${name} port: every slow connection closed by the deadline (${DEADLINE_MS} ms + ${SLACK_MS} ms slack)`, ok: open === 0 && worst <= DEADLINE_MS + SLACK_MS, detail: `longest life ${worst} ms; ${open} not closed by the relay` });
    checks.push({ name: `${name} port: a legitimate handshake completes meanwhile`, ok: !legit.includes('FAILED'), detail: legit });
  }
  const rtt = pinger.stop();
  figure(C, `established stream during the attacks (${((Date.now() - t0) / 1000).toFixed(1)} s): ${rtt.n} echoes, p50 ${rtt.p50.toFixed(1)} ms, p99 ${rtt.p99.toFixed(1)} ms, ${rtt.failures} failures`);
  const replaced = /connected again|took over/.test(tp.relay.proc.stderr + tp.client.stderr);
  checks.push(
    { name: 'the established stream keeps echoing', ok: rtt.failures === 0, detail: `${rtt.failures} failures, p99 ${rtt.p99.toFixed(1)} ms` },
    { name: "replaying the live client's message 1 does not disturb its session", ok: !replaced && tp.client.child.exitCode === null, detail: replaced ? 'the relay replaced the live session' : 'session kept' },
    { name: 'no heartbeat timeouts', ok: !/no heartbeat|no answer from the relay/.test(tp.relay.proc.stderr + tp.client.stderr), detail: 'relay and client logs' },
    { name: 'the relay is still running', ok: tp.relay.proc.child.exitCode === null, detail: `exit code ${tp.relay.proc.child.exitCode}` },
  );
  await judge(t, C, checks);
});
