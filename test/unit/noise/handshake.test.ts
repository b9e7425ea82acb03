import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { X25519KeyPair, initCrypto, CIPHERS } from '../../../src/crypto/index.js';
import { NONCE_CEILING, NOISE_MAX_PLAINTEXT } from '../../../src/constants.js';
import { CipherState, HandshakeState, SUPPORTED_BASE_PATTERNS, basePattern } from '../../../src/noise/index.js';
import { isTunError } from '../../../src/errors.js';
import { isLowOrderPoint } from '../../../src/identity/keys.js';
import { LOW_ORDER_POINTS } from '../../helpers/noise.js';

before(initCrypto);

const SUITE = '25519_ChaChaPoly_BLAKE2b';

interface Pair { init: HandshakeState; resp: HandshakeState; keys: Record<string, X25519KeyPair> }

function makePair(pattern: string, opts: { prologue?: Buffer; respPrologue?: Buffer; wrongRemote?: boolean } = {}): Pair {
  const keys = { is: X25519KeyPair.generate(), rs: X25519KeyPair.generate(), other: X25519KeyPair.generate() };
  const p = basePattern(pattern.replace(/psk.*/, ''))!;
  const psks = [...pattern.matchAll(/psk\d/g)].map(() => Buffer.alloc(32, 7));
  const protocol = `Noise_${pattern}_${SUITE}`;
  const init = new HandshakeState({
    protocol, initiator: true, prologue: opts.prologue, staticKey: keys.is, psks,
    remoteStatic: p.preResponder.includes('s') ? (opts.wrongRemote ? keys.other.publicKey : keys.rs.publicKey) : undefined,
  });
  const resp = new HandshakeState({
    protocol, initiator: false, prologue: opts.respPrologue ?? opts.prologue, staticKey: keys.rs, psks,
    remoteStatic: p.preInitiator.includes('s') ? keys.is.publicKey : undefined,
  });
  return { init, resp, keys };
}

/** Steps the handshake; returns every message written. Checks h and ck agree after each message. */
function run(pair: Pair): Buffer[] {
  const msgs: Buffer[] = [];
  let i = 0;
  while (!pair.init.complete) {
    const [w, r] = i % 2 === 0 ? [pair.init, pair.resp] : [pair.resp, pair.init];
    const payload = Buffer.from(`payload ${i}`);
    const m = w.writeMessage(payload);
    assert.deepEqual(r.readMessage(m), payload);
    if (!w.complete) {
      assert.deepEqual(w.handshakeHash, r.handshakeHash, `h after message ${i}`);
      assert.deepEqual(w.chainingKey, r.chainingKey, `ck after message ${i}`);
    }
    msgs.push(m);
    i++;
  }
  assert.ok(pair.resp.complete);
  return msgs;
}

describe('handshake, both sides in memory', () => {
  for (const name of SUPPORTED_BASE_PATTERNS) {
    test(`${name}: h and ck agree after every message; transport works both ways`, () => {
      const pair = makePair(name, { prologue: Buffer.from('tun test') });
      run(pair);
      const a = pair.init.result!;
      const b = pair.resp.result!;
      assert.deepEqual(a.handshakeHash, b.handshakeHash);
      const ct = a.send.encryptWithAd(Buffer.alloc(0), Buffer.from('hello'));
      assert.equal(b.receive.decryptWithAd(Buffer.alloc(0), ct).toString(), 'hello');
      if (!basePattern(name)!.oneWay) {
        const back = b.send.encryptWithAd(Buffer.alloc(0), Buffer.from('back'));
        assert.equal(a.receive.decryptWithAd(Buffer.alloc(0), back).toString(), 'back');
      }
    });
  }

  test('IK: the responder learns the initiator static key, the initiator keeps the pinned one', () => {
    const pair = makePair('IK');
    run(pair);
    assert.deepEqual(pair.resp.result!.remoteStatic, pair.keys.is!.publicKey);
    assert.deepEqual(pair.init.result!.remoteStatic, pair.keys.rs!.publicKey);
  });

  test('psk patterns agree too (IKpsk2, XXpsk3, NNpsk0+psk2)', () => {
    for (const p of ['IKpsk2', 'XXpsk3', 'NNpsk0+psk2']) run(makePair(p));
  });
});

describe('handshake failures', () => {
  test('IK with the wrong pinned responder key fails at the responder (message 1 does not decrypt)', () => {
    const pair = makePair('IK', { wrongRemote: true });
    const m1 = pair.init.writeMessage();
    assert.throws(() => pair.resp.readMessage(m1), (e) => isTunError(e, 'DECRYPT_FAILED'));
    assert.throws(() => pair.resp.readMessage(m1), (e) => isTunError(e, 'HANDSHAKE_STATE'), 'a failed state stays failed');
  });

  test('different prologues fail authentication', () => {
    const pair = makePair('IK', { prologue: Buffer.from('tun/1 control'), respPrologue: Buffer.from('tun/1 stream') });
    assert.throws(() => pair.resp.readMessage(pair.init.writeMessage()), (e) => isTunError(e, 'DECRYPT_FAILED'));
  });

  test('flipping any bit of any handshake message makes the handshake or its first transport messages fail (IK, XX, NK)', () => {
    for (const pattern of ['IK', 'XX', 'NK']) {
      const count = run(makePair(pattern));
      count.forEach((msg, idx) => {
        for (let bit = 0; bit < msg.length * 8; bit += 3) {
          const pair = makePair(pattern);
          const attempt = (): void => {
            let i = 0;
            while (!pair.init.complete || !pair.resp.complete) {
              const [w, r] = i % 2 === 0 ? [pair.init, pair.resp] : [pair.resp, pair.init];
              const m = w.writeMessage(Buffer.from(`payload ${i}`));
              if (i === idx) m[bit >> 3]! ^= 1 << (bit & 7);
              r.readMessage(m);
              i++;
            }
            const a = pair.init.result!;
            const b = pair.resp.result!;
            b.receive.decryptWithAd(Buffer.alloc(0), a.send.encryptWithAd(Buffer.alloc(0), Buffer.from('x')));
            a.receive.decryptWithAd(Buffer.alloc(0), b.send.encryptWithAd(Buffer.alloc(0), Buffer.from('y')));
          };
          assert.throws(attempt, (e) => isTunError(e), `${pattern} message ${idx} bit ${bit}`);
        }
      });
    }
  });

  test('flipping any bit of a transport message fails and leaves the nonce unchanged', () => {
    const pair = makePair('IK');
    run(pair);
    const ct = pair.init.result!.send.encryptWithAd(Buffer.alloc(0), Buffer.from('transport payload'));
    const rx = pair.resp.result!.receive;
    for (let i = 0; i < ct.length * 8; i++) {
      const bad = Buffer.from(ct);
      bad[i >> 3]! ^= 1 << (i & 7);
      assert.throws(() => rx.decryptWithAd(Buffer.alloc(0), bad), (e) => isTunError(e, 'DECRYPT_FAILED'));
    }
    assert.equal(rx.nonce, 0);
    assert.equal(rx.decryptWithAd(Buffer.alloc(0), ct).toString(), 'transport payload');
  });

  test('a replayed transport message fails (the nonce moved on)', () => {
    const pair = makePair('XX');
    run(pair);
    const ct = pair.init.result!.send.encryptWithAd(Buffer.alloc(0), Buffer.from('once'));
    pair.resp.result!.receive.decryptWithAd(Buffer.alloc(0), ct);
    assert.throws(() => pair.resp.result!.receive.decryptWithAd(Buffer.alloc(0), ct), (e) => isTunError(e, 'DECRYPT_FAILED'));
  });

  test('low-order or all-zero ephemeral keys are rejected as DH failures, never an uncaught exception', () => {
    for (const hex of LOW_ORDER_POINTS) {
      assert.ok(isLowOrderPoint(Buffer.from(hex, 'hex')), `${hex} is low order`);
      const pair = makePair('IK');
      const m1 = pair.init.writeMessage();
      Buffer.from(hex, 'hex').copy(m1, 0);
      assert.throws(() => pair.resp.readMessage(m1), (e) => isTunError(e, 'DH_FAILED') || isTunError(e, 'DECRYPT_FAILED'));
    }
    assert.equal(isLowOrderPoint(X25519KeyPair.generate().publicKey), false);
  });

  test('messages out of turn are refused', () => {
    const pair = makePair('IK');
    assert.throws(() => pair.resp.writeMessage(), (e) => isTunError(e, 'HANDSHAKE_STATE'));
    assert.throws(() => pair.init.readMessage(Buffer.alloc(96)), (e) => isTunError(e, 'HANDSHAKE_STATE'));
  });
});

describe('CipherState', () => {
  const key = Buffer.alloc(32, 9);

  test('rekey() changes the key exactly as the spec defines and both sides stay in step', () => {
    const a = new CipherState(CIPHERS.node.ChaChaPoly, key);
    const b = new CipherState(CIPHERS.node.ChaChaPoly, key);
    a.rekey();
    b.rekey();
    const ct = a.encryptWithAd(Buffer.alloc(0), Buffer.from('after rekey'));
    assert.equal(b.decryptWithAd(Buffer.alloc(0), ct).toString(), 'after rekey');
    const stale = new CipherState(CIPHERS.node.ChaChaPoly, key);
    assert.throws(() => stale.decryptWithAd(Buffer.alloc(0), ct), (e) => isTunError(e, 'DECRYPT_FAILED'));
    // REKEY(k) = ENCRYPT(k, 2^64-1, "", zeros)[0..32], computed here with the other backend
    const expected = CIPHERS.sodiumChaChaPoly.encrypt(key, -1, Buffer.alloc(0), Buffer.alloc(32)).subarray(0, 32);
    const rekeyed = new CipherState(CIPHERS.node.ChaChaPoly, key);
    rekeyed.rekey();
    const viaSpec = new CipherState(CIPHERS.node.ChaChaPoly, expected);
    assert.deepEqual(rekeyed.encryptWithAd(Buffer.alloc(0), Buffer.from('x')), viaSpec.encryptWithAd(Buffer.alloc(0), Buffer.from('x')));
  });

  test('the nonce ceiling stops encryption and decryption cleanly; the nonce never wraps', () => {
    const a = new CipherState(CIPHERS.node.ChaChaPoly, key);
    a.setNonce(NONCE_CEILING - 3);
    for (let i = 0; i < 3; i++) a.encryptWithAd(Buffer.alloc(0), Buffer.from('m'));
    for (let i = 0; i < 7; i++) assert.throws(() => a.encryptWithAd(Buffer.alloc(0), Buffer.from('m')), (e) => isTunError(e, 'NONCE_EXHAUSTED'));
    assert.equal(a.nonce, NONCE_CEILING);
    const b = new CipherState(CIPHERS.node.ChaChaPoly, key);
    b.setNonce(NONCE_CEILING);
    assert.throws(() => b.decryptWithAd(Buffer.alloc(0), Buffer.alloc(20)), (e) => isTunError(e, 'NONCE_EXHAUSTED'));
  });

  test('a message over 65535 bytes is never produced or accepted', () => {
    const a = new CipherState(CIPHERS.node.ChaChaPoly, key);
    assert.equal(a.encryptWithAd(Buffer.alloc(0), Buffer.alloc(NOISE_MAX_PLAINTEXT)).length, 65535);
    assert.throws(() => a.encryptWithAd(Buffer.alloc(0), Buffer.alloc(NOISE_MAX_PLAINTEXT + 1)), (e) => isTunError(e, 'MESSAGE_TOO_LARGE'));
    assert.throws(() => a.decryptWithAd(Buffer.alloc(0), Buffer.alloc(65536)), (e) => isTunError(e, 'MESSAGE_TOO_LARGE'));
  });

  test('wipe() zeroes the key: the state no longer encrypts', () => {
    const a = new CipherState(CIPHERS.node.ChaChaPoly, key);
    a.wipe();
    assert.equal(a.hasKey(), false);
  });
});

test('split() wipes the chaining key and the ephemeral private key', () => {
  const e = X25519KeyPair.generate();
  const rs = X25519KeyPair.generate();
  const init = new HandshakeState({ protocol: `Noise_NK_${SUITE}`, initiator: true, remoteStatic: rs.publicKey, ephemeral: e });
  const resp = new HandshakeState({ protocol: `Noise_NK_${SUITE}`, initiator: false, staticKey: rs });
  resp.readMessage(init.writeMessage());
  init.readMessage(resp.writeMessage());
  assert.ok(init.complete);
  assert.ok(init.chainingKey.every((b) => b === 0), 'ck zeroed');
  assert.ok(e.privateKey.every((b) => b === 0), 'ephemeral private key zeroed');
});
