/**
 * `npm run bench`: tun side by side with a crypto-free Node chain, OpenSSH `ssh -R` and a direct
 * connection, every role its own process on loopback, several runs (median and spread), then
 * first-byte latency again over emulated WAN links. Prints a table (or JSON with --json) and
 * writes bench/results/<timestamp>.json.
 *   npm run bench -- [--quick] [--json] [--runs N] [--paths tun,ssh,mux,direct] [--no-wan]
 *   npm run bench -- crypto      the crypto primitive candidates instead
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cryptoBench, type Row } from './crypto.js';
import { concurrentStreams, firstBytes, idleMemory, transfer } from './measure.js';
import { fileLimit, nodeService, repoRoot, type Child } from './proc.js';
import { Collector, num, percentile, table, type Figure } from './report.js';
import { STARTERS } from './paths/index.js';
import { sshVersion } from './paths/ssh.js';
import { echoOnce, readCount, waitEcho } from './sockets.js';
import { PATH_IDS, type Path, type PathId, type StartOptions } from './paths/types.js';
import { warmUp, wanFigures } from './phases.js';

interface Options {
  quick: boolean;
  json: boolean;
  runs: number;
  paths: PathId[];
  wan: boolean;
  /** Transfers carry `single` / `parallel` bytes, or what lasts about `transferSeconds` at the path's warm-up speed if less. */
  sizes: { single: number; parallel: number; transferSeconds: number; firstBytes: number; concurrent: number; memory: number[]; memoryRuns: number; wanStreams: number };
}

const WAN_DELAY_MS = 20;
const t0 = Date.now();
const log = (s: string): void => void process.stderr.write(`bench [${Math.round((Date.now() - t0) / 1000)} s]: ${s}\n`);

function parseArgs(argv: string[]): Options {
  const has = (f: string): boolean => argv.includes(f);
  const value = (f: string): string | undefined => argv[argv.indexOf(f) + 1];
  const quick = has('--quick');
  const paths = (has('--paths') ? value('--paths')!.split(',') : PATH_IDS) as PathId[];
  for (const p of paths) if (!PATH_IDS.includes(p)) throw new Error(`unknown path ${p}; choose from ${PATH_IDS.join(', ')}`);
  const runs = has('--runs') ? Number(value('--runs')) : 3;
  if (!(runs >= 1 && runs <= 20)) throw new Error('--runs takes 1 to 20');
  return {
    quick,
    json: has('--json'),
    runs,
    paths,
    wan: !has('--no-wan'),
    sizes: quick
      ? { single: 200e6, parallel: 200e6, transferSeconds: 2, firstBytes: 300, concurrent: 500, memory: [1000, 2000], memoryRuns: 1, wanStreams: 30 }
      : { single: 1e9, parallel: 1e9, transferSeconds: 5, firstBytes: 1000, concurrent: 2000, memory: [1000, 5000], memoryRuns: 2, wanStreams: 100 },
  };
}

/** Open files the busiest process needs for N held streams (a relay holds two sockets per stream). */
const filesFor = (streams: number): number => Math.ceil(streams * 2.2) + 512;

/**
 * Re-runs the bench with a higher open-file limit when it can (the hard limit allows it, or root);
 * otherwise sizes the memory figures down to the limit and says so. True if it re-ran.
 */
function raiseFileLimit(opts: Options): boolean {
  const need = filesFor(Math.max(...opts.sizes.memory));
  const { soft, hard } = fileLimit();
  if (soft >= need) return false;
  if (!process.env.TUN_BENCH_RAISED && (hard >= need || process.getuid?.() === 0)) {
    log(`raising the open-file limit from ${soft} to ${need} for the memory figures`);
    const raise = `ulimit -n ${need} 2>/dev/null || exit 125; exec "$0" "$@"`;
    const r = spawnSync('sh', ['-c', raise, process.execPath, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, TUN_BENCH_RAISED: '1' } });
    if (r.status !== 125) process.exit(r.status ?? 1);
  }
  const fit = Math.max(100, Math.floor((soft - 512) / 2.2));
  opts.sizes.memory = [...new Set(opts.sizes.memory.map((n) => Math.min(n, fit)))];
  log(`open-file limit ${soft} (hard ${hard}) is below the ${need} needed: memory measured at ${opts.sizes.memory.join(' and ')} streams instead`);
  return false;
}

function gitCommit(): { commit: string; dirty: boolean } {
  const git = (args: string[]): string => spawnSync('git', ['-C', repoRoot(), ...args], { encoding: 'utf8' }).stdout?.trim() ?? '';
  return { commit: git(['rev-parse', 'HEAD']) || 'unknown', dirty: git(['status', '--porcelain', '--', 'src', 'bin']) !== '' };
}

async function startAll(opts: Options, start: StartOptions, skipped: Record<string, string>): Promise<Path[]> {
  const paths: Path[] = [];
  for (const id of opts.paths) {
    try {
      const p = await STARTERS[id](start);
      if ('skipped' in p) skipped[id] = p.skipped;
      else paths.push(p);
    } catch (e) {
      skipped[id] = `failed to start: ${(e as Error).message}`;
    }
    if (skipped[id]) log(`${id} skipped: ${skipped[id]}`);
  }
  return paths;
}

async function loopbackFigures(opts: Options, paths: Path[], figs: Collector, cpu: Collector): Promise<Record<string, number>> {
  const s = opts.sizes;
  const bytes: Record<string, number> = {};
  for (const p of paths) bytes[p.id] = await warmUp(p, s.transferSeconds, 50e6, s.single);
  for (let run = 1; run <= opts.runs; run++) {
    for (const p of paths) {
      log(`run ${run}/${opts.runs}: ${p.id}`);
      const one = await transfer(p.bulk, bytes[p.id]!, 1);
      figs.add('single', `single stream, up to ${num(s.single / 1e6)} MB each way`, 'MB/s', p.id, one.mbPerS);
      for (const [role, v] of Object.entries(one.cpuPerGB)) cpu.add(role, role, 'CPU-s/GB', p.id, v);
      if (one.cpuPerGB.total !== undefined) figs.add('cpu', 'CPU of all path processes, single stream', 'CPU-s/GB', p.id, one.cpuPerGB.total);
      const eight = await transfer(p.bulk, (bytes[p.id]! * s.parallel) / s.single, 8);
      figs.add('parallel', `8 streams at once, up to ${num(s.parallel / 1e6)} MB in all`, 'MB/s', p.id, eight.mbPerS);
      const fb = await firstBytes(p.latency, s.firstBytes);
      figs.add('fb50', `first byte p50, ${s.firstBytes} new streams`, 'ms', p.id, percentile(fb.samples, 50));
      figs.add('fb99', 'first byte p99', 'ms', p.id, percentile(fb.samples, 99));
      figs.add('seq', 'new streams/s, one after another', '1/s', p.id, fb.perSecond);
      figs.add('conc', `new streams/s, 32 at once (${s.concurrent})`, '1/s', p.id, await concurrentStreams(p.latency, s.concurrent, 32));
    }
  }
  return bytes;
}

/**
 * Idle-stream memory, each run on freshly started path processes (what earlier phases allocated,
 * and frees late, would otherwise move the baseline).
 */
async function memoryFigures(opts: Options, ids: PathId[], start: StartOptions, echoOpen: () => Promise<number>, figs: Collector): Promise<void> {
  const s = opts.sizes;
  for (let run = 1; run <= s.memoryRuns; run++) {
    for (const id of ids) {
      log(`memory ${run}/${s.memoryRuns}: ${id}, ${s.memory.join(' and ')} idle streams`);
      let p: Path | undefined;
      try {
        const started = await STARTERS[id](start);
        if ('skipped' in started) continue;
        p = started;
        await waitEcho(p.latency.host, p.latency.port);
        for (let i = 0; i < 20; i++) (await echoOnce(p.latency.host, p.latency.port)).socket.destroy();
        const mem = await idleMemory(p.latency, s.memory, echoOpen);
        for (const n of s.memory) figs.add(`mem${n}`, `memory per idle stream, ${n} open, PSS all processes`, 'KB', id, mem.fresh[n]! / 1024);
        figs.add('memUsed', `  the same, ${Math.max(...s.memory)} open after one echoed byte each`, 'KB', id, mem.used / 1024);
      } catch (e) {
        log(`memory on ${id} failed: ${(e as Error).message}`);
      } finally {
        await p?.stop();
      }
    }
  }
}

function printCrypto(rows: Row[]): void {
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(r.what, [...(groups.get(r.what) ?? []), r]);
  for (const [what, rs] of groups) {
    console.log(`\n${what}`);
    for (const r of rs) console.log(`  ${r.candidate.padEnd(48)} ${num(r.value).padStart(12)} ${r.unit.padEnd(13)} ${(r.value / rs[0]!.value).toFixed(2)}x`);
  }
}

function cpuBreakdown(cpuFigs: Figure[], paths: Path[]): string {
  return paths
    .filter((p) => p.bulk.roles.length > 0)
    .map((p) => `  ${p.label}: ` + p.bulk.roles.map((r) => `${r.name} ${num(cpuFigs.find((f) => f.key === r.name)?.cells[p.id]?.median ?? NaN)}`).join(', '))
    .join('\n');
}

/** Column headings of the WAN table: the paths that have a WAN figure. */
function wanLabels(wan: Figure[], labels: Partial<Record<PathId, string>>): Partial<Record<PathId, string>> {
  const names: Partial<Record<PathId, string>> = { mux: labels.mux ?? 'Node mux', ssh: 'ssh -tt -R', tun: 'tun' };
  return Object.fromEntries(Object.entries(names).filter(([id]) => wan.some((f) => f.cells[id as PathId]))) as Partial<Record<PathId, string>>;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'crypto') {
    printCrypto(await cryptoBench());
    return;
  }
  const opts = parseArgs(argv);
  if (raiseFileLimit(opts)) return;
  const began = Date.now();
  const loadavgAtStart = loadavg();
  const tun = gitCommit();
  const notes: string[] = [];
  const skipped: Record<string, string> = {};
  const children: Child[] = [];
  const figs = new Collector();
  const cpu = new Collector();
  const wan = new Collector();
  log(`tun ${tun.commit.slice(0, 12)}${tun.dirty ? ' (uncommitted changes)' : ''}, ${opts.quick ? 'quick, ' : ''}${opts.runs} runs`);
  let paths: Path[] = [];
  let transferBytes: Record<string, number> = {};
  try {
    const echo = await nodeService('echo service', 'services/echo.js', []);
    children.push(echo.child);
    const start = { echoPort: echo.ports[0]! };
    paths = await startAll(opts, start, skipped);
    transferBytes = await loopbackFigures(opts, paths, figs, cpu);
    for (const p of paths) await p.stop();
    paths.forEach((p) => (p.stop = async () => {}));
    const echoOpen = (): Promise<number> => readCount(echo.ports[1]!);
    await memoryFigures(opts, paths.filter((p) => p.latency.roles.length > 0).map((p) => p.id), start, echoOpen, figs);
    if (opts.wan) await wanFigures(opts.paths.filter((id) => id !== 'direct' && !skipped[id]), STARTERS, start, WAN_DELAY_MS, opts.sizes.wanStreams, wan, log);
  } finally {
    for (const p of paths) await p.stop().catch(() => {});
    for (const c of children) await c.stop();
  }
  const labels = Object.fromEntries(paths.map((p) => [p.id, p.label])) as Partial<Record<PathId, string>>;
  if (paths.some((p) => p.id === 'mux')) notes.push("Node mux: tun's own multiplexer (src/session/mux.ts) in the same three-process topology, frames unencrypted: what tun costs without cryptography");
  notes.push(`transfers: each path carries up to ${num(opts.sizes.single / 1e6)} MB, less if that takes over ~${opts.sizes.transferSeconds} s at its warm-up speed (this run, single stream: ${Object.entries(transferBytes).map(([k, v]) => `${k} ${num(v / 1e6)} MB`).join(', ')}); 8 streams carry the same in all`);
  notes.push('CPU-s/GB: user+system CPU seconds of the path processes (sshd with its per-connection children) per GB carried, both directions counted, during the single-stream transfer');
  notes.push(`WAN: delay proxies add ${WAN_DELAY_MS} ms each way on both long legs (80 ms end-to-end round trip); the kernel completes a client's TCP handshake with the proxy at once, so a connect() across a WAN leg costs one more round trip of that leg than shown`);
  const result = {
    bench: 'tun side by side',
    startedAt: new Date(began).toISOString(),
    seconds: Math.round((Date.now() - began) / 1000),
    tun,
    node: process.version,
    ssh: sshVersion(),
    machine: { cpus: cpus().length, loadavgAtStart, loadavgAtEnd: loadavg() },
    options: { quick: opts.quick, runs: opts.runs, sizes: opts.sizes, wanDelayMs: WAN_DELAY_MS },
    singleStreamBytes: transferBytes,
    paths: Object.fromEntries([...paths.map((p) => [p.id, { label: p.label, description: p.description }]), ...Object.entries(skipped).map(([k, v]) => [k, { skipped: v }])]),
    figures: figs.figures(['single', 'parallel', 'cpu', 'fb50', 'fb99', 'seq', 'conc', ...opts.sizes.memory.map((n) => `mem${n}`), 'memUsed']),
    cpuPerProcess: cpu.figures(),
    wan: wan.figures(),
    notes,
  };
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${result.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  if (opts.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(`\ntun ${tun.commit.slice(0, 12)}${tun.dirty ? '+' : ''} · node ${process.version} · ${result.ssh} · ${cpus().length} cores, load ${loadavgAtStart[0]!.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)} · ${opts.runs} runs${opts.quick ? ' (quick)' : ''} · ${result.seconds} s · median ±half the min-max spread\n`);
  console.log(table(result.figures, labels));
  console.log(`\nCPU-s/GB per process (medians):\n${cpuBreakdown(result.cpuPerProcess, paths)}`);
  if (result.wan.length > 0) console.log(`\nOver emulated WAN links (${WAN_DELAY_MS} ms each way per long leg):\n${table(result.wan, wanLabels(result.wan, labels))}`);
  for (const [id, why] of Object.entries(skipped)) console.log(`\n${id} skipped: ${why}`);
  console.log(`\n${notes.map((n) => `- ${n}`).join('\n')}\nwritten to bench/results/${file.split('/').pop()}`);
}

await main().then(
  () => process.exit(0),
  (e: Error) => {
    log(`failed: ${e.message}`);
    process.exit(1);
  },
);
