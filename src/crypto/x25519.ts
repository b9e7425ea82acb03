import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import { DH_LEN } from '../constants.js';
import { TunError } from '../errors.js';
import { isAllZero } from './ct.js';
import { sodiumLib } from './sodium.js';

/**
 * An X25519 key pair. The private half stays in this object; `wipe()` zeroes it.
 * The node:crypto KeyObject is made lazily, by JWK import (about 10x faster than DER, and it avoids
 * exporting generated keys as JWK, which can deadlock Node 20).
 */
export class X25519KeyPair {
  readonly publicKey: Buffer;
  #privateKey: Buffer;
  #handle: KeyObject | undefined;

  constructor(privateKey: Uint8Array, publicKey?: Uint8Array) {
    if (privateKey.length !== DH_LEN) throw new TunError('KEY_INVALID', `X25519 private key must be ${DH_LEN} bytes`);
    this.#privateKey = Buffer.from(privateKey);
    this.publicKey = publicKey ? Buffer.from(publicKey) : x25519Base(this.#privateKey);
  }

  static generate(): X25519KeyPair {
    const priv = randomBytes(DH_LEN);
    const pair = new X25519KeyPair(priv);
    priv.fill(0);
    return pair;
  }

  /** The raw private key. Only key-file code and test vectors should need it. */
  get privateKey(): Buffer {
    return this.#privateKey;
  }

  handle(): KeyObject {
    this.#handle ??= createPrivateKey({
      key: { kty: 'OKP', crv: 'X25519', d: this.#privateKey.toString('base64url'), x: this.publicKey.toString('base64url') },
      format: 'jwk',
    });
    return this.#handle;
  }

  wipe(): void {
    this.#privateKey.fill(0);
    this.#handle = undefined;
  }
}

/** X25519 base-point multiplication (public key from private key), through libsodium. */
export function x25519Base(privateKey: Uint8Array): Buffer {
  const out = sodiumLib().crypto_scalarmult_base(privateKey);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

function dhFailed(cause?: unknown): TunError {
  return new TunError('DH_FAILED', 'key agreement failed: the peer sent an invalid or low-order public key', undefined, { cause });
}

/** DH(keyPair, publicKey): node:crypto X25519. Rejects an all-zero result (low-order point), never throws anything else. */
export function x25519(pair: X25519KeyPair, publicKey: Uint8Array): Buffer {
  if (publicKey.length !== DH_LEN) throw dhFailed();
  let out: Buffer;
  try {
    const pub = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
    out = diffieHellman({ privateKey: pair.handle(), publicKey: pub });
  } catch (err) {
    throw dhFailed(err);
  }
  if (isAllZero(out)) throw dhFailed();
  return out;
}
