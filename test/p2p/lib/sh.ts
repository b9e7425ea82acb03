/** Commands for the P2P topologies: synchronous `ip`/`iptables` calls and long-running processes in a namespace. */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

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

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** A long-running process inside a namespace (`ip netns exec` execs, so the pid is the program's own). */
export class NsProc {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;
  #lineHandlers: ((line: string) => void)[] = [];
  #partial = '';

  constructor(readonly ns: string, cmd: string, args: string[], env: Record<string, string> = {}, readonly label = cmd) {
    this.child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TUN_LOG: 'info', ...env } });
    this.child.stdin!.on('error', () => {});
    const take = (d: string): void => {
      this.output += d;
      if (process.env.TUN_TEST_VERBOSE) process.stderr.write(`[${label}] ${d}`);
    };
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      take(d);
      this.#partial += d;
      const lines = this.#partial.split('\n');
      this.#partial = lines.pop()!;
      for (const l of lines) for (const h of this.#lineHandlers) h(l);
    });
    this.child.stderr!.setEncoding('utf8').on('data', take);
    live.add(this.child);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => {
      live.delete(this.child);
      resolve(code);
    }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  onLine(h: (line: string) => void): void {
    this.#lineHandlers.push(h);
  }

  /** Resolves with the first match of `re` at or after character `from` of the output; rejects after `ms` or on exit. */
  async waitFor(re: RegExp, ms = 15_000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.output.slice(from).match(re);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`${this.label} in ${this.ns} exited (${this.child.exitCode}) before printing ${re}:\n${this.output.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`${this.label} in ${this.ns}: timed out after ${ms} ms waiting for ${re}; output so far:\n${this.output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
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
