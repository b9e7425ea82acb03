/**
 * What this machine lets a case do. Root-only cases (namespaces, iptables, prlimit on another
 * process) skip with a printed reason when they cannot run; in strict mode (TUN_ADV_STRICT=1, or
 * CI set while running as root) they fail instead, so CI cannot pass by skipping them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';

export const isRoot = process.getuid?.() === 0;
export const strict = process.env.TUN_ADV_STRICT === '1' || (Boolean(process.env.CI) && isRoot);

export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Returns true when the case may go on; otherwise skips it (printing why) or, in strict mode, throws. */
export function need(t: TestContext, ok: boolean, reason: string): boolean {
  if (ok) return true;
  if (strict) throw new Error(`cannot run this case: ${reason} (strict mode: TUN_ADV_STRICT=1 or CI as root)`);
  console.log(`SKIP ${t.name}: ${reason}`);
  t.skip(reason);
  return false;
}

/** The open-files limits (soft, hard) of a process. */
export function nofile(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const n = (x: string | undefined): number => (x === undefined || x === 'unlimited' ? 1 << 20 : Number(x));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

export function nofileLimit(): number {
  return nofile().soft;
}

/** Runs a command; throws with its stderr when it fails. */
export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Sets another process's open-files limit (as root). */
export function setNofile(pid: number, n: number): void {
  run('prlimit', ['--pid', String(pid), `--nofile=${n}:${n}`]);
}

/**
 * Raises a process's open-files limit to `want`, or as far as allowed: without CAP_SYS_RESOURCE
 * (a container may drop it even for root) a limit cannot go above the current hard limit.
 * Returns the soft limit it ends with.
 */
export function raiseNofile(pid: number, want = 65536): number {
  try {
    setNofile(pid, want);
  } catch {
    const { hard } = nofile(pid);
    setNofile(pid, Math.min(want, hard));
  }
  return nofile(pid).soft;
}
