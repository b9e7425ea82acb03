/**
 * Hole punching: one UDP socket per process role, shared by exchanges, and one punching exchange
 * on it. Each end sends punch datagrams (its peer's token, learnt inside the session) to the peer's
 * candidates; a punch with our own token from an address proves that address reaches the peer, and
 * we answer it there. A router that remaps a port on the first punch is handled by that answer: the
 * new mapping shows up as the source of the peer's next punch, and we use it (a peer-reflexive
 * address, bounded in number). Punching stops after PUNCH_MS.
 */
import { randomBytes } from 'node:crypto';
import { unmapped } from '../net/ip.js';
import { usable, type Candidate } from './addr.js';
import { parsePunch, punch } from './datagrams.js';
import type { DatagramSocket } from './observe.js';
import type { Udx, UdxSocket } from './udx.js';

/** How long one exchange punches, how often, and the most addresses it sends to. */
export const PUNCH_MS = 5000;
const PUNCH_EVERY_MS = 100;
const MAX_TARGETS = 16;
/** Peer-reflexive addresses (sources of valid punches) one exchange may add. */
const MAX_LEARNT = 4;
/** Answers one exchange sends in all (each answers a valid punch). */
const MAX_ANSWERS = 100;

type Handler = (msg: Buffer, from: Candidate) => void;

export class PunchSocket implements DatagramSocket {
  readonly socket: UdxSocket;
  readonly #handlers = new Set<Handler>();

  constructor(socket: UdxSocket) {
    this.socket = socket;
    socket.on('message', (m, from) => {
      const c = { host: unmapped(from.host), port: from.port };
      for (const h of [...this.#handlers]) h(m, c);
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(msg: Buffer, port: number, host: string): void {
    try {
      this.socket.trySend(msg, port, host);
    } catch {
      /* unroutable: the punch is lost like any datagram */
    }
  }

  onMessage(h: Handler): () => void {
    this.#handlers.add(h);
    return () => this.#handlers.delete(h);
  }
}

export function bindSocket(u: Udx, port: number): PunchSocket {
  const s = u.createSocket();
  try {
    s.bind(port, '0.0.0.0');
  } catch (err) {
    if (port === 0) throw err;
    s.bind(0, '0.0.0.0');
  }
  return new PunchSocket(s);
}

export function streamId(): number {
  return randomBytes(4).readUInt32BE(0) || 1;
}

/**
 * One punching exchange: sends `theirToken` punches to the targets every PUNCH_EVERY_MS, answers
 * punches bearing `ourToken`, and resolves with the first address such a punch came from.
 */
export class Puncher {
  readonly #socket: PunchSocket;
  readonly #ourToken: Buffer;
  readonly #theirToken: Buffer;
  readonly #targets: Candidate[] = [];
  #learnt = 0;
  #answers = 0;
  #found: ((c: Candidate | undefined) => void) | undefined;
  readonly #off: () => void;
  readonly #timer: NodeJS.Timeout;
  readonly #deadline: NodeJS.Timeout;
  readonly result: Promise<Candidate | undefined>;

  constructor(socket: PunchSocket, ourToken: Buffer, theirToken: Buffer, targets: Candidate[]) {
    this.#socket = socket;
    this.#ourToken = ourToken;
    this.#theirToken = theirToken;
    this.result = new Promise((resolve) => (this.#found = resolve));
    this.add(targets);
    this.#off = socket.onMessage((m, from) => this.#onMessage(m, from));
    this.#timer = setInterval(() => this.#punchAll(), PUNCH_EVERY_MS);
    this.#deadline = setTimeout(() => this.close(), PUNCH_MS);
    this.#punchAll();
  }

  add(list: Candidate[]): void {
    for (const c of list) {
      if (this.#targets.length >= MAX_TARGETS) return;
      if (!usable(c.host) || this.#targets.some((t) => t.host === c.host && t.port === c.port)) continue;
      this.#targets.push(c);
    }
  }

  close(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#deadline);
    this.#off();
    this.#found?.(undefined);
    this.#found = undefined;
  }

  #punchAll(): void {
    const p = punch(this.#theirToken, false);
    for (const t of this.#targets) this.#socket.send(p, t.port, t.host);
  }

  #onMessage(m: Buffer, from: Candidate): void {
    const got = parsePunch(m);
    if (!got || !got.token.equals(this.#ourToken)) return;
    if (!this.#targets.some((t) => t.host === from.host && t.port === from.port) && this.#learnt < MAX_LEARNT) {
      this.#learnt++;
      this.add([from]);
    }
    if (!got.answer && this.#answers++ < MAX_ANSWERS) this.#socket.send(punch(this.#theirToken, true), from.port, from.host);
    const found = this.#found;
    if (!found) return;
    this.#found = undefined;
    found(from);
  }
}
