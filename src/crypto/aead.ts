import { createCipheriv, createDecipheriv } from 'node:crypto';
import { NOISE_TAG_LEN } from '../constants.js';
import { TunError } from '../errors.js';
import { sodiumNative, type SodiumNative } from './native.js';
import { sodiumLib } from './sodium.js';

export type CipherName = 'ChaChaPoly' | 'AESGCM';

/** Stands for the nonce 2^64-1, which only REKEY() uses (spec section 4.2). */
export const REKEY_NONCE = -1;

/** A Noise cipher function: ENCRYPT(k, n, ad, plaintext) / DECRYPT(k, n, ad, ciphertext). */
export interface CipherFn {
  readonly name: CipherName;
  readonly backend: string;
  encrypt(key: Uint8Array, n: number, ad: Uint8Array, plaintext: Uint8Array): Buffer;
  /** Throws TunError DECRYPT_FAILED when authentication fails. */
  decrypt(key: Uint8Array, n: number, ad: Uint8Array, ciphertext: Uint8Array): Buffer;
  /**
   * ENCRYPT of the concatenation of `parts`, returned as pieces whose concatenation is the
   * ciphertext: the hot path writes them to a socket as they are, with no copy into one buffer.
   */
  encryptv(key: Uint8Array, n: number, ad: Uint8Array, parts: Uint8Array[]): Buffer[];
  /**
   * DECRYPT into the ciphertext's own bytes, returning the plaintext as a view of them (no new
   * buffer), for a caller that owns `ciphertext` and never reads it again. On failure its bytes are
   * garbage (wiped where possible) and DECRYPT_FAILED is thrown.
   */
  decryptInPlace?(key: Uint8Array, n: number, ad: Uint8Array, ciphertext: Buffer): Buffer;
}

function concatParts(parts: Uint8Array[]): Buffer {
  return parts.length === 1 ? Buffer.from(parts[0]!.buffer, parts[0]!.byteOffset, parts[0]!.byteLength) : Buffer.concat(parts);
}

function partsLength(parts: Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/** Writes the 12-byte nonce into `nonce`: 4 zero bytes then the 64-bit counter, little-endian (ChaChaPoly) or big-endian (AESGCM). */
function encodeNonceInto(n: number, littleEndian: boolean, nonce: Buffer): Buffer {
  const lo = n === REKEY_NONCE ? 0xffffffff : n >>> 0;
  const hi = n === REKEY_NONCE ? 0xffffffff : Math.floor(n / 0x100000000) >>> 0;
  nonce.writeUInt32BE(0, 0);
  if (littleEndian) {
    nonce.writeUInt32LE(lo, 4);
    nonce.writeUInt32LE(hi, 8);
  } else {
    nonce.writeUInt32BE(hi, 4);
    nonce.writeUInt32BE(lo, 8);
  }
  return nonce;
}

/** The 12-byte nonce for counter `n`, in a new buffer. */
export const encodeNonce = (n: number, littleEndian: boolean): Buffer => encodeNonceInto(n, littleEndian, Buffer.alloc(12));

function decryptFailed(cause?: unknown): TunError {
  return new TunError('DECRYPT_FAILED', 'decryption failed: message was altered, replayed or sent with another key', undefined, { cause });
}

function nodeCipher(name: CipherName, algorithm: 'chacha20-poly1305' | 'aes-256-gcm'): CipherFn {
  const le = name === 'ChaChaPoly';
  return {
    name,
    backend: 'node:crypto',
    encrypt(key, n, ad, plaintext) {
      const c = createCipheriv(algorithm as 'chacha20-poly1305', key, encodeNonce(n, le), { authTagLength: NOISE_TAG_LEN });
      c.setAAD(ad, { plaintextLength: plaintext.length });
      const head = c.update(plaintext);
      const tail = c.final();
      const tag = c.getAuthTag();
      return tail.length === 0 ? Buffer.concat([head, tag], head.length + NOISE_TAG_LEN) : Buffer.concat([head, tail, tag]);
    },
    encryptv(key, n, ad, parts) {
      const c = createCipheriv(algorithm as 'chacha20-poly1305', key, encodeNonce(n, le), { authTagLength: NOISE_TAG_LEN });
      c.setAAD(ad, { plaintextLength: partsLength(parts) });
      const out: Buffer[] = [];
      for (const p of parts) {
        const piece = c.update(p);
        if (piece.length) out.push(piece);
      }
      const tail = c.final();
      if (tail.length) out.push(tail);
      out.push(c.getAuthTag());
      return out;
    },
    decrypt(key, n, ad, ciphertext) {
      if (ciphertext.length < NOISE_TAG_LEN) throw decryptFailed();
      const bodyLen = ciphertext.length - NOISE_TAG_LEN;
      const d = createDecipheriv(algorithm as 'chacha20-poly1305', key, encodeNonce(n, le), { authTagLength: NOISE_TAG_LEN });
      d.setAAD(ad, { plaintextLength: bodyLen });
      d.setAuthTag(ciphertext.subarray(bodyLen));
      const head = d.update(ciphertext.subarray(0, bodyLen));
      let tail: Buffer;
      try {
        tail = d.final();
      } catch (err) {
        head.fill(0);
        throw decryptFailed(err);
      }
      return tail.length === 0 ? head : Buffer.concat([head, tail]);
    },
  };
}

const sodiumChaChaPoly: CipherFn = {
  name: 'ChaChaPoly',
  backend: 'libsodium-wrappers',
  encrypt(key, n, ad, plaintext) {
    const out = sodiumLib().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, encodeNonce(n, true), key);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  },
  encryptv(key, n, ad, parts) {
    return [sodiumChaChaPoly.encrypt(key, n, ad, concatParts(parts))];
  },
  decrypt(key, n, ad, ciphertext) {
    try {
      const out = sodiumLib().crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, encodeNonce(n, true), key);
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    } catch (err) {
      throw decryptFailed(err);
    }
  },
};

/** One nonce buffer reused by the native backend: every call is synchronous and copies it. */
const nativeNonce = Buffer.alloc(12);
const setNativeNonce = (n: number): Buffer => encodeNonceInto(n, true, nativeNonce);

/** ChaCha20-Poly1305 through sodium-native: one call per message, written straight into its output buffer. */
function nativeChaChaPoly(lib: SodiumNative): CipherFn {
  const encryptInto = (key: Uint8Array, n: number, ad: Uint8Array, out: Buffer, plainLen: number): void => {
    lib.crypto_aead_chacha20poly1305_ietf_encrypt(out, out.subarray(0, plainLen), ad.length ? ad : null, null, setNativeNonce(n), key);
  };
  return {
    name: 'ChaChaPoly',
    backend: 'sodium-native',
    encrypt(key, n, ad, plaintext) {
      const out = Buffer.allocUnsafe(plaintext.length + NOISE_TAG_LEN);
      out.set(plaintext);
      encryptInto(key, n, ad, out, plaintext.length);
      return out;
    },
    encryptv(key, n, ad, parts) {
      const len = partsLength(parts);
      const out = Buffer.allocUnsafe(len + NOISE_TAG_LEN);
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      encryptInto(key, n, ad, out, len);
      return [out];
    },
    decrypt(key, n, ad, ciphertext) {
      if (ciphertext.length < NOISE_TAG_LEN) throw decryptFailed();
      const out = Buffer.allocUnsafe(ciphertext.length - NOISE_TAG_LEN);
      try {
        lib.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, ciphertext, ad.length ? ad : null, setNativeNonce(n), key);
      } catch (err) {
        out.fill(0);
        throw decryptFailed(err);
      }
      return out;
    },
    decryptInPlace(key, n, ad, ciphertext) {
      if (ciphertext.length < NOISE_TAG_LEN) throw decryptFailed();
      const out = ciphertext.subarray(0, ciphertext.length - NOISE_TAG_LEN);
      try {
        lib.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, ciphertext, ad.length ? ad : null, setNativeNonce(n), key);
      } catch (err) {
        ciphertext.fill(0);
        throw decryptFailed(err);
      }
      return out;
    },
  };
}

/**
 * Below this many plaintext bytes libsodium's fixed cost per call is lower (1 KiB: about 1.5x
 * node:crypto); above it node:crypto's OpenSSL is 2-5x faster. Measured by `npm run bench`.
 */
export const SMALL_MESSAGE = 2048;

function hybrid(small: CipherFn, large: CipherFn): CipherFn {
  return {
    name: 'ChaChaPoly',
    backend: `${small.backend} below ${SMALL_MESSAGE} B, ${large.backend} above`,
    encrypt: (key, n, ad, pt) => (pt.length < SMALL_MESSAGE ? small : large).encrypt(key, n, ad, pt),
    decrypt: (key, n, ad, ct) => (ct.length < SMALL_MESSAGE ? small : large).decrypt(key, n, ad, ct),
    encryptv: (key, n, ad, parts) => (partsLength(parts) < SMALL_MESSAGE ? small : large).encryptv(key, n, ad, parts),
  };
}

const nodeChaChaPoly = nodeCipher('ChaChaPoly', 'chacha20-poly1305');

let native: CipherFn | null | undefined;

export const CIPHERS = {
  hybridChaChaPoly: hybrid(sodiumChaChaPoly, nodeChaChaPoly),
  /** sodium-native when it loads here (loaded on first use; about 2x node:crypto per 32 KiB record), else undefined. */
  get nativeChaChaPoly(): CipherFn | undefined {
    if (native === undefined) {
      const lib = sodiumNative();
      native = lib ? nativeChaChaPoly(lib) : null;
    }
    return native ?? undefined;
  },
  node: {
    ChaChaPoly: nodeChaChaPoly,
    AESGCM: nodeCipher('AESGCM', 'aes-256-gcm'),
  },
  sodiumChaChaPoly,
} as const;
