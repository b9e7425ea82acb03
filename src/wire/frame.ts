/**
 * Length framing: every frame on a tun connection is a 2-byte big-endian length, then that many
 * bytes (a Noise message, or before encryption a small msgpack message). 2 bytes cannot express
 * more than 65535, the Noise limit; a channel may set a lower limit, which is checked before any
 * buffer is allocated. Zero-length frames are malformed: tun never sends one.
 */
import { NOISE_MAX_MESSAGE } from '../constants.js';
import { TunError } from '../errors.js';

export const FRAME_HEADER = 2;

export function encodeFrame(payload: Uint8Array): Buffer {
  if (payload.length === 0 || payload.length > NOISE_MAX_MESSAGE) {
    throw new TunError('FRAME_TOO_LARGE', `cannot frame ${payload.length} bytes (1..${NOISE_MAX_MESSAGE})`);
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  out.writeUInt16BE(payload.length, 0);
  out.set(payload, FRAME_HEADER);
  return out;
}

/** Writes the header for a payload the caller will place at offset 2 itself (saves a copy). */
export function frameHeader(out: Buffer, length: number): void {
  out.writeUInt16BE(length, 0);
}

/**
 * Incremental decoder. Accepts any chunking; holds at most one partial frame (≤ maxFrame + 2
 * bytes). Frames wholly inside a chunk are returned as views of it, without copying.
 */
export class FrameDecoder {
  #maxFrame = NOISE_MAX_MESSAGE;
  #header = Buffer.alloc(FRAME_HEADER);
  #headerHave = 0;
  #body: Buffer | undefined;
  #bodyHave = 0;

  constructor(maxFrame: number = NOISE_MAX_MESSAGE) {
    this.setMaxFrame(maxFrame);
  }

  /** Lowers or raises the limit (e.g. after a handshake); takes effect from the next header. */
  setMaxFrame(maxFrame: number): void {
    if (!Number.isInteger(maxFrame) || maxFrame < 1 || maxFrame > NOISE_MAX_MESSAGE) throw new RangeError(`maxFrame must be 1..${NOISE_MAX_MESSAGE}`);
    this.#maxFrame = maxFrame;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#headerHave + this.#bodyHave;
  }

  /** Feeds a chunk; returns the complete frames in it. Throws FRAME_TOO_LARGE / FRAME_MALFORMED. */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    let off = 0;
    while (off < chunk.length) {
      if (this.#body === undefined) {
        if (this.#headerHave === 0 && chunk.length - off >= FRAME_HEADER) {
          const len = chunk.readUInt16BE(off);
          this.#checkLength(len);
          if (chunk.length - off - FRAME_HEADER >= len) {
            frames.push(chunk.subarray(off + FRAME_HEADER, off + FRAME_HEADER + len));
            off += FRAME_HEADER + len;
            continue;
          }
          off += FRAME_HEADER;
          this.#startBody(len);
        } else {
          this.#header[this.#headerHave++] = chunk[off++]!;
          if (this.#headerHave < FRAME_HEADER) continue;
          const len = this.#header.readUInt16BE(0);
          this.#headerHave = 0;
          this.#checkLength(len);
          this.#startBody(len);
        }
      }
      const body = this.#body!;
      const n = Math.min(body.length - this.#bodyHave, chunk.length - off);
      chunk.copy(body, this.#bodyHave, off, off + n);
      this.#bodyHave += n;
      off += n;
      if (this.#bodyHave === body.length) {
        frames.push(body);
        this.#body = undefined;
        this.#bodyHave = 0;
      }
    }
    return frames;
  }

  /** Returns the raw bytes of the incomplete frame (header included) and forgets them. */
  takeRemainder(): Buffer {
    let out: Buffer;
    if (this.#body) {
      out = Buffer.allocUnsafe(FRAME_HEADER + this.#bodyHave);
      out.writeUInt16BE(this.#body.length, 0);
      this.#body.copy(out, FRAME_HEADER, 0, this.#bodyHave);
    } else {
      out = Buffer.from(this.#header.subarray(0, this.#headerHave));
    }
    this.#body = undefined;
    this.#bodyHave = 0;
    this.#headerHave = 0;
    return out;
  }

  #checkLength(len: number): void {
    if (len === 0) throw new TunError('FRAME_MALFORMED', 'zero-length frame');
    if (len > this.#maxFrame) throw new TunError('FRAME_TOO_LARGE', `frame of ${len} bytes exceeds this channel's limit of ${this.#maxFrame}`);
  }

  #startBody(len: number): void {
    this.#body = Buffer.allocUnsafe(len);
    this.#bodyHave = 0;
  }
}
