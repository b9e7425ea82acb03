/**
 * The relay: an untrusted meeting point. It authenticates clients on the control port, pairs
 * visitors (visitor port) with tunnel connections the client opens on request (tunnel port), and
 * then only copies bytes. It never holds a key that can read a stream.
 */
import { randomBytes } from 'node:crypto';
import type { Server, Socket } from 'node:net';
import { ctEqual, type X25519KeyPair } from '../crypto/index.js';
import { TunError, asTunError } from '../errors.js';
import { fingerprint } from '../identity/keys.js';
import { grantedPorts, serviceRefusal, type KeyList, type KeyListEntry } from '../identity/key-list.js';
import type { Logger } from '../log.js';
import { FrameReader } from '../net/frame-reader.js';
import { Observer, type ObservedSession } from '../observe/observer.js';
import { SocketSet, boundPort, closeServer, endSoon, listen, reset, type HostPort } from '../net/socket.js';
import { splice } from '../net/splice.js';
import { type ControlChannel, writeFrame } from '../stream/control-channel.js';
import { PROTOCOL_VERSION, encodeMessage, expectMessage, joinProof, type Bodies, type Message } from '../wire/index.js';
import { DEFAULT_RELAY_LIMITS, PreAuthGate, type RelayLimits } from './limits.js';
import { PairingTable, type Pending } from './pairing.js';
import { admitClient } from './control-handshake.js';
import { SourceLimit } from './source-limit.js';
import { ClientStreams } from './client-streams.js';
import { ObservationPort } from '../p2p/observe.js';
import { observedFor } from '../p2p/relay-side.js';

export interface RelayOptions {
  key: X25519KeyPair;
  authorized: KeyList;
  bind: string;
  controlPort: number;
  visitorPort: number;
  tunnelPort: number;
  /** Public (plain TCP) mode is possible only with this set AND a permitlisten grant for the key. */
  allowPublic: boolean;
  log: Logger;
  limits?: Partial<RelayLimits>;
  /** Metrics and status (src/observe); a private one when not given. */
  observer?: Observer;
  /** P2P rendezvous (default on): the UDP observation port and observed addresses in Welcome. */
  p2p?: boolean;
  /** UDP observation port; default: the control port's number. */
  udpPort?: number;
}

interface Session {
  key: string;
  fp: string;
  name: string;
  /** The authorized-list entry it was admitted with (its grants); replaced by a reload. */
  entry: KeyListEntry;
  channel: ControlChannel;
  services: Map<string, { publicPort?: number; proxy?: boolean }>;
  publicServers: Server[];
  heartbeat: NodeJS.Timeout;
  /** Set once by #endSession: later callbacks (a late listen, the channel's own close) see it. */
  ended: boolean;
  observed: ObservedSession;
}

const VISITOR_MAX_FRAME = 1024;
/** What a visitor session waits for in the pairing table (sessions are per client, not per service). */
const SESSION_LABEL = '(session)';

export class Relay {
  readonly #o: RelayOptions;
  readonly #log: Logger;
  /** The authorized clients; reload() replaces it. */
  #authorized: KeyList;
  readonly limits: RelayLimits;
  readonly #gate: PreAuthGate;
  readonly #obs: Observer;
  readonly #pairings = new PairingTable();
  readonly #sessions = new Map<string, Session>();
  readonly #servers: Server[] = [];
  readonly #publicPorts = new Map<number, Session>();
  /** Every socket the relay accepted and has not seen close: stop() destroys them all. */
  readonly #sockets = new SocketSet();
  /** Joined streams per client key: a revocation cuts them (a control reconnect does not). */
  readonly #joined = new ClientStreams();
  #stopped = false;
  ports = { control: 0, visitor: 0, tunnel: 0, udp: 0 };
  #observation: ObservationPort | undefined;
  #endWith!: (reason: TunError) => void;
  /** Rejects if the relay ends by itself (a listener lost); never settles on stop(). */
  readonly ended = new Promise<void>((_, reject) => (this.#endWith = reject));

  constructor(options: RelayOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#authorized = options.authorized;
    this.limits = { ...DEFAULT_RELAY_LIMITS, ...options.limits };
    this.#gate = new PreAuthGate(this.limits);
    this.#obs = options.observer ?? new Observer('relay');
    this.#obs.identity = fingerprint(options.key.publicKey);
    this.#obs.sources = {
      pendingJoins: () => this.#pairings.size,
      preAuth: () => this.#gate.pending,
      services: () => [...this.#sessions.values()].flatMap((s) => [...s.services].map(([name, v]) => ({ name, publicPort: v.publicPort, client: s.fp }))),
    };
  }

  async start(): Promise<void> {
    const at = (port: number): HostPort => ({ host: this.#o.bind, port });
    const onAcceptError = (err: NodeJS.ErrnoException): void =>
      this.#log.rateLimited('error', `accept-${err.code}`, `cannot accept connections: ${err.code ?? err.message}${err.code === 'EMFILE' || err.code === 'ENFILE' ? ' (out of file descriptors: raise `ulimit -n`)' : ''}`, 5000);
    const control = await listen(at(this.#o.controlPort), (s) => this.#guard(s, 'control', () => this.#acceptControl(s)), 'the control port', onAcceptError, '--control-port');
    this.#servers.push(control);
    const visitor = await listen(at(this.#o.visitorPort), (s) => this.#guard(s, 'visitor', () => this.#acceptVisitor(s)), 'the visitor port', onAcceptError, '--visitor-port');
    this.#servers.push(visitor);
    const tunnel = await listen(at(this.#o.tunnelPort), (s) => this.#guard(s, 'tunnel', () => this.#acceptTunnel(s)), 'the tunnel port', onAcceptError, '--tunnel-port');
    this.#servers.push(tunnel);
    this.ports = { control: boundPort(control), visitor: boundPort(visitor), tunnel: boundPort(tunnel), udp: 0 };
    if (this.#o.p2p !== false) {
      this.#observation = await ObservationPort.listen(this.#o.bind, this.#o.udpPort ?? this.ports.control, this.#log);
      this.ports.udp = this.#observation.port;
    }
    for (const [server, what] of [[control, 'control'], [visitor, 'visitor'], [tunnel, 'tunnel']] as const) {
      server.once('close', () => {
        if (!this.#stopped) this.#endWith(new TunError('CONFIG_INVALID', `the ${what} port stopped listening`, 'restart the relay; check the log above for why'));
      });
    }
    this.#log.info(`relay ${fingerprint(this.#o.key.publicKey)} listening on ${this.#o.bind}: control ${this.ports.control}, visitors ${this.ports.visitor}, tunnel ${this.ports.tunnel}, ${this.ports.udp ? `P2P observation udp ${this.ports.udp}` : 'P2P off'}; ${this.#o.authorized.entries.length} authorized client key(s)`);
    if (this.#o.authorized.entries.length === 0) this.#log.warn(`${this.#o.authorized.source} lists no client keys: every client will be refused (append each client's .pub line to it)`);
    if (this.#o.allowPublic) this.#log.warn('public mode is enabled: for services a client publishes on a relay port, this relay sees the plaintext the application sends (use TLS in the service)');
  }

  get publicKey(): Buffer {
    return Buffer.from(this.#o.key.publicKey);
  }

  stats(): { sessions: number; pairings: number; preAuth: number } {
    return { sessions: this.#sessions.size, pairings: this.#pairings.size, preAuth: this.#gate.pending };
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const p of this.#pairings.takeAll()) reset(p.socket);
    for (const s of [...this.#sessions.values()]) this.#endSession(s, new TunError('TIMEOUT', 'relay shutting down'));
    const closing = Promise.all([...this.#servers.map((s) => closeServer(s)), this.#observation?.close()]);
    this.#sockets.destroyAll();
    await closing;
  }

  /** Every accepted socket: a pre-auth slot and an absolute deadline, released once the connection is authenticated or paired. */
  #guard(socket: Socket, port: string, run: () => Promise<void>): void {
    socket.on('error', () => {});
    this.#sockets.add(socket);
    const ip = socket.remoteAddress ?? '?';
    const release = this.#gate.acquire(ip);
    if (!release) {
      this.#obs.preAuthDropped++;
      this.#log.rateLimited('warn', `preauth-full`, `too many unauthenticated connections (limit ${this.limits.preAuthMax}, ${this.limits.preAuthPerIp} per address); dropping new ones from ${ip}`);
      socket.destroy();
      return;
    }
    let late = false;
    const deadline = setTimeout(() => {
      late = true;
      this.#obs.handshakeFailed('TIMEOUT');
      this.#log.rateLimited('info', `deadline-${port}`, `${port} port: ${ip} did not complete its handshake within ${this.limits.handshakeMs} ms; closed`);
      socket.destroy();
    }, this.limits.handshakeMs);
    const settle = (): void => {
      clearTimeout(deadline);
      release();
    };
    socket.once('close', settle);
    run().then(settle, (err) => {
      settle();
      const e = asTunError(err, 'PROTOCOL_VIOLATION', 'connection failed');
      if (!late) this.#obs.handshakeFailed(e.code);
      if (e.code !== 'STREAM_TRUNCATED') this.#log.rateLimited('info', `fail-${port}-${e.code}`, `${port} port: ${ip}: ${e.message}`);
      socket.destroy();
    });
  }

  // ---- control port -------------------------------------------------------------------------

  async #acceptControl(socket: Socket): Promise<void> {
    const admitted = await admitClient(socket, this.#o.key, () => this.#authorized, this.#log, (code) => this.#obs.handshakeFailed(code));
    if (!admitted) return;
    const { channel, clientKey, entry, hello } = admitted;
    this.#startSession(channel, clientKey, entry, hello, socket);
  }

  /**
   * Takes a new authorized list (a reload): a connected client whose key is gone has its control
   * session closed at once and is told why; one that may no longer own a service or port it holds
   * is closed too (it reconnects and registers what it may). New keys and grants apply from the
   * next connection. The joined streams of a revoked key (visitor sessions and public-port streams,
   * also those of earlier control sessions) are reset at once, so a client that ignores the
   * revocation cannot go on serving through this relay; public-port streams of a service the key
   * lost are reset too. Other established streams are not touched.
   */
  reload(authorized: KeyList): { revoked: number; regranted: number; streams: number } {
    this.#authorized = authorized;
    const result = { revoked: 0, regranted: 0, streams: 0 };
    for (const session of [...this.#sessions.values()]) {
      const entry = authorized.find(Buffer.from(session.key, 'hex'));
      if (!entry) {
        result.revoked++;
        this.#log.warn(`client ${session.fp} (${session.name}): key removed from the authorized list; closing its control session`);
        this.#endSession(session, new TunError('CLIENT_NOT_AUTHORIZED', 'client key revoked'), `client key ${session.fp} was removed from the relay's authorized list (revoked)`);
        continue;
      }
      session.entry = entry;
      const lost = [...session.services].filter(([name, s]) => serviceRefusal(authorized, entry, name) || (s.publicPort !== undefined && !grantedPorts(entry).includes(s.publicPort)));
      if (lost.length === 0) continue;
      result.regranted++;
      this.#log.warn(`client ${session.fp} (${session.name}): no longer granted ${lost.map(([n]) => n).join(', ')}; closing its control session so it registers again`);
      this.#endSession(session, new TunError('SESSION_CLOSED', 'grants changed'), `the relay no longer grants this client ${lost.map(([n]) => n).join(', ')}; register again`);
      result.streams += this.#joined.cut(session.key, (svc) => svc !== undefined && lost.some(([n]) => n === svc));
    }
    result.streams += this.#cutRevoked(authorized);
    return result;
  }

  /** Resets every joined stream of a key the list no longer holds; returns how many. */
  #cutRevoked(authorized: KeyList): number {
    let n = 0;
    for (const key of this.#joined.keys()) {
      if (authorized.find(Buffer.from(key, 'hex'))) continue;
      const cut = this.#joined.cut(key);
      n += cut;
      this.#log.warn(`client ${fingerprint(Buffer.from(key, 'hex'))}: key revoked; reset its ${cut} joined stream(s)`);
    }
    return n;
  }

  #startSession(channel: ControlChannel, clientKey: Buffer, admittedAs: KeyListEntry, hello: Message & { type: 'Hello' }, socket: Socket): void {
    const key = clientKey.toString('hex');
    const fp = fingerprint(clientKey);
    // A reload between the handshake and Hello may have revoked the key or changed its grants.
    const entry = this.#authorized.find(clientKey);
    if (!entry) {
      this.#obs.handshakeFailed('CLIENT_NOT_AUTHORIZED');
      this.#log.warn(`client ${fp} (${admittedAs.name}): key removed from the authorized list during its handshake; refused`);
      channel.fail('client_not_authorized', `client key ${fp} was removed from the relay's authorized list (revoked)`, new TunError('CLIENT_NOT_AUTHORIZED', 'client key revoked'));
      return;
    }
    const name = entry.name;
    const old = this.#sessions.get(key);
    if (old) {
      this.#log.warn(`client ${fp} (${name}) connected again; closing its previous control connection`);
      this.#endSession(old, new TunError('SESSION_REPLACED', 'replaced by a newer connection with the same key'), 'another connection with this client key took over');
    }
    const session: Session = { key, fp, name, entry, channel, services: new Map(), publicServers: [], ended: false, observed: this.#obs.session({ peer: 'client', path: 'relay', fingerprint: fp, name }), heartbeat: setInterval(() => this.#checkHeartbeat(session), this.limits.heartbeatMs) };
    session.heartbeat.unref();
    this.#sessions.set(key, session);
    void this.#registerServices(session, hello.services).then((results) => {
      if (session.ended) return;
      channel.send('Welcome', { tunnelPort: this.ports.tunnel, heartbeatMs: this.limits.heartbeatMs, services: results, ...(this.#observation && hello.p2p ? observedFor(socket, this.ports.udp) : {}) });
      this.#log.info(`client ${fp} (${name}) online with services: ${results.map((r) => `${r.name}${r.publicPort ? `[public :${r.publicPort}]` : ''}${r.ok ? '' : ` (refused: ${r.code})`}`).join(', ') || '(none)'}`);
    });
    channel.start(
      (m) => this.#onControlMessage(session, m),
      (reason) => this.#endSession(session, reason),
    );
  }

  /** Records the services a client offers; opens the public ports it may have. One result per service. */
  async #registerServices(session: Session, offered: Bodies['Hello']['services']): Promise<Bodies['Welcome']['services']> {
    const results: Bodies['Welcome']['services'] = [];
    const pending: Promise<void>[] = [];
    for (const svc of offered) {
      if (session.services.has(svc.name)) {
        results.push({ name: svc.name, ok: false, code: 'duplicate_service', message: 'listed twice' });
        continue;
      }
      const notGranted = serviceRefusal(this.#authorized, session.entry, svc.name);
      if (notGranted) {
        this.#log.warn(`client ${session.fp} (${session.name}): service ${svc.name} refused: ${notGranted.message}`);
        results.push({ name: svc.name, ok: false, ...notGranted });
        continue;
      }
      if (svc.publicPort === undefined) {
        session.services.set(svc.name, { proxy: svc.proxy });
        results.push({ name: svc.name, ok: true });
        continue;
      }
      const denied = this.#publicDenied(svc.publicPort, session.entry.options.get('permitlisten') ?? [], session.key);
      if (denied) {
        this.#log.warn(`client ${session.fp}: public port ${svc.publicPort} for ${svc.name} refused: ${denied}`);
        results.push({ name: svc.name, ok: false, code: 'public_port_denied', message: denied });
        continue;
      }
      const result: Bodies['Welcome']['services'][number] = { name: svc.name, ok: true, publicPort: svc.publicPort };
      results.push(result);
      session.services.set(svc.name, { publicPort: svc.publicPort, proxy: svc.proxy });
      pending.push(
        this.#openPublic(session, svc.name, svc.publicPort).catch((err: unknown) => {
          session.services.delete(svc.name);
          Object.assign(result, { ok: false, code: 'public_port_denied', message: (err as Error).message });
        }),
      );
    }
    await Promise.all(pending);
    return results;
  }

  #publicDenied(port: number, grants: string[], key: string): string | undefined {
    if (!this.#o.allowPublic) return 'this relay was started without --public';
    if (!grants.includes(String(port))) return `port ${port} is not granted to this key (add permitlisten=${port} before its line, or public_ports = [${port}] in its [[client]] table, in ${this.#authorized.source})`;
    const owner = this.#publicPorts.get(port);
    if (owner && owner.key !== key) return `port ${port} is in use by another client`;
    return undefined;
  }

  #onControlMessage(session: Session, m: Message): void {
    switch (m.type) {
      case 'Ping':
        session.channel.send('Pong', { seq: m.seq });
        return;
      case 'Pong':
        return;
      case 'OpenFailed': {
        const p = this.#pairings.peek(m.id);
        if (!p || p.sessionKey !== session.key) return;
        this.#pairings.take(m.id);
        this.#failPending(p, m.code, m.message ?? 'the client could not open the stream');
        return;
      }
      default:
        throw new TunError('PROTOCOL_VIOLATION', `client sent ${m.type}, which only the relay may send`);
    }
  }

  #checkHeartbeat(session: Session): void {
    if (Date.now() - session.channel.lastReceived > 3 * this.limits.heartbeatMs) {
      this.#log.warn(`client ${session.fp} (${session.name}): no heartbeat for ${3 * this.limits.heartbeatMs} ms; closing its session`);
      this.#endSession(session, new TunError('TIMEOUT', 'heartbeat timeout'));
    }
  }

  /** Ends a session; with `notice`, the client is told why (an Error message) before the close. */
  #endSession(session: Session, reason: TunError, notice?: string): void {
    if (session.ended) return;
    session.ended = true;
    session.observed.end();
    clearInterval(session.heartbeat);
    if (notice) session.channel.fail(reason.code.toLowerCase(), notice, reason);
    else session.channel.close(reason);
    for (const srv of session.publicServers) void closeServer(srv);
    for (const [port, owner] of this.#publicPorts) if (owner === session) this.#publicPorts.delete(port);
    if (this.#sessions.get(session.key) === session) this.#sessions.delete(session.key);
    for (const p of this.#pairings.takeAllFor(session.key)) this.#failPending(p, 'client_offline', 'the client went offline');
    this.#log.info(`client ${session.fp} (${session.name}) offline: ${reason.message}`);
  }


  // ---- visitor port -------------------------------------------------------------------------

  async #acceptVisitor(socket: Socket): Promise<void> {
    const reader = new FrameReader(socket, VISITOR_MAX_FRAME, 2);
    const visit = expectMessage(await reader.next(), 'Visit');
    const status = (code: string, message: string): void => refuseVisitor(socket, code, message);
    if (visit.v !== PROTOCOL_VERSION) {
      this.#log.rateLimited('warn', 'visit-version', `visitor port: ${socket.remoteAddress} speaks tun protocol ${visit.v}, this relay ${PROTOCOL_VERSION}: version mismatch (update tun on that visitor)`, 10_000);
      return status('version_mismatch', `version mismatch: this relay speaks tun protocol ${PROTOCOL_VERSION}, the visitor ${visit.v}: update tun`);
    }
    const message1 = await reader.next();
    const key = visit.client.toString('hex');
    const session = this.#sessions.get(key);
    if (!session) return status('client_offline', `client ${fingerprint(visit.client)} is not connected to this relay`);
    if (this.#pairings.countFor(key, SESSION_LABEL) >= this.limits.pendingPerService) {
      this.#log.rateLimited('warn', `busy-${key}`, `client ${session.fp}: ${this.limits.pendingPerService} visitors already waiting for a session; refusing more`);
      return status('busy', 'too many visitors are waiting for this client; try again');
    }
    reader.pause();
    this.#requestStream(session, SESSION_LABEL, 'session', socket, { reader, message1 });
  }

  #requestStream(session: Session, service: string, mode: 'session' | 'public', socket: Socket, extra: Partial<Pending>): void {
    const p = this.#pairings.create({ sessionKey: session.key, service, mode, socket, ...extra }, this.limits.pairingMs, (expired) =>
      this.#failPending(expired, 'timeout', `the client did not open the stream within ${this.limits.pairingMs} ms`),
    );
    socket.once('close', () => this.#pairings.take(p.id));
    session.channel.send('Open', { id: p.id, token: p.token, service: mode === 'public' ? service : undefined, mode, ...proxySource(session.services, mode === 'public' ? service : undefined, socket) });
  }

  #failPending(p: Pending, code: string, message: string): void {
    this.#obs.handshakeFailed(code.toUpperCase());
    this.#log.info(`stream for ${p.service} not opened: ${code}: ${message}`);
    if (p.mode === 'session' && !p.socket.destroyed) refuseVisitor(p.socket, code, message);
    else reset(p.socket);
  }

  // ---- tunnel port --------------------------------------------------------------------------

  async #acceptTunnel(socket: Socket): Promise<void> {
    const reader = new FrameReader(socket, 256, 2);
    const challenge = randomBytes(32);
    writeFrame(socket, encodeMessage('JoinChallenge', { nonce: challenge }));
    const join = expectMessage(await reader.next(), 'Join');
    const p = this.#pairings.peek(join.id);
    const session = p ? this.#sessions.get(p.sessionKey) : undefined;
    const expected = p ? joinProof(p.token, challenge, join.id) : randomBytes(32);
    const proofOk = ctEqual(expected, join.proof);
    if (!p || !session || !proofOk || Date.now() > p.expires) {
      this.#obs.handshakeFailed('PEER_AUTH_FAILED');
      this.#log.rateLimited('warn', 'bad-join', `tunnel port: ${socket.remoteAddress}: join refused (unknown, used, expired or unproven pairing)`);
      socket.destroy();
      return;
    }
    this.#pairings.take(join.id);
    const rest = reader.detach();
    const peer = p.socket;
    if (p.mode === 'session') {
      const visitorRest = p.reader!.detach();
      writeFrame(peer, encodeMessage('VisitStatus', { ok: true }));
      writeFrame(socket, p.message1!);
      if (visitorRest.length) socket.write(visitorRest);
      peer.resume();
    }
    if (rest.length) peer.write(rest);
    socket.resume();
    const started = Date.now();
    const visitorSession = p.mode === 'session' ? this.#obs.session({ peer: 'visitor', path: 'relay', client: session.fp }) : undefined;
    const ended = this.#obs.stream(p.mode === 'session' ? SESSION_LABEL : p.service, 'relay', () => ({ toService: peer.bytesRead, toVisitor: socket.bytesRead }), session.observed);
    this.#joined.add(session.key, p.mode === 'public' ? p.service : undefined, peer, socket);
    splice(peer, socket, (up, down) => {
      ended();
      visitorSession?.end();
      this.#log.debug(`stream ${p.service} (${p.mode}) closed after ${Date.now() - started} ms: ${up} bytes up, ${down} bytes down`);
    });
  }

  // ---- public ports (plain TCP, opt-in) -----------------------------------------------------

  async #openPublic(session: Session, service: string, port: number): Promise<void> {
    const perSource = new SourceLimit(this.limits.publicPerSource);
    const server = await listen({ host: this.#o.bind, port }, (socket) => {
      socket.on('error', () => {});
      this.#sockets.add(socket);
      socket.pause();
      const release = perSource.acquire(socket.remoteAddress);
      if (!release) {
        this.#log.rateLimited('warn', `per-source-${port}`, `public port ${port}: ${socket.remoteAddress} already has ${perSource.max} connections open; refusing more (--public-max-per-source)`);
        reset(socket);
        return;
      }
      socket.once('close', release);
      if (this.#pairings.countFor(session.key, service) >= this.limits.pendingPerService) {
        this.#log.rateLimited('warn', `busy-pub-${port}`, `public port ${port}: too many users waiting; refusing more`);
        reset(socket);
        return;
      }
      this.#requestStream(session, service, 'public', socket, {});
    }, `public service ${service}`, undefined, 'another --public-port on the client');
    if (session.ended) {
      void closeServer(server);
      return;
    }
    session.publicServers.push(server);
    this.#publicPorts.set(port, session);
    this.#log.warn(`public port ${port} serves ${service} of client ${session.fp} in plain TCP: this relay sees what the application sends`);
  }
}

/**
 * Where the relay saw a connection come from and arrive, for a client that asked (a service with
 * --proxy-protocol: for a public Open that service, for a session Open any of its services).
 */
function proxySource(services: Session['services'], service: string | undefined, socket: Socket): Pick<Bodies['Open'], 'src' | 'dst'> {
  const wanted = service === undefined ? [...services.values()].some((s) => s.proxy) : services.get(service)?.proxy;
  const at = (addr: string | undefined, port: number | undefined): { addr: string; port: number } | undefined =>
    addr && port !== undefined ? { addr: addr.replace(/%.*$/, ''), port } : undefined;
  return wanted ? { src: at(socket.remoteAddress, socket.remotePort), dst: at(socket.localAddress, socket.localPort) } : {};
}

/** The relay's (unauthenticated) answer to a visitor it cannot pair: a reason, then the end. */
function refuseVisitor(socket: Socket, code: string, message: string): void {
  writeFrame(socket, encodeMessage('VisitStatus', { ok: false, code, message }));
  endSoon(socket);
}
