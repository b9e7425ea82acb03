import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { controlPrologue, joinProof, streamPrologue } from '../../../src/wire/index.js';

it('prologues name tun, the version and the channel (and the service for streams)', () => {
  assert.equal(controlPrologue().toString(), 'tun/1 control');
  assert.deepEqual(streamPrologue('web'), Buffer.from('tun/1 stream\0web'));
  assert.notDeepEqual(streamPrologue('web'), streamPrologue('web2'));
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
