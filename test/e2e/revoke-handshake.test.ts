/**
 * A visitor revoked while its session handshake is under way (real client process): the client
 * checked the allowed keys when the connection arrived; a reload before the visitor's message 1
 * must still keep it out. The visitor here is hand-made and connects to the client's direct (P2P)
 * TCP listener, so the test can hold message 1 back until the reload is done.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, describe, test } from 'node:test';
import { initCrypto, X25519KeyPair } from '../../src/crypto/index.js';
import { readPrivateKeyFile } from '../../src/identity/keys.js';
import { silentLogger } from '../../src/log.js';
import { FrameReader } from '../../src/net/frame-reader.js';
import { HandshakeState } from '../../src/noise/index.js';
import { Session } from '../../src/session/session.js';
import { writeFrame } from '../../src/stream/control-channel.js';
import { NOISE_PROTOCOL, PROTOCOL_VERSION, encodeMessage, expectMessage, sessionPrologue } from '../../src/wire/index.js';
import { Lab } from '../helpers/lab.js';
import { startClient, startRelay } from '../helpers/proc.js';

const lab = new Lab();
const { keys, procs } = lab;
after(() => lab.cleanup());

describe('client reload during a visitor handshake', () => {
  test('a visitor revoked after its connection arrived but before its handshake is closed at once', async (t) => {
    await initCrypto();
    const k = { relay: keys.key('relay'), client: keys.key('client'), v: keys.key('v'), other: keys.key('other') };
    const relay = await startRelay(['--key', k.relay.key, '--authorized', keys.list('clients.list', [k.client.line])]);
    procs.push(relay.proc);
    const echo = await lab.echo();
    const allow = keys.list('visitors.list', [k.v.line]);
    const client = await startClient(['--server', `127.0.0.1:${relay.control}`, '--pubkey', k.relay.pub, '--key', k.client.key, '--service', 'data', '--local', String(echo.port), '--allow', allow]);
    procs.push(client);
    const p2pPort = Number((await client.waitFor(/P2P: direct connections on TCP port (\d+)/))[1]);

    // The connection arrives while the visitor is allowed...
    const socket = connect({ host: '127.0.0.1', port: p2pPort });
    socket.on('error', () => {});
    await new Promise((r) => socket.once('connect', r));
    await new Promise((r) => setTimeout(r, 300));
    // ...and its key is revoked before its message 1 is read.
    writeFileSync(allow, `${k.other.line}\n`);
    client.child.kill('SIGHUP');
    await client.waitFor(/reload \(SIGHUP\): \+1 key, -1 key/);

    const m = readPrivateKeyFile(k.v.key);
    const visitorKey = new X25519KeyPair(m.privateKey, m.publicKey);
    const clientKey = readPrivateKeyFile(k.client.key);
    const reader = new FrameReader(socket, 1024, 4);
    const hs = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: true, prologue: sessionPrologue(), staticKey: visitorKey, remoteStatic: clientKey.publicKey });
    writeFrame(socket, hs.writeMessage(encodeMessage('SessionHello', { v: PROTOCOL_VERSION })));
    const accept = expectMessage(hs.readMessage(await reader.next()), 'SessionAccept');
    let reason: string;
    if (!accept.ok) {
      reason = `refused in the handshake: ${accept.code}`;
    } else {
      const { send, receive } = hs.result!;
      const session = new Session({ path: socket, reader, send, receive, role: 'visitor', log: silentLogger });
      const t0 = Date.now();
      const ended = await Promise.race([session.ended, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
      if (!ended) session.close('test_done', 'test done');
      reason = ended ? `closed after ${Date.now() - t0} ms: ${ended.message}` : 'still open after 5 s';
    }
    t.diagnostic(reason);
    assert.match(reason, /visitor_revoked|visitor_not_allowed/, 'the revoked visitor gets no usable session');
    assert.doesNotMatch(reason, /still open/);
    socket.destroy();
  });
});
