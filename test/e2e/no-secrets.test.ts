/**
 * No private key in any log line at any level: relay, client and visitors run at debug level (text
 * and json), carry data, meet a refusal and a dead local service, and stop; then everything they
 * printed is searched for every private key (hex, base64 and base64url of the 32 raw bytes, and the
 * key files' text).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import type { TestKey } from '../helpers/keys.js';
import { Lab } from '../helpers/lab.js';
import { freePort, roundTrip } from '../helpers/net.js';
import { TunProcess, startClient, startRelay, startVisitor } from '../helpers/proc.js';

const lab = new Lab();
const { keys, procs } = lab;
const echo = lab.newEcho();
before(() => echo.start());
after(() => lab.cleanup());

/** Every spelling of a private key that could leak, named: the file's text and its 32 raw bytes in hex, base64 and base64url. */
function secretSpellings(k: TestKey): [string, string][] {
  const text = readFileSync(k.key, 'utf8');
  const raw = Buffer.from(text.trim().split(' ')[1]!, 'base64');
  assert.equal(raw.length, 32);
  const hex = raw.toString('hex');
  const b64 = raw.toString('base64');
  // Any aligned 16-character run of the encodings would already be a leak of part of the key.
  const pieces = (name: string, s: string): [string, string][] => Array.from({ length: Math.floor(s.length / 16) }, (_, i) => [`${name} part ${i + 1}`, s.slice(i * 16, i * 16 + 16)]);
  return [
    ['the key file text', text.trim()],
    ['hex', hex],
    ['HEX', hex.toUpperCase()],
    ['base64', b64],
    ['base64url', raw.toString('base64url')],
    ...pieces('hex', hex),
    ...pieces('base64', b64.replace(/=+$/, '')),
  ];
}

for (const format of ['text', 'json'] as const) {
  it(`no private key appears in anything relay, client or visitor print at debug level (${format})`, async () => {
    const relayKey = keys.key(`relay-${format}`);
    const clientKey = keys.key(`client-${format}`);
    const visitorKey = keys.key(`visitor-${format}`);
    const strangerKey = keys.key(`stranger-${format}`);
    const mine: TunProcess[] = [];
    const track = <T extends TunProcess>(p: T): T => {
      procs.push(p);
      mine.push(p);
      return p;
    };

    const relay = await startRelay(['--key', relayKey.key, '--authorized', keys.list(`clients-${format}.list`, [clientKey.line]), '--log-level', 'debug', '--log-format', format]);
    track(relay.proc);
    const down = await freePort();
    track(
      await startClient([
        '--server', `127.0.0.1:${relay.control}`, '--pubkey', relayKey.pub, '--key', clientKey.key,
        '--service', 'echo', '--local', `127.0.0.1:${echo.port}`, '--service', 'down', '--local', `127.0.0.1:${down}`,
        '--allow', keys.list(`visitors-${format}.list`, [visitorKey.line]), '--log-level', 'debug', '--log-format', format,
      ]),
    );
    const visitorArgs = (key: TestKey, service: string): string[] => ['--server', `127.0.0.1:${relay.visitor}`, '--pubkey', clientKey.pub, '--key', key.key, '--service', service, '--log-level', 'debug', '--log-format', format];
    const v = await startVisitor(visitorArgs(visitorKey, 'echo'));
    track(v.proc);
    for (let i = 0; i < 5; i++) {
      const data = randomBytes(200_000);
      const out = await roundTrip(v.port, data);
      assert.equal(out.how, 'end');
      assert.ok(out.data.equals(data));
    }
    // Failures log more (and at error level): a refused visitor and a local service that is down.
    const stranger = await startVisitor(visitorArgs(strangerKey, 'echo'));
    track(stranger.proc);
    assert.equal((await roundTrip(stranger.port, Buffer.from('let me in'))).how, 'reset');
    const toDown = await startVisitor(visitorArgs(visitorKey, 'down'));
    track(toDown.proc);
    assert.equal((await roundTrip(toDown.port, Buffer.from('anyone?'))).how, 'reset');
    await stranger.proc.waitFor(/not_allowed|not allowed/);
    await toDown.proc.waitFor(/local_service_unavailable/);

    for (const p of [...mine].reverse()) assert.equal(await p.stop(), 0);
    // TunProcess starts every child with TUN_LOG=info; the --log-level flags set debug, and this checks it took.
    const all = mine.map((p) => p.output).join('\n');
    assert.match(all, format === 'json' ? /"level":"debug"/ : / debug: /, 'debug lines were printed');

    for (const k of [relayKey, clientKey, visitorKey, strangerKey]) {
      for (const [how, secret] of secretSpellings(k)) assert.ok(!all.includes(secret), `the private key ${k.key} appears in the output (${how})`);
    }
    // And the logs do name the keys, by fingerprint, so the check above is not vacuous.
    assert.ok(all.includes(clientKey.fingerprint));
  });
}
