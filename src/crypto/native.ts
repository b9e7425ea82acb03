/**
 * sodium-native (libsodium compiled for this platform, shipped prebuilt inside its npm package) for
 * ChaCha20-Poly1305 on the hot path: one call per record into a buffer we allocate, with none of
 * node:crypto's per-record cipher object. It is an optional dependency: where it is missing or
 * fails to load, tun runs on node:crypto and libsodium-wrappers (see aead.ts).
 */
import { createRequire } from 'node:module';

export interface SodiumNative {
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  /** Throws when the tag does not verify. */
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
}

let loaded: SodiumNative | null | undefined;

/**
 * A process that seals no stream data (the relay) calls this before any handshake: it then never
 * loads the addon, which it has no use for (its control messages are small).
 */
export function avoidNative(): void {
  loaded ??= null;
}

/** The native library, or null when it is not installed or cannot load here (TUN_NO_NATIVE=1 forces null). */
export function sodiumNative(): SodiumNative | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.TUN_NO_NATIVE === '1') return loaded;
  try {
    loaded = createRequire(import.meta.url)('sodium-native') as SodiumNative;
  } catch {
    // not installed, or no prebuilt binary for this platform: the portable backends serve
  }
  return loaded;
}
