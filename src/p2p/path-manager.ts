/**
 * The visitor's choice of path for new streams. The relay session is always there (the visitor
 * keeps it open and reopens it); a direct session, when a probe finds one, takes the new streams
 * while it lives. Streams already open stay on the session they started on. The direct path is
 * watched closely (a PING when it has been quiet): after `deadMs` of silence new streams go back
 * to the relay (and return if the path speaks again: a loaded peer is not a dead one); after
 * `closeAfterMs` the direct session is closed and the streams it carried end with a reset (the
 * session's own behaviour when it closes). Probes repeat every `reprobeMs` while no direct path
 * is up. The session code knows nothing of this.
 */
import type { TunError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Session } from '../session/session.js';

export type PathKind = 'relay' | 'direct-tcp' | 'direct-udp';

export interface DirectPath {
  kind: 'direct-tcp' | 'direct-udp';
  /** HOST:PORT of the client's end, for the log. */
  remote: string;
  session: Session;
  /** When the path last delivered any byte (ms since the epoch). */
  lastReceived(): number;
}

export interface PathManagerOptions {
  log: Logger;
  /** False: never probe (--no-p2p); new streams always use the relay. */
  enabled: boolean;
  /** How long after a failed probe or a lost direct path to try again. */
  reprobeMs: number;
  /** Looks for a direct path, exchanging candidates inside `relay`; undefined when none works. */
  probe: (relay: Session, signal: AbortSignal) => Promise<DirectPath | undefined>;
  /** Called when new streams have a path again (waiting applications can go). */
  onPath?: () => void;
  /** Called once for each direct session put to use. */
  onDirect?: (d: DirectPath) => void;
  /** Liveness of the direct path: PING after `pingMs` of quiet, unused after `deadMs` of silence, closed after `closeAfterMs`. */
  pingMs?: number;
  deadMs?: number;
  closeAfterMs?: number;
  now?: () => number;
}

export const DEFAULT_REPROBE_MS = 30_000;
/** A probe never starts sooner than this after the previous one, whatever triggers it. */
const MIN_PROBE_GAP_MS = 1000;
/** ...nor sooner than this after the relay session opened: its first streams go first. */
const FIRST_PROBE_AFTER_MS = 250;

export function reprobeMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.TUN_P2P_REPROBE_MS);
  return env.TUN_P2P_REPROBE_MS && Number.isInteger(n) && n >= 100 ? n : DEFAULT_REPROBE_MS;
}

export class PathManager {
  readonly #o: PathManagerOptions;
  readonly #log: Logger;
  readonly #pingMs: number;
  readonly #deadMs: number;
  readonly #closeAfterMs: number;
  /** The direct path is up but has been silent for deadMs: new streams use the relay meanwhile. */
  #silent = false;
  readonly #now: () => number;
  #relay: Session | undefined;
  #direct: DirectPath | undefined;
  #current: PathKind | undefined;
  #probing: AbortController | undefined;
  #lastProbe = 0;
  #relayUpAt = 0;
  #reprobe: NodeJS.Timeout | undefined;
  #watch: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly counts: Record<PathKind, number> = { relay: 0, 'direct-tcp': 0, 'direct-udp': 0 };

  constructor(o: PathManagerOptions) {
    this.#o = o;
    this.#log = o.log;
    this.#pingMs = o.pingMs ?? 500;
    this.#deadMs = o.deadMs ?? 2000;
    this.#closeAfterMs = o.closeAfterMs ?? 6000;
    this.#now = o.now ?? Date.now;
  }

  /** The path new streams use now. */
  get current(): PathKind | undefined {
    return this.#current;
  }

  /** The session a new stream should use: the direct one while it lives, else the relay's. */
  pick(): Session | undefined {
    const relay = this.#relay && !this.#relay.mux.closed ? this.#relay : undefined;
    const direct = this.#direct && !this.#direct.session.mux.closed ? this.#direct.session : undefined;
    return this.#silent && relay ? relay : direct ?? relay;
  }

  /** The path `session` runs on. */
  kindOf(session: Session): PathKind {
    return this.#direct && this.#direct.session === session ? this.#direct.kind : 'relay';
  }

  /** Counts a stream opened on `session` (for the `streams by path` line). */
  opened(session: Session): void {
    this.counts[this.#direct && this.#direct.session === session ? this.#direct.kind : 'relay']++;
  }

  relayUp(session: Session): void {
    this.#relay = session;
    this.#relayUpAt = this.#now();
    if (!this.#direct) this.#change('relay', 'relay session open');
    this.#maybeProbe();
  }

  relayDown(session: Session): void {
    if (this.#relay !== session) return;
    this.#relay = undefined;
    if (this.#current === 'relay') this.#current = undefined;
  }

  stop(): void {
    this.#stopped = true;
    this.#probing?.abort();
    clearTimeout(this.#reprobe);
    clearInterval(this.#watch);
    this.#direct?.session.close('shutdown', 'the visitor is stopping');
    this.#log.info(this.#countsLine());
  }

  // ---- probing --------------------------------------------------------------------------------

  #maybeProbe(): void {
    if (!this.#o.enabled || this.#stopped || this.#probing || this.#direct || !this.#relay) return;
    const wait = Math.max(this.#lastProbe + MIN_PROBE_GAP_MS, this.#relayUpAt + FIRST_PROBE_AFTER_MS) - this.#now();
    if (wait > 0) return this.#scheduleProbe(wait);
    void this.#probe(this.#relay);
  }

  #scheduleProbe(ms: number): void {
    if (this.#stopped || !this.#o.enabled) return;
    clearTimeout(this.#reprobe);
    this.#reprobe = setTimeout(() => {
      this.#reprobe = undefined;
      this.#maybeProbe();
    }, ms);
    this.#reprobe.unref();
  }

  async #probe(relay: Session): Promise<void> {
    const ac = new AbortController();
    this.#probing = ac;
    this.#lastProbe = this.#now();
    let found: DirectPath | undefined;
    try {
      found = await this.#o.probe(relay, ac.signal);
    } catch (err) {
      this.#log.debug(`P2P probe failed: ${(err as Error).message}`);
    } finally {
      this.#probing = undefined;
    }
    if (this.#stopped || ac.signal.aborted) {
      found?.session.close('shutdown', 'the visitor is stopping');
      return;
    }
    if (found && !found.session.mux.closed) this.#useDirect(found);
    else this.#scheduleProbe(this.#o.reprobeMs);
  }

  // ---- the direct path ------------------------------------------------------------------------

  #useDirect(d: DirectPath): void {
    this.#direct = d;
    this.#silent = false;
    this.#o.onDirect?.(d);
    this.#change(d.kind, d.remote);
    void d.session.ended.then((reason) => this.#directEnded(d, reason));
    clearInterval(this.#watch);
    let lastTick = this.#now();
    this.#watch = setInterval(() => {
      const now = this.#now();
      // A late timer means this process was not running (a loaded machine): the path's silence
      // is not the path's fault, so judge it on the next tick.
      const late = now - lastTick > 2 * this.#pingMs;
      lastTick = now;
      const quiet = now - d.lastReceived();
      if (!late && quiet > this.#closeAfterMs) {
        d.session.close('timeout', `the direct path (${d.remote}) has been silent for ${quiet} ms`);
        return;
      }
      if (!late && quiet > this.#deadMs && !this.#silent && this.#relay && !this.#relay.mux.closed) {
        this.#silent = true;
        this.#change('relay', `direct path ${d.remote} silent for ${quiet} ms`);
      } else if (this.#silent && quiet <= 2 * this.#pingMs) {
        this.#silent = false;
        this.#change(d.kind, d.remote);
      }
      if (quiet >= this.#pingMs) d.session.mux.ping();
    }, this.#pingMs);
    this.#watch.unref();
  }

  #directEnded(d: DirectPath, reason: TunError): void {
    if (this.#direct !== d) return;
    this.#direct = undefined;
    const wasSilent = this.#silent;
    this.#silent = false;
    clearInterval(this.#watch);
    if (this.#stopped) return;
    if (this.#relay && !this.#relay.mux.closed) {
      if (!wasSilent) this.#change('relay', `direct path lost: ${reason.message}`);
      else this.#log.info(`direct path closed: ${reason.message}`);
    }
    else this.#current = undefined;
    this.#scheduleProbe(this.#o.reprobeMs);
  }

  #change(kind: PathKind, detail: string): void {
    if (this.#current === kind && kind === 'relay') return;
    this.#current = kind;
    this.#log.info(kind === 'relay' ? `path: relay (${detail})` : `path: ${kind} ${detail}`);
    this.#log.info(this.#countsLine());
    this.#o.onPath?.();
  }

  #countsLine(): string {
    return `streams by path: relay ${this.counts.relay}, direct-tcp ${this.counts['direct-tcp']}, direct-udp ${this.counts['direct-udp']}`;
  }
}
