/** A child process (any command) whose output is collected and can be awaited; killed if this process exits. */
import { spawn, type ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface WatchOptions {
  env?: Record<string, string>;
  /** 'pipe' to write to the child's stdin (write errors are ignored); default 'ignore'. */
  stdin?: 'ignore' | 'pipe';
  /** How errors name the process; default "process". */
  name?: string;
  /** Put before each chunk of output echoed with TUN_TEST_VERBOSE. */
  prefix?: string;
  /** How long waitFor waits by default, in ms; default 10 000. */
  waitMs?: number;
}

export class WatchedChild {
  readonly child: ChildProcess;
  /** stdout and stderr as they arrived. */
  output = '';
  readonly exited: Promise<number | null>;
  readonly #name: string;
  readonly #waitMs: number;
  #lineHandlers: ((line: string) => void)[] = [];
  #partial = '';

  constructor(cmd: string, args: string[], opts: WatchOptions = {}) {
    this.#name = opts.name ?? 'process';
    this.#waitMs = opts.waitMs ?? 10_000;
    this.child = spawn(cmd, args, { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'], env: { ...process.env, TUN_LOG: 'info', ...opts.env } });
    this.child.stdin?.on('error', () => {});
    const take = (d: string): void => {
      this.output += d;
      if (process.env.TUN_TEST_VERBOSE) process.stderr.write(`${opts.prefix ?? ''}${d}`);
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

  /** Calls `h` with each whole line the child prints on stdout from now on. */
  onLine(h: (line: string) => void): void {
    this.#lineHandlers.push(h);
  }

  /** Resolves with the first match of `re` at or after character `from` of the output; rejects after `ms` or on exit. */
  async waitFor(re: RegExp, ms = this.#waitMs, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.output.slice(from).match(re);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`${this.#name} exited (${this.child.exitCode}) before printing ${re}:\n${this.output.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`${this.#name}: timed out after ${ms} ms waiting for ${re}; output so far:\n${this.output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends `signal` (SIGKILL after 5 s) and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}
