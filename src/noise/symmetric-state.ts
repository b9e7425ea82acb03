import { KEY_LEN } from '../constants.js';
import type { CipherFn, HashFn } from '../crypto/index.js';
import { CipherState } from './cipher-state.js';
import { hkdf } from './hkdf.js';

/** SymmetricState (spec section 5.2): chaining key ck, handshake hash h, and a CipherState. */
export class SymmetricState {
  readonly #hash: HashFn;
  readonly #cipherFn: CipherFn;
  readonly #cipher: CipherState;
  #ck: Buffer;
  #h: Buffer;

  constructor(protocolName: string, cipher: CipherFn, hash: HashFn) {
    this.#hash = hash;
    this.#cipherFn = cipher;
    this.#cipher = new CipherState(cipher);
    const name = Buffer.from(protocolName, 'ascii');
    if (name.length <= hash.hashLen) {
      this.#h = Buffer.alloc(hash.hashLen);
      name.copy(this.#h);
    } else {
      this.#h = hash.digest(name);
    }
    this.#ck = Buffer.from(this.#h);
  }

  get hasKey(): boolean {
    return this.#cipher.hasKey();
  }

  /** Copies, so callers cannot change the state through them. */
  get handshakeHash(): Buffer {
    return Buffer.from(this.#h);
  }

  get chainingKey(): Buffer {
    return Buffer.from(this.#ck);
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, tempK] = hkdf(this.#hash, this.#ck, ikm, 2) as [Buffer, Buffer];
    this.#ck.fill(0);
    this.#ck = ck;
    this.#cipher.initializeKey(tempK.subarray(0, KEY_LEN));
    tempK.fill(0);
  }

  mixHash(data: Uint8Array): void {
    this.#h = this.#hash.digest(this.#h, data);
  }

  mixKeyAndHash(ikm: Uint8Array): void {
    const [ck, tempH, tempK] = hkdf(this.#hash, this.#ck, ikm, 3) as [Buffer, Buffer, Buffer];
    this.#ck.fill(0);
    this.#ck = ck;
    this.mixHash(tempH);
    this.#cipher.initializeKey(tempK.subarray(0, KEY_LEN));
    tempH.fill(0);
    tempK.fill(0);
  }

  encryptAndHash(plaintext: Uint8Array): Buffer {
    const ciphertext = this.#cipher.encryptWithAd(this.#h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Uint8Array): Buffer {
    const plaintext = this.#cipher.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** Split(): two CipherStates for transport. Wipes ck and the handshake key; h stays for channel binding. */
  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf(this.#hash, this.#ck, Buffer.alloc(0), 2) as [Buffer, Buffer];
    const c1 = new CipherState(this.#cipherFn, k1.subarray(0, KEY_LEN));
    const c2 = new CipherState(this.#cipherFn, k2.subarray(0, KEY_LEN));
    k1.fill(0);
    k2.fill(0);
    this.wipe();
    return [c1, c2];
  }

  wipe(): void {
    this.#ck.fill(0);
    this.#cipher.wipe();
  }
}
