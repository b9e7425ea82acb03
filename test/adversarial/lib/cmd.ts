/** A child process (any command, e.g. `ip netns exec NS node tun.js ...`) whose output can be awaited. */
import { spawn, type ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export class Cmd {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;

  constructor(cmd: string, args: string[], env: Record<string, string> = {}) {
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TUN_LOG: 'info', ...env } });
    const take = (d: string): void => {
      this.output += d;
      if (process.env.TUN_TEST_VERBOSE) process.stderr.write(d);
    };
    this.child.stdout!.setEncoding('utf8').on('data', take);
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

  /** Resolves with the first match of `re` at or after character `from` of the output; rejects after `ms` or on exit. */
  async waitFor(re: RegExp, ms = 10_000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.output.slice(from).match(re);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`process exited (${this.child.exitCode}) before printing ${re}:\n${this.output.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; output so far:\n${this.output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}
