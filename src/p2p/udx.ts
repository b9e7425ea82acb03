/**
 * udx-native (the reliable, congestion-controlled UDP transport hyperdht punches with), loaded
 * lazily: without it tun works over direct TCP and the relay. Here: the few calls tun makes of it,
 * the process's one instance, and a UDX stream as a Node Duplex, which is what a session runs over.
 */
import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import { SOCKET_HIGH_WATER_MARK } from '../net/socket.js';

export interface UdxStream {
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
export interface UdxSocket {
  bind(port: number, host: string): void;
  address(): { host: string; port: number };
  trySend(b: Buffer, port: number, host: string): void;
  on(ev: 'message', f: (m: Buffer, from: { host: string; port: number }) => void): void;
  off(ev: 'message', f: (m: Buffer, from: { host: string; port: number }) => void): void;
  close(): Promise<void>;
}
export interface Udx {
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
