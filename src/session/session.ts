/**
 * A session after its handshake: every session frame travels as one Noise transport message, in
 * one length frame, over a path (any duplex byte stream: the relay join today). The session owns
 * the path from construction and destroys it on every way out. It rekeys each direction with Noise
 * Rekey() after a byte count or a time bound (a REKEY frame tells the peer when), and any frame
 * that fails authentication ends the whole session: every stream's application sees a reset.
 */
import type { Duplex } from 'node:stream';
import { NOISE_MAX_MESSAGE } from '../constants.js';
import { TunError, asTunError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FrameReader } from '../net/frame-reader.js';
import type { CipherState } from '../noise/index.js';
import { FRAME_HEADER, frameHeader } from '../wire/index.js';
import { FrameKind, FRAME_HEAD, encode } from './frames.js';
import { Mux, type MuxLimits, type MuxStream } from './mux.js';

const EMPTY = Buffer.alloc(0);

export interface RekeyLimits {
  /** Rekey a direction after this many bytes sent... */
  rekeyBytes: number;
  /** ...or this long, whichever comes first. */
  rekeyMs: number;
}

export const DEFAULT_REKEY: RekeyLimits = {
  rekeyBytes: envInt(process.env.TUN_REKEY_BYTES, 1024) ?? 1024 ** 3,
  rekeyMs: 10 * 60_000,
};

function envInt(v: string | undefined, min: number): number | undefined {
  const n = Number(v);
  return v && Number.isInteger(n) && n >= min ? n : undefined;
}

export interface SessionOptions {
  path: Duplex;
  reader: FrameReader;
  send: CipherState;
  receive: CipherState;
  role: 'visitor' | 'client';
  log: Logger;
  onOpen?: (stream: MuxStream, service: string) => void;
  /** Client: close the session unless an authenticated message arrives within this long (a replayed message 1 never sends one). */
  confirmWithinMs?: number;
  /** Called once, when the first authenticated message arrives. */
  onConfirmed?: () => void;
  limits?: Partial<MuxLimits & RekeyLimits>;
}

export class Session {
  readonly mux: Mux;
  readonly #path: Duplex;
  readonly #send: CipherState;
  readonly #receive: CipherState;
  readonly #rekey: RekeyLimits;
  #sentSinceRekey = 0;
  #confirmed = false;
  #wiped = false;
  #confirmTimer: NodeJS.Timeout | undefined;
  readonly #onConfirmed: (() => void) | undefined;
  #resolveEnded!: (reason: TunError) => void;
  /** Resolves once, with the reason, when the session has ended (its streams are reset by then). */
  readonly ended = new Promise<TunError>((resolve) => (this.#resolveEnded = resolve));
  #rekeyedAt = Date.now();
  /** Counts for logs and tests. */
  readonly stats = { rekeysSent: 0, rekeysReceived: 0 };

  constructor(o: SessionOptions) {
    this.#path = o.path;
    this.#send = o.send;
    this.#receive = o.receive;
    this.#onConfirmed = o.onConfirmed;
    this.#rekey = { ...DEFAULT_REKEY, ...o.limits };
    this.mux = new Mux({ role: o.role, log: o.log, onOpen: o.onOpen, onClose: (r) => this.#closed(r), sink: this, limits: o.limits });
    o.path.on('error', (err) => o.log.debug(`session path error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    o.path.on('drain', () => this.mux.drained());
    o.reader.decoder.setMaxFrame(NOISE_MAX_MESSAGE);
    o.reader.onFrame(
      (ct) => this.#onFrame(ct),
      (err) => this.mux.abort(new TunError('STREAM_TRUNCATED', err instanceof TunError && err.code === 'STREAM_TRUNCATED' ? 'the session path closed without an authenticated end of stream (cut by the relay or the network)' : `the session path failed: ${err.message}`)),
    );
    if (o.confirmWithinMs !== undefined) {
      this.#confirmTimer = setTimeout(() => this.mux.abort(new TunError('TIMEOUT', `no authenticated message within ${o.confirmWithinMs} ms of the handshake (a replayed handshake, or a visitor that went away)`)), o.confirmWithinMs);
      this.#confirmTimer.unref();
    }
  }

  get confirmed(): boolean {
    return this.#confirmed;
  }

  /** FrameSink: encrypts one frame into one Noise transport message; false when the path is congested. */
  send(frame: Buffer, body?: Buffer): boolean {
    // A wiped CipherState would pass plaintext through: nothing is sent after the end.
    if (this.#wiped) return false;
    const ok = this.#write(body ? [frame, body] : [frame]);
    this.#sentSinceRekey += frame.length + (body?.length ?? 0);
    if (frame[0] !== FrameKind.CLOSE && this.#sentSinceRekey >= this.#rekey.rekeyBytes || Date.now() - this.#rekeyedAt >= this.#rekey.rekeyMs) this.#rekeyNow();
    return ok;
  }

  /** FrameSink: the frames `fn` sends leave in one write to the path. */
  batch(fn: () => void): void {
    this.#path.cork();
    try {
      fn();
    } finally {
      this.#path.uncork();
    }
  }

  /** Ends the session with an authenticated CLOSE; open streams are reset. */
  close(code: string, message: string): void {
    this.mux.close(code, message);
  }

  /** One Noise transport message, written as its length and its ciphertext pieces (no copies). */
  #write(parts: Buffer[]): boolean {
    const ct = this.#send.encryptPartsWithAd(EMPTY, parts);
    let length = 0;
    for (const piece of ct) length += piece.length;
    const header = Buffer.allocUnsafe(FRAME_HEADER);
    frameHeader(header, length);
    this.#path.cork();
    let ok = this.#path.write(header);
    for (const piece of ct) ok = this.#path.write(piece);
    this.#path.uncork();
    return ok;
  }

  #rekeyNow(): void {
    this.#write([encode.rekey()]);
    this.#send.rekey();
    this.#sentSinceRekey = 0;
    this.#rekeyedAt = Date.now();
    this.stats.rekeysSent++;
  }

  #onFrame(ct: Buffer): void {
    if (this.mux.closed) return;
    let plain: Buffer;
    try {
      // The frame is ours alone (a view of a read chunk or the reader's own copy): decrypt in place.
      plain = this.#receive.decryptInPlaceWithAd(EMPTY, ct);
    } catch (err) {
      const e = asTunError(err, 'DECRYPT_FAILED', 'decryption failed');
      this.mux.abort(new TunError(e.code === 'DECRYPT_FAILED' ? 'DECRYPT_FAILED' : e.code, e.code === 'DECRYPT_FAILED' ? 'a session message failed authentication: it was altered, replayed or reordered on the way (relay or network)' : e.message));
      return;
    }
    if (!this.#confirmed) {
      this.#confirmed = true;
      clearTimeout(this.#confirmTimer);
      this.#onConfirmed?.();
    }
    if (plain.length === FRAME_HEAD && plain[0] === FrameKind.REKEY && plain.readUInt32BE(1) === 0) {
      this.#receive.rekey();
      this.stats.rekeysReceived++;
      return;
    }
    try {
      this.mux.receive(plain);
    } catch (err) {
      const e = asTunError(err, 'PROTOCOL_VIOLATION', 'bad session frame');
      this.mux.close('protocol_violation', e.message);
    }
  }

  #closed(reason: TunError): void {
    clearTimeout(this.#confirmTimer);
    this.#wiped = true;
    this.#send.wipe();
    this.#receive.wipe();
    // Let a CLOSE we just wrote reach the peer, then let go of the path in any case.
    this.#path.end();
    setTimeout(() => this.#path.destroy(), 1000).unref();
    this.#resolveEnded(reason);
  }
}
