/**
 * `npm run test:faults`: runs the whole fault sweep and prints its report; exits 1 on any failure.
 *
 * Settings (environment): TUN_FAULTS_PORTS=control,visitor,tunnel,local  TUN_FAULTS_KINDS=reset,fin,stall,insert,flip
 * TUN_FAULTS_LANES (4)  TUN_FAULTS_STALL_LANES (8)  TUN_FAULTS_STEP (1: every offset)  TUN_FAULTS_SEED (1)
 * TUN_FAULTS_STALL_MS (3 x the session keepalive + 10 s: 55000)  TUN_FAULTS_STRICT_LOGS=1 (every stderr line must be a one-line log line)
 * TUN_FAULTS_JSON=FILE (every result as JSON)  TUN_FAULTS_QUIET=1 (no progress lines).
 */
import { writeFileSync } from 'node:fs';
import type { PortName } from './exchange.js';
import type { Kind } from './proxy.js';
import { failed, format } from './report.js';
import { DEFAULTS, runSweep, type SweepOptions } from './sweep.js';

function list<T extends string>(name: string, all: T[]): T[] {
  const v = process.env[name];
  if (!v) return all;
  const out = v.split(',').map((s) => s.trim()) as T[];
  for (const x of out) if (!all.includes(x)) throw new Error(`${name}: unknown "${x}" (use ${all.join(',')})`);
  return out;
}

function num(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: "${v}" is not a number`);
  return n;
}

export function optionsFromEnv(): Partial<SweepOptions> {
  return {
    ports: list<PortName>('TUN_FAULTS_PORTS', DEFAULTS.ports),
    kinds: list<Kind>('TUN_FAULTS_KINDS', DEFAULTS.kinds),
    lanes: num('TUN_FAULTS_LANES', DEFAULTS.lanes),
    stallLanes: num('TUN_FAULTS_STALL_LANES', DEFAULTS.stallLanes),
    step: Math.max(1, num('TUN_FAULTS_STEP', DEFAULTS.step)),
    seed: num('TUN_FAULTS_SEED', DEFAULTS.seed),
    stallMs: num('TUN_FAULTS_STALL_MS', DEFAULTS.stallMs),
    budgetMs: num('TUN_FAULTS_BUDGET_MS', DEFAULTS.budgetMs),
    strictLogs: process.env.TUN_FAULTS_STRICT_LOGS === '1',
    log: process.env.TUN_FAULTS_QUIET === '1' ? () => {} : DEFAULTS.log,
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*[\\/]/, ''));
if (isMain) {
  const result = await runSweep(optionsFromEnv()).catch((e: Error) => {
    process.stderr.write(`fault sweep could not run: ${e.message}\n`);
    process.exit(2);
  });
  const text = format(result);
  process.stdout.write(text + '\n');
  if (process.env.TUN_FAULTS_JSON) writeFileSync(process.env.TUN_FAULTS_JSON, JSON.stringify({ ...result, exchanges: result.exchanges.map((e) => ({ ...e, bytes: { up: e.bytes.up.toString('hex'), down: e.bytes.down.toString('hex') } })) }, null, 1));
  process.exit(failed(result) > 0 ? 1 : 0);
}
