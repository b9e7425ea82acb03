/**
 * The client's end of a visitor session, once the relay has joined it to a tunnel connection:
 * answer the visitor's handshake (its key checked once against --allow), then serve the streams it
 * opens — the service checked on every stream, the local service dialled only for an authenticated
 * OPEN (a replayed message 1 never gets that far).
 */
import type { Socket } from 'node:net';
import type { X25519KeyPair } from '../crypto/index.js';
import { TunError } from '../errors.js';
import { fingerprint } from '../identity/keys.js';
import type { KeyList } from '../identity/key-list.js';
import type { Logger } from '../log.js';
import type { FrameReader } from '../net/frame-reader.js';
import type { ObservedSession, Observer, PathLabel } from '../observe/observer.js';
import { dial, endSoon, reset, type HostPort } from '../net/socket.js';
import { answerSession } from '../session/handshake.js';
import { proxyHeader, type Endpoint, type ProxyVersion } from './proxy-protocol.js';
import type { MuxLimits, MuxStream } from '../session/mux.js';
import { Session, type RekeyLimits } from '../session/session.js';
import { P2P_SERVICE } from '../p2p/candidates.js';

export interface LocalService {
  name: string;
  local: HostPort;
  proxy?: ProxyVersion;
}

export interface SessionContext {
  tunnel: Socket;
  reader: FrameReader;
  services: LocalService[];
  /** Where the relay saw the visitor agent's connection (for PROXY protocol headers), if it said. */
  source?: { src?: Endpoint; dst?: Endpoint };
  key: X25519KeyPair;
  allow: KeyList | undefined;
  log: Logger;
  timeouts: { connectMs: number; pairingMs: number };
  limits?: Partial<MuxLimits & RekeyLimits>;
  /** Called once the visitor has proved it is live (the session no longer counts as being set up). */
  confirmed: () => void;
  /** Told of the session as soon as it exists (so a stopping client can close it), with the visitor's key. */
  track: (session: Session, visitor: Buffer) => void;
  /** Where sessions and streams are counted, and the path this session came by. */
  observer?: Observer;
  path?: PathLabel;
  /** Why this visitor may not use this service (per-service allow lists, relay grants); undefined when it may. */
  refusal?: (visitor: Buffer, service: string) => { code: string; message: string } | undefined;
  /** Told of each stream attached to a local service (so a reload can close what it revokes). */
  onStream?: (session: Session, stream: MuxStream, service: string) => void;
  /** P2P: answers the visitor's control stream (absent with --no-p2p: the stream is refused). */
  p2p?: (stream: MuxStream, session: Session, who: string) => void;
}

/** Answers and serves one session; resolves when it has ended. The session owns the tunnel from then on. */
export async function serveSession(c: SessionContext): Promise<void> {
  const answer = await answerSession(c.tunnel, c.reader, { key: c.key, allow: c.allow, timeoutMs: c.timeouts.pairingMs }).catch((err: unknown) => {
    if (err instanceof TunError) c.observer?.handshakeFailed(err.code);
    throw err;
  });
  if (!answer.ok) {
    c.observer?.handshakeFailed(answer.reason.code);
    c.log.warn(answer.reason.describe());
    endSoon(c.tunnel);
    return;
  }
  const vfp = fingerprint(answer.visitor);
  const who = `visitor ${vfp}${answer.entry.name ? ` (${answer.entry.name})` : ''}`;
  let observed: ObservedSession | undefined;
  const session = new Session({
    path: c.tunnel,
    reader: c.reader,
    send: answer.send,
    receive: answer.receive,
    role: 'client',
    log: c.log,
    limits: c.limits,
    confirmWithinMs: c.timeouts.pairingMs,
    onConfirmed: () => {
      observed = c.observer?.session({ peer: 'visitor', path: c.path ?? 'relay', fingerprint: vfp, name: answer.entry.name || undefined }, session);
      c.confirmed();
      c.log.info(`session from ${who} open`);
    },
    onOpen: (stream, service) => {
      if (service !== P2P_SERVICE) return void openLocal(c, stream, service, who, observed, answer.visitor, session);
      if (c.p2p) c.p2p(stream, session, who);
      else stream.refuse('peer_to_peer_off', 'P2P is off on this client');
    },
  });
  c.track(session, answer.visitor);
  const reason = await session.ended;
  observed?.end();
  if (!session.confirmed) c.observer?.handshakeFailed(reason.code);
  if (session.confirmed) c.log.info(`session from ${who} closed: ${reason.message}`);
  else c.log.debug(`unconfirmed session from ${who} dropped: ${reason.message}`);
}

/**
 * Local connections being dialled at once, across all sessions: a burst of streams (a browser, a
 * load test) reaches the local service a few at a time, as one client would, instead of
 * overflowing its accept queue. Streams waiting their turn hold at most their initial window.
 */
const MAX_DIALLING = 64;
let dialling = 0;
const dialQueue: (() => void)[] = [];

async function paced<T>(fn: () => Promise<T>): Promise<T> {
  if (dialling >= MAX_DIALLING) await new Promise<void>((resolve) => dialQueue.push(resolve));
  dialling++;
  try {
    return await fn();
  } finally {
    dialling--;
    dialQueue.shift()?.();
  }
}

async function openLocal(c: SessionContext, stream: MuxStream, name: string, who: string, observed: ObservedSession | undefined, visitor: Buffer, session: Session): Promise<void> {
  const service = c.services.find((s) => s.name === name);
  if (!service) {
    c.log.rateLimited('info', `unknown-${name}`, `${who} asked for unknown service ${name}`, 5000);
    stream.refuse('unknown_service', `no service named ${name} here`);
    return;
  }
  const refused = c.refusal?.(visitor, name);
  if (refused) {
    c.log.rateLimited('info', `refused-${name}-${refused.code}`, `${who} -> ${name}: refused: ${refused.code}: ${refused.message}`, 5000);
    stream.refuse(refused.code, refused.message);
    return;
  }
  let local: Socket;
  try {
    local = await paced(() => (stream.done ? Promise.reject(new TunError('SESSION_CLOSED', 'the stream ended while waiting')) : dial(service.local, c.timeouts.connectMs, `local service ${name}`)));
  } catch (err) {
    if (stream.done) return;
    c.log.rateLimited('warn', `local-${name}`, `${who} -> ${name}: ${(err as TunError).message}`, 5000);
    stream.refuse('local_service_unavailable', `the client could not reach its local service ${name}`);
    return;
  }
  // A reload while the dial was under way may have revoked this service for this visitor (or
  // removed the service): judge again now, in the same turn that registers the stream.
  const late = stillRefused(c, visitor, name);
  if (late) {
    reset(local);
    c.log.rateLimited('info', `refused-${name}-${late.code}`, `${who} -> ${name}: refused: ${late.code}: ${late.message}`, 5000);
    if (!stream.done) stream.refuse(late.code, late.message);
    return;
  }
  c.log.debug(`${who} stream ${stream.id} -> ${name}`);
  const header = service.proxy ? proxyHeader(service.proxy, c.source?.src, c.source?.dst) : undefined;
  if (header) local.write(header);
  // attach() resets a local socket given to a stream that is already done, without calling back.
  const sent = header?.length ?? 0;
  const ended = stream.done || !c.observer ? undefined : c.observer.stream(name, c.path ?? 'relay', () => ({ toService: local.bytesWritten - sent, toVisitor: local.bytesRead }), observed);
  stream.attach(local, ended);
  c.onStream?.(session, stream, name);
}

function stillRefused(c: SessionContext, visitor: Buffer, name: string): { code: string; message: string } | undefined {
  if (!c.services.some((s) => s.name === name)) return { code: 'service_removed', message: `service ${name} was removed from this client` };
  return c.refusal?.(visitor, name);
}
