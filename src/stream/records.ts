/**
 * End-to-end records: the plaintext of every Noise transport message on a stream is one record,
 * a kind byte then its body. Pure; no I/O.
 *
 *   0x00 DATA   application bytes (1..DATA_MAX)
 *   0x01 FIN    this side will send no more DATA: an authenticated half-close
 *   0x02 OPEN   visitor -> client, first record: proves the visitor is live (not a replayed message 1)
 *   0x03 ERROR  msgpack StreamError {code, message}: the stream is aborted
 *   0x04 PING   keepalive: sent by a side that has not sent FIN and has been quiet for a while
 */
import { TunError } from '../errors.js';
import { decodeMessage, encodeMessage, type Bodies } from '../wire/index.js';

export const RecordKind = { DATA: 0, FIN: 1, OPEN: 2, ERROR: 3, PING: 4 } as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** Application bytes per DATA record: 32 KiB frames measured faster than 64 KiB ones (see FACTS). */
export const DATA_MAX = 32 * 1024 - 32;

export type StreamRecord =
  | { kind: typeof RecordKind.DATA; data: Buffer }
  | { kind: typeof RecordKind.FIN }
  | { kind: typeof RecordKind.OPEN }
  | { kind: typeof RecordKind.PING }
  | { kind: typeof RecordKind.ERROR; error: Bodies['StreamError'] };

/**
 * Stream keepalive: a side that has not sent FIN sends PING after this long without sending
 * anything; a side that has not received FIN aborts the stream (application reset) after three
 * times this long without receiving anything. So a relay that silently stops forwarding an
 * established stream cannot leave it hanging. TUN_STREAM_KEEPALIVE_MS overrides it (for tests;
 * both ends must agree).
 */
export const STREAM_KEEPALIVE_MS = keepaliveFromEnv(process.env.TUN_STREAM_KEEPALIVE_MS) ?? 15_000;

function keepaliveFromEnv(v: string | undefined): number | undefined {
  const n = Number(v);
  return v && Number.isInteger(n) && n >= 100 ? n : undefined;
}

export function encodeRecord(kind: RecordKind, body?: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(1 + (body?.length ?? 0));
  out[0] = kind;
  if (body) out.set(body, 1);
  return out;
}

export function encodeError(code: string, message: string): Buffer {
  return encodeRecord(RecordKind.ERROR, encodeMessage('StreamError', { code, message: message.slice(0, 300) }));
}

export function decodeRecord(plaintext: Buffer): StreamRecord {
  const kind = plaintext[0];
  const body = plaintext.subarray(1);
  switch (kind) {
    case RecordKind.DATA:
      if (body.length === 0 || body.length > DATA_MAX + 1024) throw new TunError('PROTOCOL_VIOLATION', `DATA record of ${body.length} bytes`);
      return { kind, data: body };
    case RecordKind.FIN:
    case RecordKind.OPEN:
    case RecordKind.PING:
      if (body.length !== 0) throw new TunError('PROTOCOL_VIOLATION', 'FIN, OPEN and PING records have no body');
      return { kind };
    case RecordKind.ERROR: {
      const m = decodeMessage(body, 'e2e');
      if (m.type !== 'StreamError') throw new TunError('PROTOCOL_VIOLATION', `ERROR record holds ${m.type}`);
      return { kind, error: { code: m.code, message: m.message } };
    }
    default:
      throw new TunError('PROTOCOL_VIOLATION', `unknown record kind ${kind}`);
  }
}
