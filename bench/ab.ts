/**
 * `npm run bench:ab`: a quick throughput A/B for hot-path work. Starts the chosen paths once and
 * runs single-stream echo transfers on them in turn, alternating, printing MB/s and each process's
 * CPU-s/GB per run and the medians, so a change is judged against its baseline in the same minute.
 *   npm run bench:ab -- [--paths tun,mux] [--runs 5] [--mb 300] [--streams 1]
 */
import { transfer } from './measure.js';
import { nodeService, type Child } from './proc.js';
import { STARTERS } from './paths/index.js';
import { PATH_IDS, type Path, type PathId } from './paths/types.js';
import { median } from './report.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** A whole-number option within [min, max], or a one-line error naming it. */
function count(name: string, fallback: number, min: number, max: number): number {
  const n = Number(arg(name, String(fallback)));
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} takes a whole number from ${min} to ${max}`);
  return n;
}


async function main(): Promise<void> {
  const ids = arg('--paths', 'tun,mux').split(',');
  if (new Set(ids).size !== ids.length) throw new Error('--paths names each path once');
  const runs = count('--runs', 5, 1, 50);
  const bytes = count('--mb', 300, 1, 10_000) * 1e6;
  const streams = count('--streams', 1, 1, 1000);
  const children: Child[] = [];
  const paths: Path[] = [];
  try {
    const echo = await nodeService('echo service', 'services/echo.js', []);
    children.push(echo.child);
    for (const id of ids) {
      if (!PATH_IDS.includes(id as PathId)) throw new Error(`unknown path ${id}; choose from ${PATH_IDS.join(', ')}`);
      const p = await STARTERS[id as PathId]({ echoPort: echo.ports[0]! });
      if ('skipped' in p) throw new Error(`${id} skipped: ${p.skipped}`);
      paths.push(p);
    }
    const seen: Record<string, Record<string, number[]>> = {};
    for (const p of paths) await transfer(p.bulk, Math.min(bytes, 50e6), streams); // warm-up
    for (let run = 1; run <= runs; run++) {
      for (const p of paths) {
        const r = await transfer(p.bulk, bytes, streams);
        const row = (seen[p.id] ??= {});
        (row['MB/s'] ??= []).push(r.mbPerS);
        for (const [k, v] of Object.entries(r.cpuPerGB)) (row[k] ??= []).push(v);
        const cpu = Object.entries(r.cpuPerGB).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
        console.log(`run ${run} ${p.id.padEnd(6)} ${r.mbPerS.toFixed(1).padStart(6)} MB/s   CPU-s/GB: ${cpu}`);
      }
    }
    console.log('\nmedians:');
    for (const [id, row] of Object.entries(seen)) {
      console.log(`${id.padEnd(6)} ${Object.entries(row).map(([k, v]) => `${k} ${median(v).toFixed(2)}`).join(', ')}`);
    }
  } finally {
    for (const p of paths) await p.stop().catch(() => {});
    for (const c of children) await c.stop();
  }
}

await main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`bench:ab failed: ${e.message}`);
    process.exit(1);
  },
);
