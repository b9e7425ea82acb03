/**
 * The client's end of one end-to-end stream, after the join: answer the visitor's Noise IK
 * handshake, check the visitor's key against --allow, wait for its first transport record (proof of
 * liveness: a replayed message 1 from the relay stops here), then dial the local service and bridge.
 */
import type { Socket } from 'node:net';
import type { X25519KeyPair } from '../crypto/index.js';
import { TunError } from '../errors.js';
import { fingerprint } from '../identity/keys.js';
import type { KeyList } from '../identity/key-list.js';
import type { Logger } from '../log.js';
import type { FrameReader } from '../net/frame-reader.js';
import { dial, formatHostPort, type HostPort } from '../net/socket.js';
import { HandshakeState } from '../noise/index.js';
import { within, writeFrame } from '../stream/control-channel.js';
import { RecordKind } from '../stream/records.js';
import { SecureChannel } from '../stream/secure-channel.js';
import { NOISE_MAX_MESSAGE } from '../constants.js';
import { NOISE_PROTOCOL, encodeMessage, expectMessage, streamPrologue } from '../wire/index.js';

export interface StreamContext {
  tunnel: Socket;
  reader: FrameReader;
  service: string;
  local: HostPort;
  key: X25519KeyPair;
  allow: KeyList | undefined;
  log: Logger;
  timeouts: { connectMs: number; pairingMs: number };
  track: (s: Socket) => void;
  /** Called once the visitor is authenticated, allowed and live (the stream is no longer being set up). */
  established: () => void;
}

export async function serveStream(c: StreamContext): Promise<void> {
  c.reader.decoder.setMaxFrame(1024);
  const message1 = await within(c.reader.next(), c.timeouts.pairingMs, 'the visitor handshake');
  const hs = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: false, prologue: streamPrologue(c.service), staticKey: c.key });
  let hello;
  try {
    hello = expectMessage(hs.readMessage(message1), 'StreamHello');
  } catch (err) {
    throw new TunError('PEER_AUTH_FAILED', `visitor handshake for ${c.service} failed: ${(err as Error).message} (the visitor pinned another client key, or the relay altered the handshake)`);
  }
  const visitor = hs.remoteStatic!;
  const vfp = fingerprint(visitor);
  if (hello.service !== c.service) throw new TunError('PROTOCOL_VIOLATION', `visitor asked for ${hello.service} inside a stream for ${c.service}`);
  const entry = c.allow?.find(visitor);
  if (!entry) {
    c.log.warn(`visitor ${vfp} not allowed for ${c.service}; to admit it, add its .pub line to ${c.allow ? c.allow.source : 'a file given with --allow'}`);
    const msg2 = hs.writeMessage(encodeMessage('StreamAccept', { ok: false, code: 'visitor_not_allowed', message: `visitor key ${vfp} is not in this client's --allow list` }));
    writeFrame(c.tunnel, msg2);
    c.tunnel.end();
    setTimeout(() => c.tunnel.destroy(), 1000).unref();
    return;
  }
  writeFrame(c.tunnel, hs.writeMessage(encodeMessage('StreamAccept', { ok: true })));
  const { send, receive } = hs.result!;
  c.reader.decoder.setMaxFrame(NOISE_MAX_MESSAGE);
  const channel = new SecureChannel(c.tunnel, c.reader, send, receive, c.log);
  const first = await channel.nextRecord(c.timeouts.pairingMs);
  if (first.kind !== RecordKind.OPEN) {
    channel.abort('protocol_violation', 'the first record must be OPEN');
    return;
  }
  c.established();
  let local: Socket;
  try {
    local = await dial(c.local, c.timeouts.connectMs, `local service ${c.service}`);
  } catch (err) {
    c.log.warn(`visitor ${vfp} (${entry.name || 'unnamed'}) -> ${c.service}: ${(err as Error).message}`);
    channel.abort('local_service_unavailable', `the client could not reach its local service ${c.service} (${(err as TunError).message.replace(/^.*: /, '')})`);
    return;
  }
  c.track(local);
  c.log.debug(`visitor ${vfp} (${entry.name || 'unnamed'}) connected to ${c.service} -> ${formatHostPort(c.local)}`);
  const outcome = await channel.bridge(local);
  if (!outcome.ok) c.log.debug(`stream ${c.service} for ${vfp} ended: ${outcome.code}`);
}
