import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import nacl from 'tweetnacl';
import { X25519KeyPair, initCrypto, x25519 } from '../../../src/crypto/index.js';
import { isTunError } from '../../../src/errors.js';
import { repoRoot } from '../../helpers/paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('X25519', () => {
  before(() => initCrypto());

  it('agrees with tweetnacl and between both sides', () => {
    for (let i = 0; i < 50; i++) {
      const a = X25519KeyPair.generate();
      const b = X25519KeyPair.generate();
      assert.deepEqual(a.publicKey, Buffer.from(nacl.scalarMult.base(Uint8Array.from(a.privateKey))));
      const ab = x25519(a, b.publicKey);
      assert.deepEqual(ab, x25519(b, a.publicKey));
      assert.deepEqual(ab, Buffer.from(nacl.scalarMult(Uint8Array.from(a.privateKey), Uint8Array.from(b.publicKey))));
    }
  });

  it('rejects low-order public keys and wrong lengths as DH_FAILED', () => {
    const a = X25519KeyPair.generate();
    const lowOrder = [Buffer.alloc(32), Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]), Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex')];
    for (const p of lowOrder) assert.throws(() => x25519(a, p), (e) => isTunError(e, 'DH_FAILED'));
    assert.throws(() => x25519(a, Buffer.alloc(31, 9)), (e) => isTunError(e, 'DH_FAILED'));
  });

  // Node 20 can hang exporting a generateKeyPairSync('x25519') key as JWK (see FACTS). tun never
  // does that: ephemerals are random bytes, public keys come from libsodium, KeyObjects are imported.
  it('never generates X25519 keys with node:crypto or exports KeyObjects (Node 20 JWK-export deadlock)', () => {
    for (const file of sources(join(repoRoot(), 'src'))) {
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, /generateKeyPair(Sync)?\s*\(/, file);
      assert.doesNotMatch(text, /\.export\s*\(/, file);
    }
  });

  it('thousands of fresh ephemerals with DH under allocation pressure complete (regression for the hang)', () => {
    const peer = X25519KeyPair.generate();
    let junk: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const e = X25519KeyPair.generate();
      x25519(e, peer.publicKey);
      junk.push(Buffer.alloc(64 * 1024));
      if (junk.length > 64) junk = [];
    }
  });
});
