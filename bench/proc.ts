/**
 * Child processes and temp folders of the bench, and what the kernel says about them: CPU time from
 * /proc/PID/stat, proportional memory (PSS) from /proc/PID/smaps_rollup, descendants via PPid.
 * Every child and folder made here is killed / removed when the bench exits, however it exits.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const live = new Set<ChildProcess>();
const folders = new Set<string>();

function cleanUp(): void {
  for (const c of live) {
    if (c.pid) for (const d of descendants(c.pid)) tryKill(d);
    c.kill('SIGKILL');
  }
  for (const f of folders) rmSync(f, { recursive: true, force: true });
}
process.once('exit', cleanUp);
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(sig, () => {
    console.error(`bench: ${sig}, stopping every child`);
    process.exit(130);
  });
}

function tryKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** The repository root (the folder holding package.json), found from this file's location. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the bench');
    dir = up;
  }
  return dir;
}

/** A compiled bench script next to this one (dist/bench/...). */
export const benchScript = (rel: string): string => join(dirname(fileURLToPath(import.meta.url)), rel);

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `tun-bench-${prefix}-`));
  folders.add(d);
  return d;
}

export function removeDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  folders.delete(d);
}

/** TUN_BENCH_LOGS=DIR: every child's whole output also goes to DIR/<name>-<pid>.log (for --trace-gc and the like). */
function logFile(name: string, pid: number | undefined): WriteStream | undefined {
  const dir = process.env.TUN_BENCH_LOGS;
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  return createWriteStream(join(dir, `${name.replace(/[^\w-]+/g, '_')}-${pid ?? 'nopid'}.log`), { flags: 'a' });
}

export class Child {
  readonly proc: ChildProcess;
  out = '';
  readonly exited: Promise<number | null>;
  readonly #log: WriteStream | undefined;

  constructor(readonly name: string, cmd: string, args: string[], opts: SpawnOptions = {}) {
    this.proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    live.add(this.proc);
    this.#log = logFile(name, this.proc.pid);
    this.proc.once('close', () => this.#log?.end());
    this.proc.stdout?.setEncoding('utf8').on('data', (d: string) => this.#add(d));
    this.proc.stderr?.setEncoding('utf8').on('data', (d: string) => this.#add(d));
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code) => {
        live.delete(this.proc);
        resolve(code);
      });
      this.proc.once('error', (e) => {
        this.#add(`spawn failed: ${e.message}\n`);
        live.delete(this.proc);
        resolve(-1);
      });
    });
  }

  get pid(): number {
    if (!this.proc.pid) throw new Error(`${this.name} has no pid (did it start?)`);
    return this.proc.pid;
  }

  #add(d: string): void {
    this.out = (this.out + d).slice(-20_000); // bounded: only the tail matters for errors
    this.#log?.write(d);
  }

  /** The first match of `re` in the output; fails if the process exits first or after `ms`. */
  async waitFor(re: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.out.match(re);
      if (m) return m;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`${this.name} exited (${this.proc.exitCode ?? this.proc.signalCode}) before printing ${re}: ${this.out.trim().slice(-800)}`);
      }
      if (Date.now() > deadline) throw new Error(`${this.name} did not print ${re} within ${ms} ms: ${this.out.trim().slice(-800)}`);
      await sleep(25);
    }
  }

  /** SIGTERM, then SIGKILL (with any descendants) after `ms`. */
  async stop(ms = 3000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const kids = this.proc.pid ? descendants(this.proc.pid) : [];
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => {
      for (const d of kids) tryKill(d);
      this.proc.kill('SIGKILL');
    }, ms);
    await this.exited;
    clearTimeout(t);
    for (const d of kids) tryKill(d);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Node flags for every process of a measured path (tun's and the Node baseline's):
 * TUN_BENCH_PROFILE=DIR: each writes a V8 CPU profile there when it stops (node --cpu-prof);
 * TUN_BENCH_NODE_ARGS="...": extra node flags (space-separated), for experiments.
 */
export const nodeFlags = (): string[] => [
  ...(process.env.TUN_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.TUN_BENCH_PROFILE}`] : []),
  ...(process.env.TUN_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
];

/** A Node child running a compiled bench script; resolves once it printed `ready PORT...`. */
export async function nodeService(name: string, script: string, args: string[]): Promise<{ child: Child; ports: number[] }> {
  const child = new Child(name, process.execPath, [...nodeFlags(), benchScript(script), ...args]);
  const m = await child.waitFor(/^ready ([\d ]+)$/m);
  return { child, ports: m[1]!.trim().split(' ').map(Number) };
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Every live descendant of `pid` (children, grandchildren...). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pp = parentOf(Number(name));
    if (pp !== undefined) children.set(pp, [...(children.get(pp) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0 && out.length < 10_000) {
    for (const c of children.get(todo.pop()!) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

let tick = 0;
function clockTick(): number {
  if (!tick) {
    try {
      tick = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      tick = 100;
    }
  }
  return tick;
}

/**
 * CPU seconds (user + system) used so far by `pid`; with `tree`, also by its live descendants and
 * (through cutime/cstime) by the descendants that already exited and were reaped.
 */
export function cpuSeconds(pid: number, tree = false): number {
  const pids = tree ? [pid, ...descendants(pid)] : [pid];
  let ticks = 0;
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
      ticks += Number(f[11]) + Number(f[12]) + (tree ? Number(f[13]) + Number(f[14]) : 0);
    } catch {
      /* exited between the listing and the read */
    }
  }
  return ticks / clockTick();
}

/** Proportional set size in bytes of `pid` (and, with `tree`, of its descendants). */
export function pssBytes(pid: number, tree = false): number {
  let kb = 0;
  for (const p of tree ? [pid, ...descendants(pid)] : [pid]) {
    try {
      const m = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m);
      kb += Number(m?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return kb * 1024;
}

/** This process's open-file limit (soft, hard) from /proc/self/limits. */
export function fileLimit(): { soft: number; hard: number } {
  const m = readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+(\S+)\s+(\S+)/m);
  const n = (s: string | undefined): number => (s === 'unlimited' ? 1 << 30 : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}
