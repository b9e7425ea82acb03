/** Figures across runs (median and spread), the printed table, and the JSON result. */
import { PATH_IDS, type PathId } from './paths/types.js';

export interface Cell {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export interface Figure {
  key: string;
  label: string;
  unit: string;
  cells: Partial<Record<PathId, Cell>>;
  /** tun's median over ssh's (same units; for times and costs, below 1 is better for tun). */
  tunOverSsh?: number;
}

export const median = (xs: number[]): number => percentile(xs, 50);

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = (p / 100) * (s.length - 1);
  const lo = Math.floor(i);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (i - lo);
}

export function cell(runs: number[]): Cell | undefined {
  const ok = runs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return undefined;
  return { median: median(ok), min: Math.min(...ok), max: Math.max(...ok), runs: ok };
}

/** Collects per-run values as figure -> path -> runs, then turns them into cells. */
export class Collector {
  readonly #values = new Map<string, { label: string; unit: string; runs: Map<PathId, number[]> }>();

  add(key: string, label: string, unit: string, path: PathId, value: number): void {
    const f = this.#values.get(key) ?? { label, unit, runs: new Map() };
    this.#values.set(key, f);
    f.runs.set(path, [...(f.runs.get(path) ?? []), value]);
  }

  /** In the order given by `order` (keys not in it last, in insertion order). */
  figures(order: string[] = []): Figure[] {
    const rank = (k: string): number => (order.includes(k) ? order.indexOf(k) : order.length);
    return [...this.#values].sort((a, b) => rank(a[0]) - rank(b[0])).map(([key, f]) => {
      const cells: Partial<Record<PathId, Cell>> = {};
      for (const [p, runs] of f.runs) {
        const c = cell(runs);
        if (c) cells[p] = c;
      }
      const ratio = cells.tun && cells.ssh ? cells.tun.median / cells.ssh.median : undefined;
      return { key, label: f.label, unit: f.unit, cells, ...(ratio !== undefined && Number.isFinite(ratio) ? { tunOverSsh: ratio } : {}) };
    });
  }
}

export function num(x: number): string {
  if (!Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}

function show(c: Cell | undefined): string {
  if (!c) return '-';
  if (c.runs.length < 2 || c.median === 0) return num(c.median);
  const spread = ((c.max - c.min) / 2 / Math.abs(c.median)) * 100;
  return `${num(c.median)} ±${spread < 10 ? spread.toFixed(1) : spread.toFixed(0)}%`;
}

/** A plain-text table: one row per figure, one column per path, then tun/ssh. */
export function table(figures: Figure[], labels: Partial<Record<PathId, string>>): string {
  const ids = PATH_IDS.filter((p) => labels[p]);
  const head = ['figure', ...ids.map((p) => labels[p]!), 'tun/ssh'];
  const rows = figures.map((f) => [`${f.label} (${f.unit})`, ...ids.map((p) => show(f.cells[p])), f.tunOverSsh === undefined ? '-' : `${f.tunOverSsh.toFixed(2)}x`]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
