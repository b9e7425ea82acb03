/** The one IP-address reader: bytes of any text form Node accepts, loopback in any spelling, nothing else. */
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { it } from 'node:test';
import { ipBytes, isLoopback, unmapped } from '../../../src/net/ip.js';

const hex = (h: string): string | undefined => ipBytes(h)?.toString('hex');

it('turns any IPv6 text form into its 16 bytes, and IPv4 into 4', () => {
  assert.equal(hex('::'), '0'.repeat(32));
  assert.equal(hex('fe80::1:2'), 'fe800000000000000000000000010002');
  assert.equal(hex('fe80::1:2%eth0'), 'fe800000000000000000000000010002');
  assert.equal(hex('::ffff:192.0.2.1'), '00000000000000000000ffffc0000201');
  assert.equal(hex('1:2:3:4:5:6:7:8'), '00010002000300040005000600070008');
  assert.equal(hex('1::'), '0001' + '0'.repeat(28));
  assert.equal(hex('2001:DB8::A'), '20010db800000000000000000000000a');
  assert.equal(hex('192.0.2.1'), 'c0000201');
});

it('reads every address the same as node:net does (random addresses, both compressed and full)', () => {
  for (let i = 0; i < 500; i++) {
    const words = Array.from({ length: 8 }, () => (Math.random() < 0.3 ? 0 : Math.floor(Math.random() * 0x10000)));
    const full = words.map((w) => w.toString(16)).join(':');
    const b = Buffer.alloc(16);
    words.forEach((w, j) => b.writeUInt16BE(w, 2 * j));
    const compressed = full.replace(/(^|:)0(:0)+(:|$)/, '::');
    assert.ok(isIPv6(compressed), compressed);
    assert.equal(hex(full), b.toString('hex'), full);
    assert.equal(hex(compressed), b.toString('hex'), compressed);
  }
});

it('refuses anything that is not an IP literal', () => {
  for (const h of ['', 'localhost', 'example.com', '1.2.3', '256.1.1.1', '1:2:3:4:5:6:7:8:9', '1::2::3', 'gggg::1', ':::', '::1%', 'fe80::1% x']) assert.equal(ipBytes(h), undefined, h);
});

it('knows loopback in any spelling, and only loopback', () => {
  for (const h of ['127.0.0.1', '127.3.2.1', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) assert.ok(isLoopback(h), h);
  for (const h of ['10.0.0.1', '::2', '::ffff:10.0.0.1', '128.0.0.1', 'example.com', '']) assert.ok(!isLoopback(h), h);
  assert.equal(unmapped('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(unmapped('::1'), '::1');
});
