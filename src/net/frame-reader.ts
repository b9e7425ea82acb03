/**
 * Reads frames from a socket it does not own. Two modes: `next()` returns a promise of the next
 * frame (handshake steps); `onFrame()` switches to push mode (transport), with `pause()`/`resume()`
 * for backpressure. It holds at most `maxQueued` complete frames before pausing the socket, so a
 * peer that sends ahead can never make it buffer without bound.
 */
import type { Duplex } from 'node:stream';
import { TunError } from '../errors.js';
import { FrameDecoder, encodeFrame } from '../wire/index.js';

type Waiter = { resolve: (f: Buffer) => void; reject: (e: Error) => void };

export class FrameReader {
  readonly decoder: FrameDecoder;
  readonly #socket: Duplex;
  readonly #maxQueued: number;
  #queue: Buffer[] = [];
  #waiter: Waiter | undefined;
  #handler: ((frame: Buffer) => void) | undefined;
  #paused = false;
  #ended: Error | undefined;
  #onEnd: ((err: Error) => void) | undefined;
  readonly #onData = (chunk: Buffer): void => this.#push(chunk);
  readonly #onClose = (): void => this.#finish(new TunError('STREAM_TRUNCATED', 'connection closed'));
  readonly #onEndEvt = (): void => this.#finish(new TunError('STREAM_TRUNCATED', 'connection ended'));

  constructor(socket: Duplex, maxFrame: number, maxQueued = 8) {
    this.#socket = socket;
    this.decoder = new FrameDecoder(maxFrame);
    this.#maxQueued = maxQueued;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEndEvt);
    socket.on('close', this.#onClose);
  }

  /** The next frame. Rejects with the decode error, or STREAM_TRUNCATED when the connection ends first. */
  next(): Promise<Buffer> {
    const f = this.#queue.shift();
    if (f) {
      this.#maybeResume();
      return Promise.resolve(f);
    }
    if (this.#ended) return Promise.reject(this.#ended);
    if (this.#waiter) return Promise.reject(new Error('FrameReader.next() called twice'));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** Push mode: every queued and future frame goes to `handler`; `onEnd` is called once when input ends or fails. */
  onFrame(handler: (frame: Buffer) => void, onEnd: (err: Error) => void): void {
    this.#handler = handler;
    this.#onEnd = onEnd;
    while (this.#queue.length > 0 && !this.#paused) handler(this.#queue.shift()!);
    if (this.#ended && this.#queue.length === 0) this.#callEnd();
    else this.#maybeResume();
  }

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    this.#paused = false;
    while (this.#queue.length > 0 && this.#handler && !this.#paused) this.#handler(this.#queue.shift()!);
    if (this.#paused) return;
    if (this.#ended && this.#queue.length === 0) this.#callEnd();
    else this.#socket.resume();
  }

  /** Stops reading and returns every byte received but not consumed, re-framed, so it can be forwarded. */
  detach(): Buffer {
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEndEvt);
    this.#socket.off('close', this.#onClose);
    const rest = Buffer.concat([...this.#queue.map((f) => encodeFrame(f)), this.decoder.takeRemainder()]);
    this.#queue = [];
    return rest;
  }

  #push(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.#finish(err as Error);
      this.#socket.pause();
      return;
    }
    for (const f of frames) {
      if (this.#waiter) {
        const w = this.#waiter;
        this.#waiter = undefined;
        w.resolve(f);
      } else if (this.#handler && !this.#paused && this.#queue.length === 0) {
        this.#handler(f);
      } else {
        this.#queue.push(f);
      }
    }
    if (this.#queue.length >= this.#maxQueued) this.#socket.pause();
  }

  #maybeResume(): void {
    if (!this.#paused && this.#queue.length < this.#maxQueued && !this.#ended) this.#socket.resume();
  }

  #finish(err: Error): void {
    if (this.#ended) return;
    this.#ended = err;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.reject(err);
    }
    if (this.#handler && this.#queue.length === 0 && !this.#paused) this.#callEnd();
  }

  #callEnd(): void {
    const cb = this.#onEnd;
    this.#onEnd = undefined;
    cb?.(this.#ended!);
  }
}
