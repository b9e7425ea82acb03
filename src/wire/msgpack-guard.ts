/**
 * A bounded pre-scan of untrusted msgpack, run before msgpackr sees the bytes. msgpackr has no
 * size or depth limits (msgpackr #199/#200: a 72 KB payload can exhaust the heap), so this walker
 * checks, without allocating, that the input is exactly one object, no deeper than maxDepth, with
 * no more than maxItems values in all, every declared length within its limit AND within the bytes
 * that remain, string map keys only, and no ext types (no timestamps, no records).
 */
import { TunError } from '../errors.js';

export interface MsgpackLimits {
  maxBytes: number;
  maxDepth: number;
  maxItems: number;
  maxStr: number;
  maxBin: number;
  maxArray: number;
  maxMap: number;
}

export const DEFAULT_LIMITS: MsgpackLimits = {
  maxBytes: 16 * 1024,
  maxDepth: 6,
  maxItems: 512,
  maxStr: 1024,
  maxBin: 1024,
  maxArray: 64,
  maxMap: 32,
};

function limit(what: string): TunError {
  return new TunError('MSGPACK_LIMIT', `msgpack ${what}`);
}

function malformed(what: string): TunError {
  return new TunError('MSGPACK_MALFORMED', `msgpack ${what}`);
}

/** Throws MSGPACK_LIMIT or MSGPACK_MALFORMED; returns normally when the bytes are safe to decode. */
export function checkMsgpack(buf: Uint8Array, limits: MsgpackLimits = DEFAULT_LIMITS): void {
  if (buf.length > limits.maxBytes) throw limit(`message of ${buf.length} bytes exceeds ${limits.maxBytes}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  let items = 0;
  // pending[i] = values still expected at depth i; keyNext[i] = the next value there is a map key.
  const pending: number[] = [1];
  const isMap: boolean[] = [false];
  const keyNext: boolean[] = [false];

  const need = (n: number): void => {
    if (off + n > buf.length) throw malformed('is truncated');
  };
  const u8 = (): number => (need(1), buf[off++]!);
  const u16 = (): number => (need(2), (off += 2), view.getUint16(off - 2));
  const u32 = (): number => (need(4), (off += 4), view.getUint32(off - 4));
  const skip = (n: number): void => {
    need(n);
    off += n;
  };
  const open = (count: number, map: boolean): void => {
    const depth = pending.length;
    if (depth > limits.maxDepth) throw limit(`nesting deeper than ${limits.maxDepth}`);
    if (map ? count > limits.maxMap : count > limits.maxArray) throw limit(`${map ? 'map' : 'array'} of ${count} entries exceeds ${map ? limits.maxMap : limits.maxArray}`);
    const values = map ? count * 2 : count;
    if (values > buf.length - off) throw malformed(`declares ${values} values but only ${buf.length - off} bytes remain`);
    if (values > 0) {
      pending.push(values);
      isMap.push(map);
      keyNext.push(map);
    }
  };

  while (pending.length > 0) {
    const top = pending.length - 1;
    if (pending[top] === 0) {
      pending.pop();
      isMap.pop();
      keyNext.pop();
      continue;
    }
    pending[top]!--;
    const expectKey = isMap[top]! && keyNext[top]!;
    if (isMap[top]) keyNext[top] = !keyNext[top];
    if (++items > limits.maxItems) throw limit(`holds more than ${limits.maxItems} values`);
    const b = u8();
    if (expectKey && !((b >= 0xa0 && b <= 0xbf) || b === 0xd9 || b === 0xda || b === 0xdb)) throw malformed('map key is not a string');
    let strLen = -1;
    let binLen = -1;
    if (b <= 0x7f || b >= 0xe0) continue; // fixint
    else if (b <= 0x8f) open(b & 0x0f, true);
    else if (b <= 0x9f) open(b & 0x0f, false);
    else if (b <= 0xbf) strLen = b & 0x1f;
    else
      switch (b) {
        case 0xc0: case 0xc2: case 0xc3: break; // nil, false, true
        case 0xc4: binLen = u8(); break;
        case 0xc5: binLen = u16(); break;
        case 0xc6: binLen = u32(); break;
        case 0xca: skip(4); break; // float32
        case 0xcb: skip(8); break; // float64
        case 0xcc: case 0xd0: skip(1); break;
        case 0xcd: case 0xd1: skip(2); break;
        case 0xce: case 0xd2: skip(4); break;
        case 0xcf: case 0xd3: skip(8); break;
        case 0xd9: strLen = u8(); break;
        case 0xda: strLen = u16(); break;
        case 0xdb: strLen = u32(); break;
        case 0xdc: open(u16(), false); break;
        case 0xdd: open(u32(), false); break;
        case 0xde: open(u16(), true); break;
        case 0xdf: open(u32(), true); break;
        case 0xc1: throw malformed('uses the reserved byte 0xc1');
        default: throw malformed(`uses an ext type (0x${b.toString(16)}), which tun never sends`);
      }
    if (strLen >= 0) {
      if (strLen > limits.maxStr) throw limit(`string of ${strLen} bytes exceeds ${limits.maxStr}`);
      skip(strLen);
    }
    if (binLen >= 0) {
      if (binLen > limits.maxBin) throw limit(`binary of ${binLen} bytes exceeds ${limits.maxBin}`);
      skip(binLen);
    }
  }
  if (off !== buf.length) throw malformed(`has ${buf.length - off} trailing bytes after the message`);
}
