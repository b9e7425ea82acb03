import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isTunError } from '../../../src/errors.js';
import { formatHostPort, parseHostPort, parseLocalAddress } from '../../../src/net/socket.js';

it('parses relay addresses with a default port', () => {
  assert.deepEqual(parseHostPort('vps.example.org', 8009), { host: 'vps.example.org', port: 8009 });
  assert.deepEqual(parseHostPort('10.0.0.1:9009', 8009), { host: '10.0.0.1', port: 9009 });
  assert.deepEqual(parseHostPort('[::1]:8007', 8007), { host: '::1', port: 8007 });
  assert.deepEqual(parseHostPort('[2001:db8::1]', 8007), { host: '2001:db8::1', port: 8007 });
  assert.equal(formatHostPort({ host: '::1', port: 8007 }), '[::1]:8007');
});

it('local addresses default to 127.0.0.1, never to all interfaces', () => {
  assert.deepEqual(parseLocalAddress('8080', '--local'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseLocalAddress(':2222', '--listen'), { host: '127.0.0.1', port: 2222 });
  assert.deepEqual(parseLocalAddress('0.0.0.0:9000', '--listen'), { host: '0.0.0.0', port: 9000 });
});

it('rejects what is not an address, naming the option', () => {
  for (const bad of ['', 'host:', 'host:99999', 'host:-1', 'a:b:c', '[::1', 'host:80x']) {
    assert.throws(() => parseHostPort(bad, undefined, '--local'), (e) => isTunError(e, 'CONFIG_INVALID') && e.message.startsWith('--local'), bad);
  }
  assert.throws(() => parseLocalAddress('70000', '--listen'), (e) => isTunError(e, 'CONFIG_INVALID'));
});
