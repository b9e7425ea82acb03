import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { PreAuthGate, relayLimitsFromEnv } from '../../../src/relay/limits.js';
import { PairingTable } from '../../../src/relay/pairing.js';

describe('PreAuthGate', () => {
  it('caps unauthenticated connections in total and per address, and releases once', () => {
    const gate = new PreAuthGate({ preAuthMax: 3, preAuthPerIp: 2 });
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
