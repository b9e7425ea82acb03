/**
 * ADVERSARIAL 33 (root only): the client runs in its own network namespace behind a veth; iptables
 * in that namespace silently drops everything between it and the relay, both ways (no FIN, no RST).
 * The in-band heartbeat (2 s here, via TUN_RELAY_LIMITS; the relay tells the client) must detect
 * it on both sides within 3 intervals plus one check, the relay must free the session, and once the
 * rules are removed the client must reconnect, with exactly one session afterwards and the relay's
 * fds back at their baseline.
 */
import { after, it } from 'node:test';
import { KeyDir } from '../helpers/keys.js';
import { collect, dial, send } from '../helpers/net.js';
import { TunProcess } from '../helpers/proc.js';
import { CLI } from '../helpers/paths.js';
import { randomBytes } from 'node:crypto';
import { judge } from './lib/checks.js';
import { Cmd } from './lib/cmd.js';
import { has, isRoot, need } from './lib/env.js';
import { logLines } from './lib/logs.js';
import { fdCount } from './lib/measure.js';
import { ClientNamespace } from './lib/netns.js';
import { figure } from './lib/report.js';
import { startRelay, type RelayHandle } from './lib/topo.js';

const C = 'halfopen';
const HEARTBEAT_MS = 2000;
const keys = new KeyDir();
const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
  keys.remove();
});

async function streamOk(port: number): Promise<boolean> {
  const data = randomBytes(2048);
  const s = await dial(port);
  const out = collect(s, 8000);
  await send(s, data);
  const o = await out;
  return o.how === 'end' && o.data.equals(data);
}

it('a silently blackholed control connection is detected by the heartbeat, freed, and replaced by exactly one new session', async (t) => {
  if (!need(t, isRoot, 'needs root (network namespaces, iptables)')) return;
  if (!need(t, has('ip') && has('iptables'), 'needs `ip` and `iptables` (apt-get install -y iptables)')) return;
  const net = new ClientNamespace();
  try {
    net.up();
    net.exec('iptables', ['-L', 'INPUT', '-n']);
  } catch (e) {
    net.down();
    if (!need(t, false, `cannot set up the namespace: ${(e as Error).message.split('\n').slice(0, 2).join(' ')}`)) return;
  }
  cleanup.push(() => net.down());
  figure(C, `namespace ${net.ns}: relay side ${net.hostIp}, client side ${net.nsIp}`);
  const relayKey = keys.key('relay');
  const clientKey = keys.key('client');
  const visitorKey = keys.key('visitor');
  const relay: RelayHandle = await startRelay(['--key', relayKey.key, '--authorized', keys.list('clients.list', [clientKey.line]), '--bind', net.hostIp], `heartbeatMs=${HEARTBEAT_MS}`);
  cleanup.push(async () => void (await relay.proc.stop()));
  // The local service runs in the namespace too, next to the client.
  const echo = new Cmd('ip', ['netns', 'exec', net.ns, process.execPath, '-e', "const s=require('net').createServer({allowHalfOpen:true},(c)=>{c.on('error',()=>{});c.pipe(c)});s.listen(0,'127.0.0.1',()=>console.log('echo '+s.address().port))"]);
  cleanup.push(async () => void (await echo.stop()));
  const echoPort = Number((await echo.waitFor(/echo (\d+)/))[1]);
  const client = new Cmd('ip', ['netns', 'exec', net.ns, process.execPath, CLI(), 'client', '--server', `${net.hostIp}:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key, '--service', 'echo', '--local', `127.0.0.1:${echoPort}`, '--allow', keys.list('visitors.list', [visitorKey.line])]);
  cleanup.push(async () => void (await client.stop()));
  await client.waitFor(/tun client ready/, 15_000);
  const visitor = new TunProcess(['visit', '--listen', '127.0.0.1:0', '--server', `${net.hostIp}:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', visitorKey.key, '--service', 'echo']);
  cleanup.push(() => void visitor.stop());
  const vport = Number((await visitor.waitFor(/tun visit ready: listening on port (\d+)/))[1]);
  const before = await streamOk(vport);
  const fds0 = fdCount(relay.pid);

  const bound = 3 * HEARTBEAT_MS + HEARTBEAT_MS + 2000;
  const tBlack = Date.now();
  const clientMark = client.output.length;
  net.blackhole(true);
  let blackholed = true;
  cleanup.push(() => {
    if (blackholed) net.blackhole(false);
  });
  const relaySaw = await relay.proc.waitFor(/no heartbeat for \d+ ms; closing its session/, bound + 10_000).then(() => Date.now() - tBlack, () => -1);
  const clientSaw = await client.waitFor(/no answer from the relay/, bound + 10_000, clientMark).then(() => Date.now() - tBlack, () => -1);
  const freed = /offline: heartbeat timeout/.test(relay.proc.stderr);
  figure(C, `blackholed at t=0: relay detected it at ${relaySaw} ms, client at ${clientSaw} ms (bound 3 x ${HEARTBEAT_MS} ms + one check + 2 s slack = ${bound} ms); relay freed the session: ${freed}`);
  // Plan: lift the blackhole after 2 x the detection bound.
  await new Promise((r) => setTimeout(r, Math.max(0, 2 * 3 * HEARTBEAT_MS - (Date.now() - tBlack))));
  const tOpen = Date.now();
  net.blackhole(false);
  blackholed = false;
  const back = await relay.proc.waitFor(/client \w+ \(client\) online[^\n]*\n(?![\s\S]*offline)/, 45_000).then(() => true, () => false);
  // Count sessions from the relay's log after the path came back.
  await new Promise((r) => setTimeout(r, 1500));
  const lines = logLines(relay.proc.stderr).filter((l) => l.at >= tOpen);
  const onlineLines = lines.filter((l) => /client \w+ \(client\) online/.test(l.text));
  const reconnectMs = onlineLines.length ? onlineLines[0]!.at - tOpen : -1;
  const replaced = lines.some((l) => /connected again/.test(l.text));
  const afterOk = await streamOk(vport);
  const fds1 = fdCount(relay.pid);
  figure(C, `path restored: client online again after ${reconnectMs} ms; ${onlineLines.length} online line(s), replaced: ${replaced}; stream before ${before}, after ${afterOk}; relay fds ${fds0} -> ${fds1}`);
  await judge(t, C, [
    { name: 'a stream works before the blackhole', ok: before, detail: String(before) },
    { name: 'the relay detects the dead control connection within the heartbeat bound', ok: relaySaw >= 0 && relaySaw <= bound, detail: `${relaySaw} ms (bound ${bound} ms)` },
    { name: 'the client detects it within the heartbeat bound', ok: clientSaw >= 0 && clientSaw <= bound, detail: `${clientSaw} ms (bound ${bound} ms)` },
    { name: 'the relay frees the session', ok: freed, detail: 'relay log: offline: heartbeat timeout' },
    { name: 'the client reconnects once the path is back (within its 30 s backoff cap + slack)', ok: back && reconnectMs >= 0 && reconnectMs < 40_000, detail: `${reconnectMs} ms` },
    { name: 'exactly one session afterwards', ok: onlineLines.length === 1 && !replaced, detail: `${onlineLines.length} online, replaced: ${replaced}` },
    { name: 'streams work again', ok: afterOk, detail: String(afterOk) },
    { name: 'relay fds back to baseline', ok: fds1 <= fds0 + 2, detail: `${fds0} -> ${fds1}` },
  ]);
});
