/**
 * ADVERSARIAL 31, scaled to this machine: 30 client processes (each its own key; the CLI runs one
 * client per process) are online when the relay restarts on the same ports. Their reconnects must
 * be spread (no one-second bucket holds more than 25 % of the registrations, read from the new
 * relay's log) and all must be registered again within 60 s.
 */
import { after, it } from 'node:test';
import { Lab } from '../helpers/lab.js';
import { freePort } from '../helpers/net.js';
import { TunProcess } from '../helpers/proc.js';
import { judge } from './lib/checks.js';
import { KNOWN_BACKOFF_SPREAD, oneLine } from './lib/known.js';
import { logLines } from './lib/logs.js';
import { figure } from './lib/report.js';

const C = 'storm';
const CLIENTS = 30;
const lab = new Lab();
const { keys, procs } = lab;
const echo = lab.newEcho();
after(() => lab.cleanup());

it(`${CLIENTS} clients reconnect to a restarted relay spread out, and all within 60 s`, async (t) => {
  await echo.start();
  const relayKey = keys.key('relay');
  const clients = Array.from({ length: CLIENTS }, (_, i) => keys.key(`c${i}`));
  const list = keys.list('clients.list', clients.map((c) => c.line));
  const ports = [await freePort(), await freePort(), await freePort()];
  const relayArgs = ['server', '--key', relayKey.key, '--authorized', list, '--bind', '127.0.0.1', '--control-port', String(ports[0]), '--visitor-port', String(ports[1]), '--tunnel-port', String(ports[2])];
  const relay1 = new TunProcess(relayArgs);
  procs.push(relay1);
  await relay1.waitFor(/tun server ready/);
  // Start the clients a few at a time (each is a Node process; two shared cores).
  const t0 = Date.now();
  const clientProcs: TunProcess[] = [];
  for (let i = 0; i < CLIENTS; i += 5) {
    const batch = clients.slice(i, i + 5).map((c, j) => {
      const p = new TunProcess(['client', '--server', `127.0.0.1:${ports[0]}`, '--pubkey', relayKey.pub, '--key', c.key, '--service', `s${i + j}`, '--local', `127.0.0.1:${echo.port}`]);
      procs.push(p);
      clientProcs.push(p);
      return p.waitFor(/tun client ready/, 60_000);
    });
    await Promise.all(batch);
  }
  figure(C, `${CLIENTS} clients online in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  await relay1.stop();
  const relay2 = new TunProcess(relayArgs);
  procs.push(relay2);
  await relay2.waitFor(/tun server ready/);
  const tReady = Date.now();
  const count = (): number => relay2.stderr.split('\n').filter((l) => /\(c\d+\) online/.test(l)).length;
  while (count() < CLIENTS && Date.now() - tReady < 60_000) await new Promise((r) => setTimeout(r, 100));
  const all = count() === CLIENTS;
  const online = logLines(relay2.stderr).filter((l) => /client \w+ \(c\d+\) online/.test(l.text));
  const last = online.length ? Math.max(...online.map((l) => l.at)) - tReady : -1;
  const buckets = new Map<number, number>();
  for (const l of online) buckets.set(Math.floor((l.at - tReady) / 1000), (buckets.get(Math.floor((l.at - tReady) / 1000)) ?? 0) + 1);
  const missing = clientProcs.filter((p) => (p.stderr.match(/online at relay/g) ?? []).length < 2);
  for (const p of missing.slice(0, 3)) figure(C, `not back: exit ${p.child.exitCode}; ${oneLine(p.stderr, 5)}`);
  const hist = [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}s:${n}`).join(' ');
  const busiest = Math.max(0, ...buckets.values());
  figure(C, `after the restart: ${online.length}/${CLIENTS} registered, the last after ${last} ms; per second since the relay was ready: ${hist}`);
  await judge(t, C, [
    { name: 'all clients register again within 60 s', ok: all && online.length === CLIENTS, detail: `${online.length}/${CLIENTS}, last after ${last} ms` },
    { name: 'reconnects are spread: no one-second bucket holds more than 25 %', ok: busiest <= Math.floor(CLIENTS * 0.25), detail: `busiest second: ${busiest} of ${CLIENTS} (${hist})`, known: KNOWN_BACKOFF_SPREAD },
  ]);
});
