import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SourceLimit, sourceKey } from '../../../src/relay/source-limit.js';

describe('public port limit per source', () => {
  it('counts IPv4 by address, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64', () => {
    assert.equal(sourceKey('192.0.2.7'), '192.0.2.7');
    assert.equal(sourceKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(sourceKey('::1'), '0:0:0:0::/64');
    assert.equal(sourceKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(sourceKey(undefined), '?');
  });

  it('refuses a source at the limit, leaves other sources alone, and releases once', () => {
    const limit = new SourceLimit(2);
    const a1 = limit.acquire('192.0.2.1');
    const a2 = limit.acquire('::ffff:192.0.2.1');
    assert.ok(a1 !== undefined && a2 !== undefined);
    assert.equal(limit.acquire('192.0.2.1'), undefined, 'the third from one address is refused');
    const b = limit.acquire('192.0.2.2');
    assert.ok(b, 'another address still gets in');
    const v6 = [limit.acquire('2001:db8::1'), limit.acquire('2001:db8::2')];
    assert.ok(v6.every(Boolean));
    assert.equal(limit.acquire('2001:db8::ffff'), undefined, 'the same /64 counts together');
    assert.ok(limit.acquire('2001:db8:0:1::1'), 'the next /64 is another source');
    a1();
    a1();
    assert.equal(limit.sources, 4);
    assert.equal(limit.count('192.0.2.1'), 1, 'a release counts once');
    assert.ok(limit.acquire('192.0.2.1'));
    assert.equal(limit.acquire('192.0.2.1'), undefined);
  });
});
