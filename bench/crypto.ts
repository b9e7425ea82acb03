/** Crypto candidates for the hot path, measured in one run so the ratios are fair. */
import { createHash, randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { CIPHERS, HASHES, X25519KeyPair, initCrypto, x25519 } from '../src/crypto/index.js';
import { sodiumLib } from '../src/crypto/sodium.js';
import { HandshakeState } from '../src/noise/index.js';

export interface Row { what: string; candidate: string; value: number; unit: string }

/** Runs fn repeatedly for about `ms` milliseconds; returns operations per second. */
export function opsPerSecond(fn: () => void, ms = 400): number {
  for (let i = 0; i < 20; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 10; i++) fn();
    n += 10;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

export async function cryptoBench(): Promise<Row[]> {
  await initCrypto();
  const rows: Row[] = [];
  const key = randomBytes(32);
  const ad = Buffer.alloc(0);
  for (const size of [65519, 32768, 1024]) {
    const msg = randomBytes(size);
    const label = `ChaCha20-Poly1305 encrypt ${size >= 1024 * 8 ? `${Math.round(size / 1024)} KiB` : `${size} B`}`;
    let n = 0;
    const mb = (ops: number): number => (ops * size) / 1e6;
    rows.push({ what: label, candidate: 'node:crypto', value: mb(opsPerSecond(() => CIPHERS.node.ChaChaPoly.encrypt(key, n++, ad, msg))), unit: 'MB/s' });
    rows.push({ what: label, candidate: 'libsodium-wrappers', value: mb(opsPerSecond(() => CIPHERS.sodiumChaChaPoly.encrypt(key, n++, ad, msg))), unit: 'MB/s' });
    const native = CIPHERS.nativeChaChaPoly;
    if (native) rows.push({ what: label, candidate: 'sodium-native', value: mb(opsPerSecond(() => native.encrypt(key, n++, ad, msg))), unit: 'MB/s' });
    const nonce = randomBytes(24);
    rows.push({ what: label, candidate: 'tweetnacl (XSalsa20-Poly1305, reference only)', value: mb(opsPerSecond(() => nacl.secretbox(msg, nonce, key), 200)), unit: 'MB/s' });
    const ct = CIPHERS.node.ChaChaPoly.encrypt(key, 0, ad, msg);
    rows.push({ what: label.replace('encrypt', 'decrypt'), candidate: 'node:crypto', value: mb(opsPerSecond(() => CIPHERS.node.ChaChaPoly.decrypt(key, 0, ad, ct))), unit: 'MB/s' });
    rows.push({ what: label.replace('encrypt', 'decrypt'), candidate: 'libsodium-wrappers', value: mb(opsPerSecond(() => CIPHERS.sodiumChaChaPoly.decrypt(key, 0, ad, ct))), unit: 'MB/s' });
    if (native) rows.push({ what: label.replace('encrypt', 'decrypt'), candidate: 'sodium-native', value: mb(opsPerSecond(() => native.decrypt(key, 0, ad, ct))), unit: 'MB/s' });
  }
  const a = X25519KeyPair.generate();
  const b = X25519KeyPair.generate();
  rows.push({ what: 'X25519 DH (peer key imported each time)', candidate: 'node:crypto', value: opsPerSecond(() => x25519(a, b.publicKey)), unit: 'ops/s' });
  rows.push({ what: 'X25519 DH (peer key imported each time)', candidate: 'libsodium-wrappers', value: opsPerSecond(() => sodiumLib().crypto_scalarmult(a.privateKey, b.publicKey)), unit: 'ops/s' });
  rows.push({ what: 'X25519 DH (peer key imported each time)', candidate: 'tweetnacl', value: opsPerSecond(() => nacl.scalarMult(a.privateKey, b.publicKey), 200), unit: 'ops/s' });
  rows.push({ what: 'X25519 key generation', candidate: 'random + libsodium base point', value: opsPerSecond(() => X25519KeyPair.generate()), unit: 'ops/s' });
  rows.push({ what: 'X25519 key generation', candidate: 'tweetnacl', value: opsPerSecond(() => nacl.box.keyPair(), 200), unit: 'ops/s' });
  const small = randomBytes(64);
  rows.push({ what: 'BLAKE2b-512 of 64 B', candidate: 'libsodium-wrappers', value: opsPerSecond(() => HASHES.sodiumBlake2b.digest(small)), unit: 'ops/s' });
  rows.push({ what: 'BLAKE2b-512 of 64 B', candidate: 'node:crypto', value: opsPerSecond(() => createHash('blake2b512').update(small).digest()), unit: 'ops/s' });
  const server = X25519KeyPair.generate();
  const client = X25519KeyPair.generate();
  rows.push({
    what: 'Noise IK handshake, both sides, one thread',
    candidate: 'chosen backends',
    value: opsPerSecond(() => {
      const i = new HandshakeState({ protocol: 'Noise_IK_25519_ChaChaPoly_BLAKE2b', initiator: true, staticKey: client, remoteStatic: server.publicKey });
      const r = new HandshakeState({ protocol: 'Noise_IK_25519_ChaChaPoly_BLAKE2b', initiator: false, staticKey: server });
      r.readMessage(i.writeMessage());
      i.readMessage(r.writeMessage());
    }),
    unit: 'handshakes/s',
  });
  return rows;
}
