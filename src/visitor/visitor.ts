/**
 * The visitor agent: one end-to-end session with one client (pinned by its key), through the
 * relay, carrying every application connection to any of the client's services as a stream. The
 * session is opened at start, kept alive by authenticated keepalives, and reopened with capped,
 * jittered backoff when lost; application connections that arrive meanwhile wait for it (paused,
 * a bounded number) and are reset when an attempt fails. The relay's own status is
 * unauthenticated advice; only the client's handshake answer is trusted.
 */
import type { Server, Socket } from 'node:net';
import type { X25519KeyPair } from '../crypto/index.js';
import { TunError, asTunError } from '../errors.js';
import { fingerprint } from '../identity/keys.js';
import type { Logger } from '../log.js';
import { Backoff, sleep } from '../net/backoff.js';
import { FrameReader } from '../net/frame-reader.js';
import { Observer } from '../observe/observer.js';
import { boundPort, closeServer, dial, formatHostPort, listen, reset, type HostPort } from '../net/socket.js';
import { HANDSHAKE_MAX_FRAME, HINTS, openSession } from '../session/handshake.js';
import type { MuxLimits, StreamEnd } from '../session/mux.js';
import { Session, type RekeyLimits } from '../session/session.js';
import { PathManager, reprobeMsFromEnv } from '../p2p/path-manager.js';
import { probe, type UdpProber } from '../p2p/visitor-probe.js';
import { localAddresses } from '../p2p/scope.js';
import { visitorUdp } from '../p2p/udp.js';

export interface VisitedService {
  name: string;
  listen: HostPort;
}

export interface VisitorOptions {
  server: HostPort;
  clientKey: Buffer;
  key: X25519KeyPair;
  services: VisitedService[];
  log: Logger;
  timeouts?: Partial<{ connectMs: number; pairingMs: number }>;
  limits?: Partial<MuxLimits & RekeyLimits>;
  /** Metrics and status (src/observe); a private one when not given. */
  observer?: Observer;
  /** P2P (default on): look for a direct path to the client and move new streams there. */
  p2p?: { enabled: boolean; reprobeMs?: number; udp?: UdpProber; udpOff?: boolean };
}

/** Attempts to open the session are at least this far apart, however many applications connect. */
const MIN_RETRY_MS = 250;
/** Application connections that may wait for a session at once; more are reset. */
const MAX_WAITING = 4096;

interface Waiting {
  app: Socket;
  service: string;
  onEnd?: (end: StreamEnd) => void;
}

export class Visitor {
  readonly #o: VisitorOptions;
  readonly #log: Logger;
  readonly #t: { connectMs: number; pairingMs: number };
  readonly #stop = new AbortController();
  readonly #backoff = new Backoff();
  readonly #servers: Server[] = [];
  /** Application sockets waiting for a session (the visitor owns them until a stream does). */
  #waiting: Waiting[] = [];
  #session: Session | undefined;
  readonly #obs: Observer;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;
  readonly #cfp: string;
  /** Bound ports, one per service, in the order given. */
  ports: number[] = [];
  readonly stats = { sessions: 0, streams: 0 };
  /** Which session new streams use (relay or direct); logs each change. */
  readonly #paths: PathManager;
  readonly #udp: UdpProber | undefined;
  /** Where the last relay connection went (for P2P: whether the client's loopback candidates count). */
  #relayAddress: string | undefined;

  constructor(options: VisitorOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#t = { connectMs: 5000, pairingMs: 10_000, ...options.timeouts };
    this.#cfp = fingerprint(options.clientKey);
    this.#obs = options.observer ?? new Observer('visit');
    this.#obs.identity = fingerprint(options.key.publicKey);
    this.#obs.sources = {
      services: () => this.#o.services.map((s, i) => ({ name: s.name, address: formatHostPort({ host: s.listen.host, port: this.ports[i] ?? s.listen.port }) })),
      pendingJoins: () => this.#waiting.length,
    };
    const p2p = options.p2p ?? { enabled: true };
    const udp = p2p.udp ?? (p2p.enabled && p2p.udpOff !== true ? visitorUdp(this.#log, options.server.host, () => localAddresses()) : undefined);
    this.#udp = udp;
    this.#paths = new PathManager({
      log: this.#log,
      enabled: p2p.enabled,
      reprobeMs: p2p.reprobeMs ?? reprobeMsFromEnv(),
      probe: (relay, signal) => probe(relay, { key: options.key, clientKey: options.clientKey, log: this.#log, limits: options.limits, udp, relayAddress: this.#relayAddress }, signal),
      onPath: () => this.#flushWaiting(),
      onDirect: (d) => {
        const observed = this.#obs.session({ peer: 'client', path: d.kind, fingerprint: this.#cfp }, d.session);
        void d.session.ended.then(() => observed.end());
      },
    });
  }

  get port(): number {
    return this.ports[0] ?? 0;
  }

  async start(): Promise<void> {
    const onAcceptError = (err: NodeJS.ErrnoException): void =>
      this.#log.rateLimited('error', `accept-${err.code}`, `cannot accept application connections: ${err.code ?? err.message}`, 5000);
    for (const svc of this.#o.services) {
      const server = await listen(svc.listen, (app) => this.#accept(app, svc.name), `applications of ${svc.name}`, onAcceptError, '--listen');
      this.#servers.push(server);
      this.ports.push(boundPort(server));
      this.#log.info(`listening on ${formatHostPort({ host: svc.listen.host, port: boundPort(server) })} for ${svc.name} of client ${this.#cfp} via ${formatHostPort(this.#o.server)}`);
    }
    this.#running = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    this.#paths.stop();
    // Applications whose streams a shutdown cuts see a reset, never a clean end.
    this.#session?.close('shutdown', 'the visitor is stopping');
    this.#resetWaiting();
    await Promise.all([...this.#servers.map((s) => closeServer(s)), this.#udp?.stop()]);
    await this.#running?.catch(() => {});
  }

  /** Settles when the visitor ends by itself (rejects with the reason: a refusal retrying cannot fix). */
  get ended(): Promise<void> | undefined {
    return this.#running;
  }

  /**
   * Carries one application connection handed over by the caller (`tun visit --stdio`) to
   * `service`, as if it had connected to a --listen port; `onEnd` is told how its stream ended.
   */
  carry(service: string, app: Socket, onEnd?: (end: StreamEnd) => void): void {
    this.#accept(app, service, onEnd);
  }

  #accept(app: Socket, service: string, onEnd?: (end: StreamEnd) => void): void {
    app.on('error', (err) => this.#log.debug(`application socket error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    app.pause();
    const session = this.#paths.pick();
    if (session) return this.#openStream(session, app, service, onEnd);
    if (this.#waiting.length >= MAX_WAITING) {
      this.#log.rateLimited('warn', 'visit-queue-full', `${MAX_WAITING} connections are already waiting for the session to client ${this.#cfp}; refusing more`, 5000);
      reset(app);
      return;
    }
    const entry = { app, service, onEnd };
    this.#waiting.push(entry);
    // An application that goes away while waiting takes nothing with it.
    app.once('close', () => {
      this.#waiting = this.#waiting.filter((w) => w !== entry);
    });
    this.#wake?.();
  }

  #openStream(session: Session, app: Socket, service: string, onEnd?: (end: StreamEnd) => void): void {
    this.stats.streams++;
    this.#paths.opened(session);
    let done = false;
    let counted: (() => void) | undefined;
    session.mux.open(service, app, (end) => {
      done = true;
      counted?.();
      this.#streamEnded(service, end);
      onEnd?.(end);
    });
    // The stream is counted on the path of the session it went to (registered with it as owner).
    const observed = this.#obs.observed(session);
    if (!done) counted = this.#obs.stream(service, observed?.info.path ?? 'relay', () => ({ toService: app.bytesRead, toVisitor: app.bytesWritten }), observed);
  }

  #streamEnded(service: string, end: StreamEnd): void {
    if (end.ok || !end.remote) return;
    const hint = HINTS[end.code];
    this.#log.rateLimited('warn', `stream-${service}-${end.code}`, `stream to ${service} of client ${this.#cfp} refused or aborted by the client: ${end.code}: ${end.message}${hint ? ` (hint: ${hint})` : ''}`, 2000);
  }

  #resetWaiting(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) reset(w.app);
  }

  /** Keeps one session open until stop(): open, serve until it ends, back off, again. */
  async #run(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      let established = false;
      try {
        const session = await this.#open();
        established = true;
        await this.#serve(session);
      } catch (err) {
        if (this.#stop.signal.aborted) break;
        const e = asTunError(err, 'STREAM_TRUNCATED', 'session failed');
        this.#resetWaiting();
        // The client proved (with its key) that it speaks another protocol: retrying cannot help.
        if (e.code === 'VERSION_MISMATCH') throw e;
        this.#log.error(`session to client ${this.#cfp} via ${formatHostPort(this.#o.server)} failed: ${e.describe()}`);
      }
      if (this.#stop.signal.aborted) break;
      if (established) this.#backoff.reset();
      const wait = this.#backoff.next();
      this.#log.info(`reopening the session in ${(wait / 1000).toFixed(1)} s${this.#waiting.length ? '' : ' (or as soon as an application connects)'}`);
      await this.#pause(wait);
    }
  }

  /** Sleeps `ms`, or less when an application is waiting (never less than MIN_RETRY_MS between attempts). */
  async #pause(ms: number): Promise<void> {
    const start = Date.now();
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      if (this.#waiting.length > 0) resolve();
      void sleep(ms, this.#stop.signal).then(resolve);
    });
    this.#wake = undefined;
    const least = MIN_RETRY_MS - (Date.now() - start);
    if (least > 0 && !this.#stop.signal.aborted) await sleep(least, this.#stop.signal);
  }

  async #open(): Promise<Session> {
    const path = await dial(this.#o.server, this.#t.connectMs, 'relay visitor port');
    this.#relayAddress = path.remoteAddress;
    const onAbort = (): void => void path.destroy();
    this.#stop.signal.addEventListener('abort', onAbort, { once: true });
    const reader = new FrameReader(path, HANDSHAKE_MAX_FRAME, 4);
    try {
      const keys = await openSession(path, reader, { key: this.#o.key, clientKey: this.#o.clientKey, relay: formatHostPort(this.#o.server), pairingMs: this.#t.pairingMs });
      if (this.#stop.signal.aborted) throw new TunError('SESSION_CLOSED', 'stopping');
      return new Session({ path, reader, ...keys, role: 'visitor', log: this.#log, limits: this.#o.limits });
    } catch (err) {
      if (!this.#stop.signal.aborted) this.#obs.handshakeFailed(asTunError(err, 'PROTOCOL_VIOLATION', 'handshake failed').code);
      path.destroy();
      throw err;
    } finally {
      this.#stop.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Applications waiting for a session go to the one new streams use now. */
  #flushWaiting(): void {
    const session = this.#paths.pick();
    if (!session) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) if (!w.app.destroyed) this.#openStream(session, w.app, w.service, w.onEnd);
  }

  #serve(session: Session): Promise<void> {
    this.stats.sessions++;
    if (this.stats.sessions > 1) this.#obs.reconnected();
    this.#session = session;
    const observed = this.#obs.session({ peer: 'client', path: 'relay', fingerprint: this.#cfp }, session);
    this.#log.info(`session to client ${this.#cfp} open (via relay ${formatHostPort(this.#o.server)})`);
    // Confirm the session to the client at once: it opens nothing before an authenticated message.
    session.mux.ping();
    this.#paths.relayUp(session);
    this.#flushWaiting();
    return session.ended.then((reason) => {
      this.#paths.relayDown(session);
      observed.end();
      if (this.#session === session) this.#session = undefined;
      if (!this.#stop.signal.aborted) throw new TunError(reason.code, `session lost: ${reason.message}`);
    });
  }
}
