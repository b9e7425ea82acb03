/**
 * One P2P probe by the visitor: open the control stream inside the relay session, send our
 * candidates, read the client's, then try every direct path at once — TCP to each of the client's
 * TCP candidates, and UDP hole punching when both ends have a UDP socket — and keep the first
 * that completes the session handshake. Only the client's candidates, sent inside the end-to-end
 * session, are dialled or punched (and the sources of punches bearing our token). The relay can
 * still pick some: the client's public address as the relay reports it (one TCP host, a UDP
 * mapping and a refreshed one per probe; global unicast only, unless the relay is private: see
 * scope.ts). Whatever answers there must complete the handshake pinned to the client's key. The
 * client's loopback candidates are dropped unless this visitor reached the relay on loopback.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { X25519KeyPair } from '../crypto/index.js';
import { TunError } from '../errors.js';
import type { Logger } from '../log.js';
import { FrameReader } from '../net/frame-reader.js';
import { dial, formatHostPort } from '../net/socket.js';
import { HANDSHAKE_MAX_FRAME } from '../session/handshake.js';
import type { MuxLimits } from '../session/mux.js';
import { Session, type RekeyLimits } from '../session/session.js';
import type { Candidate } from './addr.js';
import { P2P_SERVICE, type Offer } from './candidates.js';
import { ControlStream } from './control-stream.js';
import { openDirect } from './handshake.js';
import { fromPeer, peerLoopbackAllowed } from './scope.js';
import type { DirectPath } from './path-manager.js';

export interface ProbeContext {
  key: X25519KeyPair;
  clientKey: Buffer;
  log: Logger;
  limits?: Partial<MuxLimits & RekeyLimits>;
  /** UDP hole punching, when this visitor has a UDP socket for it. */
  udp?: UdpProber;
  /** Where this visitor reached the relay: decides whether the client's loopback candidates count (scope.ts). */
  relayAddress?: string;
  /** How long to wait for the client's candidates, a TCP connect, a handshake. */
  answerMs?: number;
  connectMs?: number;
  handshakeMs?: number;
}

/** The UDP half of a probe (src/p2p/udp.ts): offers our UDP candidates and punches theirs. */
export interface UdpProber {
  /** Our UDP candidates and punch parameters for a new exchange. */
  prepare(): Promise<UdpAttempt>;
  stop(): Promise<void>;
}

/** TUN_P2P_PATHS (tests, benchmarks): which direct paths the visitor tries, `tcp`, `udp` or both (default). */
export function pathKindsFromEnv(env: NodeJS.ProcessEnv = process.env): { tcp: boolean; udp: boolean } {
  const v = env.TUN_P2P_PATHS?.split(',').map((s) => s.trim());
  return v ? { tcp: v.includes('tcp'), udp: v.includes('udp') } : { tcp: true, udp: true };
}

export interface UdpAttempt {
  offer: Pick<Offer, 'udp' | 'punch'>;
  /** Given the client's offer: candidates to add once we learn our public mapping (sent as a second offer). */
  observed(theirs: Offer): Promise<Candidate[]>;
  /** Punches and connects; resolves a reliable byte stream to the client, or undefined. */
  connect(theirs: Offer, more: () => Offer[], signal: AbortSignal): Promise<{ path: Duplex; remote: Candidate; lastReceived: () => number } | undefined>;
  close(): void;
}

export async function probe(relay: Session, c: ProbeContext, signal: AbortSignal): Promise<DirectPath | undefined> {
  const cs = new ControlStream();
  const udp = c.udp ? await c.udp.prepare().catch(() => undefined) : undefined;
  try {
    const refused = new Promise<string>((resolve) => {
      relay.mux.open(P2P_SERVICE, cs.app as unknown as Socket, (end) => resolve(end.ok ? 'the client ended the P2P exchange' : `${end.code}: ${end.message}`));
    });
    const offers: Offer[] = [];
    let first!: (o: Offer) => void;
    const answered = new Promise<Offer>((resolve) => (first = resolve));
    const loopbackOk = peerLoopbackAllowed(c.relayAddress);
    cs.onOffer((o) => {
      offers.push(fromPeer(o, loopbackOk));
      if (offers.length === 1) first(offers[0]!);
    });
    cs.send({ tcp: [], udp: udp?.offer.udp ?? [], punch: udp?.offer.punch });
    const theirs = await Promise.race([
      answered,
      refused.then((why) => Promise.reject(new TunError('SESSION_CLOSED', `no P2P candidates from the client (${why})`))),
      timeout(c.answerMs ?? 5000, 'the client did not send P2P candidates in time'),
    ]);
    c.log.debug(`P2P candidates from the client: tcp ${theirs.tcp.map(formatHostPort).join(' ') || '-'}, udp ${theirs.udp.map(formatHostPort).join(' ') || '-'}`);
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const kinds = pathKindsFromEnv();
      const attempts: Promise<DirectPath>[] = kinds.tcp ? theirs.tcp.map((cand) => tcpPath(cand, c, ac.signal)) : [];
      const ranks = attempts.map(() => 0);
      if (udp && theirs.punch && kinds.udp) {
        attempts.push(udpPath(udp, theirs, () => offers.slice(1), cs, c, ac.signal));
        ranks.push(1);
      }
      if (attempts.length === 0) return undefined;
      return await preferred(attempts, ranks, UDP_GRACE_MS, (d) => d.session.close('shutdown', 'another direct path won'));
    } catch {
      return undefined;
    } finally {
      ac.abort();
      signal.removeEventListener('abort', onAbort);
    }
  } finally {
    cs.end();
    udp?.close();
  }
}

async function tcpPath(cand: Candidate, c: ProbeContext, signal: AbortSignal): Promise<DirectPath> {
  const where = formatHostPort(cand);
  const socket = await dial(cand, c.connectMs ?? 3000, 'P2P candidate');
  return direct(socket, 'direct-tcp', where, c, signal, trackReceived(socket));
}

async function udpPath(udp: UdpAttempt, theirs: Offer, more: () => Offer[], cs: ControlStream, c: ProbeContext, signal: AbortSignal): Promise<DirectPath> {
  const mine = await udp.observed(theirs);
  if (mine.length > 0) cs.send({ tcp: [], udp: mine });
  const got = await udp.connect(theirs, more, signal);
  if (!got) throw new TunError('TIMEOUT', 'UDP hole punching found no path');
  return direct(got.path, 'direct-udp', formatHostPort(got.remote), c, signal, got.lastReceived);
}

/** Runs the session handshake on a connected path; the session then owns the path. */
async function direct(path: Duplex, kind: DirectPath['kind'], where: string, c: ProbeContext, signal: AbortSignal, lastReceived: () => number): Promise<DirectPath> {
  const onAbort = (): void => void path.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  const reader = new FrameReader(path, HANDSHAKE_MAX_FRAME, 4);
  try {
    const keys = await openDirect(path, reader, { key: c.key, clientKey: c.clientKey, timeoutMs: c.handshakeMs ?? 5000 }, where);
    if (signal.aborted) throw new TunError('SESSION_CLOSED', 'probe over');
    signal.removeEventListener('abort', onAbort);
    const session = new Session({ path, reader, ...keys, role: 'visitor', log: c.log, limits: c.limits });
    // Confirms the session to the client at once, as on the relay path.
    session.mux.ping();
    return { kind, remote: where, session, lastReceived };
  } catch (err) {
    signal.removeEventListener('abort', onAbort);
    path.destroy();
    c.log.debug(`P2P ${kind} ${where}: ${(err as Error).message}`);
    throw err;
  }
}

export function trackReceived(path: Duplex): () => number {
  let last = Date.now();
  path.on('data', () => (last = Date.now()));
  return () => last;
}

function timeout(ms: number, why: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new TunError('TIMEOUT', why)), ms).unref());
}

/**
 * A direct UDP session that completes while TCP attempts are still under way waits this long for
 * one of them: TCP, where it works, moves more per CPU-second than UDX (bench:p2p), and a LAN
 * where both work should always end up on TCP.
 */
const UDP_GRACE_MS = 500;

/**
 * The first of `ps` to resolve among those of the best rank that resolves (rank 0 is best): a
 * result is taken at once when no attempt of a better rank is still pending, else after `graceMs`
 * unless one of them resolves by then. Every other result goes to `discard`. Rejects when all reject.
 */
export function preferred<T>(ps: Promise<T>[], ranks: number[], graceMs: number, discard: (t: T) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const pending = new Set(ps.map((_, i) => i));
    const won: { v: T; rank: number }[] = [];
    let errors: unknown;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      const best = won.reduce((a, b) => (b.rank < a.rank ? b : a));
      resolve(best.v);
      for (const w of won) if (w !== best) discard(w.v);
    };
    const decide = (): void => {
      if (done) return;
      if (won.length === 0) {
        if (pending.size === 0) {
          done = true;
          reject(errors);
        }
        return;
      }
      const best = Math.min(...won.map((w) => w.rank));
      if (![...pending].some((i) => ranks[i]! < best)) return finish();
      timer ??= setTimeout(finish, graceMs);
    };
    ps.forEach((p, i) => {
      p.then(
        (v) => {
          pending.delete(i);
          if (done) return discard(v);
          won.push({ v, rank: ranks[i]! });
          decide();
        },
        (err: unknown) => {
          pending.delete(i);
          errors ??= err;
          decide();
        },
      );
    });
  });
}
