/**
 * The P2P control stream's application end: a Duplex a session stream is attached to (as it would
 * be to an application socket), speaking length-framed `Candidates` messages. What the peer sends
 * arrives as write()s on it; what we send is push()ed. Bounded: frames of at most
 * MAX_CANDIDATES_FRAME bytes, at most MAX_MESSAGES_PER_STREAM messages from the peer; anything
 * else destroys it (the session stream then resets).
 */
import { Duplex } from 'node:stream';
import { TunError, asTunError } from '../errors.js';
import { FrameDecoder, encodeFrame } from '../wire/index.js';
import { MAX_CANDIDATES_FRAME, MAX_MESSAGES_PER_STREAM, decodeOffer, encodeOffer, type Offer } from './candidates.js';

export class ControlStream {
  readonly app: Duplex;
  readonly #decoder = new FrameDecoder(MAX_CANDIDATES_FRAME);
  #handler: ((o: Offer) => void) | undefined;
  #received = 0;
  #ended = false;
  #finished = false;
  #resolveDone!: (err: TunError | undefined) => void;
  /** Settles when the stream is over: undefined after a clean end, else why it failed. */
  readonly done = new Promise<TunError | undefined>((resolve) => (this.#resolveDone = resolve));

  constructor() {
    this.app = new Duplex({
      read: () => {},
      write: (chunk: Buffer, _enc, cb) => {
        try {
          for (const frame of this.#decoder.push(chunk)) this.#message(frame);
          cb();
        } catch (err) {
          cb(asTunError(err, 'PROTOCOL_VIOLATION', 'bad P2P message'));
        }
      },
      final: (cb) => {
        this.#ended = true;
        cb();
        this.#resolveDone(undefined);
      },
    });
    this.app.on('error', (err) => this.#resolveDone(asTunError(err, 'PROTOCOL_VIOLATION', 'P2P control stream failed')));
    this.app.on('close', () => this.#resolveDone(this.#ended ? undefined : new TunError('STREAM_TRUNCATED', 'the P2P control stream was reset')));
  }

  /** Every offer the peer sends, in order. */
  onOffer(handler: (o: Offer) => void): void {
    this.#handler = handler;
  }

  send(o: Offer): void {
    if (!this.app.destroyed && !this.#finished) this.app.push(encodeFrame(encodeOffer(o)));
  }

  /** No more offers from us (FIN). */
  end(): void {
    if (this.app.destroyed || this.#finished) return;
    this.#finished = true;
    this.app.push(null);
  }

  destroy(): void {
    this.app.destroy();
  }

  #message(frame: Buffer): void {
    if (++this.#received > MAX_MESSAGES_PER_STREAM) throw new TunError('PROTOCOL_VIOLATION', `more than ${MAX_MESSAGES_PER_STREAM} P2P messages on one control stream`);
    const offer = decodeOffer(frame);
    this.#handler?.(offer);
  }
}
