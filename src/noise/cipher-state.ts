import { KEY_LEN, NOISE_MAX_MESSAGE, NOISE_TAG_LEN, NONCE_CEILING } from '../constants.js';
import { REKEY_NONCE, type CipherFn } from '../crypto/index.js';
import { TunError } from '../errors.js';

const EMPTY = Buffer.alloc(0);

/** CipherState (spec section 5.1): a key k (or none) and a nonce n. Bytes in, bytes out. */
export class CipherState {
  readonly #cipher: CipherFn;
  #k: Buffer | undefined;
  #n = 0;

  constructor(cipher: CipherFn, key?: Uint8Array) {
    this.#cipher = cipher;
    if (key) this.initializeKey(key);
  }

  initializeKey(key: Uint8Array | undefined): void {
    this.#k?.fill(0);
    this.#k = key ? Buffer.from(key.subarray(0, KEY_LEN)) : undefined;
    this.#n = 0;
  }

  hasKey(): boolean {
    return this.#k !== undefined;
  }

  get nonce(): number {
    return this.#n;
  }

  /** SetNonce(): for tests and for protocols that reorder messages; tun's streams never call it. */
  setNonce(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('nonce must be a non-negative safe integer');
    this.#n = n;
  }

  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Buffer {
    if (!this.#k) return Buffer.from(plaintext);
    this.#checkNonce();
    if (plaintext.length + NOISE_TAG_LEN > NOISE_MAX_MESSAGE) {
      throw new TunError('MESSAGE_TOO_LARGE', `Noise message would be ${plaintext.length + NOISE_TAG_LEN} bytes; the limit is ${NOISE_MAX_MESSAGE}`);
    }
    const out = this.#cipher.encrypt(this.#k, this.#n, ad, plaintext);
    this.#n++;
    return out;
  }

  /**
   * EncryptWithAd of the concatenation of `parts`, as pieces to write in order (no copy into one
   * buffer). Transport messages only: it needs a key.
   */
  encryptPartsWithAd(ad: Uint8Array, parts: Uint8Array[]): Buffer[] {
    if (!this.#k) throw new TunError('HANDSHAKE_STATE', 'encryptPartsWithAd() on a CipherState that has no key');
    this.#checkNonce();
    let length = NOISE_TAG_LEN;
    for (const p of parts) length += p.length;
    if (length > NOISE_MAX_MESSAGE) throw new TunError('MESSAGE_TOO_LARGE', `Noise message would be ${length} bytes; the limit is ${NOISE_MAX_MESSAGE}`);
    const out = this.#cipher.encryptv(this.#k, this.#n, ad, parts);
    this.#n++;
    return out;
  }

  /** Throws DECRYPT_FAILED (nonce unchanged) when the message does not authenticate. */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Buffer {
    if (!this.#k) return Buffer.from(ciphertext);
    this.#checkDecrypt(ciphertext);
    const out = this.#cipher.decrypt(this.#k, this.#n, ad, ciphertext);
    this.#n++;
    return out;
  }

  /**
   * DecryptWithAd into the ciphertext's own bytes (where the backend can), for a caller that owns
   * `ciphertext` and never reads it again: the plaintext is a view of it. Otherwise as decryptWithAd.
   */
  decryptInPlaceWithAd(ad: Uint8Array, ciphertext: Buffer): Buffer {
    if (!this.#k || !this.#cipher.decryptInPlace) return this.decryptWithAd(ad, ciphertext);
    this.#checkDecrypt(ciphertext);
    const out = this.#cipher.decryptInPlace(this.#k, this.#n, ad, ciphertext);
    this.#n++;
    return out;
  }

  /** Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero bytes) (spec section 4.2). */
  rekey(): void {
    if (!this.#k) throw new TunError('HANDSHAKE_STATE', 'rekey() on a CipherState that has no key');
    const zeros = Buffer.alloc(KEY_LEN);
    const next = this.#cipher.encrypt(this.#k, REKEY_NONCE, EMPTY, zeros).subarray(0, KEY_LEN);
    this.#k.fill(0);
    this.#k = Buffer.from(next);
    next.fill(0);
  }

  /** Zeroes the key; the state can no longer encrypt. */
  wipe(): void {
    this.#k?.fill(0);
    this.#k = undefined;
  }

  /** The checks every decryption makes first (no closure per record: this is the hot path). */
  #checkDecrypt(ciphertext: Uint8Array): void {
    this.#checkNonce();
    if (ciphertext.length > NOISE_MAX_MESSAGE) {
      throw new TunError('MESSAGE_TOO_LARGE', `Noise message of ${ciphertext.length} bytes exceeds the limit of ${NOISE_MAX_MESSAGE}`);
    }
  }

  #checkNonce(): void {
    if (this.#n >= NONCE_CEILING) {
      throw new TunError('NONCE_EXHAUSTED', 'Noise nonce ceiling reached; the session must be closed or re-established');
    }
  }
}
