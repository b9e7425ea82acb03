/**
 * Watches a tun process for what the sweep counts as broken: it died, or its stderr has something
 * other than one-line log lines (stack traces, `Error:` lines, continuation lines).
 */
import { TunProcess } from '../helpers/proc.js';

/** `<iso time> <role> <level>: <message>`, the one-line log format. */
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ (error|warn|info|debug): \S/;
/** What a crash or an uncaught error prints (Node's own report of it). */
const STACK_LINE = /^\s+at |^\s*\w*(Error|Exception)\b|^node:|Unhandled|^\s+throw |^\s+\^+\s*$/;

export type LineKind = 'log' | 'stack' | 'other';

export function classify(line: string): LineKind {
  if (LOG_LINE.test(line)) return 'log';
  return STACK_LINE.test(line) ? 'stack' : 'other';
}

export interface Line {
  at: number;
  text: string;
  kind: LineKind;
}

export class Watch {
  readonly lines: Line[] = [];
  #partial = '';
  #cursor = 0;
  exitedAt?: number;

  proc!: TunProcess;
  /** Deaths so far (a long-lived process is restarted after one is recorded). */
  deaths = 0;
  /** What `ready` matched when it last started. */
  started?: RegExpMatchArray;
  /** When the ready line was seen (ms epoch). */
  readyAt?: number;
  #since = 0;

  constructor(readonly name: string, readonly args: string[], readonly ready: RegExp) {
    this.#spawn();
  }

  /** Resolves once the process printed its ready line (rejects if it exits first or takes over `ms`). */
  async waitReady(ms = 15_000): Promise<RegExpMatchArray> {
    this.started = await this.proc.waitFor(this.ready, ms);
    this.readyAt = Date.now();
    return this.started;
  }

  #spawn(): void {
    this.#since = this.lines.length;
    this.readyAt = undefined;
    const proc = new TunProcess(this.args);
    this.proc = proc;
    proc.child.stderr!.on('data', (d: string | Buffer) => this.#take(String(d)));
    void proc.exited.then(() => {
      this.exitedAt = Date.now();
      if (this.#partial) this.#push(this.#partial);
      this.#partial = '';
    });
  }

  /**
   * SIGTERM, then SIGKILL if it has not exited within `graceMs` (its own shutdown fallback is 3 s).
   * Returns the exit code, or 'killed' when it had to be killed.
   */
  async stop(graceMs = 4000): Promise<number | 'killed' | null> {
    const c = this.proc.child;
    if (c.exitCode !== null || c.signalCode !== null) return c.exitCode;
    c.kill('SIGTERM');
    let t: NodeJS.Timeout | undefined;
    const done = await Promise.race([this.proc.exited.then(() => true), new Promise<false>((r) => (t = setTimeout(() => r(false), graceMs)))]);
    clearTimeout(t);
    if (done) return c.exitCode;
    c.kill('SIGKILL');
    await this.proc.exited;
    return 'killed';
  }

  /** Starts the same command again after it died; resolves once it printed its ready line. */
  async restart(ms = 15_000): Promise<RegExpMatchArray> {
    this.deaths++;
    this.#partial = '';
    this.#cursor = this.lines.length; // the crash was reported as a death
    this.#spawn();
    return this.waitReady(ms);
  }

  get alive(): boolean {
    return this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  get exitDescription(): string {
    const c = this.proc.child;
    return c.signalCode ? `killed by ${c.signalCode}` : `exit code ${c.exitCode}`;
  }

  /** Lines that are not log lines, since the last call. */
  takeBad(): Line[] {
    const out = this.lines.slice(this.#cursor).filter((l) => l.kind !== 'log');
    this.#cursor = this.lines.length;
    return out;
  }

  /** All non-log lines so far. */
  bad(): Line[] {
    return this.lines.filter((l) => l.kind !== 'log');
  }

  /**
   * For a report: the last log line before a crash and the crash report's telling lines (the error
   * and its first frames), or else the last lines of output.
   */
  evidence(max = 6): string {
    const mine = this.lines.slice(this.#since);
    const stack = mine.findIndex((l) => l.kind !== 'log');
    const noise = /^\s*$|^\s+throw |^\s+\^+\s*$|^node:(events|internal\/process)[^ ]*$/;
    const picked =
      stack >= 0
        ? [...mine.slice(Math.max(0, stack - 1), stack), ...mine.slice(stack).filter((l) => !noise.test(l.text))]
        : mine.slice(-max);
    return picked
      .slice(0, max)
      .map((l) => l.text.trim().slice(0, 200))
      .join(' | ');
  }

  #take(s: string): void {
    const parts = (this.#partial + s).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const p of parts) this.#push(p);
  }

  #push(text: string): void {
    this.lines.push({ at: Date.now(), text, kind: classify(text) });
    if (this.lines.length > 20_000) {
      this.lines.splice(0, 10_000);
      this.#cursor = Math.max(0, this.#cursor - 10_000);
    }
  }
}
