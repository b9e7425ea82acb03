/**
 * Live reload: on SIGHUP, and when a watched file changes (fs.watch on its folder, so editors that
 * write a new file and rename it over the old one, and symlink swaps, are seen too; events within a
 * debounce count once, and a change that leaves every file's bytes as they were is no change). A reload loads
 * everything anew; a load that fails is logged on one line and the running settings stay.
 */
import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { asTunError } from '../errors.js';
import type { Logger } from '../log.js';
import { countReload } from '../observe/reloads.js';

export interface Loaded<T> {
  value: T;
  /** Files whose change means a reload. */
  files: string[];
}

export interface ReloaderOptions<T> {
  log: Logger;
  load: () => Loaded<T>;
  /** Applies new settings; returns what changed, for the log line ("" for nothing). */
  apply: (next: T) => string;
  debounceMs?: number;
}

export const DEFAULT_DEBOUNCE_MS = Number(process.env.TUN_RELOAD_DEBOUNCE_MS) > 0 ? Number(process.env.TUN_RELOAD_DEBOUNCE_MS) : 300;

function digest(files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f).update('\0');
    try {
      h.update(readFileSync(f));
    } catch (err) {
      h.update(`missing:${(err as NodeJS.ErrnoException).code ?? ''}`);
    }
    h.update('\0');
  }
  return h.digest('hex');
}

export class Reloader<T> {
  readonly #o: ReloaderOptions<T>;
  #files: string[] = [];
  #digest = '';
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #onHup = (): void => this.reload('SIGHUP');
  /** Counts for tests and status: reloads applied, rejected. */
  readonly stats = { applied: 0, rejected: 0 };

  constructor(options: ReloaderOptions<T>) {
    this.#o = options;
  }

  /** Starts watching `files` (as the first load returned them) and listening for SIGHUP. */
  start(files: string[]): void {
    this.#setFiles(files);
    process.on('SIGHUP', this.#onHup);
  }

  stop(): void {
    this.#stopped = true;
    process.off('SIGHUP', this.#onHup);
    clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }

  /** Loads and applies now; `why` names the cause in the log line. */
  reload(why: string): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    let loaded: Loaded<T>;
    try {
      loaded = this.#o.load();
    } catch (err) {
      this.stats.rejected++;
      countReload(false);
      this.#digest = digest(this.#files);
      this.#o.log.error(`reload (${why}) rejected, still running the previous settings: ${asTunError(err, 'CONFIG_INVALID', 'reload failed').describe()}`);
      return;
    }
    let summary: string;
    try {
      summary = this.#o.apply(loaded.value);
    } catch (err) {
      this.stats.rejected++;
      countReload(false);
      this.#o.log.error(`reload (${why}) could not be applied: ${asTunError(err, 'CONFIG_INVALID', 'reload failed').describe()}`);
      return;
    }
    this.stats.applied++;
    countReload(true);
    this.#setFiles(loaded.files);
    this.#o.log.info(`reload (${why}): ${summary || 'no change'}`);
  }

  #setFiles(files: string[]): void {
    const abs = [...new Set(files.map((f) => resolve(f)))];
    this.#digest = digest(abs);
    if (abs.join('\n') === this.#files.join('\n') && this.#watchers.length > 0) return;
    this.#files = abs;
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    // Any event in a watched folder leads to a look at the files' bytes (after the debounce): a
    // file replaced through a symlink swap (a mounted ConfigMap's ..data) changes no watched name.
    for (const dir of new Set(abs.map((f) => dirname(f)))) {
      try {
        const w = watch(dir, { persistent: false }, () => this.#changed());
        w.on('error', (err) => this.#o.log.warn(`cannot watch ${dir} for changes any more (${(err as NodeJS.ErrnoException).code ?? err.message}); reload with SIGHUP`));
        this.#watchers.push(w);
      } catch (err) {
        this.#o.log.warn(`cannot watch ${dir} for changes (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); reload with SIGHUP`);
      }
    }
  }

  #changed(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (digest(this.#files) === this.#digest) return;
      this.reload('file changed');
    }, this.#o.debounceMs ?? DEFAULT_DEBOUNCE_MS);
    this.#timer.unref();
  }
}
