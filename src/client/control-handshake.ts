/**
 * The client's side of the control handshake: Noise IK as initiator, pinned to the relay's key,
 * then Hello (the services offered) and the relay's Welcome. When the relay refuses, its
 * (unauthenticated) HandshakeRefused names its key, which is enough to say which side is wrong.
 */
import type { Socket } from 'node:net';
import { ctEqual, type X25519KeyPair } from '../crypto/index.js';
import { TunError } from '../errors.js';
import { fingerprint } from '../identity/keys.js';
import { FrameReader } from '../net/frame-reader.js';
import { formatHostPort, type HostPort } from '../net/socket.js';
import { HandshakeState } from '../noise/index.js';
import { ControlChannel, within, writeFrame } from '../stream/control-channel.js';
import { NOISE_PROTOCOL, PROTOCOL_VERSION, controlPrologue, decodeMessage, type Bodies, type MessageOf } from '../wire/index.js';

export interface RelayIdentity {
  server: HostPort;
  relayKey: Buffer;
  key: X25519KeyPair;
}

export async function joinRelay(socket: Socket, id: RelayIdentity, services: Bodies['Hello']['services'], handshakeMs: number): Promise<{ channel: ControlChannel; welcome: MessageOf<'Welcome'> }> {
  const reader = new FrameReader(socket, 1024);
  const hs = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: true, prologue: controlPrologue(), staticKey: id.key, remoteStatic: id.relayKey });
  writeFrame(socket, hs.writeMessage());
  let frame: Buffer;
  try {
    frame = await within(reader.next(), handshakeMs, 'the relay handshake');
  } catch (err) {
    throw new TunError('STREAM_TRUNCATED', `relay ${formatHostPort(id.server)} closed the connection during the handshake (${(err as Error).message})`, 'is that address a tun relay control port?', { cause: err });
  }
  try {
    hs.readMessage(frame);
  } catch {
    hs.destroy();
    throw refusal(frame, id);
  }
  const { send, receive } = hs.result!;
  const channel = new ControlChannel(socket, reader, send, receive);
  channel.send('Hello', { v: PROTOCOL_VERSION, services });
  const welcome = await within(channel.receiveOne(), handshakeMs, 'the relay welcome');
  if (welcome.type !== 'Welcome') throw new TunError('PROTOCOL_VIOLATION', `relay answered Hello with ${welcome.type}`);
  return { channel, welcome };
}

/** Why message 2 did not authenticate, worded for the person running the client. */
export function refusal(frame: Buffer, id: RelayIdentity): TunError {
  const mine = fingerprint(id.key.publicKey);
  const expected = fingerprint(id.relayKey);
  let relayKey: Buffer | undefined;
  try {
    const m = decodeMessage(frame, 'preauth');
    if (m.type === 'HandshakeRefused') relayKey = m.relayKey;
  } catch {
    /* not a refusal either */
  }
  if (!relayKey) {
    return new TunError('PEER_AUTH_FAILED', `relay handshake failed: the answer from ${formatHostPort(id.server)} did not authenticate as relay ${expected}`, 'something between you and the relay altered the handshake, or it is not a tun relay');
  }
  if (!ctEqual(relayKey, id.relayKey)) {
    return new TunError('RELAY_KEY_MISMATCH', `relay key mismatch: expected ${expected} got ${fingerprint(relayKey)} (as that server claims; it could not read anything this client sent)`, "check --pubkey: it must be the relay's .pub file; if the relay key was replaced on purpose, get its new .pub");
  }
  return new TunError('CLIENT_NOT_AUTHORIZED', `client key ${mine} not authorized by relay ${expected}`, "append this client's .pub line to the relay's --authorized file");
}
