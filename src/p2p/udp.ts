/**
 * Direct UDP paths: hole punching, then a reliable, congestion-controlled UDX stream (udx-native,
 * the transport hyperdht punches with) on the same UDP socket, carrying the session like any
 * other path. Each end sends punch datagrams (its peer's token, learnt inside the session) to the
 * peer's candidates; a punch with our own token from an address proves that address reaches the
 * peer, and we answer it there. A router that remaps a port on the first punch is handled by that
 * answer: the new mapping shows up as the source of the peer's next punch, and we use it (a peer-
 * reflexive address, bounded in number). Punching stops after PUNCH_MS; tun then stays on the relay.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import { SOCKET_HIGH_WATER_MARK } from '../net/socket.js';
import { dedupe, usable, type Candidate } from './addr.js';
import { isLoopback, unmapped } from '../net/ip.js';
import { MAX_CANDIDATES, type Offer } from './candidates.js';
import type { ClientUdp } from './client-side.js';
import { parsePunch, punch, TOKEN_SIZE } from './datagrams.js';
import { observe, type DatagramSocket } from './observe.js';
import { relayReported, resolveHost } from './scope.js';
import type { UdpAttempt, UdpProber } from './visitor-probe.js';

/** How long one exchange punches, how often, and the most addresses it sends to. */
export const PUNCH_MS = 5000;
const PUNCH_EVERY_MS = 100;
const MAX_TARGETS = 16;
/** Peer-reflexive addresses (sources of valid punches) one exchange may add. */
const MAX_LEARNT = 4;
/** Answers one exchange sends in all (each answers a valid punch). */
const MAX_ANSWERS = 100;

// ---- udx-native, loaded lazily: without it, tun works over TCP and the relay ---------------------

interface UdxStream {
  id: number;
  connect(socket: UdxSocket, remoteId: number, port: number, host: string): void;
  write(b: Buffer): boolean;
  end(): void;
  destroy(err?: Error): void;
  pause(): void;
  resume(): void;
  on(ev: string, f: (...a: never[]) => void): void;
  once(ev: string, f: (...a: never[]) => void): void;
}
interface UdxSocket {
  bind(port: number, host: string): void;
  address(): { host: string; port: number };
  trySend(b: Buffer, port: number, host: string): void;
  on(ev: 'message', f: (m: Buffer, from: { host: string; port: number }) => void): void;
  off(ev: 'message', f: (m: Buffer, from: { host: string; port: number }) => void): void;
  close(): Promise<void>;
}
interface Udx {
  createSocket(): UdxSocket;
  createStream(id: number): UdxStream;
}

let udx: Udx | null | undefined;

/** The process's UDX instance, or undefined when udx-native cannot load here (logged once). */
export function loadUdx(log: Logger): Udx | undefined {
  if (udx === undefined) {
    try {
      const UDX = createRequire(import.meta.url)('udx-native') as new () => Udx;
      udx = new UDX();
    } catch (err) {
      udx = null;
      log.warn(`P2P over UDP is off: udx-native did not load (${(err as Error).message.split('\n')[0]}); direct TCP and the relay still work`);
    }
  }
  return udx ?? undefined;
}

/** A UDX stream as a Node Duplex (what Session and FrameReader take), with its end and errors passed on. */
export class UdxDuplex extends Duplex {
  readonly #s: UdxStream;
  /** When the stream last delivered bytes (ms since the epoch). */
  lastReceived = Date.now();

  constructor(s: UdxStream) {
    super({ allowHalfOpen: true, writableHighWaterMark: SOCKET_HIGH_WATER_MARK });
    this.#s = s;
    s.on('data', (d: Buffer) => {
      this.lastReceived = Date.now();
      if (!this.push(d)) s.pause();
    });
    s.on('end', () => this.push(null));
    s.on('error', (err: Error) => this.destroy(err));
    // As on every socket tun owns: an error (a reset by the peer) is never unhandled, before or
    // after a session adopts the path; the session and the handshake see it as the path closing.
    this.on('error', () => {});
    s.on('close', () => this.destroy());
  }

  override _read(): void {
    this.#s.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#s.write(chunk)) cb();
    else this.#s.once('drain', () => cb());
  }

  /** A session writes a record as corked pieces (length, ciphertext, tag): one UDX write, not three packets. */
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this._write(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), 'binary', cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#s.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#s.destroy();
    cb(err);
  }
}

// ---- one UDP socket per process role, shared by exchanges ----------------------------------------

type Handler = (msg: Buffer, from: Candidate) => void;

class PunchSocket implements DatagramSocket {
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

function bindSocket(u: Udx, port: number): PunchSocket {
  const s = u.createSocket();
  try {
    s.bind(port, '0.0.0.0');
  } catch (err) {
    if (port === 0) throw err;
    s.bind(0, '0.0.0.0');
  }
  return new PunchSocket(s);
}

function streamId(): number {
  return randomBytes(4).readUInt32BE(0) || 1;
}

/**
 * One punching exchange: sends `theirToken` punches to the targets every PUNCH_EVERY_MS, answers
 * punches bearing `ourToken`, and resolves with the first address such a punch came from.
 */
class Puncher {
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

function udpCandidates(local: string[], port: number, observed: Candidate | undefined): Candidate[] {
  const v4 = local.filter((h) => !h.includes(':'));
  return dedupe([...(observed ? [observed] : []), ...v4.filter((h) => !isLoopback(h)), ...v4.filter(isLoopback)].map((c) => (typeof c === 'string' ? { host: c, port } : c)), MAX_CANDIDATES);
}

// ---- the visitor's side --------------------------------------------------------------------------

export class VisitorUdp implements UdpProber {
  readonly #u: Udx;
  readonly #log: Logger;
  readonly #relayHost: string;
  readonly #local: () => string[];
  #socket: PunchSocket | undefined;

  constructor(u: Udx, log: Logger, relayHost: string, local: () => string[]) {
    this.#u = u;
    this.#log = log;
    this.#relayHost = relayHost;
    this.#local = local;
  }

  async prepare(): Promise<UdpAttempt> {
    this.#socket ??= bindSocket(this.#u, 0);
    const socket = this.#socket;
    const id = streamId();
    const token = randomBytes(TOKEN_SIZE);
    let puncher: Puncher | undefined;
    return {
      offer: { udp: udpCandidates(this.#local(), socket.port, undefined), punch: { id, token } },
      observed: async (theirs: Offer) => {
        const relay = theirs.relayUdp ? await resolveHost(this.#relayHost) : undefined;
        if (!relay || !theirs.relayUdp) return [];
        // The relay's word: only a global address (or any, for a relay on a private address).
        const seen = relayReported(await observe(socket, { host: relay, port: theirs.relayUdp }), relay);
        return seen ? [seen] : [];
      },
      connect: async (theirs, more, signal) => {
        if (!theirs.punch) return undefined;
        puncher = new Puncher(socket, token, theirs.punch.token, theirs.udp);
        const poll = setInterval(() => puncher?.add(more().flatMap((o) => o.udp)), 200);
        signal.addEventListener('abort', () => puncher?.close(), { once: true });
        const remote = await puncher.result.finally(() => clearInterval(poll));
        if (!remote || signal.aborted) return undefined;
        // Keep answering the client's punches a little longer: it may not have seen ours yet.
        this.#log.debug(`P2P UDP: punched through to ${remote.host}:${remote.port}`);
        const stream = this.#u.createStream(id);
        stream.connect(socket.socket, theirs.punch.id, remote.port, remote.host);
        const path = new UdxDuplex(stream);
        return { path, remote, lastReceived: () => path.lastReceived };
      },
      // The puncher times itself out: answering late punches helps the client finish.
      close: () => {},
    };
  }

  async stop(): Promise<void> {
    await this.#socket?.socket.close().catch(() => {});
  }
}

// ---- the client's side ---------------------------------------------------------------------------

export class ClientUdpImpl implements ClientUdp {
  readonly #u: Udx;
  readonly #log: Logger;
  #socket: PunchSocket | undefined;
  #observed: Candidate | undefined;
  /** Exchanges still punching: stop() closes them, so none connects a stream on a closed socket. */
  readonly #punchers = new Set<Puncher>();
  #stopped = false;

  constructor(u: Udx, log: Logger) {
    this.#u = u;
    this.#log = log;
  }

  get port(): number {
    return this.#socket?.port ?? 0;
  }

  async start(port: number): Promise<void> {
    this.#socket = bindSocket(this.#u, port);
  }

  async observe(relay: Candidate): Promise<Candidate | undefined> {
    if (!this.#socket) return undefined;
    const answer = await observe(this.#socket, relay);
    // The relay's word: only a global address (or any, for a relay on a private address).
    const seen = relayReported(answer, relay.host);
    this.#log.debug(`P2P UDP: the relay sees this client at ${answer ? `${answer.host}:${answer.port}${seen ? '' : ' (not used: not a global address)'}` : '(no answer)'}`);
    // A refresh that got no (usable) answer keeps the last mapping we knew.
    this.#observed = seen ?? this.#observed;
    return seen;
  }

  candidates(local: string[]): Candidate[] {
    return this.#socket ? udpCandidates(local, this.#socket.port, this.#observed) : [];
  }

  answer(theirs: Offer, serve: (path: Duplex, remote: Candidate) => void): ReturnType<ClientUdp['answer']> {
    const socket = this.#socket;
    if (!socket || !theirs.punch) return undefined;
    const id = streamId();
    const token = randomBytes(TOKEN_SIZE);
    const remoteId = theirs.punch.id;
    const puncher = new Puncher(socket, token, theirs.punch.token, theirs.udp);
    this.#punchers.add(puncher);
    void puncher.result.then((remote) => {
      this.#punchers.delete(puncher);
      if (remote && !this.#stopped) this.#connect(socket, id, remoteId, remote, serve);
    });
    return { punch: { id, token }, add: (o) => puncher.add(o.udp), close: () => puncher.close() };
  }

  /** Connects our UDX stream to the address the first valid punch came from and serves it. */
  #connect(socket: PunchSocket, id: number, remoteId: number, remote: Candidate, serve: (path: Duplex, remote: Candidate) => void): void {
    const stream = this.#u.createStream(id);
    try {
      stream.connect(socket.socket, remoteId, remote.port, remote.host);
    } catch (err) {
      // The socket closed under us (a punch landing while the client stops): no path, no crash.
      stream.destroy();
      this.#log.debug(`P2P UDP: cannot connect to ${remote.host}:${remote.port}: ${(err as Error).message}`);
      return;
    }
    serve(new UdxDuplex(stream), remote);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const p of this.#punchers) p.close();
    this.#punchers.clear();
    await this.#socket?.socket.close().catch(() => {});
  }
}

/** The visitor's UDP side, or undefined when udx-native cannot load here. */
export function visitorUdp(log: Logger, relayHost: string, local: () => string[]): UdpProber | undefined {
  // udx-native loads at the first probe, not at start: its first streams do not wait for it.
  let inner: VisitorUdp | undefined;
  return {
    prepare: () => {
      const u = inner ? undefined : loadUdx(log);
      inner ??= u && new VisitorUdp(u, log, relayHost, local);
      return inner ? inner.prepare() : Promise.reject(new Error('udx-native is not available'));
    },
    stop: async () => inner?.stop(),
  };
}

/** The client's UDP side, or undefined when udx-native cannot load here. */
export function clientUdp(log: Logger): ClientUdp | undefined {
  const u = loadUdx(log);
  return u ? new ClientUdpImpl(u, log) : undefined;
}
