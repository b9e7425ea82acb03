/**
 * The relay's side of the control handshake on port 8009: Noise IK as responder, the client key
 * checked against --authorized, and the client's first transport message (Hello) read before
 * anything is registered — a replayed message 1 cannot get that far, since it cannot decrypt
 * message 2. Refusals are one plaintext HandshakeRefused frame whatever the cause (no oracle).
 */
import type { Socket } from 'node:net';
import type { X25519KeyPair } from '../crypto/index.js';
import { TunError, isTunError } from '../errors.js';
import { fingerprint } from '../identity/keys.js';
import type { KeyList, KeyListEntry } from '../identity/key-list.js';
import type { Logger } from '../log.js';
import { FrameReader } from '../net/frame-reader.js';
import { endSoon } from '../net/socket.js';
import { HandshakeState } from '../noise/index.js';
import { ControlChannel, writeFrame } from '../stream/control-channel.js';
import { NOISE_PROTOCOL, controlPrologue, encodeMessage, type MessageOf } from '../wire/index.js';

const HANDSHAKE_MAX_FRAME = 1024;

export interface Admitted {
  channel: ControlChannel;
  clientKey: Buffer;
  entry: KeyListEntry;
  hello: MessageOf<'Hello'>;
}

/** Resolves with the admitted client, or undefined when it was refused (the socket is then closing). */
export async function admitClient(socket: Socket, key: X25519KeyPair, authorized: KeyList, log: Logger): Promise<Admitted | undefined> {
  const reader = new FrameReader(socket, HANDSHAKE_MAX_FRAME);
  const hs = new HandshakeState({ protocol: NOISE_PROTOCOL, initiator: false, prologue: controlPrologue(), staticKey: key });
  const refuse = (): undefined => {
    hs.destroy();
    writeFrame(socket, encodeMessage('HandshakeRefused', { relayKey: key.publicKey }));
    endSoon(socket);
    return undefined;
  };
  try {
    hs.readMessage(await reader.next());
  } catch (err) {
    if (isTunError(err, 'STREAM_TRUNCATED') || isTunError(err, 'FRAME_TOO_LARGE')) throw err;
    log.rateLimited('info', 'control-bad-msg1', `control port: ${socket.remoteAddress}: handshake message 1 did not authenticate (the client pinned another relay key, or the message was corrupted)`);
    return refuse();
  }
  const clientKey = hs.remoteStatic!;
  const entry = authorized.find(clientKey);
  if (!entry) {
    log.rateLimited('warn', `unauth-${fingerprint(clientKey)}`, `client key ${fingerprint(clientKey)} not authorized (from ${socket.remoteAddress}); to admit it, add its .pub line to ${authorized.source}`, 10_000);
    return refuse();
  }
  writeFrame(socket, hs.writeMessage());
  const { send, receive } = hs.result!;
  const channel = new ControlChannel(socket, reader, send, receive);
  const hello = await channel.receiveOne();
  if (hello.type !== 'Hello') {
    channel.close(new TunError('PROTOCOL_VIOLATION', `expected Hello, got ${hello.type}`));
    throw new TunError('PROTOCOL_VIOLATION', `client ${fingerprint(clientKey)} sent ${hello.type} before Hello`);
  }
  return { channel, clientKey: Buffer.from(clientKey), entry, hello };
}
