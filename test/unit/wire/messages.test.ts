import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTunError } from '../../../src/errors.js';
import { checkMsgpack, decodeMessage, encodeMessage, type Bodies, type MessageName, CATALOGUE } from '../../../src/wire/index.js';

const samples: { [K in MessageName]: Bodies[K] } = {
  Hello: { v: 1, services: [{ name: 'web' }, { name: 'ssh', publicPort: 2222 }] },
  Welcome: { tunnelPort: 8008, heartbeatMs: 10000, services: [{ name: 'web', ok: true }, { name: 'x', ok: false, code: 'public_port_denied', message: 'no' }] },
  Open: { id: Buffer.alloc(16, 1), token: Buffer.alloc(32, 2), service: 'web', mode: 'session' },
  OpenFailed: { id: Buffer.alloc(16, 1), code: 'unknown_service' },
  Ping: { seq: 1 },
  Pong: { seq: 2 ** 32 - 1 },
  Error: { code: 'protocol_violation', message: 'bad' },
  HandshakeRefused: { relayKey: Buffer.alloc(32, 8) },
  Visit: { v: 2, client: Buffer.alloc(32, 3) },
  VisitStatus: { ok: false, code: 'client_offline', message: 'client is offline' },
  JoinChallenge: { nonce: Buffer.alloc(32, 4) },
  Join: { id: Buffer.alloc(16, 5), proof: Buffer.alloc(32, 6) },
  ControlInit: { v: 2 },
  ControlAccept: { v: 2, ok: false, code: 'client_not_authorized', pad: Buffer.alloc(10) },
  SessionHello: { v: 2 },
  SessionAccept: { v: 2, ok: true, pad: Buffer.alloc(0) },
  StreamOpen: { service: 'web' },
  StreamError: { code: 'local_service_unavailable', message: 'connect ECONNREFUSED' },
  Candidates: { v: 1, tcp: [{ ip: Buffer.from([127, 0, 0, 1]), port: 7000 }], udp: [], udpId: 7, token: Buffer.alloc(16, 9), relayUdp: 8009 },
};

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');
const limitOrMalformed = (e: unknown): boolean => isTunError(e, 'MSGPACK_LIMIT') || isTunError(e, 'MSGPACK_MALFORMED');

describe('message catalogue', () => {
  test('every type round-trips on its own channel and is refused on the others', () => {
    for (const [name, body] of Object.entries(samples) as [MessageName, never][]) {
      const bytes = encodeMessage(name, body);
      const channel = CATALOGUE[name].channel;
      const back = decodeMessage(bytes, channel);
      assert.equal(back.type, name);
      assert.deepEqual(plain({ ...back, type: undefined }), plain({ ...(body as object), type: undefined }));
      for (const other of ['preauth', 'control', 'visitor', 'tunnel', 'e2e', 'p2p'] as const) {
        if (other !== channel) assert.throws(() => decodeMessage(bytes, other), (e) => isTunError(e, 'MESSAGE_UNKNOWN'));
      }
    }
  });

  test('ids are unique', () => {
    const ids = Object.values(CATALOGUE).map((d) => d.id);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('schema violations: unknown field, wrong type, bad service name, wrong bin length, unknown id', () => {
    const bad: [string, unknown][] = [
      ['unknown field', [16, { v: 1, client: Buffer.alloc(32), service: 'web', extra: 1 }]],
      ['string for int', [16, { v: '1', client: Buffer.alloc(32), service: 'web' }]],
      ['float for int', [16, { v: 1.5, client: Buffer.alloc(32), service: 'web' }]],
      ['map for string', [16, { v: 1, client: Buffer.alloc(32), service: { a: 1 } }]],
      ['bad name', [16, { v: 1, client: Buffer.alloc(32), service: '../etc' }]],
      ['short key', [16, { v: 1, client: Buffer.alloc(31), service: 'web' }]],
      ['unknown id', [99, {}]],
      ['not an array', { a: 1 }],
    ];
    const { Packr } = require_msgpackr();
    const packr = new Packr({ useRecords: false });
    for (const [why, value] of bad) {
      assert.throws(() => decodeMessage(packr.pack(value), 'visitor'), (e) => isTunError(e) && /MESSAGE_/.test(e.code), why);
    }
  });

  test('prototype keys never pollute', () => {
    const { Packr } = require_msgpackr();
    const packr = new Packr({ useRecords: false });
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const m = new Map<string, unknown>([[key, { polluted: true }], ['v', 1]]);
      assert.throws(() => decodeMessage(packr.pack([16, m]), 'visitor'), (e) => isTunError(e, 'MESSAGE_INVALID'));
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('msgpack bombs are refused by the pre-scan', () => {
  const cases: [string, Buffer][] = [
    ['100 000 nested fixarrays', Buffer.alloc(100_000, 0x91)],
    ['array32 of 2^32-1 with no body', hex('dd ffffffff')],
    ['map32 of 2^32-1 with no body', hex('df ffffffff')],
    ['str32 of 2^32-1', hex('db ffffffff')],
    ['bin32 of 2^32-1', hex('c6 ffffffff')],
    ['array16 chain x 20000', Buffer.concat(Array.from({ length: 20000 }, () => hex('dc ffff')))],
    ['map with 10 000 keys', Buffer.concat([hex('de 2710'), ...Array.from({ length: 10000 }, (_, i) => Buffer.concat([Buffer.from([0xa5]), Buffer.from(String(i).padStart(5, '0')), Buffer.from([0x01])]))])],
    ['ext type', hex('d4 01 00')],
    ['timestamp ext with bad length', hex('c7 03 ff 000000')],
    ['trailing bytes', hex('91 01 02')],
    ['reserved 0xc1', hex('c1')],
    ['integer map key', hex('81 01 01')],
    ['truncated', hex('92 01')],
  ];
  for (const [name, bytes] of cases) {
    test(name, () => {
      const t0 = performance.now();
      assert.throws(() => checkMsgpack(bytes, { maxBytes: 1 << 20, maxDepth: 6, maxItems: 512, maxStr: 1024, maxBin: 1024, maxArray: 64, maxMap: 32 }), limitOrMalformed);
      assert.throws(() => decodeMessage(bytes, 'control'), (e) => isTunError(e) && /MSGPACK_|MESSAGE_/.test(e.code));
      assert.ok(performance.now() - t0 < 50, 'rejected quickly');
    });
  }
});

import { createRequire } from 'node:module';
function require_msgpackr(): typeof import('msgpackr') {
  return createRequire(import.meta.url)('msgpackr');
}
