import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import { toWire } from '../../../src/p2p/addr.js';
import { ClientP2p } from '../../../src/p2p/client-side.js';
import { fromPeer, isGlobalUnicast, localAddresses, peerLoopbackAllowed, relayReported } from '../../../src/p2p/scope.js';

describe('P2P address scope', () => {
  it('global unicast: the internet only', () => {
    for (const h of ['8.8.8.8', '1.1.1.1', '203.0.114.5', '2606:4700::1111', '::ffff:8.8.4.4']) assert.equal(isGlobalUnicast(h), true, h);
    for (const h of ['10.1.2.3', '172.16.0.1', '172.31.255.1', '192.168.1.1', '127.0.0.53', '100.64.0.1', '169.254.1.1', '198.18.0.1', '198.19.255.1', '192.0.2.1', '198.51.100.1', '203.0.113.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fd00::1', 'fe80::1', '2001:db8::1', 'ff02::1', 'relay.example', ''])
      assert.equal(isGlobalUnicast(h), false, h);
    assert.equal(isGlobalUnicast('172.32.0.1'), true);
  });

  it('a relay on the internet can report only a global address for us', () => {
    const relay = '8.8.8.8';
    assert.equal(relayReported({ host: '192.168.1.10', port: 4000 }, relay), undefined);
    assert.equal(relayReported({ host: '127.0.0.53', port: 53 }, relay), undefined);
    assert.equal(relayReported({ host: '10.0.0.1', port: 22 }, undefined), undefined, 'an unknown relay address counts as global');
    assert.deepEqual(relayReported({ host: '::ffff:203.0.114.5', port: 4000 }, relay), { host: '203.0.114.5', port: 4000 });
  });

  it('a relay reached on a private or loopback address (a lab, a test) may report any usable address', () => {
    assert.deepEqual(relayReported({ host: '192.168.1.10', port: 4000 }, '10.0.0.1'), { host: '192.168.1.10', port: 4000 });
    assert.deepEqual(relayReported({ host: '127.0.0.1', port: 4000 }, '127.0.0.1'), { host: '127.0.0.1', port: 4000 });
    assert.deepEqual(relayReported({ host: '198.18.11.2', port: 4000 }, '198.18.0.1'), { host: '198.18.11.2', port: 4000 });
    for (const host of ['0.0.0.0', '224.0.0.1', '255.255.255.255', 'fe80::1', 'nonsense']) assert.equal(relayReported({ host, port: 4000 }, '127.0.0.1'), undefined, host);
    assert.equal(relayReported({ host: '127.0.0.1', port: 0 }, '127.0.0.1'), undefined, 'port 0');
    assert.equal(relayReported(undefined, '127.0.0.1'), undefined);
  });

  it("the client does not offer a private address from an internet relay's Welcome", () => {
    const saved = process.env.TUN_P2P_ADDRESSES;
    process.env.TUN_P2P_ADDRESSES = '203.0.114.9';
    try {
      const p2p = new ClientP2p({ port: 0, log: silentLogger, serve: async () => {} });
      p2p.port = 7000;
      p2p.welcome({ observed: toWire({ host: '127.0.0.53', port: 40000 }) }, 'relay.example', '8.8.8.8');
      assert.deepEqual(p2p.tcpCandidates(), [{ host: '203.0.114.9', port: 7000 }]);
      p2p.welcome({ observed: toWire({ host: '198.51.99.7', port: 40000 }) }, 'relay.example', '::ffff:8.8.8.8');
      assert.deepEqual(p2p.tcpCandidates(), [{ host: '198.51.99.7', port: 7000 }, { host: '203.0.114.9', port: 7000 }], 'a global observed address goes first');
      p2p.welcome({ observed: toWire({ host: '192.168.1.10', port: 40000 }) }, 'relay.example', '192.168.1.1');
      assert.deepEqual(p2p.tcpCandidates()[0], { host: '192.168.1.10', port: 7000 }, 'a relay on the LAN may report a LAN address');
    } finally {
      if (saved === undefined) delete process.env.TUN_P2P_ADDRESSES;
      else process.env.TUN_P2P_ADDRESSES = saved;
    }
  });

  it("the peer's loopback candidates count only when the relay is on loopback or TUN_P2P_ADDRESSES is set", () => {
    assert.equal(peerLoopbackAllowed('127.0.0.1', {}), true);
    assert.equal(peerLoopbackAllowed('::ffff:127.0.0.1', {}), true);
    assert.equal(peerLoopbackAllowed('::1', {}), true);
    assert.equal(peerLoopbackAllowed('8.8.8.8', {}), false);
    assert.equal(peerLoopbackAllowed('192.168.1.1', {}), false);
    assert.equal(peerLoopbackAllowed(undefined, {}), false);
    assert.equal(peerLoopbackAllowed('8.8.8.8', { TUN_P2P_ADDRESSES: '127.0.0.1' }), true);
    const offer = { tcp: [{ host: '127.0.0.1', port: 22 }, { host: '192.168.1.10', port: 7000 }], udp: [{ host: '127.0.0.53', port: 53 }, { host: '::1', port: 9 }, { host: '8.8.8.8', port: 7000 }] };
    assert.deepEqual(fromPeer(offer, false), { tcp: [{ host: '192.168.1.10', port: 7000 }], udp: [{ host: '8.8.8.8', port: 7000 }] });
    assert.deepEqual(fromPeer(offer, true), offer);
  });

  it('local addresses: TUN_P2P_ADDRESSES replaces the interfaces, loopback last, unusable ones dropped', () => {
    assert.deepEqual(localAddresses({ TUN_P2P_ADDRESSES: '127.0.0.1, 10.0.0.2,224.0.0.1,fe80::1' }), ['10.0.0.2', '127.0.0.1']);
  });
});
