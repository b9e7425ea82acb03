/**
 * The PROXY protocol writer against the examples of HAProxy's spec (proxy-protocol.txt, sections
 * 2.1 and 2.2), and every header read back by an independent parser (proxy-protocol-js).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { V2_SIGNATURE, parseProxyVersion, proxyHeader, proxyV1, proxyV2 } from '../../../src/client/proxy-protocol.js';

const pp = createRequire(import.meta.url)('proxy-protocol-js') as typeof import('proxy-protocol-js');

describe('PROXY protocol v1 (text)', () => {
  it('writes the spec example', () => {
    assert.equal(proxyV1({ addr: '192.168.0.1', port: 56324 }, { addr: '192.168.0.11', port: 443 }).toString('latin1'), 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n');
  });

  it('stays within the spec worst cases: 56 bytes for TCP4, 104 for TCP6', () => {
    const v4 = proxyV1({ addr: '255.255.255.255', port: 65535 }, { addr: '255.255.255.255', port: 65535 });
    assert.equal(v4.toString('latin1'), 'PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n');
    assert.equal(v4.length, 56);
    const f = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const v6 = proxyV1({ addr: f, port: 65535 }, { addr: f, port: 65535 });
    assert.equal(v6.toString('latin1'), `PROXY TCP6 ${f} ${f} 65535 65535\r\n`);
    assert.equal(v6.length, 104);
  });

  it('writes PROXY UNKNOWN when an address is missing or not an IP address', () => {
    assert.equal(proxyV1(undefined, { addr: '10.0.0.1', port: 1 }).toString(), 'PROXY UNKNOWN\r\n');
    assert.equal(proxyV1({ addr: 'example.org', port: 1 }, { addr: '10.0.0.1', port: 1 }).toString(), 'PROXY UNKNOWN\r\n');
    assert.equal(proxyV1({ addr: '10.0.0.1', port: 70000 }, { addr: '10.0.0.1', port: 1 }).toString(), 'PROXY UNKNOWN\r\n');
  });

  it('writes IPv4-mapped addresses as TCP4, and a mixed pair as TCP6', () => {
    assert.equal(proxyV1({ addr: '::ffff:203.0.113.9', port: 5000 }, { addr: '::ffff:198.51.100.1', port: 80 }).toString(), 'PROXY TCP4 203.0.113.9 198.51.100.1 5000 80\r\n');
    assert.equal(proxyV1({ addr: '203.0.113.9', port: 5000 }, { addr: '2001:db8::1', port: 80 }).toString(), 'PROXY TCP6 ::ffff:203.0.113.9 2001:db8::1 5000 80\r\n');
  });

  it('is read back by an independent parser', () => {
    const p = pp.V1ProxyProtocol.parse(proxyV1({ addr: '2001:db8::7', port: 40000 }, { addr: '2001:db8::1', port: 22 }).toString('latin1'));
    assert.equal(p.inetProtocol, 'TCP6');
    assert.deepEqual([p.source.ipAddress, p.source.port, p.destination.ipAddress, p.destination.port], ['2001:db8::7', 40000, '2001:db8::1', 22]);
  });
});

describe('PROXY protocol v2 (binary)', () => {
  it('writes the signature, PROXY over TCP4 (0x21 0x11), length 12, then addresses and ports', () => {
    const h = proxyV2({ addr: '127.0.0.1', port: 12345 }, { addr: '192.0.2.1', port: 54321 });
    // The same bytes as the parser's own documented example, but command PROXY (0x21) and STREAM (0x11).
    assert.deepEqual([...h], [13, 10, 13, 10, 0, 13, 10, 81, 85, 73, 84, 10, 0x21, 0x11, 0, 12, 127, 0, 0, 1, 192, 0, 2, 1, 48, 57, 212, 49]);
    assert.equal(h.length, 16 + 12);
    const p = pp.V2ProxyProtocol.parse(h);
    assert.equal(p.command, pp.Command.PROXY);
    assert.equal(p.transportProtocol, pp.TransportProtocol.STREAM);
    const a = p.proxyAddress as InstanceType<typeof pp.IPv4ProxyAddress>;
    assert.deepEqual([a.sourceAddress.address, a.sourcePort, a.destinationAddress.address, a.destinationPort], [[127, 0, 0, 1], 12345, [192, 0, 2, 1], 54321]);
  });

  it('writes TCP6 (0x21) with 36 bytes of addresses', () => {
    const h = proxyV2({ addr: '2001:db8::7', port: 40000 }, { addr: '::1', port: 22 });
    assert.deepEqual(h.subarray(0, 12), V2_SIGNATURE);
    assert.deepEqual([...h.subarray(12, 16)], [0x21, 0x21, 0, 36]);
    assert.equal(h.length, 16 + 36);
    const a = pp.V2ProxyProtocol.parse(h).proxyAddress as InstanceType<typeof pp.IPv6ProxyAddress>;
    assert.deepEqual(a.sourceAddress.address, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
    assert.deepEqual(a.destinationAddress.address, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert.deepEqual([a.sourcePort, a.destinationPort], [40000, 22]);
  });

  it('writes LOCAL with no addresses when the source is unknown', () => {
    const h = proxyV2(undefined, undefined);
    assert.deepEqual([...h], [...V2_SIGNATURE, 0x20, 0x00, 0, 0]);
    assert.equal(pp.V2ProxyProtocol.parse(h).command, pp.Command.LOCAL);
  });
});

it('--proxy-protocol values', () => {
  assert.equal(parseProxyVersion('v1'), 'v1');
  assert.equal(parseProxyVersion('V2'), 'v2');
  assert.equal(parseProxyVersion('2'), 'v2');
  assert.equal(parseProxyVersion('v3'), undefined);
  assert.equal(proxyHeader('v1', undefined, undefined).toString(), 'PROXY UNKNOWN\r\n');
});
