/** Per-process figures from /proc: open fds, resident memory, CPU time; and a sampler that keeps the peak. */
import { readFileSync, readdirSync } from 'node:fs';

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** VmRSS in KiB. */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** User + system CPU time of the process in clock ticks (1/100 s on Linux). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

export interface Snapshot {
  fds: number;
  rssKb: number;
}

export function snapshot(pid: number): Snapshot {
  return { fds: fdCount(pid), rssKb: rssKb(pid) };
}

/** Samples one process every `everyMs` and keeps the peaks, until stop(). */
export class PeakSampler {
  peak: Snapshot;
  readonly #timer: NodeJS.Timeout;
  constructor(readonly pid: number, everyMs = 200) {
    this.peak = snapshot(pid);
    this.#timer = setInterval(() => {
      try {
        const s = snapshot(pid);
        this.peak = { fds: Math.max(this.peak.fds, s.fds), rssKb: Math.max(this.peak.rssKb, s.rssKb) };
      } catch {
        // the process is gone; the test notices that elsewhere
      }
    }, everyMs);
  }
  stop(): Snapshot {
    clearInterval(this.#timer);
    return this.peak;
  }
}

/** CPU use of a process over a window, in percent of one core. */
export async function cpuPercent(pid: number, ms: number): Promise<number> {
  const a = cpuTicks(pid);
  await new Promise((r) => setTimeout(r, ms));
  return ((cpuTicks(pid) - a) * 1000) / ms;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Polls until `pid`'s fds are at most `maxFds` (and returns the last snapshot), or `ms` passes. */
export async function settle(pid: number, maxFds: number, ms: number): Promise<Snapshot> {
  const deadline = Date.now() + ms;
  let s = snapshot(pid);
  while (s.fds > maxFds && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    s = snapshot(pid);
  }
  return s;
}

export const mib = (kb: number): string => `${(kb / 1024).toFixed(1)} MiB`;
