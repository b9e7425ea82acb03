/**
 * The client: keeps an authenticated control session to the relay (reconnecting with capped,
 * jittered backoff), and for each Open request joins a tunnel connection and answers the visitor's
 * Noise handshake. It dials the local service only after the visitor is authenticated, allowed, and
 * has proved it is live with its first transport record.
 */
import type { Socket } from 'node:net';
import type { X25519KeyPair } from '../crypto/index.js';
import { TunError, asTunError } from '../errors.js';
import { fingerprint } from '../identity/keys.js';
import type { KeyList } from '../identity/key-list.js';
import { VisitorAccess } from '../identity/visitor-access.js';
import type { Logger } from '../log.js';
import { Backoff, sleep } from '../net/backoff.js';
import { FrameReader } from '../net/frame-reader.js';
import { Observer, type PathLabel, type ServiceInfo } from '../observe/observer.js';
import { SocketSet, dial, formatHostPort, type HostPort } from '../net/socket.js';
import { splice } from '../net/splice.js';
import { type ControlChannel, within, writeFrame } from '../stream/control-channel.js';
import { encodeMessage, expectMessage, joinProof, type Message, type MessageOf } from '../wire/index.js';
import { joinRelay } from './control-handshake.js';
import { proxyHeader, type ProxyVersion } from './proxy-protocol.js';
import { SessionRegistry } from './reload.js';
import { serveSession, type SessionContext } from './session.js';
import type { Session, RekeyLimits } from '../session/session.js';
import type { MuxLimits } from '../session/mux.js';
import { ClientP2p } from '../p2p/client-side.js';
import { clientUdp } from '../p2p/udp.js';
import type { Duplex } from 'node:stream';

export interface ServiceSpec {
  name: string;
  local: HostPort;
  publicPort?: number;
  /** Write a PROXY protocol header of this version to the local service first (--proxy-protocol). */
  proxy?: ProxyVersion;
}

export interface ClientOptions {
  server: HostPort;
  relayKey: Buffer;
  key: X25519KeyPair;
  services: ServiceSpec[];
  allow: KeyList | undefined;
  /** Per-service visitor lists (a config file); without it every service uses `allow`. */
  access?: VisitorAccess;
  log: Logger;
  timeouts?: Partial<ClientTimeouts>;
  limits?: Partial<MuxLimits & RekeyLimits>;
  /** Metrics and status (src/observe); a private one when not given. */
  observer?: Observer;
  /** P2P: the direct listener's port (0 picks one); absent: P2P off (--no-p2p). */
  p2p?: { port: number; udp?: boolean };
}

export interface ClientTimeouts {
  connectMs: number;
  handshakeMs: number;
  pairingMs: number;
}

/** Streams being set up at once (join + visitor handshake), whatever the relay asks for. */
const MAX_SETTING_UP = 256;

/**
 * Refusals the relay proved with its key: retrying cannot help. A relay key mismatch is not among
 * them: anyone on the path can forge that answer, so it is logged and retried with backoff.
 */
const FATAL = new Set(['CLIENT_NOT_AUTHORIZED', 'VERSION_MISMATCH']);

const DEFAULT_TIMEOUTS: ClientTimeouts = { connectMs: 5000, handshakeMs: 10_000, pairingMs: 10_000 };

export class Client {
  readonly #o: ClientOptions;
  readonly #log: Logger;
  readonly #t: ClientTimeouts;
  readonly #stop = new AbortController();
  /**
   * After losing an established session, the first retry is spread over 8 s: clients cut off at
   * the same moment (a relay restart) then come back spread out, not all in the same second.
   */
  readonly #backoff = new Backoff(500, 30_000, 2, 0.5, 8000);
  #channel: ControlChannel | undefined;
  /** Tunnel and public-mode local sockets; a session owns its tunnel once it has one. */
  readonly #streams = new SocketSet();
  readonly #sessions = new Set<Session>();
  /** Who each session's visitor is and which streams it has, for reloads. */
  readonly #registry = new SessionRegistry();
  #access: VisitorAccess;
  /** Services the relay refused to register (not granted to this key): not served. */
  #notGranted = new Set<string>();
  /** Set by reload() when the services changed: the next control session starts at once. */
  #reregister = false;
  #settingUp = 0;
  readonly #obs: Observer;
  #onlineOnce: (() => void) | undefined;
  readonly #p2p: ClientP2p | undefined;
  /** Resolves the first time the relay welcomes this client. */
  readonly online: Promise<void>;

  constructor(options: ClientOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#t = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.#access = options.access ?? new VisitorAccess(options.allow);
    this.online = new Promise((resolve) => (this.#onlineOnce = resolve));
    this.#obs = options.observer ?? new Observer('client');
    this.#obs.identity = fingerprint(options.key.publicKey);
    // Read when asked: a reload replaces the services in place.
    const services = (): ServiceInfo[] => this.#o.services.map((s) => ({ name: s.name, address: formatHostPort(s.local), publicPort: s.publicPort }));
    this.#obs.sources = { services, pendingJoins: () => this.#settingUp };
    if (options.p2p) {
      const udp = options.p2p.udp === false ? undefined : clientUdp(this.#log);
      this.#p2p = new ClientP2p({ port: options.p2p.port, log: this.#log, udp, serve: (path, reader, confirmed, kind, source) => this.#serveSession(path, reader, confirmed, kind, source) });
    }
  }

  /** The P2P listener's TCP port (0 when P2P is off or not started). */
  get p2pPort(): number {
    return this.#p2p?.port ?? 0;
  }

  /** Runs until stop(): one control session at a time, backing off between failures. */
  async run(): Promise<void> {
    await this.#p2p?.start();
    try {
      await this.#loop();
    } finally {
      await this.#p2p?.stop();
    }
  }

  async #loop(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      try {
        await this.#session();
      } catch (err) {
        const e = asTunError(err, 'STREAM_TRUNCATED', 'control session failed');
        if (this.#stop.signal.aborted) break;
        if (this.#reregister) {
          this.#reregister = false;
          continue;
        }
        // A relay that proved it refuses our key or our version will not change its mind by
        // retrying: stop and say so (a supervisor restarting us will show the same message).
        if (FATAL.has(e.code)) throw e;
        if (e.code === 'SESSION_REPLACED') {
          // Someone else holds this key too. Wait the longest backoff so two holders do not
          // take the relay from each other every second; the log says what is going on.
          this.#log.error(`another tun client with key ${fingerprint(this.#o.key.publicKey)} connected to the relay and took over this session; retrying in ${this.#backoff.maxMs / 1000} s (hint: if this key is on two machines, give each its own key with tun keygen)`);
          await sleep(this.#backoff.maxMs, this.#stop.signal);
          continue;
        }
        this.#log.error(e.describe());
      }
      if (this.#stop.signal.aborted) break;
      const wait = this.#backoff.next();
      this.#log.info(`reconnecting to ${formatHostPort(this.#o.server)} in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait, this.#stop.signal);
    }
  }

  /**
   * New services and visitor lists (a reload). Sessions and streams they no longer allow are closed
   * at once; everything else runs on. When the set of services (names or public ports) changed,
   * the control session is replaced so the relay registers the new set; streams do not depend on
   * it. Returns what was closed.
   */
  reload(next: { services: ServiceSpec[]; access: VisitorAccess }): { sessions: number; streams: number; reregistered: boolean } {
    const sig = (list: ServiceSpec[]): string => list.map((s) => `${s.name}:${s.publicPort ?? ''}:${s.proxy ?? ''}`).sort().join(',');
    const reregister = sig(this.#o.services) !== sig(next.services);
    this.#o.services.splice(0, this.#o.services.length, ...next.services);
    this.#access = next.access;
    const closed = this.#registry.enforce(next.access, next.services.map((s) => s.name));
    if (reregister && this.#channel) {
      this.#reregister = true;
      this.#channel.close(new TunError('SESSION_CLOSED', 'the services changed: registering them again'));
    }
    return { ...closed, reregistered: reregister };
  }

  stop(): void {
    this.#stop.abort();
    this.#channel?.close(new TunError('TIMEOUT', 'client stopping'));
    for (const s of this.#sessions) s.close('shutdown', 'the client is stopping');
    // Streams cut by a shutdown are aborted, not ended: the local service must not take a cut
    // stream for a complete one.
    this.#streams.resetAll();
    void this.#p2p?.stop();
  }

  async #session(): Promise<void> {
    const socket = await dial(this.#o.server, this.#t.connectMs, 'relay control port');
    const onAbort = (): void => void socket.destroy();
    this.#stop.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const services = this.#o.services.map((s) => ({ name: s.name, publicPort: s.publicPort, proxy: s.proxy ? true : undefined }));
      const { channel, welcome } = await joinRelay(socket, this.#o, services, this.#t.handshakeMs, this.#p2p !== undefined).catch((err: unknown) => {
        this.#obs.handshakeFailed(asTunError(err, 'PROTOCOL_VIOLATION', 'handshake failed').code);
        throw err;
      });
      this.#welcome(welcome, socket.remoteAddress);
      this.#channel = channel;
      await this.#serve(channel, welcome);
    } finally {
      this.#stop.signal.removeEventListener('abort', onAbort);
      socket.destroy();
    }
  }

  #welcome(w: MessageOf<'Welcome'>, relayAddress: string | undefined): void {
    this.#backoff.reset();
    this.#notGranted = new Set(w.services.filter((s) => !s.ok && (s.code === 'service_not_granted' || s.code === 'service_owned')).map((s) => s.name));
    for (const s of w.services) {
      if (s.ok) this.#log.info(`service ${s.name} registered${s.publicPort ? `; also public on relay port ${s.publicPort} (the relay sees its plaintext)` : ''}`);
      else this.#log.error(`service ${s.name} refused by the relay: ${s.code}${s.message ? `: ${s.message}` : ''}`);
    }
    this.#p2p?.welcome(w, this.#o.server.host, relayAddress);
    this.#log.info(`online at relay ${fingerprint(this.#o.relayKey)} (${formatHostPort(this.#o.server)})`);
    if (!this.#onlineOnce) this.#obs.reconnected();
    this.#onlineOnce?.();
    this.#onlineOnce = undefined;
  }

  #serve(channel: ControlChannel, welcome: MessageOf<'Welcome'>): Promise<void> {
    const heartbeatMs = Math.max(1000, welcome.heartbeatMs);
    const tunnelPort = welcome.tunnelPort;
    return new Promise((resolve, reject) => {
      let seq = 0;
      const beat = setInterval(() => {
        if (Date.now() - channel.lastReceived > 3 * heartbeatMs) channel.close(new TunError('TIMEOUT', `no answer from the relay for ${3 * heartbeatMs} ms`));
        else channel.send('Ping', { seq: seq++ });
      }, heartbeatMs);
      channel.start(
        (m: Message) => {
          if (m.type === 'Open') void this.#open(channel, m, tunnelPort);
          else if (m.type !== 'Pong') throw new TunError('PROTOCOL_VIOLATION', `relay sent ${m.type} during the session`);
        },
        (reason) => {
          clearInterval(beat);
          this.#channel = undefined;
          if (this.#stop.signal.aborted) resolve();
          else reject(new TunError(reason.code, `control connection lost: ${reason.message}`));
        },
      );
    });
  }

  #refusal(visitor: Buffer, service: string): { code: string; message: string } | undefined {
    if (this.#notGranted.has(service)) return { code: 'service_not_granted', message: `the relay does not grant this client the service name ${service}` };
    if (!this.#access.allows(visitor, service)) return { code: 'visitor_not_allowed', message: `this visitor is not allowed to use service ${service}` };
    return undefined;
  }

  async #open(channel: ControlChannel, open: MessageOf<'Open'>, tunnelPort: number): Promise<void> {
    const service = open.mode === 'public' ? this.#o.services.find((s) => s.name === open.service && s.publicPort !== undefined) : undefined;
    if (open.mode === 'public' && !service) {
      channel.send('OpenFailed', { id: open.id, code: 'unknown_service', message: `no public service ${open.service ?? ''} here` });
      return;
    }
    // The relay is not trusted: it may send Opens faster than visitors exist. Joins still being
    // set up (before an allowed visitor proved it is live) are capped.
    if (this.#settingUp >= MAX_SETTING_UP) {
      this.#log.rateLimited('warn', 'setup-cap', `${MAX_SETTING_UP} sessions are already being set up; refusing more (a flood of Open requests from the relay?)`, 5000);
      channel.send('OpenFailed', { id: open.id, code: 'busy', message: 'too many sessions being set up' });
      return;
    }
    this.#settingUp++;
    let released = false;
    const established = (): void => {
      if (!released) this.#settingUp--;
      released = true;
    };
    let local: Socket | undefined;
    let tunnel: Socket | undefined;
    try {
      if (service) {
        try {
          local = this.#streams.add(await dial(service.local, this.#t.connectMs, `local service ${service.name}`));
          if (service.proxy) local.write(proxyHeader(service.proxy, open.src, open.dst));
        } catch (err) {
          this.#log.warn(`public stream for ${service.name}: ${(err as Error).message}`);
          channel.send('OpenFailed', { id: open.id, code: 'local_service_unavailable', message: 'the local service is not reachable' });
          return;
        }
      }
      tunnel = this.#streams.add(await dial({ host: this.#o.server.host, port: tunnelPort }, this.#t.connectMs, 'relay tunnel port'));
      const reader = new FrameReader(tunnel, 256, 2);
      const challenge = expectMessage(await within(reader.next(), this.#t.handshakeMs, 'the join challenge'), 'JoinChallenge');
      writeFrame(tunnel, encodeMessage('Join', { id: open.id, proof: joinProof(open.token, challenge.nonce, open.id) }));
      if (local) {
        const l = local;
        const proxyHeaderBytes = l.bytesWritten;
        const rest = reader.detach();
        if (rest.length) local.write(rest);
        established();
        splice(tunnel, local, this.#obs.stream(service!.name, 'relay', () => ({ toService: l.bytesWritten - proxyHeaderBytes, toVisitor: l.bytesRead })));
        tunnel.resume();
        return;
      }
      await this.#serveSession(tunnel, reader, established, 'relay', { src: open.src, dst: open.dst });
    } catch (err) {
      const e = asTunError(err, 'PROTOCOL_VIOLATION', 'join failed');
      if (e.code !== 'STREAM_TRUNCATED') this.#log.rateLimited('warn', `join-${e.code}`, `${open.mode} join: ${e.message}`, 1000);
      tunnel?.destroy();
      local?.destroy();
    } finally {
      established();
    }
  }

  /** Serves one visitor session on a path: a relay join or a direct (P2P) connection. */
  #serveSession(path: Duplex, reader: FrameReader, confirmed: () => void, kind: PathLabel, source: SessionContext['source']): Promise<void> {
    return serveSession({
      tunnel: path as Socket, reader, services: this.#o.services, source, key: this.#o.key, allow: this.#access.union, log: this.#log, timeouts: this.#t, limits: this.#o.limits, observer: this.#obs, path: kind,
      confirmed,
      track: (session, visitor) => {
        this.#sessions.add(session);
        this.#registry.add(session, visitor);
        void session.ended.then(() => this.#sessions.delete(session));
        // The handshake checked the lists as they were when the join started; a reload since then
        // may have revoked this visitor (from here on, reloads see the session in the registry).
        if (!this.#access.admits(visitor)) session.close('visitor_revoked', `visitor key ${fingerprint(visitor)} was removed from this client's allowed keys`);
      },
      refusal: (visitor, service) => this.#refusal(visitor, service),
      onStream: (session, stream, service) => this.#registry.stream(session, stream, service),
      p2p: this.#p2p ? (stream, session, who) => this.#p2p!.control(stream, session, who) : undefined,
    });
  }
}
