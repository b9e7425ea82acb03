import type { HashFn } from '../crypto/index.js';

/** HMAC-HASH(key, data) as Noise defines it (spec section 4.3, RFC 2104) over any Noise hash. */
export function hmac(hash: HashFn, key: Uint8Array, ...data: Uint8Array[]): Buffer {
  const block = Buffer.alloc(hash.blockLen);
  if (key.length > hash.blockLen) hash.digest(key).copy(block);
  else block.set(key);
  const ipad = Buffer.allocUnsafe(hash.blockLen);
  const opad = Buffer.allocUnsafe(hash.blockLen);
  for (let i = 0; i < hash.blockLen; i++) {
    ipad[i] = block[i]! ^ 0x36;
    opad[i] = block[i]! ^ 0x5c;
  }
  const inner = hash.digest(ipad, ...data);
  const out = hash.digest(opad, inner);
  block.fill(0);
  ipad.fill(0);
  opad.fill(0);
  inner.fill(0);
  return out;
}

/** HKDF(chaining_key, input_key_material, num_outputs) with num_outputs 2 or 3 (spec section 4.3). */
export function hkdf(hash: HashFn, chainingKey: Uint8Array, ikm: Uint8Array, outputs: 2 | 3): Buffer[] {
  const tempKey = hmac(hash, chainingKey, ikm);
  const out1 = hmac(hash, tempKey, Buffer.of(1));
  const out2 = hmac(hash, tempKey, out1, Buffer.of(2));
  const result = [out1, out2];
  if (outputs === 3) result.push(hmac(hash, tempKey, out2, Buffer.of(3)));
  tempKey.fill(0);
  return result;
}
