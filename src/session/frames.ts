/**
 * Session frames (protocol v2): the plaintext of every Noise transport message in a session is
 * exactly one frame. Pure; no I/O. Layout:
 *
 *   kind  u8
 *   id    u32 big-endian   stream id; 0 for session frames
 *   body  the rest (kind-specific, bounded below)
 *
 * Stream frames (id >= 1):
 *   0x00 DATA    application bytes, 1..DATA_MAX; counts against the receiver's window
 *   0x01 OPEN    visitor -> client: msgpack StreamOpen {service}; ids strictly increase
 *   0x02 WINDOW  u32 credit increment (1..2^31) for the sender of DATA on this stream
 *   0x03 FIN     this side sends no more DATA: authenticated half-close
 *   0x04 RESET   msgpack StreamError {code, message?}: the stream is aborted both ways
 * Session frames (id = 0):
 *   0x10 PING    8 opaque bytes; answered by PONG with the same bytes
 *   0x11 PONG    8 bytes
 *   0x12 CLOSE   msgpack StreamError {code, message?}: authenticated end of the session
 *   0x13 REKEY   empty: the sender's key for this direction is Rekey()ed right after this message
 */
import { NOISE_MAX_PLAINTEXT } from '../constants.js';
import { TunError } from '../errors.js';
import { decodeMessage, encodeMessage, type Bodies } from '../wire/index.js';

export const FrameKind = {
  DATA: 0x00,
  OPEN: 0x01,
  WINDOW: 0x02,
  FIN: 0x03,
  RESET: 0x04,
  PING: 0x10,
  PONG: 0x11,
  CLOSE: 0x12,
  REKEY: 0x13,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export const FRAME_HEAD = 5;
/** Largest DATA body: one frame fills one Noise transport message. */
export const DATA_MAX = NOISE_MAX_PLAINTEXT - FRAME_HEAD;
/** Largest stream id; ids are u32, 0 is the session. */
export const MAX_STREAM_ID = 0xffff_ffff;
/** Largest single WINDOW increment. */
export const MAX_WINDOW_INCREMENT = 2 ** 31;
const PING_LEN = 8;

export type SessionFrame =
  | { kind: typeof FrameKind.DATA; id: number; data: Buffer }
  | { kind: typeof FrameKind.OPEN; id: number; service: string }
  | { kind: typeof FrameKind.WINDOW; id: number; increment: number }
  | { kind: typeof FrameKind.FIN; id: number }
  | { kind: typeof FrameKind.RESET; id: number; error: Bodies['StreamError'] }
  | { kind: typeof FrameKind.PING | typeof FrameKind.PONG; id: 0; data: Buffer }
  | { kind: typeof FrameKind.CLOSE; id: 0; error: Bodies['StreamError'] }
  | { kind: typeof FrameKind.REKEY; id: 0 };

function head(kind: FrameKind, id: number, bodyLength: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEAD + bodyLength);
  out[0] = kind;
  out.writeUInt32BE(id, 1);
  return out;
}

function withBody(kind: FrameKind, id: number, body: Uint8Array): Buffer {
  const out = head(kind, id, body.length);
  out.set(body, FRAME_HEAD);
  return out;
}

export const encode = {
  data: (id: number, data: Uint8Array): Buffer => withBody(FrameKind.DATA, id, data),
  /** The 5 bytes before a DATA body, for senders that pass the body on without copying it. */
  dataHead: (id: number): Buffer => head(FrameKind.DATA, id, 0),
  open: (id: number, service: string): Buffer => withBody(FrameKind.OPEN, id, encodeMessage('StreamOpen', { service })),
  window: (id: number, increment: number): Buffer => {
    const out = head(FrameKind.WINDOW, id, 4);
    out.writeUInt32BE(increment, FRAME_HEAD);
    return out;
  },
  fin: (id: number): Buffer => head(FrameKind.FIN, id, 0),
  reset: (id: number, code: string, message?: string): Buffer => withBody(FrameKind.RESET, id, encodeMessage('StreamError', { code, message: message?.slice(0, 300) })),
  ping: (data: Uint8Array): Buffer => withBody(FrameKind.PING, 0, data),
  pong: (data: Uint8Array): Buffer => withBody(FrameKind.PONG, 0, data),
  close: (code: string, message?: string): Buffer => withBody(FrameKind.CLOSE, 0, encodeMessage('StreamError', { code, message: message?.slice(0, 300) })),
  rekey: (): Buffer => head(FrameKind.REKEY, 0, 0),
};

function violation(why: string): TunError {
  return new TunError('PROTOCOL_VIOLATION', why);
}

function streamError(body: Buffer, what: string): Bodies['StreamError'] {
  const m = decodeMessage(body, 'e2e');
  if (m.type !== 'StreamError') throw violation(`${what} holds ${m.type}`);
  return { code: m.code, message: m.message };
}

/** Decodes one frame; throws PROTOCOL_VIOLATION (or a msgpack/message error) for anything malformed. */
export function decodeFrame(plain: Buffer): SessionFrame {
  if (plain.length < FRAME_HEAD) throw violation(`a session frame of ${plain.length} bytes`);
  const kind = plain[0]!;
  const id = plain.readUInt32BE(1);
  const body = plain.subarray(FRAME_HEAD);
  const sessionFrame = kind >= 0x10;
  if (sessionFrame !== (id === 0)) throw violation(`frame kind 0x${kind.toString(16)} on stream ${id}`);
  switch (kind) {
    case FrameKind.DATA:
      if (body.length === 0 || body.length > DATA_MAX) throw violation(`DATA of ${body.length} bytes`);
      return { kind, id, data: body };
    case FrameKind.OPEN: {
      const m = decodeMessage(body, 'e2e');
      if (m.type !== 'StreamOpen') throw violation(`OPEN holds ${m.type}`);
      return { kind, id, service: m.service };
    }
    case FrameKind.WINDOW: {
      if (body.length !== 4) throw violation('WINDOW body is 4 bytes');
      const increment = body.readUInt32BE(0);
      if (increment === 0 || increment > MAX_WINDOW_INCREMENT) throw violation(`WINDOW increment ${increment}`);
      return { kind, id, increment };
    }
    case FrameKind.FIN:
    case FrameKind.REKEY:
      if (body.length !== 0) throw violation('FIN and REKEY have no body');
      return kind === FrameKind.FIN ? { kind, id } : { kind, id: 0 };
    case FrameKind.RESET:
      return { kind, id, error: streamError(body, 'RESET') };
    case FrameKind.PING:
    case FrameKind.PONG:
      if (body.length !== PING_LEN) throw violation('PING and PONG carry 8 bytes');
      return { kind, id: 0, data: body };
    case FrameKind.CLOSE:
      return { kind, id: 0, error: streamError(body, 'CLOSE') };
    default:
      throw violation(`unknown frame kind 0x${kind.toString(16)}`);
  }
}
