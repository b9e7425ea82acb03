/**
 * The client's half of P2P: a direct listener (TCP on --p2p-port, all addresses) whose connections
 * are served exactly like relay joins (the same session handshake and --allow check, via
 * `serve`), its candidates (local interface addresses, and the address the relay sees), and the
 * answers to the visitors' control streams. Unauthenticated direct connections are bounded in
 * number, per source and in time, like the relay's pre-auth connections.
 */
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import { FrameReader } from '../net/frame-reader.js';
import { SocketSet, boundPort, closeServer, listen } from '../net/socket.js';
import { HANDSHAKE_MAX_FRAME } from '../session/handshake.js';
import type { MuxStream } from '../session/mux.js';
import type { WireCandidate } from '../wire/messages.js';
import { dedupe, fromWire, type Candidate } from './addr.js';
import { unmapped } from '../net/ip.js';
import { MAX_CANDIDATES, type Offer } from './candidates.js';
import { ControlStream } from './control-stream.js';
import { RateLimiter } from './rate.js';
import { fromPeer, localAddresses, peerLoopbackAllowed, relayReported, resolveHost } from './scope.js';

export interface ClientP2pOptions {
  /** --p2p-port: TCP (and UDP) port of the direct listener; 0 picks one. */
  port: number;
  log: Logger;
  /**
   * Serves one direct path exactly as a relay join; `confirmed` is called once the visitor proved
   * it is live; `source` is where the path came from (for PROXY protocol headers).
   */
  serve: (path: Duplex, reader: FrameReader, confirmed: () => void, kind: 'direct-tcp' | 'direct-udp', source: { src?: Endpoint; dst?: Endpoint }) => Promise<void>;
  /** UDP hole punching, when available (src/p2p/udp.ts). */
  udp?: ClientUdp;
  /** Most unauthenticated direct connections at once, and per source address. */
  preAuthMax?: number;
  preAuthPerIp?: number;
  handshakeMs?: number;
}

/** An address and port, as PROXY protocol headers name them. */
interface Endpoint {
  addr: string;
  port: number;
}

/** The client's UDP side: its candidates and the answer to one visitor's offer. */
export interface ClientUdp {
  readonly port: number;
  start(port: number): Promise<void>;
  /** Learns (again) our public UDP mapping from the relay's observation port: the mapping, if relayReported() accepts it. */
  observe(relay: Candidate): Promise<Candidate | undefined>;
  candidates(local: string[]): Candidate[];
  /** Answers one visitor's offer: our punch parameters; later offers add their candidates. */
  answer(theirs: Offer, serve: (path: Duplex, remote: Candidate) => void): { punch: NonNullable<Offer['punch']>; add: (o: Offer) => void; close: () => void } | undefined;
  stop(): Promise<void>;
}

/** Control streams a session may open: a burst of 3, then one per 2 s (each makes the client punch). */
const CONTROL_RATE = { perSecond: 0.5, burst: 3 };

export class ClientP2p {
  readonly #o: ClientP2pOptions;
  readonly #log: Logger;
  #server: Server | undefined;
  readonly #sockets = new SocketSet();
  readonly #perIp = new Map<string, number>();
  #pending = 0;
  #observed: Candidate | undefined;
  #relayUdp: number | undefined;
  /** The relay's observation port, once its host is resolved. */
  #relayUdpAt: Candidate | undefined;
  /** Where we reached the relay (its control connection's remote address). */
  #relayAddress: string | undefined;
  readonly #rates = new WeakMap<object, RateLimiter>();
  port = 0;

  constructor(o: ClientP2pOptions) {
    this.#o = o;
    this.#log = o.log;
  }

  async start(): Promise<void> {
    const onError = (err: NodeJS.ErrnoException): void => this.#log.rateLimited('warn', `p2p-accept-${err.code}`, `P2P listener: cannot accept: ${err.code ?? err.message}`, 5000);
    this.#server = await listen({ host: '::', port: this.#o.port }, (s) => this.#accept(s), 'direct (P2P) connections', onError, '--p2p-port').catch(() =>
      listen({ host: '0.0.0.0', port: this.#o.port }, (s) => this.#accept(s), 'direct (P2P) connections', onError, '--p2p-port'),
    );
    this.port = boundPort(this.#server);
    await this.#o.udp?.start(this.port);
    this.#log.info(`P2P: direct connections on TCP port ${this.port}${this.#o.udp ? `, UDP port ${this.#o.udp.port}` : ''}`);
  }

  async stop(): Promise<void> {
    this.#sockets.destroyAll();
    await Promise.all([closeServer(this.#server), this.#o.udp?.stop()]);
  }

  /**
   * What the relay's Welcome says: our address as it sees it (kept only if relayReported() accepts
   * it), and its UDP observation port. `relayAddress`: where we reached the relay.
   */
  welcome(w: { observed?: WireCandidate; udpPort?: number }, relayHost: string, relayAddress?: string): void {
    this.#observed = undefined;
    this.#relayUdp = w.udpPort;
    this.#relayAddress = relayAddress === undefined ? undefined : unmapped(relayAddress);
    try {
      if (w.observed) this.#observed = relayReported(fromWire(w.observed.ip, w.observed.port), this.#relayAddress);
    } catch {
      /* an unusable address: ignore it */
    }
    const udp = this.#o.udp;
    const port = w.udpPort;
    this.#relayUdpAt = undefined;
    if (udp && port) {
      void resolveHost(relayHost).then((host) => {
        if (!host) return;
        this.#relayUdpAt = { host, port };
        return udp.observe(this.#relayUdpAt);
      });
    }
  }

  /** Candidates we offer: the listener port on our interfaces and on the address the relay sees. */
  tcpCandidates(): Candidate[] {
    const hosts = [...(this.#observed ? [this.#observed.host] : []), ...localAddresses()];
    return dedupe(hosts.map((host) => ({ host, port: this.port })), MAX_CANDIDATES);
  }

  /** A visitor opened the P2P control stream in `session`: answer its offer with ours. */
  control(stream: MuxStream, session: object, who: string): void {
    let rate = this.#rates.get(session);
    if (!rate) this.#rates.set(session, (rate = new RateLimiter({ ...CONTROL_RATE, maxKeys: 1 })));
    if (!rate.take('*')) {
      this.#log.rateLimited('info', 'p2p-rate', `${who} asks for P2P candidates too often; refusing`, 10_000);
      stream.refuse('busy', 'P2P exchanges are rate-limited');
      return;
    }
    const cs = new ControlStream();
    stream.attach(cs.app as unknown as Socket);
    let udp: ReturnType<ClientUdp['answer']>;
    const loopbackOk = peerLoopbackAllowed(this.#relayAddress);
    cs.onOffer((offer) => {
      const theirs = fromPeer(offer, loopbackOk);
      if (udp) return udp.add(theirs);
      udp = this.#o.udp?.answer(theirs, (path, remote) => this.#serveUdp(path, remote));
      const offered = this.#o.udp?.candidates(localAddresses()) ?? [];
      cs.send({ tcp: this.tcpCandidates(), udp: offered, punch: udp?.punch, relayUdp: this.#relayUdp });
      // A NAT may have dropped or moved our UDP mapping since Welcome: ask again, and send the
      // visitor the mapping if it is new (the punching is already under way).
      if (udp && this.#o.udp && this.#relayUdpAt) {
        void this.#o.udp.observe(this.#relayUdpAt).then((seen) => {
          if (seen && !offered.some((c) => c.host === seen.host && c.port === seen.port)) cs.send({ tcp: [], udp: [seen] });
        });
      }
    });
    void cs.done.then(() => {
      cs.end();
      // Punching goes on a little after the exchange ends; the UDP side times itself out.
    });
  }

  #serveUdp(path: Duplex, remote: Candidate): void {
    const reader = new FrameReader(path, HANDSHAKE_MAX_FRAME, 4);
    void this.#o.serve(path, reader, () => {}, 'direct-udp', { src: { addr: remote.host, port: remote.port } }).catch((err: Error) => {
      this.#log.debug(`P2P UDP session: ${err.message}`);
      path.destroy();
    });
  }

  #accept(socket: Socket): void {
    socket.on('error', () => {});
    this.#sockets.add(socket);
    const ip = unmapped(socket.remoteAddress ?? '?');
    const max = this.#o.preAuthMax ?? 64;
    const perIp = this.#o.preAuthPerIp ?? 16;
    const n = this.#perIp.get(ip) ?? 0;
    if (this.#pending >= max || n >= perIp) {
      this.#log.rateLimited('warn', 'p2p-preauth', `P2P listener: too many unauthenticated connections (limit ${max}, ${perIp} per address); dropping ${ip}`, 5000);
      socket.destroy();
      return;
    }
    this.#pending++;
    this.#perIp.set(ip, n + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(deadline);
      this.#pending--;
      const left = (this.#perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.#perIp.set(ip, left);
      else this.#perIp.delete(ip);
    };
    const deadline = setTimeout(() => socket.destroy(), this.#o.handshakeMs ?? 10_000);
    socket.once('close', release);
    const reader = new FrameReader(socket, HANDSHAKE_MAX_FRAME, 4);
    const source = { src: { addr: ip, port: socket.remotePort ?? 0 }, dst: { addr: unmapped(socket.localAddress ?? ''), port: socket.localPort ?? 0 } };
    void this.#o.serve(socket, reader, release, 'direct-tcp', source).catch((err: Error) => {
      this.#log.debug(`P2P connection from ${ip}: ${err.message}`);
      socket.destroy();
    });
  }
}
