/**
 * The joined streams the relay carries for each client key (visitor sessions and public-port
 * streams: both sockets of each pair), so that revoking a key can cut them at once. They belong to
 * the key, not to one control session: a client whose control connection drops and comes back
 * keeps its visitors' joined streams; only revocation (or the relay stopping) cuts them.
 */
import type { Socket } from 'node:net';
import { reset } from '../net/socket.js';

interface Joined {
  /** The service a public-port stream serves; undefined for a visitor session. */
  publicService: string | undefined;
  sockets: Socket[];
}

export class ClientStreams {
  readonly #byKey = new Map<string, Set<Joined>>();

  /** Records one joined pair for `key` until either socket closes. */
  add(key: string, publicService: string | undefined, ...sockets: Socket[]): void {
    const joined: Joined = { publicService, sockets };
    let set = this.#byKey.get(key);
    if (!set) this.#byKey.set(key, (set = new Set()));
    set.add(joined);
    const drop = (): void => {
      set.delete(joined);
      if (set.size === 0 && this.#byKey.get(key) === set) this.#byKey.delete(key);
    };
    for (const s of sockets) s.once('close', drop);
  }

  /** Client keys (hex) that have joined streams now. */
  keys(): string[] {
    return [...this.#byKey.keys()];
  }

  /**
   * Resets (RST) the joined streams of `key`: all of them, or only the public-port streams of the
   * services `which` names. Returns how many pairs were cut.
   */
  cut(key: string, which?: (publicService: string | undefined) => boolean): number {
    const set = this.#byKey.get(key);
    if (!set) return 0;
    let n = 0;
    for (const joined of [...set]) {
      if (which && !which(joined.publicService)) continue;
      n++;
      set.delete(joined);
      for (const s of joined.sockets) reset(s);
    }
    if (set.size === 0) this.#byKey.delete(key);
    return n;
  }
}
