/**
 * Pending pairings: a visitor (or a public-mode user) waiting for its client to join on the tunnel
 * port. Each has a random 16-byte id and a one-time 32-byte token sent to the client over its
 * authenticated control session; the join must prove the token (see joinProof), only once, before
 * the pairing expires, and only while that control session is alive.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FrameReader } from '../net/frame-reader.js';

export interface Pending {
  id: Buffer;
  token: Buffer;
  sessionKey: string;
  service: string;
  mode: 'session' | 'public';
  /** The waiting socket (visitor agent or public user). */
  socket: Socket;
  /** session only: the visitor's frame reader and its Noise message 1, forwarded after the join. */
  reader?: FrameReader;
  message1?: Buffer;
  expires: number;
  timer: NodeJS.Timeout;
}

export class PairingTable {
  readonly #byId = new Map<string, Pending>();

  get size(): number {
    return this.#byId.size;
  }

  countFor(sessionKey: string, service: string): number {
    let n = 0;
    for (const p of this.#byId.values()) if (p.sessionKey === sessionKey && p.service === service) n++;
    return n;
  }

  create(fields: Omit<Pending, 'id' | 'token' | 'expires' | 'timer'>, ttlMs: number, onExpire: (p: Pending) => void): Pending {
    const p = { ...fields, id: randomBytes(16), token: randomBytes(32), expires: Date.now() + ttlMs } as Pending;
    p.timer = setTimeout(() => {
      if (this.take(p.id)) onExpire(p);
    }, ttlMs);
    this.#byId.set(p.id.toString('hex'), p);
    return p;
  }

  peek(id: Buffer): Pending | undefined {
    return this.#byId.get(id.toString('hex'));
  }

  /** Removes and returns the pairing (single use), clearing its timer. */
  take(id: Buffer): Pending | undefined {
    const key = id.toString('hex');
    const p = this.#byId.get(key);
    if (!p) return undefined;
    this.#byId.delete(key);
    clearTimeout(p.timer);
    return p;
  }

  /** Every pairing of one control session (when it goes away). */
  takeAllFor(sessionKey: string): Pending[] {
    const out = [...this.#byId.values()].filter((p) => p.sessionKey === sessionKey);
    for (const p of out) this.take(p.id);
    return out;
  }

  takeAll(): Pending[] {
    const out = [...this.#byId.values()];
    for (const p of out) this.take(p.id);
    return out;
  }
}
