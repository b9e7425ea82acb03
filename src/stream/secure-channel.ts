/**
 * One end-to-end stream after its Noise handshake: records in Noise transport messages over the
 * tunnel socket, bridged to an application socket with backpressure both ways. A clean end needs
 * an authenticated FIN record; a tunnel that ends, breaks or fails authentication without one makes
 * the application socket reset, never end cleanly. The channel owns the tunnel socket; once
 * bridged it also owns the application socket and destroys both on every path.
 */
import type { Socket } from 'node:net';
import { TunError, asTunError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CipherState } from '../noise/index.js';
import type { FrameReader } from '../net/frame-reader.js';
import { reset } from '../net/socket.js';
import { FRAME_HEADER, frameHeader } from '../wire/index.js';
import { within } from './control-channel.js';
import { DATA_MAX, RecordKind, STREAM_KEEPALIVE_MS, decodeRecord, encodeError, encodeRecord, type StreamRecord } from './records.js';

const EMPTY = Buffer.alloc(0);

export type StreamOutcome = { ok: true } | { ok: false; code: string; message: string; remote: boolean };

export class SecureChannel {
  readonly #tunnel: Socket;
  readonly #reader: FrameReader;
  readonly #send: CipherState;
  readonly #receive: CipherState;
  readonly #log: Logger;
  #app: Socket | undefined;
  #sentFin = false;
  #gotFin = false;
  #finished = false;
  #lastSent = Date.now();
  #lastReceived = Date.now();
  /** True while we hold the tunnel reader paused because our application is slow. */
  #holding = false;
  #keepalive: NodeJS.Timeout | undefined;
  #resolve: ((o: StreamOutcome) => void) | undefined;

  constructor(tunnel: Socket, reader: FrameReader, send: CipherState, receive: CipherState, log: Logger) {
    this.#tunnel = tunnel;
    this.#reader = reader;
    this.#send = send;
    this.#receive = receive;
    this.#log = log;
    tunnel.on('error', (err) => this.#log.debug(`tunnel socket error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
  }

  /** Sends one record; returns false when the tunnel socket is above its high-water mark. */
  sendRecord(plaintext: Buffer): boolean {
    this.#lastSent = Date.now();
    const ct = this.#send.encryptWithAd(EMPTY, plaintext);
    // Header and ciphertext as two corked writes: no copy of a 32 KiB record into a frame buffer.
    const header = Buffer.allocUnsafe(FRAME_HEADER);
    frameHeader(header, ct.length);
    this.#tunnel.cork();
    this.#tunnel.write(header);
    const ok = this.#tunnel.write(ct);
    this.#tunnel.uncork();
    return ok;
  }

  /** Pull mode, before bridging: the next record, or a rejection within `timeoutMs`. */
  async nextRecord(timeoutMs: number): Promise<StreamRecord> {
    const frame = await within(this.#reader.next(), timeoutMs, "the peer's next record");
    return decodeRecord(this.#receive.decryptWithAd(EMPTY, frame));
  }

  /** Sends an authenticated ERROR record, ends the tunnel and destroys what the channel owns. */
  abort(code: string, message: string): void {
    if (this.#finished) return;
    try {
      this.sendRecord(encodeError(code, message));
    } catch {
      /* the tunnel may already be gone */
    }
    this.#finish({ ok: false, code, message, remote: false }, true, true);
  }

  /** Bridges `app` until both sides have sent FIN (ok) or the stream fails (app reset). */
  bridge(app: Socket): Promise<StreamOutcome> {
    this.#app = app;
    const done = new Promise<StreamOutcome>((resolve) => {
      this.#resolve = resolve;
    });
    app.on('data', (chunk: Buffer) => this.#fromApp(chunk));
    app.on('end', () => this.#appEnded());
    app.on('error', (err) => this.#log.debug(`application socket error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    app.on('close', () => {
      if (!this.#finished && !app.readableEnded) this.abort('peer_reset', 'the application at the other end reset its connection');
      else this.#maybeDone();
    });
    this.#tunnel.on('drain', () => app.resume());
    app.resume();
    this.#reader.onFrame(
      (frame) => this.#fromTunnel(frame),
      (err) => this.#tunnelEnded(err),
    );
    this.#lastReceived = Date.now();
    this.#keepalive = setInterval(() => this.#tick(), Math.max(50, Math.floor(STREAM_KEEPALIVE_MS / 3)));
    this.#keepalive.unref();
    return done;
  }

  #tick(): void {
    if (this.#finished) return;
    const now = Date.now();
    if (!this.#gotFin && !this.#holding && now - this.#lastReceived > 3 * STREAM_KEEPALIVE_MS) {
      const why = `nothing arrived on the tunnel for ${(3 * STREAM_KEEPALIVE_MS) / 1000} s (the relay or the network stopped forwarding)`;
      this.#log.warn(`stream aborted: ${why}`);
      this.#finish({ ok: false, code: 'timeout', message: why, remote: false }, true);
      return;
    }
    if (!this.#sentFin && now - this.#lastSent >= STREAM_KEEPALIVE_MS) {
      try {
        this.sendRecord(encodeRecord(RecordKind.PING));
      } catch (err) {
        this.abort('internal', asTunError(err, 'PROTOCOL_VIOLATION', 'encryption failed').message);
      }
    }
  }

  #fromApp(chunk: Buffer): void {
    if (this.#finished) return;
    let ok = true;
    try {
      for (let off = 0; off < chunk.length; off += DATA_MAX) {
        const piece = chunk.subarray(off, Math.min(chunk.length, off + DATA_MAX));
        ok = this.sendRecord(encodeRecord(RecordKind.DATA, piece));
      }
    } catch (err) {
      return this.abort('internal', asTunError(err, 'PROTOCOL_VIOLATION', 'encryption failed').message);
    }
    if (!ok) this.#app!.pause();
  }

  #appEnded(): void {
    if (this.#finished || this.#sentFin) return;
    this.#sentFin = true;
    this.sendRecord(encodeRecord(RecordKind.FIN));
    this.#tunnel.end();
    this.#maybeDone();
  }

  #fromTunnel(frame: Buffer): void {
    if (this.#finished) return;
    this.#lastReceived = Date.now();
    let record: StreamRecord;
    try {
      record = decodeRecord(this.#receive.decryptWithAd(EMPTY, frame));
    } catch (err) {
      const e = asTunError(err, 'PROTOCOL_VIOLATION', 'bad record');
      const why = e.code === 'DECRYPT_FAILED' ? 'a frame failed authentication: it was altered, replayed or reordered on the way (relay or network)' : e.message;
      this.#log.warn(`stream aborted: ${why}`);
      this.#finish({ ok: false, code: e.code === 'DECRYPT_FAILED' ? 'tampered' : 'protocol_violation', message: why, remote: false }, true);
      return;
    }
    const app = this.#app!;
    switch (record.kind) {
      case RecordKind.DATA:
        if (this.#gotFin) return this.abort('protocol_violation', 'DATA after FIN');
        if (!app.write(record.data)) {
          this.#holding = true;
          this.#reader.pause();
          app.once('drain', () => {
            this.#holding = false;
            this.#lastReceived = Date.now();
            this.#reader.resume();
          });
        }
        return;
      case RecordKind.PING:
        return;
      case RecordKind.FIN:
        this.#gotFin = true;
        app.end();
        this.#maybeDone();
        return;
      case RecordKind.ERROR:
        this.#log.info(`stream aborted by the other end: ${record.error.code}${record.error.message ? ` (${record.error.message})` : ''}`);
        this.#finish({ ok: false, code: record.error.code, message: record.error.message ?? record.error.code, remote: true }, true);
        return;
      case RecordKind.OPEN:
        this.abort('protocol_violation', 'unexpected OPEN record');
        return;
    }
  }

  #tunnelEnded(err: Error): void {
    if (this.#finished) return;
    if (this.#gotFin && err instanceof TunError && err.code === 'STREAM_TRUNCATED') {
      this.#maybeDone();
      return;
    }
    const why = err instanceof TunError && err.code === 'STREAM_TRUNCATED' ? 'the tunnel closed without an authenticated end of stream (cut by the relay or the network)' : `the tunnel failed: ${err.message}`;
    this.#log.warn(`stream aborted: ${why}`);
    this.#finish({ ok: false, code: 'truncated', message: why, remote: false }, true);
  }

  #maybeDone(): void {
    if (this.#finished || !this.#sentFin || !this.#gotFin) return;
    this.#finish({ ok: true }, false);
  }

  /** One exit: resets the application on failure, ends it on success, and always releases the tunnel. */
  #finish(outcome: StreamOutcome, failed: boolean, flushTunnel = false): void {
    if (this.#finished) return;
    this.#finished = true;
    clearInterval(this.#keepalive);
    const app = this.#app;
    if (failed) {
      if (app) reset(app);
      if (flushTunnel) {
        // Let our ERROR record reach the peer, then let go of the socket in any case.
        this.#tunnel.end();
        setTimeout(() => this.#tunnel.destroy(), 2000).unref();
      } else {
        reset(this.#tunnel);
      }
    } else {
      this.#tunnel.end();
      this.#tunnel.destroySoon?.();
      app?.end();
    }
    this.#resolve?.(outcome);
  }
}
