/** Spawns real `tun` CLI processes and waits on what they print. */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './paths.js';

/** Every child still running: if this test process ends or is killed, they go with it. */
const live = new Set<ChildProcess>();
const killAll = (): void => {
  for (const c of live) c.kill('SIGKILL');
};
process.once('exit', killAll);
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(128 + (sig === 'SIGTERM' ? 15 : 2));
  });
}

export class TunProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  #waiters: (() => void)[] = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TUN_LOG: 'info', ...env } });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.#notify();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      if (process.env.TUN_TEST_VERBOSE) process.stderr.write(d);
      this.#notify();
    });
    live.add(this.child);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => {
      live.delete(this.child);
      this.#notify();
      resolve(code);
    }));
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  /** Resolves with the first match of `re` in stdout+stderr; rejects after `ms` or if the process exits first. */
  async waitFor(re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.output.match(re);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`process exited (${this.child.exitCode}) before printing ${re}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; output so far:\n${this.output}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }

  #notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

export async function startRelay(args: string[]): Promise<{ proc: TunProcess; control: number; visitor: number; tunnel: number; fingerprint: string }> {
  const proc = new TunProcess(['server', '--bind', '127.0.0.1', '--control-port', '0', '--visitor-port', '0', '--tunnel-port', '0', ...args]);
  const m = await proc.waitFor(/tun server ready: relay (\w+) control (\d+) visitor (\d+) tunnel (\d+)/);
  return { proc, fingerprint: m[1]!, control: Number(m[2]), visitor: Number(m[3]), tunnel: Number(m[4]) };
}

export async function startClient(args: string[]): Promise<TunProcess> {
  const proc = new TunProcess(['client', ...args]);
  await proc.waitFor(/tun client ready/);
  return proc;
}

export async function startVisitor(args: string[]): Promise<{ proc: TunProcess; port: number }> {
  const proc = new TunProcess(['visit', '--listen', '127.0.0.1:0', ...args]);
  const m = await proc.waitFor(/tun visit ready: listening on port (\d+)/);
  return { proc, port: Number(m[1]) };
}
