import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTunError } from '../../../src/errors.js';
import { bytesToIp, dedupe, fromWire, ipToBytes, refusal, toWire, usable } from '../../../src/p2p/addr.js';
import { unmapped } from '../../../src/net/ip.js';

describe('P2P candidate addresses', () => {
  it('IPv4 and IPv6 text round-trip through the wire form', () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '203.0.113.9', '::1', '2001:db8::1', '2001:db8:0:1:2:3:4:5', 'fd00::abcd:1', '2001:db8::']) {
      assert.equal(bytesToIp(ipToBytes(ip)), ip);
    }
    assert.deepEqual([...ipToBytes('1.2.3.4')], [1, 2, 3, 4]);
    assert.equal(ipToBytes('::ffff:1.2.3.4').length, 4, 'a dual-stack socket\'s IPv4 peer is IPv4');
    assert.equal(bytesToIp(ipToBytes('64:ff9b::1.2.3.4')), '64:ff9b::102:304');
    assert.equal(unmapped('::ffff:10.0.0.1'), '10.0.0.1');
  });

  it('refuses host names and malformed literals', () => {
    for (const bad of ['localhost', 'example.org', '1.2.3', '1.2.3.4.5', '::1::2', '1:2:3:4:5:6:7:8:9', 'g::1', '']) {
      assert.throws(() => ipToBytes(bad), (e) => isTunError(e, 'MESSAGE_INVALID'), bad);
    }
  });

  it('only unicast addresses and ports 1..65535 pass', () => {
    const ok = ['127.0.0.1', '192.168.1.1', '100.64.0.1', '8.8.8.8', '::1', '2001:db8::1', 'fd12::1'];
    const refused = ['0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255', '::', 'ff02::1', 'fe80::1'];
    for (const ip of ok) assert.equal(refusal(ipToBytes(ip)), undefined, ip);
    for (const ip of refused) assert.ok(refusal(ipToBytes(ip)), ip);
    const mapped = Buffer.alloc(16);
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    assert.match(refusal(mapped)!, /IPv4-mapped/);
    assert.match(refusal(Buffer.alloc(5))!, /5 bytes/);
    assert.throws(() => fromWire(ipToBytes('1.2.3.4'), 0), (e) => isTunError(e, 'MESSAGE_INVALID'));
    assert.throws(() => fromWire(ipToBytes('1.2.3.4'), 65536), (e) => isTunError(e, 'MESSAGE_INVALID'));
    assert.throws(() => toWire({ host: '224.0.0.1', port: 80 }), (e) => isTunError(e, 'MESSAGE_INVALID'));
    assert.deepEqual(fromWire(ipToBytes('10.0.0.1'), 443), { host: '10.0.0.1', port: 443 });
    assert.equal(usable('fe80::1'), false);
    assert.equal(usable('10.0.0.1'), true);
    assert.equal(usable('not an address'), false);
  });

  it('dedupe keeps the first of each address and port, up to the bound', () => {
    const list = [{ host: '::ffff:10.0.0.1', port: 1 }, { host: '10.0.0.1', port: 1 }, { host: '10.0.0.1', port: 2 }, { host: '10.0.0.2', port: 1 }];
    assert.deepEqual(dedupe(list, 2), [{ host: '10.0.0.1', port: 1 }, { host: '10.0.0.1', port: 2 }]);
  });
});
