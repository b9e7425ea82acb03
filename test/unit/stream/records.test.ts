import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTunError } from '../../../src/errors.js';
import { DATA_MAX, RecordKind, decodeRecord, encodeError, encodeRecord } from '../../../src/stream/records.js';

describe('stream records', () => {
  it('round-trips every kind', () => {
    const data = Buffer.from('hello');
    assert.deepEqual(decodeRecord(encodeRecord(RecordKind.DATA, data)), { kind: RecordKind.DATA, data });
    for (const kind of [RecordKind.FIN, RecordKind.OPEN, RecordKind.PING]) assert.deepEqual(decodeRecord(encodeRecord(kind)), { kind });
    assert.deepEqual(decodeRecord(encodeError('local_service_unavailable', 'down')), { kind: RecordKind.ERROR, error: { code: 'local_service_unavailable', message: 'down' } });
  });

  it('a full DATA record fits a 32 KiB frame with the AEAD tag', () => {
    assert.ok(1 + DATA_MAX + 16 <= 32 * 1024);
  });

  it('rejects malformed records with a typed error', () => {
    const bad = [
      Buffer.alloc(0),
      Buffer.from([RecordKind.DATA]),
      Buffer.from([RecordKind.FIN, 0]),
      Buffer.from([RecordKind.PING, 1, 2]),
      Buffer.from([9]),
      Buffer.from([RecordKind.ERROR, 0xc1]),
      Buffer.concat([Buffer.from([RecordKind.DATA]), Buffer.alloc(DATA_MAX + 2000)]),
    ];
    for (const b of bad) assert.throws(() => decodeRecord(b), (e) => isTunError(e), `rejects ${b.subarray(0, 4).toString('hex')}`);
  });
});
