import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { before, it } from 'node:test';
import { CIPHERS, initCrypto, type CipherFn } from '../../../src/crypto/index.js';
import { CipherState } from '../../../src/noise/index.js';

before(initCrypto);

const ciphers: CipherFn[] = [CIPHERS.hybridChaChaPoly, CIPHERS.node.ChaChaPoly, CIPHERS.node.AESGCM, CIPHERS.sodiumChaChaPoly, ...(CIPHERS.nativeChaChaPoly ? [CIPHERS.nativeChaChaPoly] : [])];

it('encryptv over any split of the plaintext gives exactly ENCRYPT of the whole, for every backend', () => {
  for (const c of ciphers) {
    for (const size of [0, 1, 5, 2047, 2048, 2053, 32 * 1024, 65519]) {
      const key = randomBytes(32);
      const ad = randomBytes(randomInt(0, 40));
      const n = randomInt(0, 2 ** 40);
      const pt = randomBytes(size);
      const cut = size ? randomInt(0, size + 1) : 0;
      const parts = cut === 0 ? [pt] : [pt.subarray(0, cut), pt.subarray(cut)];
      const whole = c.encrypt(key, n, ad, pt);
      assert.deepEqual(Buffer.concat(c.encryptv(key, n, ad, parts)), whole, `${c.backend} ${size} bytes cut at ${cut}`);
      assert.deepEqual(c.decrypt(key, n, ad, whole), pt);
      if (c.name === 'ChaChaPoly') assert.deepEqual(c.decrypt(key, n, ad, CIPHERS.node.ChaChaPoly.encrypt(key, n, ad, pt)), pt, `${c.backend} reads node:crypto's ciphertext`);
      if (c.decryptInPlace) assert.deepEqual(c.decryptInPlace(key, n, ad, Buffer.from(whole)), pt, `${c.backend} decrypts in place`);
      const bad = Buffer.from(whole);
      bad[randomInt(0, bad.length)]! ^= 1 << randomInt(0, 8);
      assert.throws(() => c.decrypt(key, n, ad, bad), { code: 'DECRYPT_FAILED' }, `${c.backend} rejects a flipped bit`);
      if (c.decryptInPlace) assert.throws(() => c.decryptInPlace!(key, n, ad, Buffer.from(bad)), { code: 'DECRYPT_FAILED' }, `${c.backend} rejects a flipped bit in place`);
    }
  }
});

it('CipherState.encryptPartsWithAd equals encryptWithAd message for message (same nonces)', () => {
  const key = randomBytes(32);
  const a = new CipherState(CIPHERS.hybridChaChaPoly, key);
  const b = new CipherState(CIPHERS.hybridChaChaPoly, key);
  const r = new CipherState(CIPHERS.hybridChaChaPoly, key);
  for (let i = 0; i < 20; i++) {
    const head = randomBytes(5);
    const body = randomBytes(randomInt(1, 40_000));
    const pieces = a.encryptPartsWithAd(Buffer.alloc(0), [head, body]);
    const one = b.encryptWithAd(Buffer.alloc(0), Buffer.concat([head, body]));
    assert.deepEqual(Buffer.concat(pieces), one);
    assert.deepEqual(r.decryptWithAd(Buffer.alloc(0), one), Buffer.concat([head, body]));
  }
  assert.throws(() => new CipherState(CIPHERS.hybridChaChaPoly).encryptPartsWithAd(Buffer.alloc(0), [Buffer.from('x')]));
  assert.throws(() => a.encryptPartsWithAd(Buffer.alloc(0), [Buffer.alloc(65520)]), /MESSAGE_TOO_LARGE|limit/);
});
