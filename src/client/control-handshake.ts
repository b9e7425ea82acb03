/**
 * The client's side of the control handshake: Noise IK as initiator, pinned to the relay's key.
 * Message 1 carries ControlInit {v}; the relay's message 2 carries ControlAccept — a refusal there
 * (not authorized, other version) is proved by the relay's key. A plaintext HandshakeRefused is
 * not: it is reported (with the key it names) and retried, since anyone on the path can forge it.
 */
import type { Socket } from 'node:net';
import { ctEqual, type X25519KeyPair } from '../crypto/index.js';
import { TunError } from '../errors.js';
import { fingerprint } from '../identity/keys.js';
import { FrameReader } from '../net/frame-reader.js';
import { formatHostPort, type HostPort } from '../net/socket.js';
import { HandshakeState } from '../noise/index.js';
import { versionMismatch } from '../session/handshake.js';
import { ControlChannel, within, writeFrame } from '../stream/control-channel.js';
import { NOISE_PROTOCOL, PROTOCOL_VERSION, controlPrologue, decodeMessage, encodeMessage, expectMessage, type Bodies, type MessageOf } from '../wire/index.js';

export interface RelayIdentity {
  server: HostPort;
  relayKey: Buffer;
  key: X25519KeyPair;
}

export async function joinRelay(socket: Socket, id: RelayIdentity, services: Bodies['Hello']['services'], handshakeMs: number, p2p = false): Promise<{ channel: ControlChannel; welcome: MessageOf<'Welcome'> }> {
  const reader = new FrameReader(socket, 1024);
  const hs = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: true, prologue: controlPrologue(), staticKey: id.key, remoteStatic: id.relayKey });
  writeFrame(socket, hs.writeMessage(encodeMessage('ControlInit', { v: PROTOCOL_VERSION })));
  let frame: Buffer;
  try {
    frame = await within(reader.next(), handshakeMs, 'the relay handshake');
  } catch (err) {
    hs.destroy();
    if (err instanceof TunError && err.code === 'TIMEOUT') throw err;
    throw new TunError('STREAM_TRUNCATED', `relay ${formatHostPort(id.server)} closed the connection during the handshake (${(err as Error).message})`, 'is that address a tun relay control port?', { cause: err });
  }
  let payload: Buffer;
  try {
    payload = hs.readMessage(frame);
  } catch {
    hs.destroy();
    throw refusal(frame, id);
  }
  const accept = expectMessage(payload, 'ControlAccept');
  if (!accept.ok) {
    hs.destroy();
    throw refusedByRelay(accept, id);
  }
  if (accept.v !== PROTOCOL_VERSION) {
    hs.destroy();
    throw versionMismatch(accept.v, `relay ${fingerprint(id.relayKey)}`);
  }
  const { send, receive } = hs.result!;
  const channel = new ControlChannel(socket, reader, send, receive);
  channel.send('Hello', { v: PROTOCOL_VERSION, services, p2p: p2p || undefined });
  const welcome = await within(channel.receiveOne(), handshakeMs, 'the relay welcome');
  if (welcome.type !== 'Welcome') throw new TunError('PROTOCOL_VIOLATION', `relay answered Hello with ${welcome.type}`);
  return { channel, welcome };
}

/** A refusal in message 2: authenticated by the relay's key, so it is final. */
function refusedByRelay(accept: MessageOf<'ControlAccept'>, id: RelayIdentity): TunError {
  const mine = fingerprint(id.key.publicKey);
  const relay = fingerprint(id.relayKey);
  if (accept.code === 'client_not_authorized') return new TunError('CLIENT_NOT_AUTHORIZED', `client key ${mine} not authorized by relay ${relay}`, "append this client's .pub line to the relay's --authorized file");
  if (accept.code === 'version_mismatch') return new TunError('VERSION_MISMATCH', `version mismatch: relay ${relay} refused this client's tun protocol ${PROTOCOL_VERSION}${accept.message ? ` (${accept.message})` : ''}`, 'update tun so client and relay run the same protocol version');
  return new TunError('PROTOCOL_VIOLATION', `relay ${relay} refused this client: ${accept.code ?? 'no reason given'}`);
}

/** Message 2 did not authenticate: say what the (unauthenticated) answer suggests. */
export function refusal(frame: Buffer, id: RelayIdentity): TunError {
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
    return new TunError('RELAY_KEY_MISMATCH', `relay key mismatch: expected ${expected} got ${fingerprint(relayKey)} (as that server claims, unauthenticated; it could not read anything this client sent)`, "check --pubkey: it must be the relay's .pub file; if the relay key was replaced on purpose, get its new .pub");
  }
  return new TunError('PEER_AUTH_FAILED', `relay ${expected} could not read this client's handshake (unauthenticated answer): the relay may run an older tun protocol, or the handshake was altered on the way`, 'update tun on the relay if it is older than this client');
}
