/** Commands for the P2P topologies: synchronous `ip`/`iptables` calls and long-running processes in a namespace. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { WatchedChild } from '../../helpers/child.js';

/** Runs a command; throws an error naming the command and its stderr when it fails. */
export function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(err.stderr || err.message).trim().split('\n').slice(0, 3).join(' / ')}`);
  }
}

/** Runs a command and ignores its failure (for clean-up). */
export function tryRun(cmd: string, args: string[]): void {
  spawnSync(cmd, args, { stdio: 'ignore' });
}

export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Throws a clear error unless this process can build namespaces (root, `ip`, `iptables`). */
export function requireNamespaces(): void {
  if (process.getuid?.() !== 0) throw new Error('the P2P scenarios need root (network namespaces and iptables); run them as root');
  if (!has('ip')) throw new Error('the P2P scenarios need `ip` (iproute2); install it');
  if (!has('iptables')) throw new Error('the P2P scenarios need `iptables`; install it (apt-get install -y iptables)');
}

/** A long-running process inside a namespace (`ip netns exec` execs, so the pid is the program's own). */
export class NsProc extends WatchedChild {
  constructor(readonly ns: string, cmd: string, args: string[], env: Record<string, string> = {}, readonly label = cmd) {
    super('ip', ['netns', 'exec', ns, cmd, ...args], { env, stdin: 'pipe', name: `${label} in ${ns}`, prefix: `[${label}] `, waitMs: 15_000 });
  }

  /** CPU seconds (user + system) this process has used so far, from /proc/PID/stat. */
  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
