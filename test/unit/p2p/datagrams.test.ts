import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { OBS_ANSWER_SIZE, OBS_REQUEST_SIZE, observeAnswer, observeRequest, parseObserveAnswer, parseObserveRequest, parsePunch, punch } from '../../../src/p2p/datagrams.js';

describe('P2P datagrams', () => {
  it('an observation answer names the address and is smaller than the request (no amplification)', () => {
    const nonce = randomBytes(16);
    const req = observeRequest(nonce);
    assert.equal(req.length, OBS_REQUEST_SIZE);
    assert.deepEqual(parseObserveRequest(req), nonce);
    for (const seen of [{ host: '203.0.113.5', port: 40123 }, { host: '2001:db8::7', port: 1 }]) {
      const ans = observeAnswer(nonce, seen);
      assert.equal(ans.length, OBS_ANSWER_SIZE);
      assert.ok(ans.length < req.length);
      assert.deepEqual(parseObserveAnswer(ans, nonce), seen);
      assert.equal(parseObserveAnswer(ans, randomBytes(16)), undefined, 'an answer to another request is ignored');
    }
  });

  it('anything else is not a request, an answer or a punch', () => {
    const nonce = randomBytes(16);
    assert.equal(parseObserveRequest(observeRequest(nonce).subarray(0, 47)), undefined);
    assert.equal(parseObserveRequest(Buffer.alloc(48)), undefined);
    const ans = observeAnswer(nonce, { host: '10.0.0.1', port: 5 });
    ans[24] = 5;
    assert.equal(parseObserveAnswer(ans, nonce), undefined, 'bad family');
    assert.equal(parsePunch(Buffer.alloc(25)), undefined);
    const p = punch(Buffer.alloc(16, 7), true);
    assert.deepEqual(parsePunch(p), { token: Buffer.alloc(16, 7), answer: true });
    p[24] = 2;
    assert.equal(parsePunch(p), undefined);
  });
});
