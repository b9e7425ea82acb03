import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { PreAuthGate, relayLimitsFromEnv } from '../../../src/relay/limits.js';
import { PairingTable } from '../../../src/relay/pairing.js';

describe('PreAuthGate', () => {
  it('caps unauthenticated connections in total and per address, and releases once', () => {
    const gate = new PreAuthGate({ preAuthMax: 3, preAuthPerIp: 2 }, () => 0.9999); // no random drop here
    const a1 = gate.acquire('a')!;
    const a2 = gate.acquire('a')!;
    assert.equal(gate.acquire('a'), undefined, 'per-address cap');
    const b1 = gate.acquire('b')!;
    assert.equal(gate.acquire('c'), undefined, 'total cap');
    a1();
    a1();
    assert.equal(gate.pending, 2, 'a release counts once');
    assert.ok(gate.acquire('c'));
    a2();
    b1();
  });

  it('drops at random above half the cap, more often the fuller it is, never below it', () => {
    let r = 0.5;
    const gate = new PreAuthGate({ preAuthMax: 100, preAuthPerIp: 1000 }, () => r);
    const held = Array.from({ length: 50 }, () => gate.acquire('x'));
    assert.ok(held.every(Boolean), 'below the soft limit nothing is dropped');
    // At 50 of 100 the drop chance is 1/51: a draw of 0.5 passes, a draw of 0.01 is dropped.
    r = 0.01;
    assert.equal(gate.acquire('x'), undefined);
    r = 0.5;
    while (gate.pending < 75) assert.ok(gate.acquire('x'));
    // At 75 the chance is 26/51, about 0.51: a draw of 0.5 is now dropped, 0.6 passes.
    assert.equal(gate.acquire('x'), undefined);
    r = 0.6;
    assert.ok(gate.acquire('x'));
    // Just below the cap the chance is 50/51: almost every draw is dropped.
    r = 0.97;
    while (gate.pending < 99) gate.acquire('x');
    assert.equal(gate.acquire('x'), undefined);
    const real = new PreAuthGate({ preAuthMax: 1000, preAuthPerIp: 1000 });
    let admitted = 0;
    for (let i = 0; i < 1000; i++) if (real.acquire('y')) admitted++;
    assert.ok(admitted >= 500 && admitted < 950, `with Math.random, 1000 attempts took ${admitted} of 1000 slots: the first 500 always, then fewer and fewer`);
  });
});

describe('relayLimitsFromEnv', () => {
  it('takes known limits with sane whole numbers and ignores the rest', () => {
    assert.deepEqual(relayLimitsFromEnv('handshakeMs=1000, heartbeatMs=2000,preAuthMax=5'), { handshakeMs: 1000, heartbeatMs: 2000, preAuthMax: 5 });
    assert.deepEqual(relayLimitsFromEnv('handshakeMs=5,heartbeatMs=-1,bogus=3,pairingMs=1e3,preAuthPerIp=0,pendingPerService='), {});
    assert.deepEqual(relayLimitsFromEnv(undefined), {});
    assert.deepEqual(relayLimitsFromEnv('__proto__=500,constructor=500'), {});
  });
});

describe('PairingTable', () => {
  const socket = new Socket();
  it('makes unguessable single-use pairings', () => {
    const t = new PairingTable();
    const p = t.create({ sessionKey: 'k', service: 's', mode: 'session', socket }, 10_000, () => assert.fail('not expired'));
    assert.equal(p.id.length, 16);
    assert.equal(p.token.length, 32);
    const q = t.create({ sessionKey: 'k', service: 's', mode: 'session', socket }, 10_000, () => {});
    assert.notDeepEqual(p.token, q.token);
    assert.equal(t.countFor('k', 's'), 2);
    assert.equal(t.take(p.id), p);
    assert.equal(t.take(p.id), undefined, 'single use');
    assert.equal(t.peek(p.id), undefined);
    assert.deepEqual(t.takeAllFor('k'), [q]);
    assert.equal(t.size, 0);
  });

  it('expires a pairing and calls back once', async () => {
    const t = new PairingTable();
    let expired = 0;
    const p = t.create({ sessionKey: 'k', service: 's', mode: 'session', socket }, 30, () => expired++);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(expired, 1);
    assert.equal(t.take(p.id), undefined);
  });
});
