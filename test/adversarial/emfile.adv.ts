/**
 * ADVERSARIAL 25: the relay runs out of file descriptors. Its limit is lowered to 256 with
 * prlimit, 1000 connections flood the control port and are held; while it is out of fds the relay
 * must not spin (CPU measured), must not stop listening or exit, must log the condition at most
 * about once a second, and the established stream must keep echoing. Once the flood is over (the
 * handshake deadline closes the held connections) new connections are accepted again.
 */
import { after, it } from 'node:test';
import { TunProcess } from '../helpers/proc.js';
import { judge } from './lib/checks.js';
import { need, setNofile } from './lib/env.js';
import { lineRate } from './lib/logs.js';
import { cpuPercent, fdCount } from './lib/measure.js';
import { figure } from './lib/report.js';
import { Pinger, Topology, describeWave, startAttacker } from './lib/topo.js';

const C = 'emfile';
const LIMIT = 256;
const tp = new Topology({ relayLimits: 'handshakeMs=4000', extraClients: ['client2'] });
after(() => tp.stop());

it('out of file descriptors, the relay keeps its listeners, does not spin, and recovers', async (t) => {
  await tp.start();
  let limited = true;
  try {
    setNofile(tp.relay.pid, LIMIT);
  } catch (e) {
    limited = false;
    if (!need(t, false, `prlimit cannot lower the relay's open-files limit: ${(e as Error).message.split('\n')[1] ?? e}`)) return;
  }
  if (!limited) return;
  if (!(await tp.stream(1024)).ok) throw new Error('first stream failed');
  const pinger = await Pinger.open(tp.visitorPort);
  const fds0 = fdCount(tp.relay.pid);
  const cpuIdle = await cpuPercent(tp.relay.pid, 1000);
  const t0 = Date.now();
  const atk = startAttacker({ waves: [{ port: tp.relay.control, mode: 'hold', count: 1000 }], sources: 40, concurrency: 500, maxMs: 30_000 });
  // Wait until the relay is out of fds, then measure its CPU while it stays so.
  const until = Date.now() + 5000;
  while (fdCount(tp.relay.pid) < LIMIT - 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const fdsFull = fdCount(tp.relay.pid);
  const cpuFull = await cpuPercent(tp.relay.pid, 2000);
  const fdsStill = fdCount(tp.relay.pid);
  const res = await atk.result;
  const tEnd = Date.now();
  figure(C, `relay fds: ${fds0} before, ${fdsFull} at the limit (${LIMIT}), ${fdsStill} 2 s later; cpu ${cpuIdle.toFixed(0)} % idle, ${cpuFull.toFixed(0)} % while out of fds`);
  figure(C, `  ${describeWave(res.waves[0]!)}`);
  const logs = lineRate(tp.relay.proc.stderr, t0, tEnd, /accept|EMFILE|file descriptors/i);
  figure(C, `relay log lines about accept errors during the flood (${((tEnd - t0) / 1000).toFixed(1)} s): ${logs.lines}, at most ${logs.busiestSecond} in one second`);
  // Afterwards: new connections are accepted again, without a restart.
  await new Promise((r) => setTimeout(r, 1000));
  const fdsAfter = fdCount(tp.relay.pid);
  const s = await tp.stream(1024, 10_000);
  const c0 = Date.now();
  const c2 = tp.track(new TunProcess(['client', '--server', `127.0.0.1:${tp.relay.control}`, '--pubkey', tp.relayKey.pub, '--key', tp.extra[0]!.key, '--service', 'other', '--local', `127.0.0.1:${tp.echo.port}`]));
  const newClient = await c2.waitFor(/tun client ready/, 20_000).then(() => `online in ${Date.now() - c0} ms`, (e: Error) => `FAILED: ${e.message.split('\n')[0]}`);
  const rtt = pinger.stop();
  figure(C, `after the flood: relay fds ${fdsAfter}; new stream ${s.ok ? 'ok' : `FAILED (${s.how})`}; new client ${newClient}; established stream: ${rtt.n} echoes, p99 ${rtt.p99.toFixed(1)} ms, ${rtt.failures} failures`);
  await judge(t, C, [
    { name: 'the relay reached its fd limit', ok: fdsFull >= LIMIT - 8, detail: `${fdsFull} of ${LIMIT}` },
    { name: 'the relay does not spin while out of fds (< 50 % of a core)', ok: cpuFull < 50, detail: `${cpuFull.toFixed(0)} %` },
    { name: 'the relay is still running', ok: tp.relay.proc.child.exitCode === null, detail: `exit code ${tp.relay.proc.child.exitCode}` },
    { name: 'accept errors are logged at most about once a second', ok: logs.busiestSecond <= 2, detail: `${logs.lines} lines, ${logs.busiestSecond} in the busiest second` },
    { name: 'the established stream keeps echoing', ok: rtt.failures === 0, detail: `${rtt.failures} failures` },
    { name: 'new streams are accepted again afterwards', ok: s.ok, detail: `${s.how} ${s.error ?? ''}` },
    { name: 'a new client connects afterwards', ok: newClient.startsWith('online'), detail: newClient },
  ]);
});
