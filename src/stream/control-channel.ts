/**
 * The control channel after its handshake: msgpack messages, each in one Noise transport message,
 * each in one frame. Used by the relay and the client alike. Owns its socket: `close()` destroys
 * it, once, whatever happened before.
 */
import type { Socket } from 'node:net';
import { TunError, asTunError, type ErrorCode } from '../errors.js';
import type { FrameReader } from '../net/frame-reader.js';
import type { CipherState } from '../noise/index.js';
import { decodeMessage, encodeFrame, encodeMessage, type Bodies, type Message, type MessageName } from '../wire/index.js';

const EMPTY = Buffer.alloc(0);
/** Control frames are small; anything larger is a violation. */
export const CONTROL_MAX_FRAME = 16 * 1024;
/**
 * Control messages we may hold unsent because the peer does not read them (a peer that sends
 * Pings and never reads the Pongs would otherwise make us buffer without bound).
 */
export const CONTROL_MAX_UNSENT = 256 * 1024;

/** Error codes a peer may end the channel with that mean more than a violation (a relay's reload revoking the key or changing its grants). */
const PEER_ERRORS: Record<string, ErrorCode> = {
  session_replaced: 'SESSION_REPLACED',
  client_not_authorized: 'CLIENT_NOT_AUTHORIZED',
  session_closed: 'SESSION_CLOSED',
};

export class ControlChannel {
  readonly socket: Socket;
  readonly #reader: FrameReader;
  readonly #send: CipherState;
  readonly #receive: CipherState;
  #closed = false;
  /** Set by fail(): our Error is on its way; nothing more is sent or handled. */
  #failing = false;
  #onClose: ((reason: TunError) => void) | undefined;
  lastReceived = Date.now();

  constructor(socket: Socket, reader: FrameReader, send: CipherState, receive: CipherState) {
    this.socket = socket;
    this.#reader = reader;
    this.#send = send;
    this.#receive = receive;
    reader.decoder.setMaxFrame(CONTROL_MAX_FRAME);
    socket.on('error', () => {});
  }

  get closed(): boolean {
    return this.#closed;
  }

  send<K extends MessageName>(type: K, body: Bodies[K]): void {
    if (this.#closed || (this.#failing && type !== 'Error')) return;
    writeFrame(this.socket, this.#send.encryptWithAd(EMPTY, encodeMessage(type, body)));
    if (this.socket.writableLength > CONTROL_MAX_UNSENT) {
      this.close(new TunError('BUSY', `the peer stopped reading its control connection (${this.socket.writableLength} bytes unsent)`));
    }
  }

  /** Decrypts and decodes one frame received in pull mode (the first message after the handshake). */
  async receiveOne(): Promise<Message> {
    return this.#decode(await this.#reader.next());
  }

  /** Push mode: calls `onMessage` per message; `onClose` once with the reason the channel ended. */
  start(onMessage: (m: Message) => void, onClose: (reason: TunError) => void): void {
    this.#onClose = onClose;
    this.#reader.onFrame(
      (frame) => {
        if (this.#closed || this.#failing) return;
        let msg: Message;
        try {
          msg = this.#decode(frame);
        } catch (err) {
          return this.close(asTunError(err, 'PROTOCOL_VIOLATION', 'bad control message'));
        }
        try {
          onMessage(msg);
        } catch (err) {
          this.close(asTunError(err, 'PROTOCOL_VIOLATION', 'control message handling failed'));
        }
      },
      (err) => this.close(asTunError(err, 'STREAM_TRUNCATED', 'control connection closed')),
    );
  }

  close(reason: TunError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#send.wipe();
    this.#receive.wipe();
    this.socket.destroy();
    this.#onClose?.(reason);
  }

  /** Sends an Error message, then closes after it has been flushed (or 1 s). */
  fail(code: string, message: string, reason: TunError): void {
    if (this.#closed || this.#failing) return;
    this.#failing = true;
    try {
      this.send('Error', { code, message });
    } catch {
      /* closing anyway */
    }
    this.socket.end();
    this.socket.once('close', () => this.close(reason));
    setTimeout(() => this.close(reason), 1000).unref();
  }

  #decode(frame: Buffer): Message {
    this.lastReceived = Date.now();
    const plain = this.#receive.decryptWithAd(EMPTY, frame);
    const msg = decodeMessage(plain, 'control');
    if (msg.type === 'Error') throw new TunError(PEER_ERRORS[msg.code] ?? 'PROTOCOL_VIOLATION', `peer reported ${msg.code}${msg.message ? `: ${msg.message}` : ''}`);
    return msg;
  }
}

export function writeFrame(socket: Socket, payload: Uint8Array): boolean {
  return socket.write(encodeFrame(payload));
}

/** Rejects with TIMEOUT when `p` takes longer than `ms`; clears its timer either way. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new TunError('TIMEOUT', `${what} took longer than ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
