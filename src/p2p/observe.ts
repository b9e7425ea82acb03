/**
 * The relay's UDP observation port (STUN-like): a 48-byte request gets a 43-byte answer naming the
 * address and port the request came from, so each end behind a NAT learns its public UDP mapping.
 * Rate-limited per source address and in all, answers smaller than requests: not a reflector.
 * And the asking side: send a request from a UDP socket and wait for the answer.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { TunError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Candidate } from './addr.js';
import { unmapped } from '../net/ip.js';
import { observeAnswer, observeRequest, parseObserveAnswer, parseObserveRequest } from './datagrams.js';
import { RateLimiter } from './rate.js';

export const OBSERVE_LIMITS = { perSourcePerSecond: 5, perSourceBurst: 10, totalPerSecond: 500, totalBurst: 1000, sources: 4096 };

export class ObservationPort {
  readonly #socket: UdpSocket;
  readonly #perSource = new RateLimiter({ perSecond: OBSERVE_LIMITS.perSourcePerSecond, burst: OBSERVE_LIMITS.perSourceBurst, maxKeys: OBSERVE_LIMITS.sources });
  readonly #total = new RateLimiter({ perSecond: OBSERVE_LIMITS.totalPerSecond, burst: OBSERVE_LIMITS.totalBurst, maxKeys: 1 });
  readonly #log: Logger;
  readonly stats = { answered: 0, dropped: 0 };

  private constructor(socket: UdpSocket, log: Logger) {
    this.#socket = socket;
    this.#log = log;
    socket.on('message', (msg, from) => this.#onMessage(msg, { host: from.address, port: from.port }));
    socket.on('error', (err) => log.rateLimited('warn', 'observe-error', `UDP observation port: ${(err as NodeJS.ErrnoException).code ?? err.message}`, 5000));
  }

  static listen(host: string, port: number, log: Logger): Promise<ObservationPort> {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    return new Promise((resolve, reject) => {
      socket.once('error', (err: NodeJS.ErrnoException) =>
        reject(new TunError('CONFIG_INVALID', `cannot listen on UDP ${host}:${port} for P2P observation: ${err.code ?? err.message}`, err.code === 'EADDRINUSE' ? 'pick another port with --udp-port, or turn P2P off with --no-p2p' : undefined, { cause: err })),
      );
      socket.bind(port, host, () => {
        socket.removeAllListeners('error');
        resolve(new ObservationPort(socket, log));
      });
    });
  }

  get port(): number {
    return this.#socket.address().port;
  }

  #onMessage(msg: Buffer, from: Candidate): void {
    const nonce = parseObserveRequest(msg);
    if (!nonce) return;
    if (!this.#total.take('*') || !this.#perSource.take(unmapped(from.host))) {
      this.stats.dropped++;
      this.#log.rateLimited('info', 'observe-rate', `UDP observation port: requests from ${unmapped(from.host)} (or in all) above the rate limit; dropping`, 10_000);
      return;
    }
    this.stats.answered++;
    this.#socket.send(observeAnswer(nonce, { host: unmapped(from.host), port: from.port }), from.port, from.host);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

/** A UDP socket that can send a datagram and report the datagrams it receives (dgram or UDX). */
export interface DatagramSocket {
  send(msg: Buffer, port: number, host: string): void;
  onMessage(handler: (msg: Buffer, from: Candidate) => void): () => void;
}

/**
 * Asks the observation port at `relay` which address it sees for `socket`: a few tries 250 ms
 * apart, within `timeoutMs`. Resolves undefined when no answer came (UDP blocked, relay --no-p2p).
 */
export function observe(socket: DatagramSocket, relay: Candidate, timeoutMs = 1500): Promise<Candidate | undefined> {
  const nonce = randomBytes(16);
  const request = observeRequest(nonce);
  return new Promise((resolve) => {
    let tries = 0;
    const send = (): void => {
      if (tries++ < 4) socket.send(request, relay.port, relay.host);
    };
    const done = (c: Candidate | undefined): void => {
      clearInterval(timer);
      clearTimeout(deadline);
      off();
      resolve(c);
    };
    const off = socket.onMessage((msg) => {
      const seen = parseObserveAnswer(msg, nonce);
      if (seen) done(seen);
    });
    const timer = setInterval(send, 250);
    const deadline = setTimeout(() => done(undefined), timeoutMs);
    send();
  });
}
