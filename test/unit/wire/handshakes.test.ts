import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { controlPrologue, controlPrologueV1, joinProof, paddedAnswer, sessionPrologue } from '../../../src/wire/index.js';
import { decodeMessage } from '../../../src/wire/index.js';

it('prologues name tun and the channel, not the version (it travels in the payloads)', () => {
  assert.equal(controlPrologue().toString(), 'tun control');
  assert.equal(sessionPrologue().toString(), 'tun session');
  assert.equal(controlPrologueV1().toString(), 'tun/1 control');
});

it('handshake answers are padded to one size whether they accept or refuse', () => {
  const ok = paddedAnswer('ControlAccept', { v: 2, ok: true });
  const no = paddedAnswer('ControlAccept', { v: 2, ok: false, code: 'client_not_authorized', message: 'client key 0123456789abcdef is not in the list' });
  assert.equal(ok.length, no.length);
  assert.equal((decodeMessage(no, 'control') as { code?: string }).code, 'client_not_authorized');
  const s1 = paddedAnswer('SessionAccept', { v: 2, ok: true });
  const s2 = paddedAnswer('SessionAccept', { v: 2, ok: false, code: 'visitor_not_allowed' });
  assert.equal(s1.length, s2.length);
});

it('the join proof depends on the token, the challenge and the id', () => {
  const [token, challenge, id] = [randomBytes(32), randomBytes(32), randomBytes(16)];
  const p = joinProof(token, challenge, id);
  assert.equal(p.length, 32);
  assert.deepEqual(joinProof(token, challenge, id), p);
  assert.notDeepEqual(joinProof(randomBytes(32), challenge, id), p);
  assert.notDeepEqual(joinProof(token, randomBytes(32), id), p);
  assert.notDeepEqual(joinProof(token, challenge, randomBytes(16)), p);
});
