/**
 * `npm run bench:p2p` (root: network namespaces): direct paths against the relay in one run, in
 * the two-NAT topology of the P2P scenarios. The client sits on the home LAN behind a NAT router;
 * three visitors: one on the same LAN (direct-tcp), one behind the laptop NAT (direct-udp, hole
 * punched through two routers that drop unsolicited inbound) and one there with `--no-p2p`
 * (relay). For each path, interleaved over --runs runs: 64 MiB up and 64 MiB down (MB/s, sha256
 * checked), first-byte time of new streams (p50/p99 of --samples sequential streams), and the CPU
 * seconds of the relay, client and visitor processes (from /proc/PID/stat) during the transfers.
 * Prints a table and writes bench/results/p2p-<timestamp>.json.
 *   npm run bench:p2p -- [--runs N] [--samples N] [--mib N]
 */
import { cpus, loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers/paths.js';
import { cpuSeconds } from '../test/p2p/lib/sh.js';
import { RelayCounters } from '../test/p2p/lib/counters.js';
import { Topology } from '../test/p2p/lib/topology.js';
import { MiB, TunNet, median, mbps, type Visitor } from '../test/p2p/lib/tun.js';

type PathId = 'direct-tcp' | 'direct-udp' | 'relay';
const PATHS: PathId[] = ['direct-tcp', 'direct-udp', 'relay'];

interface Options {
  runs: number;
  samples: number;
  bytes: number;
}

function options(argv: string[]): Options {
  const o: Options = { runs: 3, samples: 50, bytes: 64 * MiB };
  for (let i = 0; i < argv.length; i++) {
    const v = Number(argv[i + 1]);
    if (argv[i] === '--runs') o.runs = v;
    else if (argv[i] === '--samples') o.samples = v;
    else if (argv[i] === '--mib') o.bytes = v * MiB;
    else throw new Error(`unknown option ${argv[i]}; use --runs N, --samples N, --mib N`);
    if (!Number.isInteger(v) || v < 1 || v > 1000) throw new Error(`${argv[i]} needs a whole number from 1 to 1000`);
    i++;
  }
  return o;
}

interface PathResult {
  upMBs: number[];
  downMBs: number[];
  firstByteMs: number[];
  /** CPU seconds during the transfers, per process, summed over runs. */
  cpu: { relay: number; client: number; visitor: number };
  /** Bytes moved by the transfers (up + down), summed over runs. */
  bytes: number;
  /** Stream bytes through the relay's visitor and tunnel ports during the transfers. */
  relayBytes: number;
  detail: string;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function measure(net: TunNet, v: Visitor, o: Options, r: PathResult): Promise<void> {
  const fb = await v.firstByte(o.samples);
  if (fb.failures.length) throw new Error(`${fb.failures.length} first-byte streams failed: ${fb.failures[0]}`);
  r.firstByteMs.push(...fb.samples);
  const pids = { relay: net.relay.pid, client: net.client.pid, visitor: v.proc.pid };
  const cpu0 = { relay: cpuSeconds(pids.relay), client: cpuSeconds(pids.client), visitor: cpuSeconds(pids.visitor) };
  const c0 = net.counters.read();
  const up = await v.upload(o.bytes);
  if (up.got !== up.sent) throw new Error(`upload corrupted (sha256 ${up.got} != ${up.sent})`);
  const down = await v.download(o.bytes);
  if (down.got !== down.expected) throw new Error('download corrupted (sha256 mismatch)');
  r.relayBytes += RelayCounters.streamBytes(c0, net.counters.read());
  for (const k of ['relay', 'client', 'visitor'] as const) r.cpu[k] += cpuSeconds(pids[k]) - cpu0[k];
  r.bytes += 2 * o.bytes;
  r.upMBs.push(mbps(o.bytes, up.ms));
  r.downMBs.push(mbps(o.bytes, down.ms));
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const load0 = loadavg();
  const topo = Topology.create({ lans: [{ name: 'home', nat: { inbound: 'drop' }, hosts: ['client', 'lan'] }, { name: 'laptop', nat: { inbound: 'drop' }, hosts: ['laptop'] }] });
  const net = new TunNet(topo);
  try {
    await net.startRelay();
    await net.startClient('client');
    const visitors: Record<PathId, Visitor> = {
      'direct-tcp': await net.startVisitor('lan', { keyNo: 0 }),
      'direct-udp': await net.startVisitor('laptop', { keyNo: 1 }),
      relay: await net.startVisitor('laptop', { keyNo: 2, args: ['--no-p2p'] }),
    };
    const results = {} as Record<PathId, PathResult>;
    for (const id of PATHS) {
      const v = visitors[id];
      const first = await v.echo(1024);
      if (!first.ok) throw new Error(`${id}: the first stream failed (${first.how})`);
      let detail = 'relay';
      if (id !== 'relay') {
        const p = await v.waitPath(new RegExp(`^${id}$`), 20_000);
        detail = `${p.kind} ${p.detail}`;
      }
      results[id] = { upMBs: [], downMBs: [], firstByteMs: [], cpu: { relay: 0, client: 0, visitor: 0 }, bytes: 0, relayBytes: 0, detail };
    }
    for (let run = 0; run < o.runs; run++) {
      for (const id of PATHS) await measure(net, visitors[id], o, results[id]);
    }
    report(o, results, startedAt, load0);
  } finally {
    await net.stop();
    topo.down();
  }
}

function report(o: Options, results: Record<PathId, PathResult>, startedAt: string, load0: number[]): void {
  const rows = PATHS.map((id) => {
    const r = results[id];
    const gb = r.bytes / 1e9;
    return {
      path: id,
      detail: r.detail,
      upMBs: median(r.upMBs),
      downMBs: median(r.downMBs),
      firstByteP50Ms: pct(r.firstByteMs, 50),
      firstByteP99Ms: pct(r.firstByteMs, 99),
      relayCpuS: r.cpu.relay,
      relayCpuSPerGB: r.cpu.relay / gb,
      clientCpuSPerGB: r.cpu.client / gb,
      visitorCpuSPerGB: r.cpu.visitor / gb,
      relayStreamBytes: r.relayBytes,
      bytesMoved: r.bytes,
      runs: { upMBs: r.upMBs, downMBs: r.downMBs },
    };
  });
  const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const head = ['path', 'up MB/s', 'down MB/s', 'first byte p50 ms', 'p99 ms', 'relay CPU-s', 'relay CPU-s/GB', 'client CPU-s/GB', 'visitor CPU-s/GB', 'through relay'];
  const lines = rows.map((r) => [r.path, f(r.upMBs, 0), f(r.downMBs, 0), f(r.firstByteP50Ms, 2), f(r.firstByteP99Ms, 2), f(r.relayCpuS, 2), f(r.relayCpuSPerGB, 2), f(r.clientCpuSPerGB, 2), f(r.visitorCpuSPerGB, 2), `${(r.relayStreamBytes / MiB).toFixed(2)} MiB`]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const mb = o.bytes / MiB;
  console.log(`\ntun P2P paths · node ${process.version} · ${cpus().length} cores, load ${load0[0]!.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)} · ${o.runs} runs of ${mb} MiB up + ${mb} MiB down per path (median MB/s) · first byte over ${o.runs * o.samples} new streams per path\n`);
  console.log(fmt(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const l of lines) console.log(fmt(l));
  console.log(`\npaths: ${rows.map((r) => `${r.path} = ${r.detail}`).join('; ')}`);
  console.log('CPU-s: user + system time of each process while the transfers ran (first-byte streams excluded); "through relay" = IP bytes on the relay\'s visitor and tunnel ports during them.');
  const result = { startedAt, node: process.version, machine: { cpus: cpus().length, loadavgAtStart: load0, loadavgAtEnd: loadavg() }, options: o, topology: 'client on the home LAN behind a dropping MASQUERADE router; direct-tcp visitor on the same LAN; direct-udp and relay (--no-p2p) visitors behind a second dropping MASQUERADE router', paths: rows };
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `p2p-${startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`written to bench/results/${file.split('/').pop()}`);
}

await main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`bench:p2p failed: ${e.message}`);
    process.exit(1);
  },
);
