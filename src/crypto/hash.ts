import { createHash } from 'node:crypto';
import { sodiumLib } from './sodium.js';

export type HashName = 'BLAKE2b' | 'BLAKE2s' | 'SHA256' | 'SHA512';

/** A Noise hash function: HASH(), HASHLEN and BLOCKLEN (spec section 4.3). */
export interface HashFn {
  readonly name: HashName;
  readonly hashLen: number;
  readonly blockLen: number;
  /** HASH(parts[0] || parts[1] || ...) */
  digest(...parts: Uint8Array[]): Buffer;
}

function nodeHash(name: HashName, algorithm: string, hashLen: number, blockLen: number): HashFn {
  return {
    name,
    hashLen,
    blockLen,
    digest(...parts) {
      const h = createHash(algorithm);
      for (const p of parts) h.update(p);
      return h.digest();
    },
  };
}

/** BLAKE2b through libsodium: about 4x node:crypto for the short inputs a handshake hashes. */
const sodiumBlake2b: HashFn = {
  name: 'BLAKE2b',
  hashLen: 64,
  blockLen: 128,
  digest(...parts) {
    const input = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const out = sodiumLib().crypto_generichash(64, input, null);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  },
};

export const HASHES = {
  node: {
    BLAKE2b: nodeHash('BLAKE2b', 'blake2b512', 64, 128),
    BLAKE2s: nodeHash('BLAKE2s', 'blake2s256', 32, 64),
    SHA256: nodeHash('SHA256', 'sha256', 32, 64),
    SHA512: nodeHash('SHA512', 'sha512', 64, 128),
  },
  sodiumBlake2b,
} as const;
