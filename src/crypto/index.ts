/**
 * The only module that touches node:crypto, sodium-native, libsodium-wrappers and tweetnacl for protocol crypto.
 * Which backend serves which primitive is decided by `npm run bench` (see docs/protocol.md):
 *   ChaCha20-Poly1305  sodium-native    (optional; one call per record, about 1.3x less CPU than node:crypto per 32 KiB record)
 *                      else node:crypto (2-5x libsodium-wrappers at the 32-64 KiB messages that carry bulk data),
 *                      and libsodium-wrappers below 2 KiB (about 1.5x node:crypto there: lower fixed cost per call)
 *   X25519 DH          node:crypto      (about 2x libsodium with JWK imports)
 *   X25519 base point  libsodium        (about as fast as generating with node:crypto, without its JWK-export deadlock)
 *   BLAKE2b            libsodium        (about 4x node:crypto for the short inputs of a handshake)
 *   BLAKE2s, SHA-2     node:crypto
 * Key files use tweetnacl (src/identity), which needs no WebAssembly start-up.
 */
import { TunError } from '../errors.js';
import { CIPHERS, type CipherFn, type CipherName } from './aead.js';
import { HASHES, type HashFn, type HashName } from './hash.js';
import { loadSodium } from './sodium.js';

export { CIPHERS, REKEY_NONCE, type CipherFn, type CipherName } from './aead.js';
export { HASHES, type HashFn, type HashName } from './hash.js';
export { X25519KeyPair, x25519, x25519Base } from './x25519.js';
export { ctEqual, isAllZero, wipe } from './ct.js';
export { avoidNative } from './native.js';

/** Must be awaited once before any Noise or key operation. */
export async function initCrypto(): Promise<void> {
  await loadSodium();
}

export function cipherByName(name: string): CipherFn {
  if (name === 'ChaChaPoly') return CIPHERS.nativeChaChaPoly ?? CIPHERS.hybridChaChaPoly;
  if (name === 'AESGCM') return CIPHERS.node.AESGCM;
  throw new TunError('UNSUPPORTED_PROTOCOL', `unsupported Noise cipher: ${name}`);
}

export function hashByName(name: string): HashFn {
  if (name === 'BLAKE2b') return HASHES.sodiumBlake2b;
  if (name in HASHES.node) return HASHES.node[name as HashName];
  throw new TunError('UNSUPPORTED_PROTOCOL', `unsupported Noise hash: ${name}`);
}

export type { CipherName as NoiseCipherName, HashName as NoiseHashName };
