/**
 * Direct UDP paths, the visitor's and the client's sides: hole punching (punch.ts), then a UDX
 * stream (udx.ts) on the same UDP socket, carrying the session like any other path. When punching
 * finds no address within PUNCH_MS, tun stays on the relay.
 */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import { dedupe, type Candidate } from './addr.js';
import { isLoopback } from '../net/ip.js';
import { MAX_CANDIDATES, type Offer } from './candidates.js';
import type { ClientUdp } from './client-side.js';
import { TOKEN_SIZE } from './datagrams.js';
import { observe } from './observe.js';
import { Puncher, bindSocket, streamId, type PunchSocket } from './punch.js';
import { relayReported, resolveHost } from './scope.js';
import { UdxDuplex, loadUdx, type Udx } from './udx.js';
import type { UdpAttempt, UdpProber } from './visitor-probe.js';

export { loadUdx };

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
