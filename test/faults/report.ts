/** The sweep's report: what was recorded, what was injected, and every failure grouped by cause. */
import type { Result } from './inject.js';
import type { Kind } from './proxy.js';
import { describe, type SweepResult } from './sweep.js';

/** "0-5, 9, 12-14" from a list of offsets. */
export function ranges(ns: number[]): string {
  const s = [...new Set(ns)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/** A problem with its numbers and hex blurred, so offsets that fail the same way group together. */
function signature(p: string): string {
  return p
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T')
    .replace(/\b[0-9a-f]{16,}\b/g, 'HEX')
    .replace(/\d+/g, '#');
}

function median(ns: number[]): number {
  const s = [...ns].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** Failures, plus one when too many runs were inconclusive (over 5 %) for the sweep to mean much. */
export function failed(r: SweepResult): number {
  const inconclusive = r.results.filter((x) => x.inconclusive && x.problems.length === 0).length;
  return r.results.filter((x) => x.problems.length > 0).length + r.checks.failures.length + r.startup.length + (r.aborted ? 1 : 0) + (inconclusive > r.results.length / 20 ? 1 : 0);
}

export function format(r: SweepResult): string {
  const L: string[] = [];
  const kinds: Kind[] = ['reset', 'fin', 'stall', 'insert', 'flip'];
  L.push(`fault sweep: ${r.results.length} injections in ${(r.ms / 1000).toFixed(0)} s, harness CPU ${r.cpuS.toFixed(0)} s (${r.options.lanes} lanes + ${r.options.stallLanes} stall lanes, step ${r.options.step}, seed ${r.options.seed}, stall ${r.options.stallMs} ms, logs ${r.options.strictLogs ? 'strict' : 'lenient'})`);
  L.push('recorded set-up exchanges:');
  for (const ex of r.exchanges) {
    L.push(`  ${ex.port.padEnd(8)} up ${String(ex.bytes.up.length).padStart(4)} B, ${ex.boundaries.up.length} messages [${ex.messages.up.join(', ')}]; down ${String(ex.bytes.down.length).padStart(4)} B, ${ex.boundaries.down.length} messages [${ex.messages.down.join(', ')}]`);
  }
  L.push('injections (passed/run, by port and kind):');
  L.push(`  ${'port'.padEnd(8)} ${kinds.map((k) => k.padStart(10)).join('')}  recovery median/max`);
  for (const ex of r.exchanges) {
    const mine = r.results.filter((x) => x.inj.port === ex.port);
    const cells = kinds.map((k) => {
      const of = mine.filter((x) => x.inj.fault.kind === k);
      return `${of.filter((x) => x.problems.length === 0).length}/${of.length}`.padStart(10);
    });
    const rec = mine.filter((x) => x.recoverMs !== undefined).map((x) => x.recoverMs!);
    L.push(`  ${ex.port.padEnd(8)} ${cells.join('')}  ${(median(rec) / 1000).toFixed(1)} s / ${(Math.max(0, ...rec) / 1000).toFixed(1)} s`);
  }
  L.push('how the app connection the fault hit ended (visitor, tunnel: the first attempt; local: the app connection):');
  for (const ex of r.exchanges) {
    if (ex.port === 'control') continue;
    const n = new Map<string, number>();
    for (const x of r.results) if (x.inj.port === ex.port && x.hit) n.set(x.hit, (n.get(x.hit) ?? 0) + 1);
    L.push(`  ${ex.port.padEnd(8)} ${[...n].map(([k, v]) => `${k}×${v}`).join(' ')}`);
  }
  const slow = r.results.filter((x) => x.problems.length === 0 && (x.recoverMs ?? 0) > r.options.recoverMs);
  if (slow.length) {
    L.push(`slow recoveries (passed, but took over ${r.options.recoverMs / 1000} s: the roles' longest deadline ended them):`);
    for (const x of slow) L.push(`  ${describe(x.inj).padEnd(44)} ${((x.recoverMs ?? 0) / 1000).toFixed(1)} s`);
  }
  const inconclusive = r.results.filter((x) => x.inconclusive && x.problems.length === 0);
  if (inconclusive.length) {
    L.push(`inconclusive twice (proved nothing either way; not counted as failures${inconclusive.length > r.results.length / 20 ? ', but over 5 % of the runs: the sweep FAILS' : ''}): ${inconclusive.length}`);
    for (const x of inconclusive.slice(0, 10)) L.push(`  ${describe(x.inj)}: ${x.inconclusive}`);
  }
  const stalls = r.results.filter((x) => x.stallEnds);
  if (stalls.length) {
    L.push('stalls (ms after the stall began when the app-side end / the relay-or-service-side end closed the stalled connection):');
    for (const x of stalls) L.push(`  ${describe(x.inj).padEnd(40)} ${String(x.stallEnds!.a ?? '-').padStart(6)} / ${String(x.stallEnds!.b ?? '-').padStart(6)}${x.problems.length ? '  FAILED' : ''}`);
  }
  if (r.skipped.length) L.push(`skipped (time budget or abort): ${r.skipped.length}`);
  if (r.aborted) L.push(`ABORTED: ${r.aborted}`);
  const groups = new Map<string, { port: string; kind: string; dir: string; problem: string; offsets: number[]; example: Result }>();
  for (const x of r.results) {
    for (const p of x.problems) {
      const key = `${x.inj.port}|${x.inj.fault.kind}|${x.inj.fault.dir}|${signature(p)}`;
      const g = groups.get(key) ?? { port: x.inj.port, kind: x.inj.fault.kind, dir: x.inj.fault.dir, problem: p, offsets: [], example: x };
      g.offsets.push(x.inj.fault.offset);
      groups.set(key, g);
    }
  }
  const nFailed = r.results.filter((x) => x.problems.length > 0).length;
  L.push(nFailed === 0 ? 'every injection survived' : `FAILED injections: ${nFailed} of ${r.results.length}, ${groups.size} distinct failures:`);
  for (const g of groups.values()) {
    L.push(`  - ${g.port} port, ${g.kind}, ${g.dir}, offsets ${ranges(g.offsets)} (${g.offsets.length}):`);
    L.push(`      ${g.problem.slice(0, 900)}`);
  }
  L.push(r.checks.failures.length === 0 ? `long-lived processes, held stream and new streams: ${r.checks.run} checks, all good` : `FAILED checks: ${r.checks.failures.length} of ${r.checks.run}:`);
  for (const f of r.checks.failures) L.push(`  - ${f.what.slice(0, 900)}\n      injections in flight: ${f.suspects.slice(0, 40).join(', ')}`);
  for (const p of r.startup) L.push(`FAILED (outside the injections): ${p}`);
  const warnings = new Map<string, number>();
  for (const x of r.results) for (const w of x.warnings) warnings.set(signature(w), (warnings.get(signature(w)) ?? 0) + 1);
  if (warnings.size) {
    L.push(`warnings (non-log stderr lines, not failures while logs are checked leniently): ${warnings.size} kinds`);
    for (const [w, n] of [...warnings].slice(0, 12)) L.push(`  ${n}× ${w.slice(0, 300)}`);
  }
  return L.join('\n');
}
